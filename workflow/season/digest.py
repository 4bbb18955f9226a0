"""The coordinators' daily digest: what came in, who is still missing, what needs a person.

Built from the database alone, so the CLI can show exactly what the daemon
would send. "New" means since the last digest was queued (after downtime,
nothing falls between two digests), or the last 24 hours when there was none.
A quiet day still produces a one-line digest: silence would look like a
dead bot.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.sender.identity import PASS, UNVERIFIED_LABEL
from notifier.digest_docx import DOCX_CONTENT_TYPE, status_table_docx
from reference.addresses import header_address
from reference.time import last_day, vn_date
from reference.time import today as vn_today
from workflow.db import models
from workflow.season.coordinator_views import review_queue
from workflow.season.message_rows import reference_for
from workflow.season.outbox_queue import queue_email
from workflow.season.reminders import (
    OWING_STATES,
    agency_addresses,
    require_campaign,
)
from workflow.season.status import StatusRow, season_status
from workflow.season.submissions import deadline_for
from workflow.settings import RemindersConfig

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Roster
    from workflow.app import App

log = logging.getLogger(__name__)

NEW_WINDOW = timedelta(hours=24)
QUARANTINE_WINDOW = timedelta(days=7)
FAILED_WINDOW = timedelta(days=30)
UNPLACED_DEFAULT = "không xác định được đơn vị hoặc năm báo cáo"


@dataclass
class DigestData:
    year: int
    date: date  # Vietnam date the digest is for
    since: datetime
    rows: list[StatusRow]
    counts: dict[str, int]
    new_since_yesterday: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    needs_review: list[dict[str, Any]] = field(default_factory=list)
    outbox_failed: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    no_address: list[dict[str, str]] = field(default_factory=list)
    # The contact book (workflow.season.contacts): bounced reminder addresses, replies to reminders,
    # units whose contacts wait for confirmation, senders suggested as contacts.
    bounced: list[dict[str, Any]] = field(default_factory=list)
    reminder_replies: list[dict[str, Any]] = field(default_factory=list)
    unconfirmed_contacts: list[dict[str, Any]] = field(default_factory=list)
    suggested_contacts: list[dict[str, Any]] = field(default_factory=list)
    one_line: bool = False

    def template_context(self) -> dict[str, Any]:
        return {
            "date": self.date, "year": self.year, "one_line": self.one_line, "counts": self.counts,
            "new_since_yesterday": self.new_since_yesterday, "missing": self.missing,
            "needs_review": self.needs_review, "outbox_failed": self.outbox_failed,
            "quarantine": self.quarantine, "no_address": self.no_address,
            "bounced": self.bounced, "reminder_replies": self.reminder_replies,
            "unconfirmed_contacts": self.unconfirmed_contacts, "suggested_contacts": self.suggested_contacts,
        }

    def as_json(self) -> dict[str, Any]:
        data = self.template_context()
        data["date"] = vn_date(self.date)
        data["since"] = self.since.isoformat()
        data["rows"] = [r.as_json() for r in self.rows]
        return data


def digest_key(day: date) -> str:
    return f"digest:{day:%Y-%m-%d}"


def last_digest_at(session: Session, before: datetime, today_key: str) -> datetime | None:
    return session.scalar(
        select(models.OutboxEmail.created_at)
        .where(models.OutboxEmail.kind == "digest", models.OutboxEmail.dedupe_key != today_key,
               models.OutboxEmail.created_at < before)
        .order_by(models.OutboxEmail.created_at.desc())
        .limit(1)
    )


def _name(roster: Roster, slug: str | None, year: int | None) -> str | None:
    if not slug:
        return None
    try:
        return roster.get(slug, year).name
    except KeyError:
        return slug


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    """Drop None values: the templates' ``default()`` only fills in absent keys."""
    return {k: v for k, v in row.items() if v is not None}


def _new_reports(session: Session, roster: Roster, campaigns: Mapping[int, Campaign], since: datetime,
                 now: datetime) -> list[dict[str, Any]]:
    messages = session.scalars(
        select(models.Message)
        .where(models.Message.kind == "report", models.Message.status == "recorded",
               models.Message.recorded_at >= since, models.Message.recorded_at <= now)
        .order_by(models.Message.arrived_at, models.Message.id)
    ).all()
    subs = {s.id: s for s in session.scalars(select(models.Submission).where(
        models.Submission.id.in_([m.submission_id for m in messages if m.submission_id])))}
    out = []
    for m in messages:
        sub = subs.get(m.submission_id) if m.submission_id else None
        campaign = campaigns.get(m.year) if m.year else None
        on_time = None
        if sub is not None and campaign is not None:
            on_time = m.arrived_at < deadline_for(session, campaign, sub.agency_slug)
        out.append(_compact({
            "name": _name(roster, m.agency_slug, m.year), "agency": m.agency_slug, "year": m.year,
            "received_at": m.arrived_at, "on_time": on_time, "state": sub.state if sub else None,
            "reference": reference_for(m), "from_addr": m.from_addr or None,
            "sender_note": UNVERIFIED_LABEL if m.sender_auth != PASS else None,
        }))
    return out


