"""What each page shows, read from the same functions the CLI prints.

The season table is ``workflow.season.status.season_status``; an agency's versions,
attachments, outline and audit trail are the CLI's ``show`` data; the review
queue is the CLI's ``review list`` data (both from ``workflow.season.coordinator_views``);
"late" is the recorded ``on_time`` and the deadline comes from
``workflow.season.action_context.last_day_on_time``; contact health is ``workflow.season.contacts``'
own reading functions. This module only filters, counts and arranges for HTML.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.store import sanitize_filename
from notifier.labels import (
    CONTACT_SOURCE_LABELS,
    EMAIL_KIND_LABELS,
    MESSAGE_KIND_LABELS,
    MESSAGE_STATUS_LABELS,
    OUTBOX_STATE_LABELS,
    SHOWN_STATE_LABELS,
    STATE_LABELS,
    action_label,
    actor_label,
    audit_reason,
    outbox_key_words,
    state_label,
)
from reference.text import clip
from reference.time import today as vn_today
from workflow.db import models
from workflow.season import contacts
from workflow.season.action_context import last_day_on_time
from workflow.season.coordinator_views import review_queue, show_data
from workflow.season.status import review_total, season_status

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Roster

STATE_ORDER = tuple(STATE_LABELS)  # the digest's order: missing, received, ..., exempt
KINDS = {"province": "Tỉnh, thành phố", "ministry": "Bộ, ngành"}
AWAITING = SHOWN_STATE_LABELS["awaiting"]  # owes, but a mail that may be its report waits for a coordinator
# One vocabulary with the command line and the documents (notifier.labels).
OUTBOX_STATES = OUTBOX_STATE_LABELS
EMAIL_KINDS = EMAIL_KIND_LABELS
MESSAGE_STATUSES = MESSAGE_STATUS_LABELS
MESSAGE_KINDS = MESSAGE_KIND_LABELS
CONTACT_SOURCES = CONTACT_SOURCE_LABELS


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ASIDE = re.compile(r"\s*\(([^()]*)\)")
_CODE = re.compile(r"[a-z_]+|--[a-z-]+")  # "(accepted)", "(--reason)": a stored state, a command-line option
# Words of the English glosses that are no Vietnamese word written without diacritics ("an", "to", "no" are).
_ENGLISH = frozenset("the is are was were be been not of for with from by only cannot unknown nothing needs "
                     "expected did you it has already rejected message one these mean reason report owes agency "
                     "must send sent address could nothing".split())
FLASH_CHARS = 600


def _english(text: str) -> bool:
    return text.isascii() and not _ENGLISH.isdisjoint(re.findall(r"[a-z]+", text.lower()))


def coordinator_words(text: str) -> str:
    """A workflow message as the board shows it: the Vietnamese sentences, no English gloss, no codes.

    Refusals and results are written for the terminal in both languages
    ("… 'chưa nộp' (missing). Cannot accept: nothing was received."); the board
    keeps the Vietnamese: an all-ASCII sentence or aside with English words in
    it goes, as does a stored code in brackets; outbox keys become words.
    """
    parts = [p for p in _SENTENCE_END.split(" ".join(text.split())) if not _english(p)]
    kept = _ASIDE.sub(lambda m: "" if _CODE.fullmatch(m.group(1)) or _english(m.group(1)) else m.group(0),
                      " ".join(parts) if parts else text)
    return clip(outbox_key_words(kept), FLASH_CHARS)


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

    def keep(self, row: dict[str, Any], named: frozenset[str] = frozenset()) -> bool:
        """``named``: the agencies the search text names (``Agency.named_by``: names, aliases, short forms)."""
        if self.state and row["state"] != self.state:
            return False
        if self.kind and row["kind"] != self.kind:
            return False
        if self.late and row["on_time"] is not False:
            return False
        if self.review and row["state"] != models.NEEDS_REVIEW:
            return False
        if self.q and row["agency"] not in named:
            return False
        return True


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
            "outline_missing": r.outline_missing, "review_reasons": r.review_reasons, "awaiting": r.awaiting,
            "contacts": health.get(r.agency, NO_CONTACTS),
        })
    named = frozenset(a.slug for a in roster.owing(year) if a.named_by(filters.q)) if filters.q else frozenset()
    shown = [row for row in rows if filters.keep(row, named)]
    for row in shown:  # the deadline (with extensions) only where a row is late: a few queries, not 69
        if row["on_time"] is False and row["received_at"] is not None and campaign is not None:
            last_day = last_day_on_time(session, campaign, row["agency"])
            if last_day is not None:
                row["late_days"] = max((vn_today(row["received_at"]) - last_day).days, 1)
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
                       "recipients": list(e.recipients or []), "cc": list(e.cc or []), "created_at": e.created_at,
                       "sent_at": e.sent_at,
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
        entry["what"] = action_label(entry["action"])
        entry["who"] = actor_label(entry["actor"])
        entry["why"] = audit_reason(entry["action"], entry["reason"])
    claims = {c["id"] for c in data["unverified_claims"]}
    for m in data["other_messages"]:
        m["unverified_claim"] = m["id"] in claims
    return data


def review_page(session: Session, roster: Roster, year: int) -> dict[str, Any]:
    """Everything ``REVIEW_SQL`` counts for ``year``, each item with why it waits; ``total`` is that count.

    The lists are the CLI's ``review list`` (``review_queue``); the number is
    ``review_total``, the one the banner, ``tdc-bot status`` and the digest show.
    Reminder replies are listed for reading but are not counted: nothing waits on them.
    """
    data: dict[str, Any] = dict(review_queue(session, roster, year))
    for item in data["submissions"]:
        item["received"] = _when(item["received_at"])
    for item in data["messages"]:
        item["arrived"] = _when(item["arrived_at"])
        item["headline"] = item["claim"] or action_label("report_unplaced")
        item["agency_name"] = _name(roster, item["agency_guess"], item["year_guess"])
    for key in ("agency_mail", "reminder_replies"):
        for item in data[key]:
            item["arrived"] = _when(item["arrived_at"])
    data["total"] = review_total(session, year)
    data["listed"] = len(data["submissions"]) + len(data["messages"]) + len(data["agency_mail"])
    return data


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _name(roster: Roster, slug: str | None, year: int | None) -> str:
    try:
        return roster.get(slug, year).name if slug else ""
    except KeyError:
        return slug or ""


def junk(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """What the spam filter set aside, newest first (``tdc-bot junk list``'s rows)."""
    rows = session.scalars(select(models.Message).where(models.Message.status == "junk")
                           .order_by(models.Message.arrived_at.desc(), models.Message.id.desc()).limit(limit))
    return [{"id": m.id, "arrived_at": m.arrived_at, "from": m.from_addr, "subject": m.subject,
             "reason": (m.reasons or [""])[0]} for m in rows]


def quarantine(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    rows = session.scalars(select(models.Message).where(models.Message.status == "quarantined")
                           .order_by(models.Message.arrived_at.desc(), models.Message.id.desc()).limit(limit))
    return [{"id": m.id, "arrived_at": m.arrived_at, "from": m.from_addr, "subject": m.subject,
             "reason": m.quarantine_reason or "", "notes": list(m.notes or []), "size": m.size} for m in rows]


OUTBOX_SHOWN = (models.FAILED, models.HELD, models.SUPPRESSED, models.PENDING, models.SENDING)
RELEASABLE = (models.HELD, models.SUPPRESSED)  # what `tdc-bot outbox release ID` lets go


def outbox(session: Session, limit: int = 500) -> dict[str, Any]:
    """What has not gone out (failed first), and the latest sent, with the counts."""
    counts = {state: 0 for state in (models.PENDING, models.HELD, models.SENDING, models.SENT, models.FAILED,
                                     models.SUPPRESSED)}
    for state, count in session.execute(select(models.OutboxEmail.state, func.count())
                                        .group_by(models.OutboxEmail.state)):
        counts[state] = count

    def rows(states: tuple[str, ...], n: int) -> list[dict[str, Any]]:
        return [{"id": e.id, "kind": e.kind, "subject": e.subject, "state": e.state,
                 "recipients": list(e.recipients or []), "cc": list(e.cc or []), "created_at": e.created_at,
                 "sent_at": e.sent_at, "attempts": e.attempts, "last_error": e.last_error or "",
                 "agency": e.agency_slug, "year": e.year, "dedupe_key": e.dedupe_key}
                for e in session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.state.in_(states))
                                         .order_by(models.OutboxEmail.id.desc()).limit(n))]

    return {"counts": counts, "unsent": rows(OUTBOX_SHOWN, limit), "sent": rows((models.SENT,), 50)}


def outbox_email(session: Session, email_id: int) -> models.OutboxEmail | None:
    return session.get(models.OutboxEmail, email_id)


def state_choices() -> list[tuple[str, str]]:
    return [(s, state_label(s, capital=True)) for s in STATE_ORDER]
