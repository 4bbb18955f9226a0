"""What a coordinator reads before deciding: the review queue and one submission's record.

Plain functions returning JSON-ready dicts (no printing), shared by the CLI's
``review list`` / ``show`` and the web board, so neither interface imports the
other. Moved here unchanged from ``interfaces.cli.commands_actions``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from reference.time import vn_date
from workflow.db import models


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None



def review_queue(session: Session, roster: Any, year: int | None) -> dict[str, list[dict[str, Any]]]:
    from sqlalchemy import or_, select

    from workflow.db import models

    subs = select(models.Submission).where(models.Submission.state == models.NEEDS_REVIEW)
    msgs = select(models.Message).where(models.Message.status == "recorded", models.Message.kind == "report",
                                        models.Message.submission_id.is_(None), models.Message.dismissed_at.is_(None))
    if year is not None:
        subs = subs.where(models.Submission.year == year)
        msgs = msgs.where(or_(models.Message.year == year, models.Message.year.is_(None)))
    out_subs = []
    for sub in session.scalars(subs.order_by(models.Submission.year, models.Submission.agency_slug)):
        out_subs.append({
            "submission_id": sub.id, "agency": sub.agency_slug, "name": _agency_name(roster, sub.agency_slug, sub.year),
            "year": sub.year, "state": sub.state, "current_message_id": sub.current_message_id,
            "received_at": _iso(sub.last_received_at), "review_reasons": list(sub.review_reasons or []),
            "outline_missing": list(sub.outline_missing or []),
        })
    out_msgs = [_unplaced(m, roster)
                for m in session.scalars(msgs.order_by(models.Message.arrived_at, models.Message.id))]
    replies = reminder_replies(session, roster, year)
    every_reply = set(session.scalars(select(models.ReminderResponse.message_id)
                                      .where(models.ReminderResponse.kind == "reply")))
    return {"submissions": out_subs, "messages": out_msgs, "reminder_replies": replies,
            "agency_mail": agency_mail(session, roster, year, skip=every_reply)}


# Kinds an agency's mail may be read as that are not its annual report, and a coordinator should see.
NOT_A_REPORT = ("other", "periodic")


def agency_mail(session: Session, roster: Any, year: int | None, slug: str | None = None,
                skip: frozenset[int] | set[int] = frozenset()) -> list[dict[str, Any]]:
    """Mail from an agency's own address or domain that was not read as its report, until a coordinator dismisses it.

    Why: a report the bot misread must be one look away, never silently "other"
    while the agency keeps being reminded. A reply to a reminder is listed with
    the reminder replies instead.
    """
    from sqlalchemy import or_, select

    query = select(models.Message).where(
        models.Message.status == "recorded", models.Message.kind.in_(NOT_A_REPORT),
        models.Message.sender_agency.is_not(None), models.Message.dismissed_at.is_(None),
        models.Message.part_of.is_(None))
    if slug is not None:
        query = query.where(models.Message.sender_agency == slug)
    if year is not None:
        query = query.where(or_(models.Message.year == year, models.Message.year.is_(None)))
    rows = session.scalars(query.order_by(models.Message.arrived_at, models.Message.id))
    return [{
        "id": m.id, "arrived_at": _iso(m.arrived_at), "from": m.from_addr, "subject": m.subject,
        "agency": m.sender_agency, "name": _agency_name(roster, m.sender_agency, m.year), "kind": m.kind,
        "label": f"từ {_agency_name(roster, m.sender_agency, m.year)}, không được đọc là báo cáo năm: cần xem",
        "reasons": list(m.reasons or []),
    } for m in rows if m.id not in skip]


def _unplaced(m: models.Message, roster: Any) -> dict[str, Any]:
    """A report that counts for no agency yet: a stranger's, or a claim our receiving server did not vouch for."""
    from workflow.season.submissions import claim_label, is_unverified_claim

    unverified = is_unverified_claim(m)
    return {
        "id": m.id, "arrived_at": _iso(m.arrived_at), "from": m.from_addr, "subject": m.subject,
        "agency_guess": m.agency_slug, "year_guess": m.year, "confidence": m.confidence,
        "unverified_claim": unverified, "claim": claim_label(m, roster) if unverified else None,
        "reasons": list(m.reasons or []), "notes": list(m.notes or []),
    }


