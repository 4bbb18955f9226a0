"""Mail that answers the bot's mail: a bounce marks the address failing, a reply to a reminder reaches a coordinator.

Whether a message is a bounce, which email of ours it returns and for whom is intake's
verdict (``Understanding.bounce``, an ``intake.machine.bounces.BounceVerdict``); this
module acts on it and never re-reads the message. A returned email is found by its
per-email return path (VERP: ``baocao+b-<token>@…``, the envelope sender each outbox
row is sent with, ``reference.addresses.verp_address``) or by the Message-ID the bounce
quotes; the addresses that failed are the verdict's failed recipients among the email's
own recipients. A human reply to a reminder quotes its Message-ID in In-Reply-To/References.

Intake never writes the database; this is called by the recorder
(workflow.season.submissions.record), in the message's own transaction.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference.addresses import inbox_key
from workflow.db import models
from workflow.season.audit import audit

if TYPE_CHECKING:
    from intake.pipeline import Understanding

_MSGID = re.compile(r"<[^<>\s]{1,250}@[^<>\s]{1,250}>")
_REFUSED_NOTE = "refused by the server:"  # the outbox's own refusal marker: recipients.blocked_reason reads it


def _ids(value: str | None) -> list[str]:
    return _MSGID.findall(value or "")


def referenced_message_ids(u: Understanding, returned: bool = True) -> list[str]:
    """Message-IDs this message refers to: its In-Reply-To/References and (``returned``) those of a returned message.

    The returned ones are intake's bounce verdict (``Understanding.bounce.own_message_ids``,
    read by intake.machine.bounces from DSN/ARF parts, attached messages and quoted
    headers): one reader of returned mail for the guards and for contact health.
    """
    env = u.envelope
    found: list[str] = []
    if env is not None:
        for name in ("in-reply-to", "references"):
            for value in env.headers.get(name, []):
                found += _ids(value)
        for fwd in env.forwarded:
            found += _ids(fwd.message_id)
    if returned:
        found += list(u.bounce.own_message_ids)
    return list(dict.fromkeys(found))


def sent_email_for(session: Session, u: Understanding) -> models.OutboxEmail | None:
    """The email of ours a bounce returns: by its return-path token first (exact), else by a quoted Message-ID."""
    tokens = list(u.bounce.verp_tokens)[:10]
    if tokens:
        row = session.scalar(select(models.OutboxEmail).where(models.OutboxEmail.verp_token.in_(tokens))
                             .order_by(models.OutboxEmail.id.desc()).limit(1))
        if row is not None:
            return row
    ids = list(u.bounce.own_message_ids)[:50]
    if not ids:
        return None
    return session.scalar(select(models.OutboxEmail).where(models.OutboxEmail.message_id_header.in_(ids))
                          .order_by(models.OutboxEmail.id.desc()).limit(1))


def reminder_for(session: Session, u: Understanding) -> models.OutboxEmail | None:
    """The reminder a person's reply answers (its In-Reply-To/References)."""
    ids = referenced_message_ids(u, returned=False)
    if not ids:
        return None
    return session.scalar(select(models.OutboxEmail).where(
        models.OutboxEmail.kind == "reminder", models.OutboxEmail.message_id_header.in_(ids[:50]))
        .order_by(models.OutboxEmail.id.desc()).limit(1))


def _failed_addresses(u: Understanding, row: models.OutboxEmail) -> tuple[list[str], str]:
    """The addresses of ``row`` the bounce says failed, and why; none when it names only others.

    A bounce that names no recipient at all (some MTAs return only a text)
    stands for the one address the email went to, when it went to one.
    """
    sent = {inbox_key(a): a for a in [*(row.recipients or []), *(row.cc or [])]}
    named = [r for r in u.bounce.failed_recipients() if inbox_key(r.address) in sent]
    failed = [sent[inbox_key(r.address)] for r in named]
    if not u.bounce.recipients and len(sent) == 1:
        failed = list(sent.values())
    reasons = [f"{r.address}: {' '.join(x for x in (r.status, r.diagnostic) if x)}".strip(": ") for r in named]
    return list(dict.fromkeys(failed)), "; ".join(reasons) or "thư bị trả lại (không rõ lý do)"