def _missing(session: Session, rows: list[StatusRow], campaign: Campaign, today: date) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        if row.state not in OWING_STATES or row.awaiting:  # a report waits for review: listed there, not here
            continue
        last_on_time = last_day(deadline_for(session, campaign, row.agency))
        out.append({"slug": row.agency, "name": row.name, "state": row.state, "deadline": last_on_time,
                    "days_left": (last_on_time - today).days})
    return out


def _needs_review(session: Session, roster: Roster, rows: list[StatusRow], year: int,
                  now: datetime) -> list[dict[str, Any]]:
    """What waits for a coordinator: the review list's own items (``review_queue``), so the count agrees everywhere."""
    queue = review_queue(session, roster, year)
    out: list[dict[str, Any]] = [
        {"name": s["name"], "agency": s["agency"], "reasons": s["review_reasons"] or ["cần cán bộ đầu mối xem xét"]}
        for s in queue["submissions"]
    ]
    reasons: dict[int, str] = {}
    if queue["messages"]:
        for entry in session.scalars(select(models.AuditEntry).where(
                models.AuditEntry.action.in_(("report_unplaced", "unverified_claim")),
                models.AuditEntry.message_id.in_([m["id"] for m in queue["messages"]]))):
            if entry.message_id is not None:  # always, by the query
                reasons[entry.message_id] = entry.reason
    for m in queue["messages"]:
        out.append(_compact({
            "name": _name(roster, m["agency_guess"], m["year_guess"]), "agency": m["agency_guess"],
            "reasons": [m["claim"] or reasons.get(m["id"]) or UNPLACED_DEFAULT],
            "reference": f"TDC-{m['year_guess'] or 0:04d}-{m['id']:06d}",
            "from_addr": m["from"] or None, "subject": m["subject"] or None,
        }))
    for m in queue["agency_mail"]:
        out.append(_compact({"name": m["name"], "agency": m["agency"], "reasons": [m["label"], *m["reasons"][:1]],
                             "from_addr": m["from"] or None, "subject": m["subject"] or None}))
    return out


def _outbox_failed(session: Session, now: datetime) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(models.OutboxEmail)
        .where(models.OutboxEmail.state == models.FAILED, models.OutboxEmail.created_at >= now - FAILED_WINDOW)
        .order_by(models.OutboxEmail.id)
    )
    return [{"recipients": list(r.recipients or []), "subject": r.subject, "last_error": r.last_error or "",
             "dedupe_key": r.dedupe_key} for r in rows]


def _quarantine(session: Session, now: datetime) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(models.Message)
        .where(models.Message.status == "quarantined", models.Message.recorded_at >= now - QUARANTINE_WINDOW)
        .order_by(models.Message.id)
    )
    return [{"id": m.id, "from_addr": m.from_addr, "subject": m.subject, "reason": m.quarantine_reason or ""}
            for m in rows]


def _contact_sections(session: Session, roster: Roster, data: DigestData, owing: set[str], since: datetime,
                      now: datetime) -> None:
    """What the contact book asks of coordinators: bounces, replies to reminders, addresses to confirm."""
    from workflow.season import contacts

    data.bounced = [_compact(dict(b, name=_name(roster, b["agency"], data.year)))
                    for b in contacts.bounced(session, since)]
    replies = session.execute(
        select(models.ReminderResponse, models.Message)
        .join(models.Message, models.Message.id == models.ReminderResponse.message_id)
        .where(models.ReminderResponse.kind == "reply", models.ReminderResponse.at >= since,
               models.ReminderResponse.at <= now)
        .order_by(models.Message.arrived_at, models.Message.id))
    data.reminder_replies = [_compact({
        "name": _name(roster, r.agency_slug, r.year), "agency": r.agency_slug, "from_addr": m.from_addr or None,
        "subject": m.subject or None, "received_at": m.arrived_at, "id": m.id,
    }) for r, m in replies]
    data.unconfirmed_contacts = contacts.unconfirmed_units(session, roster, data.year)
    data.suggested_contacts = [
        {"agency": s["agency"], "name": _name(roster, s["agency"], data.year), "email": s["email"]}
        for s in contacts.suggestions(session, roster, data.year) if s["agency"] in owing or not owing]