def unverified_claims(session: Session, roster: Any, slug: str, year: int) -> list[dict[str, Any]]:
    """Messages claiming to be ``slug``'s report for ``year`` that our server did not vouch for."""
    from sqlalchemy import select

    from intake.sender.identity import FAIL

    rows = session.scalars(select(models.Message).where(
        models.Message.submission_id.is_(None), models.Message.kind == "report", models.Message.status == "recorded",
        models.Message.sender_auth == FAIL, models.Message.agency_slug == slug, models.Message.year == year,
    ).order_by(models.Message.arrived_at, models.Message.id))
    return [_unplaced(m, roster) for m in rows]


def reminder_replies(session: Session, roster: Any, year: int | None) -> list[dict[str, Any]]:
    """Replies to reminders that are not reports ("we will send by 5/12"), linked to their agency."""
    from sqlalchemy import select

    from workflow.db import models

    query = (select(models.ReminderResponse, models.Message)
             .join(models.Message, models.Message.id == models.ReminderResponse.message_id)
             .where(models.ReminderResponse.kind == "reply"))
    if year is not None:
        query = query.where(models.ReminderResponse.year == year)
    return [{
        "id": m.id, "agency": r.agency_slug, "name": _agency_name(roster, r.agency_slug, r.year), "year": r.year,
        "arrived_at": _iso(m.arrived_at), "from": m.from_addr, "subject": m.subject, "outbox_id": r.outbox_id,
    } for r, m in session.execute(query.order_by(models.Message.arrived_at, models.Message.id))]


def _agency_name(roster: Any, slug: str | None, year: int | None) -> str:
    if not slug:
        return ""
    try:
        return roster.get(slug, year).name
    except KeyError:
        return slug


_TARGET = re.compile(r"^\s*(?P<agency>[^/]+?)\s*/\s*(?P<year>\d{4})\s*$")


def show_data(session: Session, roster: Any, campaigns: Mapping[int, Any], target: str) -> dict[str, Any]:
    """Everything about one submission (AGENCY/YEAR) or the submission of one message (id)."""
    from sqlalchemy import select

    from workflow.db import models
    from workflow.season import states
    from workflow.season.action_context import ActionError, last_day_on_time, resolve_agency

    message: models.Message | None = None
    if target.strip().isdigit():
        message = session.get(models.Message, int(target))
        if message is None:
            raise ActionError(f"Không có thư #{target.strip()}. No message with id {target.strip()}.")
        sub = session.get(models.Submission, message.submission_id) if message.submission_id else None
        slug, year = (sub.agency_slug, sub.year) if sub else (message.agency_slug, message.year)
    else:
        match = _TARGET.match(target)
        if match is None:
            raise ActionError(f"'{target}': cần dạng ĐƠN-VỊ/NĂM (vd. tay-ninh/2024) hoặc số thư. "
                              "Expected AGENCY/YEAR or a message id.")
        year = int(match["year"])
        slug = resolve_agency(roster, match["agency"], year).slug
        sub = session.scalar(select(models.Submission).where(models.Submission.agency_slug == slug,
                                                             models.Submission.year == year))
    if sub is not None:
        versions = list(session.scalars(select(models.Message).where(models.Message.submission_id == sub.id)
                                        .order_by(models.Message.arrived_at, models.Message.id)))
    else:
        versions = [message] if message is not None else []
    ids = [m.id for m in versions]
    deadline = last_day_on_time(session, campaigns.get(year), slug) if slug and year else None
    state = sub.state if sub else (models.MISSING if message is None else None)
    return {
        "message": _message_summary(message) if message is not None and sub is None else None,
        "agency": slug, "name": _agency_name(roster, slug, year), "year": year,
        "submission_id": sub.id if sub else None,
        "state": state, "state_label": states.label(state) if state else "chưa xếp được",
        "on_time": sub.on_time if sub else None,
        "first_received_at": _iso(sub.first_received_at) if sub else None,
        "last_received_at": _iso(sub.last_received_at) if sub else None,
        "deadline": vn_date(deadline) if deadline else None,
        "current_message_id": sub.current_message_id if sub else None,
        "review_reasons": list(sub.review_reasons or []) if sub else [],
        "versions": [_version(session, m, sub) for m in versions],
        "unverified_claims": unverified_claims(session, roster, slug, year) if slug and year else [],
        "agency_mail": agency_mail(session, roster, year, slug) if slug else [],
        "audit": _audit_trail(session, sub, ids, slug, year),
    }