def note_response(session: Session, msg: models.Message, u: Understanding, now: datetime) -> str | None:
    """Record a bounce of one of our emails, or a (non-report) reply to a reminder; returns the kind noted or None.

    A bounce is matched by who was written to: the per-email return path
    (VERP) it came back to, or the Message-ID it quotes, then the recipients
    and statuses of its DSN against the email's own recipients. Every returned
    email counts (acknowledgements too, not only reminders); a bounce naming an
    address the bot never wrote to changes nothing. Auto-replies are neither.
    """
    if msg.status == "ignored" and u.bounce.bounced:
        return _note_bounce(session, msg, u, now)
    if msg.status == "recorded" and (u.classification is None or u.classification.kind != "report"):
        return _note_reply(session, msg, u, now)
    return None


def _note_bounce(session: Session, msg: models.Message, u: Understanding, now: datetime) -> str | None:
    row = sent_email_for(session, u)
    if row is None:
        return None
    addresses, reason = _failed_addresses(u, row)
    for address in addresses:
        _mark_failing(session, row.agency_slug, address, reason, now, msg.id, create=row.kind == "reminder")
        note = f"{_REFUSED_NOTE} {address} ({reason})"[:900]
        row.last_error = ((row.last_error + "; ") if row.last_error else "") + note
    if not addresses:
        audit(session, action="bounce_unmatched", message_id=msg.id, agency_slug=row.agency_slug, year=row.year, at=now,
              reason=f"thư báo lỗi gửi cho {row.dedupe_key} không nêu địa chỉ nào hệ thống đã gửi tới")
    if row.kind == "reminder":
        session.add(models.ReminderResponse(message_id=msg.id, outbox_id=row.id, kind="bounce",
                                            agency_slug=row.agency_slug, year=row.year, addresses=addresses,
                                            reason=reason, at=now))
    return "bounce" if addresses else None


def _note_reply(session: Session, msg: models.Message, u: Understanding, now: datetime) -> str | None:
    reminder = reminder_for(session, u)
    if reminder is None:
        return None
    msg.agency_slug = msg.agency_slug or reminder.agency_slug
    msg.year = msg.year or reminder.year
    audit(session, action="reminder_reply", agency_slug=reminder.agency_slug, year=reminder.year,
          message_id=msg.id, at=now, reason=f"trả lời thư nhắc {reminder.dedupe_key} từ {msg.from_addr}")
    session.add(models.ReminderResponse(message_id=msg.id, outbox_id=reminder.id, kind="reply",
                                        agency_slug=reminder.agency_slug, year=reminder.year, addresses=[],
                                        reason=(msg.subject or "").strip()[:300], at=now))
    return "reply"


def _mark_failing(session: Session, agency: str | None, address: str, reason: str, now: datetime,
                  message_id: int, create: bool = True) -> None:
    rows = list(session.scalars(select(models.Contact).where(models.Contact.email == address)))
    if not rows and agency and create:
        # A roster or taught address has no contact row yet: one records its health.
        row = models.Contact(agency_slug=agency, email=address, name="", role="", phone="", unit="",
                             source=models.CONTACT_LEARNED, confirmed=True, failing=False, created_by="bot",
                             created_at=now, updated_at=now)
        session.add(row)
        rows = [row]
    for row in rows:
        row.failing, row.last_bounce_at, row.bounce_reason, row.updated_at = True, now, reason[:1000], now
        audit(session, action="contact_bounced", agency_slug=row.agency_slug, message_id=message_id, at=now,
              reason=f"{address}: {reason}")
