"""Gathering the consolidated national report of a year: extracts, indicators, annex.

What goes in is what the agencies sent, not what the bot guessed: each
reporting agency's *current* version (Submission.current_message_id) is
re-read from the raw store and split along the official outline, and the
indicator rows extracted from that same version are summed. Nothing is
cached between runs, so a coordinator who accepts a resubmission and runs
``tdc-bot compile`` again gets the new text.

A file that cannot be read any more (deleted from the store, unreadable)
becomes a recorded problem shown in the document, never a failed compile.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.documents import DocLimits
from intake.documents.sandbox import read_all
from intake.limits import Limits
from intake.model import DocumentText
from intake.report.sections import split_sections
from reference.outline import OutlineSection
from reference.text import words
from workflow.db import models
from workflow.season import stored_mail
from workflow.season.status import StatusRow, season_status

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Roster
    from workflow.app import App


# States whose report is quoted but not yet settled: the national report marks these extracts.
UNDER_REVIEW_STATES = frozenset({models.NEEDS_REVIEW, models.RESUBMISSION_REQUESTED})
# States in which an agency has sent a report that counts for the season.
REPORTED_STATES = frozenset({models.RECEIVED, models.ACKNOWLEDGED, models.NEEDS_REVIEW,
                             models.RESUBMISSION_REQUESTED, models.ACCEPTED})

Progress = Callable[[int, int, str], None]  # (done, total, agency name)


@dataclass(frozen=True)
class AgencyExtract:
    slug: str
    name: str
    text: str  # full text under the section; the document builder trims it
    under_review: bool = False  # the report still waits for a coordinator: quoted with a marker


@dataclass
class SectionExtracts:
    code: str
    title: str
    extracts: list[AgencyExtract] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return self.code.count(".") + 1


@dataclass
class AggregatedIndicator:
    """One indicator summed over the agencies that reported it."""

    indicator: str  # as the first agency (in roster order) wrote it
    unit: str | None
    target: float | None
    result: float | None
    cumulative: float | None
    agencies: int

    @property
    def rate(self) -> float | None:
        """Sum of cumulative ÷ sum of targets × 100, the check a coordinator makes by hand."""
        if self.cumulative is None or not self.target:
            return None
        return self.cumulative / self.target * 100


@dataclass
class CompiledReport:
    year: int
    dispatch: str | None
    deadline: date
    sections: list[SectionExtracts]
    indicators: list[AggregatedIndicator]
    reported: list[StatusRow]  # roster order
    missing: list[StatusRow]
    exempt: list[StatusRow]
    problems: list[str] = field(default_factory=list)  # files that could not be re-read, and why
    generated_at: datetime | None = None


def _sum(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def indicator_key(indicator: str, unit: str | None) -> tuple[str, str]:
    """Rows are the same indicator when their folded name and unit agree ("Doanh nghiệp" = "doanh nghiep")."""
    return words(indicator), words(unit or "")


def aggregate_indicators(rows_by_agency: list[tuple[str, list[models.IndicatorRow]]]) -> list[AggregatedIndicator]:
    """Sums per (folded indicator, unit), in the order indicators first appear (roster order)."""
    groups: dict[tuple[str, str], list[tuple[str, models.IndicatorRow]]] = {}
    for slug, rows in rows_by_agency:
        for row in rows:
            if not words(row.indicator):
                continue
            groups.setdefault(indicator_key(row.indicator, row.unit), []).append((slug, row))
    result = []
    for members in groups.values():
        first = members[0][1]
        result.append(AggregatedIndicator(
            indicator=" ".join(first.indicator.split()),
            unit=first.unit,
            target=_sum([r.target for _, r in members]),
            result=_sum([r.result for _, r in members]),
            cumulative=_sum([r.cumulative for _, r in members]),
            agencies=len({slug for slug, _ in members}),
        ))
    return result


class _Reader:
    """Re-reads a stored message's attachments as DocumentText; its body is recorded with it."""

    def __init__(self, limits: Limits, doc_limits: DocLimits, problems: list[str]) -> None:
        self.limits = limits
        self.doc_limits = doc_limits
        self.problems = problems

    def documents(self, message: models.Message, agency_name: str) -> list[DocumentText]:
        docs: list[DocumentText] = []
        for att in message.attachments:
            try:
                data = Path(att.path).read_bytes()
            except OSError as exc:
                self.problems.append(f"{agency_name}: không đọc lại được tệp {att.filename} ({exc.strerror or exc})")
                continue
            # Stored documents are still the senders': read within the same per-message budget as at intake.
            docs.extend(read_all([(att.filename, att.content_type, data, att.path)], self.doc_limits)[0])
        return docs

    def body(self, message: models.Message) -> str:
        """The body as recorded (an HTML-only body keeps its headings); never the raw file, but for legacy rows."""
        return stored_mail.body(message, self.limits)


def _sections(outline: tuple[OutlineSection, ...]) -> list[SectionExtracts]:
    return [SectionExtracts(code=s.code, title=s.title) for s in outline]


def compile_report(session: Session, roster: Roster, campaign: Campaign, *,
                   limits: Limits | None = None, doc_limits: DocLimits | None = None,
                   progress: Progress | None = None, now: datetime | None = None) -> CompiledReport:
    """Everything the consolidated report of ``campaign.year`` shows, read from the database and store."""
    year = campaign.year
    status = season_status(session, roster, year)
    submissions = {s.agency_slug: s for s in session.scalars(
        select(models.Submission).where(models.Submission.year == year))}
    reported = [r for r in status if r.state in REPORTED_STATES and submissions.get(r.agency)
                and submissions[r.agency].current_message_id is not None]
    sections = _sections(campaign.outline)
    by_code = {s.code: s for s in sections}
    problems: list[str] = []
    reader = _Reader(limits or Limits(), doc_limits or DocLimits(), problems)
    indicator_rows: list[tuple[str, list[models.IndicatorRow]]] = []
    for done, row in enumerate(reported, 1):
        message = session.get(models.Message, submissions[row.agency].current_message_id)
        if message is None:
            problems.append(f"{row.name}: không tìm thấy thư của phiên bản hiện hành")
        else:
            texts = split_sections(reader.documents(message, row.name), campaign.outline, reader.body(message))
            for code, text in texts.items():
                by_code[code].extracts.append(AgencyExtract(row.agency, row.name, text,
                                                            under_review=row.state in UNDER_REVIEW_STATES))
            indicator_rows.append((row.agency, list(session.scalars(
                select(models.IndicatorRow).where(models.IndicatorRow.message_id == message.id)
                .order_by(models.IndicatorRow.position)))))
        if progress is not None:
            progress(done, len(reported), row.name)
    reported_slugs = {r.agency for r in reported}
    return CompiledReport(
        year=year,
        dispatch=campaign.dispatch,
        deadline=campaign.deadline,
        sections=sections,
        indicators=aggregate_indicators(indicator_rows),
        reported=reported,
        missing=[r for r in status if r.agency not in reported_slugs and r.state != models.EXEMPT],
        exempt=[r for r in status if r.state == models.EXEMPT],
        problems=problems,
        generated_at=now,
    )


def compile_for_app(app: App, year: int, progress: Progress | None = None,
                    now: datetime | None = None) -> CompiledReport:
    """compile_report with the app's roster, campaign and reading limits. KeyError: no campaign for ``year``."""
    from workflow.runtime.intake_cycle import doc_limits_from, limits_from

    campaign = app.campaigns[year]
    with app.db.sessions() as session:
        return compile_report(session, app.roster, campaign, limits=limits_from(app),
                              doc_limits=doc_limits_from(app), progress=progress, now=now)