def _message_summary(m: models.Message) -> dict[str, Any]:
    """A message that is no submission's version: what it is and why, for ``show N``."""
    from notifier.labels import kind_label, status_label

    return {"id": m.id, "status": m.status, "status_label": status_label(m.status), "kind": m.kind,
            "kind_label": kind_label(m.kind), "reasons": list(m.reasons or []), "notes": list(m.notes or []),
            "quarantine_reason": m.quarantine_reason, "from": m.from_addr, "subject": m.subject,
            "arrived_at": _iso(m.arrived_at), "sender_agency": m.sender_agency}


def _version(session: Session, m: models.Message, sub: models.Submission | None) -> dict[str, Any]:
    from sqlalchemy import select

    from intake.sender.identity import PASS, UNCHECKED, UNVERIFIED_LABEL
    from workflow.db import models

    indicators = session.scalars(select(models.IndicatorRow).where(models.IndicatorRow.message_id == m.id)
                                 .order_by(models.IndicatorRow.position))
    return {
        "id": m.id, "arrived_at": _iso(m.arrived_at), "from": m.from_addr, "from_name": m.from_name,
        "subject": m.subject, "status": m.status, "kind": m.kind, "rejected": m.rejected,
        "current": bool(sub and sub.current_message_id == m.id), "confidence": m.confidence,
        "attachments": [{"filename": a.filename, "content_type": a.content_type,
                         "size": a.size} for a in m.attachments],
        "outline_present": list(m.outline_present or []), "outline_missing": list(m.outline_missing or []),
        "indicators": [{"indicator": r.indicator, "unit": r.unit, "target": r.target, "result": r.result,
                        "cumulative": r.cumulative, "rate": r.rate, "findings": list(r.findings or [])}
                       for r in indicators],
        "reasons": list(m.reasons or []), "notes": list(m.notes or []),
        "sender_auth": m.sender_auth or UNCHECKED,
        "sender_note": None if m.sender_auth == PASS else UNVERIFIED_LABEL,
    }


def _audit_trail(session: Session, sub: models.Submission | None, ids: list[int], slug: str | None,
                 year: int | None) -> list[dict[str, Any]]:
    from sqlalchemy import or_, select

    from workflow.db import models

    conditions = []
    if sub is not None:
        conditions.append(models.AuditEntry.submission_id == sub.id)
    if ids:
        conditions.append(models.AuditEntry.message_id.in_(ids))
    if slug and year:
        conditions.append((models.AuditEntry.agency_slug == slug) & (models.AuditEntry.year == year))
        conditions.append(models.AuditEntry.agency_slug.is_(None) & (models.AuditEntry.year == year)
                          & (models.AuditEntry.action == "deadline_extended"))
    if not conditions:
        return []
    rows = session.scalars(select(models.AuditEntry).where(or_(*conditions))
                           .order_by(models.AuditEntry.at, models.AuditEntry.id))
    return [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "from_state": e.from_state,
             "to_state": e.to_state, "message_id": e.message_id, "reason": e.reason} for e in rows]
