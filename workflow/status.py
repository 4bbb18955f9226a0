"""The season at a glance: one row per agency that owes a report for a year.

One query for all submissions of the year (indexed by year), joined in
memory with the roster: the cost depends on the number of agencies, not on
how many messages the archive holds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow import models

if TYPE_CHECKING:
    from workflow.roster import Roster


@dataclass(frozen=True)
class StatusRow:
    agency: str
    name: str
    kind: str
    state: str
    received_at: datetime | None
    on_time: bool | None
    versions: int
    outline_missing: list[str]
    review_reasons: list[str]

    def as_json(self) -> dict:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        return data


def season_status(session: Session, roster: "Roster", year: int) -> list[StatusRow]:
    submissions = {s.agency_slug: s for s in session.scalars(select(models.Submission).where(models.Submission.year == year))}
    versions = dict(session.execute(
        select(models.Message.agency_slug, func.count())
        .where(models.Message.year == year, models.Message.submission_id.is_not(None))
        .group_by(models.Message.agency_slug)
    ).all())
    rows = []
    for agency in roster.owing(year):
        sub = submissions.get(agency.slug)
        rows.append(StatusRow(
            agency=agency.slug,
            name=agency.name,
            kind=agency.kind,
            state=sub.state if sub else models.MISSING,
            received_at=sub.first_received_at if sub else None,
            on_time=sub.on_time if sub else None,
            versions=versions.get(agency.slug, 0),
            outline_missing=list(sub.outline_missing or []) if sub else [],
            review_reasons=list(sub.review_reasons or []) if sub else [],
        ))
    return rows


def outbox_counts(session: Session) -> dict[str, int]:
    counts = {state: 0 for state in (models.PENDING, models.SENDING, models.SENT, models.FAILED, models.SUPPRESSED)}
    for state, count in session.execute(select(models.OutboxEmail.state, func.count()).group_by(models.OutboxEmail.state)):
        counts[state] = count
    return counts


def message_counts(session: Session) -> dict[str, int]:
    counts = {"recorded": 0, "ignored": 0, "quarantined": 0}
    for status, count in session.execute(select(models.Message.status, func.count()).group_by(models.Message.status)):
        counts[status] = count
    return counts