def build_digest(
    session: Session,
    roster: Roster,
    campaigns: Mapping[int, Campaign],
    year: int,
    now: datetime,
    *,
    config: RemindersConfig | None = None,
    exclude: frozenset[str] = frozenset(),
) -> DigestData:
    """Everything the digest of ``now``'s Vietnam day says about ``year``."""
    config = config or RemindersConfig()
    campaign = require_campaign(campaigns, year)
    today = vn_today(now)
    since = last_digest_at(session, now, digest_key(today)) or now - NEW_WINDOW
    rows = season_status(session, roster, year)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    missing = _missing(session, rows, campaign, today)
    addresses = agency_addresses(session, roster, (m["slug"] for m in missing), year, exclude)
    data = DigestData(
        year=year, date=today, since=since, rows=rows, counts=counts,
        new_since_yesterday=_new_reports(session, roster, campaigns, since, now),
        missing=missing,
        needs_review=_needs_review(session, roster, rows, year, now),
        outbox_failed=_outbox_failed(session, now),
        quarantine=_quarantine(session, now),
        no_address=[{"agency": m["slug"], "name": m["name"]} for m in missing if not addresses.get(m["slug"])],
    )
    _contact_sections(session, roster, data, {m["slug"] for m in missing}, since, now)
    # Missing agencies keep the digest full only while the reminder plan runs; after that a
    # season's stragglers alone do not turn every day of the year into a long email.
    season_running = today <= campaign.deadline + timedelta(days=config.late_until_days)
    pending = (data.needs_review or data.outbox_failed or data.quarantine or data.bounced or data.reminder_replies
               or (data.missing and season_running))
    data.one_line = not data.new_since_yesterday and not pending
    return data


# -- queueing --------------------------------------------------------------------------------


@dataclass
class DigestRun:
    data: DigestData
    dedupe_key: str
    recipients: list[str]
    queued: bool = False
    docx_path: Path | None = None
    subject: str | None = None
    note: str = ""

    def as_data(self) -> dict[str, Any]:
        return {"kind": "digest", "date": f"{self.data.date:%d/%m/%Y}", "year": self.data.year, "note": self.note,
                "queued": self.queued}

    def summary(self) -> str:
        from notifier.labels import digest_summary

        return digest_summary(self.as_data())

    def as_json(self) -> dict[str, Any]:
        return {"dedupe_key": self.dedupe_key, "recipients": self.recipients, "queued": self.queued,
                "subject": self.subject, "docx": str(self.docx_path) if self.docx_path else None,
                "note": self.note, "digest": self.data.as_json()}


def coordinator_addresses(app: App) -> list[str]:
    return [a for a in (header_address(e).lower() for e in app.settings.coordinators.emails) if a]


def docx_path_for(app: App, day: date) -> Path:
    return app.store_root / "generated" / f"tong-hop-{day:%Y-%m-%d}.docx"


def _chart(app: App, year: int, day: date) -> Path:
    """The cumulative-submissions chart (this year beside last year) for the HTML digest."""
    from notifier.chart import submissions_chart
    from workflow.season.chart_data import chart_series

    with app.db.sessions() as session:
        this_year, last_year = chart_series(session, app.campaigns, year)
    return submissions_chart(this_year, last_year, year, docx_path_for(app, day).with_suffix(".png"))


def queue_digest(app: App, year: int, now: datetime, dry_run: bool = False) -> DigestRun:
    """Build the day's digest and queue it (with its .docx table) to the coordinators, once per day."""
    from notifier.render import render_email

    with app.db.sessions() as session:
        data = build_digest(session, app.roster, app.campaigns, year, now, config=app.settings.reminders,
                            exclude=app.staff_addresses(year))
        key = digest_key(data.date)
        already = session.scalar(select(models.OutboxEmail.id).where(models.OutboxEmail.dedupe_key == key))
    run = DigestRun(data=data, dedupe_key=key, recipients=coordinator_addresses(app))
    run.subject = render_email("digest", **data.template_context()).subject
    if not run.recipients:
        run.note = "no coordinators configured (coordinators.emails): digest built, nothing queued"
        log.warning("digest %s: %s", key, run.note)
        return run
    if already is not None:
        run.note = "already queued today"
        return run
    if dry_run:
        run.note = "dry run"
        return run
    path = status_table_docx(data.rows, year, data.date, docx_path_for(app, data.date),
                             summary=data.template_context())  # a first page before the annex
    attachments = [{"filename": f"tong-hop-{data.date:%Y-%m-%d}.docx",
                    "content_type": DOCX_CONTENT_TYPE, "path": str(path.resolve())}]
    context = data.template_context()
    if not data.one_line:
        chart = _chart(app, year, data.date)
        context["chart_cid"] = f"chart.{data.date:%Y-%m-%d}@{app.own_domain}"
        attachments.append({"filename": chart.name, "content_type": "image/png", "path": str(chart.resolve()),
                            "inline_cid": context["chart_cid"]})
    try:
        with app.db.transaction() as session:
            row = queue_email(session, dedupe_key=key, kind="digest", template="digest", recipients=run.recipients,
                              context=context, domain=app.own_domain, now=now, year=year,
                              attachments=attachments)
    except IntegrityError:
        row = None  # another daemon queued it between our check and our commit
    run.queued = row is not None
    run.docx_path = path
    run.note = "queued" if run.queued else "already queued today"
    log.info("%s", run.summary())
    return run
