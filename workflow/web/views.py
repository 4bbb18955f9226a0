"""What each page shows, read from the same functions the CLI prints.

The season table is ``workflow.season.status.season_status``; an agency's versions,
attachments, outline and audit trail are the CLI's ``show`` data; the review
queue is the CLI's ``review list`` data (both from ``workflow.season.coordinator_views``);
"late" is the recorded ``on_time`` and the deadline comes from
``workflow.season.actions.last_day_on_time``; contact health is ``workflow.season.contacts``'
own reading functions. This module only filters, counts and arranges for HTML.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.store import sanitize_filename
from notifier.labels import STATE_LABELS, state_label
from reference.text import fold
from workflow.db import models
from workflow.season import contacts
from workflow.season.actions import last_day_on_time
from workflow.season.coordinator_views import review_queue, show_data  # noqa: F401  (re-exported for pages)
from workflow.season.status import season_status

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Roster

VN = ZoneInfo("Asia/Ho_Chi_Minh")
STATE_ORDER = tuple(STATE_LABELS)  # the digest's order: missing, received, ..., exempt
KINDS = {"province": "Tỉnh, thành phố", "ministry": "Bộ, ngành"}
OUTBOX_STATES = {"pending": "chờ gửi", "sending": "đang gửi", "sent": "đã gửi", "failed": "gửi lỗi",
                 "suppressed": "không gửi (vượt giới hạn mỗi ngày)"}
EMAIL_KINDS = {"ack": "báo nhận", "reminder": "nhắc nộp", "resubmission": "đề nghị gửi lại",
               "digest": "bản tổng hợp hằng ngày"}
MESSAGE_STATUSES = {"recorded": "đã ghi nhận", "ignored": "bỏ qua (thư tự động)", "quarantined": "cách ly"}
MESSAGE_KINDS = {"report": "báo cáo", "other": "thư khác"}
CONTACT_SOURCES = {models.CONTACT_IMPORTED: "nhập từ bảng", models.CONTACT_COORDINATOR: "điều phối viên thêm",
                   models.CONTACT_LEARNED: "học từ thư đã xếp",
                   models.CONTACT_CARRIED_OVER: "chuyển từ đơn vị sáp nhập",
                   contacts.SUGGESTED: "gợi ý (người gửi báo cáo, chưa xác nhận)"}


def words(table: dict[str, str], code: str | None) -> str:
    """The Vietnamese word for a stored code, the code itself when there is none."""
    return table.get(code or "", code or "—")


@dataclass(frozen=True)
class BoardFilters:
    state: str = ""
    kind: str = ""
    late: bool = False
    review: bool = False
    q: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> BoardFilters:
        state = params.get("state", "")
        kind = params.get("kind", "")
        return cls(state=state if state in STATE_LABELS else "", kind=kind if kind in KINDS else "",
                   late=params.get("late") == "1", review=params.get("review") == "1",
                   q=(params.get("q") or "").strip()[:100])

    @property
    def active(self) -> bool:
        return bool(self.state or self.kind or self.late or self.review or self.q)

    def keep(self, row: dict[str, Any]) -> bool:
        if self.state and row["state"] != self.state:
            return False
        if self.kind and row["kind"] != self.kind:
            return False
        if self.late and row["on_time"] is not False:
            return False
        if self.review and row["state"] != models.NEEDS_REVIEW:
            return False
        if self.q and fold(self.q) not in fold(f"{row['name']} {row['agency'].replace('-', ' ')}"):
            return False
        return True


def _local_day(value: datetime) -> date:
    return value.astimezone(VN).date()


def contact_health(session: Session, roster: Roster, year: int) -> dict[str, dict[str, int]]:
    """Per agency, for ``year``: contacts reminders reach, failing addresses, contacts awaiting confirmation.

    "Reach" is ``contacts.usable`` (the reminders' own rule); the rest counts
    ``contacts.list_contacts`` (the book for that year, removed ones left out).
    """
    book = contacts.list_contacts(session, roster, year, with_suggestions=False)
    slugs = {c["agency"] for c in book}
    reach = contacts.usable(session, slugs, year)
    health: dict[str, dict[str, int]] = {}
    for c in book:
        h = health.setdefault(c["agency"], {"usable": len(reach.get(c["agency"], [])), "failing": 0,
                                            "unconfirmed": 0})
        h["failing"] += bool(c["failing"])
        h["unconfirmed"] += not c["confirmed"]
    return health


NO_CONTACTS = {"usable": 0, "failing": 0, "unconfirmed": 0}


def board(session: Session, roster: Roster, campaigns: Mapping[int, Campaign], year: int,
          filters: BoardFilters) -> dict[str, Any]:
    """Every agency owing ``year``'s report, in roster order, with counts over all of them."""
    campaign = campaigns.get(year)
    rows: list[dict[str, Any]] = []
    counts = dict.fromkeys(STATE_ORDER, 0)
    health = contact_health(session, roster, year)
    for r in season_status(session, roster, year):
        counts[r.state] = counts.get(r.state, 0) + 1
        rows.append({
            "agency": r.agency, "name": r.name, "kind": r.kind, "state": r.state,
            "received_at": r.received_at, "on_time": r.on_time, "late_days": None, "versions": r.versions,
            "outline_missing": r.outline_missing, "review_reasons": r.review_reasons,
            "contacts": health.get(r.agency, NO_CONTACTS),
        })
    shown = [row for row in rows if filters.keep(row)]
    for row in shown:  # the deadline (with extensions) only where a row is late: a few queries, not 69
        if row["on_time"] is False and row["received_at"] is not None and campaign is not None:
            last_day = last_day_on_time(session, campaign, row["agency"])
            if last_day is not None:
                row["late_days"] = max((_local_day(row["received_at"]) - last_day).days, 1)
    return {
        "year": year, "rows": shown, "total": len(rows), "counts": counts,
        "late_total": sum(1 for row in rows if row["on_time"] is False),
        "deadline": campaign.deadline if campaign else None,
        "years": sorted(campaigns, reverse=True),
    }


def agency_page(session: Session, roster: Roster, campaigns: Mapping[int, Campaign], slug: str,
                year: int) -> dict[str, Any]:
    """The CLI's ``show`` data, plus what a page adds: attachment ids, other mail, emails sent."""
    data = show_data(session, roster, campaigns, f"{slug}/{year}")
    ids = [v["id"] for v in data["versions"]]
    by_message: dict[int, list[models.Attachment]] = {}
    if ids:
        for att in session.scalars(select(models.Attachment).where(models.Attachment.message_id.in_(ids))
                                   .order_by(models.Attachment.id)):
            by_message.setdefault(att.message_id, []).append(att)
    for version in data["versions"]:
        # The name as it will be saved (the download's Content-Disposition gives the same one): no bidi override
        # or zero-width character can disguise what the file is.
        version["attachments"] = [{"id": a.id, "filename": sanitize_filename(a.filename),
                                   "content_type": a.content_type, "size": a.size}
                                  for a in by_message.get(version["id"], [])]
    other = session.scalars(select(models.Message).where(
        models.Message.agency_slug == data["agency"], models.Message.year == year,
        models.Message.submission_id.is_(None)).order_by(models.Message.arrived_at, models.Message.id))
    data["other_messages"] = [{"id": m.id, "arrived_at": m.arrived_at, "from": m.from_addr, "subject": m.subject,
                               "status": m.status, "kind": m.kind, "reasons": list(m.reasons or []),
                               "notes": list(m.notes or []), "quarantine_reason": m.quarantine_reason}
                              for m in other]
    data["emails"] = [{"id": e.id, "kind": e.kind, "subject": e.subject, "state": e.state,
                       "recipients": list(e.recipients or []), "created_at": e.created_at, "sent_at": e.sent_at,
                       "last_error": e.last_error}
                      for e in session.scalars(select(models.OutboxEmail).where(
                          models.OutboxEmail.agency_slug == data["agency"], models.OutboxEmail.year == year)
                          .order_by(models.OutboxEmail.created_at, models.OutboxEmail.id))]
    data["reminders"] = [e for e in data["emails"] if e["kind"] == "reminder"]
    data["contacts"] = contacts.list_contacts(session, roster, year, data["agency"])
    for contact in data["contacts"]:
        contact["bounced"] = datetime.fromisoformat(contact["last_bounce_at"]) if contact["last_bounce_at"] else None
    for version in data["versions"]:
        version["arrived"] = datetime.fromisoformat(version["arrived_at"]) if version["arrived_at"] else None
    for entry in data["audit"]:
        entry["when"] = datetime.fromisoformat(entry["at"]) if entry["at"] else None
    return data


def quarantine(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    rows = session.scalars(select(models.Message).where(models.Message.status == "quarantined")
                           .order_by(models.Message.arrived_at.desc(), models.Message.id.desc()).limit(limit))
    return [{"id": m.id, "arrived_at": m.arrived_at, "from": m.from_addr, "subject": m.subject,
             "reason": m.quarantine_reason or "", "notes": list(m.notes or []), "size": m.size} for m in rows]


OUTBOX_SHOWN = (models.FAILED, models.SUPPRESSED, models.PENDING, models.SENDING)


def outbox(session: Session, limit: int = 500) -> dict[str, Any]:
    """What has not gone out (failed first), and the latest sent, with the counts."""
    counts = {state: 0 for state in (models.PENDING, models.SENDING, models.SENT, models.FAILED, models.SUPPRESSED)}
    for state, count in session.execute(select(models.OutboxEmail.state, func.count())
                                        .group_by(models.OutboxEmail.state)):
        counts[state] = count

    def rows(states: tuple[str, ...], n: int) -> list[dict[str, Any]]:
        return [{"id": e.id, "kind": e.kind, "subject": e.subject, "state": e.state,
                 "recipients": list(e.recipients or []), "created_at": e.created_at, "sent_at": e.sent_at,
                 "attempts": e.attempts, "last_error": e.last_error or "", "agency": e.agency_slug, "year": e.year,
                 "dedupe_key": e.dedupe_key}
                for e in session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.state.in_(states))
                                         .order_by(models.OutboxEmail.id.desc()).limit(n))]

    return {"counts": counts, "unsent": rows(OUTBOX_SHOWN, limit), "sent": rows((models.SENT,), 50)}


def outbox_email(session: Session, email_id: int) -> models.OutboxEmail | None:
    return session.get(models.OutboxEmail, email_id)


def state_choices() -> list[tuple[str, str]]:
    return [(s, state_label(s, capital=True)) for s in STATE_ORDER]
