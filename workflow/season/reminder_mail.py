"""Mail that answers a reminder: a bounce marks the contact failing, a reply is put before a coordinator.

A reminder is recognised by its Message-ID, which the bot fixed when it
queued the row (workflow.season.outbox_queue): a human reply quotes it in
In-Reply-To/References, a delivery status notification (RFC 3464) carries
the returned message's headers in a ``message/rfc822`` or
``text/rfc822-headers`` part, which intake's machine-mail detection reads
(``Understanding.returned_own_message_ids``).

Intake never writes the database; this is called by the recorder
(workflow.season.submissions.record), in the message's own transaction.
"""
from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.db import models
from workflow.season.audit import audit
from reference.roster import normalise_address

if TYPE_CHECKING:
    from intake.pipeline import Understanding

_MSGID = re.compile(r"<[^<>\s]{1,250}@[^<>\s]{1,250}>")
# A DSN is small; a large message is not read again just to look for one.
DSN_READ_LIMIT = 2 * 1024 * 1024
_STATUS_PARTS = {"message/delivery-status", "message/global-delivery-status"}


def _ids(value: str | None) -> list[str]:
    return _MSGID.findall(value or "")


def referenced_message_ids(u: "Understanding", returned: bool = True) -> list[str]:
    """Message-IDs this message refers to: its In-Reply-To/References and (``returned``) those of a returned message.

    The returned ones are intake's (``Understanding.returned_own_message_ids``,
    read by intake.machine_mail from DSN/ARF parts, attached messages and quoted
    headers): one parser of returned mail for the guards and for contact health.
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
        found += list(u.returned_own_message_ids)
    return list(dict.fromkeys(found))


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    raw = part.get_payload()
    if isinstance(raw, list):  # some parsers treat message/* as a container
        return "\n".join(str(p) for p in raw)
    return str(raw or "")


def bounce_details(u: "Understanding") -> tuple[list[str], str]:
    """(failed recipients, reason) read from a DSN's status part, or from its text when there is none."""
    failed: list[str] = []
    reasons: list[str] = []
    try:
        parts = list(message_from_bytes(u.raw.raw, policy=compat32).walk()) if len(u.raw.raw) <= DSN_READ_LIMIT else []
    except Exception:  # noqa: BLE001 - hostile bytes: fall back to the text body
        parts = []
    if parts:
        for part in parts:
            if part.get_content_type() not in _STATUS_PARTS:
                continue
            text = _text(part)
            for line in re.split(r"\r?\n", text):
                name, _, value = line.partition(":")
                key = name.strip().lower()
                if key in ("final-recipient", "original-recipient"):
                    address = normalise_address(value.rpartition(";")[2].strip())
                    if address:
                        failed.append(address)
                elif key in ("diagnostic-code", "status") and value.strip():
                    reasons.append(f"{name.strip()}: {' '.join(value.split())}"[:300])
    if not reasons and u.envelope is not None:
        body = " ".join((u.envelope.text_body or "").split())
        if body:
            reasons.append(body[:300])
    return list(dict.fromkeys(failed)), "; ".join(dict.fromkeys(reasons)) or "thư bị trả lại (không rõ lý do)"


def reminder_for(session: Session, u: "Understanding", returned: bool = True) -> models.OutboxEmail | None:
    """The reminder this message answers, if it refers to one of ours."""
    ids = referenced_message_ids(u, returned)
    if not ids:
        return None
    return session.scalar(select(models.OutboxEmail).where(
        models.OutboxEmail.kind == "reminder", models.OutboxEmail.message_id_header.in_(ids[:50]))
        .order_by(models.OutboxEmail.id.desc()).limit(1))


def note_response(session: Session, msg: models.Message, u: "Understanding", now: datetime) -> str | None:
    """Record a bounce of, or a (non-report) reply to, a reminder; returns the kind noted or None.

    Auto-replies (vacation notices) are neither: nobody wrote them.
    """
    verdict_kind = u.verdict.kind if u.verdict is not None else None
    if msg.status == "ignored" and verdict_kind == "bounce":
        kind = "bounce"
    elif msg.status == "recorded" and (u.classification is None or u.classification.kind != "report"):
        kind = "reply"
    else:
        return None
    reminder = reminder_for(session, u, returned=kind == "bounce")
    if reminder is None:
        return None
    addresses: list[str] = []
    if kind == "bounce":
        failed, reason = bounce_details(u)
        sent_to = [*(reminder.recipients or []), *(reminder.cc or [])]
        addresses = [a for a in failed if a in sent_to] or (sent_to if len(sent_to) == 1 else [])
        for address in addresses:
            _mark_failing(session, reminder.agency_slug, address, reason, now, msg.id)
        if not addresses:
            reason += " (không xác định được địa chỉ nào bị trả lại)"
    else:
        reason = (msg.subject or "").strip()[:300]
        msg.agency_slug = msg.agency_slug or reminder.agency_slug
        msg.year = msg.year or reminder.year
        audit(session, action="reminder_reply", agency_slug=reminder.agency_slug, year=reminder.year,
              message_id=msg.id, at=now, reason=f"trả lời thư nhắc {reminder.dedupe_key} từ {msg.from_addr}")
    session.add(models.ReminderResponse(message_id=msg.id, outbox_id=reminder.id, kind=kind,
                                        agency_slug=reminder.agency_slug, year=reminder.year,
                                        addresses=addresses, reason=reason, at=now))
    return kind


def _mark_failing(session: Session, agency: str | None, address: str, reason: str, now: datetime,
                  message_id: int) -> None:
    rows = list(session.scalars(select(models.Contact).where(models.Contact.email == address)))
    if not rows and agency:
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
