"""The emails coordinator actions queue: acknowledgements, and who a reply goes to.

A stored message's Reply-To and References are read from its raw headers as
text, never acted on; every address passes the rules of
:mod:`workflow.season.recipients` (never the bot's own, never a blocked one).
"""
from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.sender.identity import parse_mailboxes
from reference.addresses import normalise_address
from workflow.db import models
from workflow.season import states, submissions
from workflow.season.action_context import ActionContext
from workflow.season.outbox_queue import queue_email
from workflow.season.recipients import ack_recipient, blocked_reason

RAW_HEADER_LIMIT = 256 * 1024  # headers only; a huge body is never read to answer a question about headers


def _raw_headers(msg: models.Message) -> dict[str, str]:
    """Reply-To and References of the stored raw message: read as text, never acted on."""
    if not msg.raw_path:
        return {}
    try:
        with open(Path(msg.raw_path), "rb") as handle:
            head = handle.read(RAW_HEADER_LIMIT)
        parsed = BytesHeaderParser(policy=compat32).parsebytes(head)
        return {name: str(parsed.get(name, "") or "") for name in ("reply-to", "references")}
    except (OSError, ValueError, TypeError, LookupError):
        return {}


def clean_recipients(addresses: list[str], ctx: ActionContext, session: Session | None = None) -> list[str]:
    """Valid addresses, once each, never the bot's own nor (with a session) a blocked one."""
    out: list[str] = []
    for address in addresses:
        normal = normalise_address(address or "")
        if normal and normal not in ctx.own_addresses and normal not in out:
            if session is None or blocked_reason(session, normal, ctx.own_addresses) is None:
                out.append(normal)
    return out


def reply_recipient(session: Session, msg: models.Message, ctx: ActionContext) -> list[str]:
    """Who an acknowledgement goes to: as the first ack did, else the rule of ``workflow.season.recipients``."""
    first = session.scalar(select(models.OutboxEmail).where(models.OutboxEmail.dedupe_key == f"ack:{msg.id}"))
    if first is not None and first.recipients:
        return clean_recipients(list(first.recipients), ctx, session)
    reply_to = [m.address for m in parse_mailboxes(_raw_headers(msg).get("reply-to", "")) or []]
    chosen = ack_recipient(session, from_addr=msg.from_addr, reply_to=reply_to, agency_slug=msg.agency_slug,
                           year=msg.year, roster=ctx.roster, own_addresses=ctx.own_addresses)
    return [chosen] if chosen else []


def references_of(msg: models.Message) -> str | None:
    """The References of a reply to ``msg``: its own, then its Message-ID."""
    refs = _raw_headers(msg).get("references", "").split()
    if msg.message_id:
        refs.append(msg.message_id)
    return " ".join(refs) or None


def queue_ack(session: Session, msg: models.Message, sub: models.Submission | None, ctx: ActionContext,
              dedupe_key: str) -> models.OutboxEmail | None:
    """An acknowledgement of ``msg`` in the outbox under ``dedupe_key``; None when nobody may receive it."""
    recipients = reply_recipient(session, msg, ctx)
    if not recipients:
        return None
    return queue_email(
        session, dedupe_key=dedupe_key, kind="ack", template="ack", recipients=recipients,
        context=submissions.ack_context(msg, sub, ctx.roster, ctx.campaigns, ctx.reply_address,
                                        list(sub.review_reasons or []) if sub else [],
                                        recipients[0] if len(recipients) == 1 else None),
        domain=ctx.domain, now=ctx.now, agency_slug=msg.agency_slug, year=msg.year, related_message_id=msg.id,
        in_reply_to=msg.message_id, references=references_of(msg),
    )


def mark_acknowledged(session: Session, sub: models.Submission | None, msg: models.Message, row: models.OutboxEmail,
                      ctx: ActionContext) -> None:
    """received -> acknowledged once an ack of the current version is queued."""
    if sub is not None and sub.state == states.RECEIVED and sub.current_message_id == msg.id:
        states.transition(session, sub, states.ACKNOWLEDGED, actor=ctx.actor, now=ctx.now, message_id=msg.id,
                          event=states.ACK_QUEUED, reason=f"thư báo nhận {row.dedupe_key}")
