"""Acknowledgements: the one way an ack of a message is queued, whoever asks for it.

Recording a report (:func:`workflow.season.submissions.record`) and the
coordinator actions (assign, resend-ack; a resubmission request asks who to
write to) all come here, so an ack says and does the same whatever caused it:

* it goes to the recipients of the message's first ack when there was one;
  else, for a device's mail (the office copier, an e-office robot), to the
  agency's people; else to the sender, or to Reply-To when it belongs to the
  sender (:func:`workflow.season.recipients.ack_recipient`), never the bot's
  own nor a blocked address;
* its dedupe key is ``ack:{message id}`` (a resend names its number), its
  In-Reply-To the message's Message-ID, its References the message's own
  then its Message-ID, all read from the recorded row
  (:mod:`workflow.season.stored_mail`), never from the raw file;
* an answer the bot cannot vouch for counts against the hourly cap on
  strangers when the bot decided to write (recording), not when a coordinator
  did; a new version says which one it replaces; other reports in the same
  mail (companions) are listed in it;
* when nobody may receive it, the audit log says so (``ack_withheld``).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.report.outline import LAYOUT_NOTE
from intake.sender.identity import FAIL, PASS, UNCHECKED
from reference.addresses import normalise_address
from workflow.db import models
from workflow.season import states, stored_mail
from workflow.season.audit import BOT, audit
from workflow.season.message_rows import fit, reference_for
from workflow.season.outbox_queue import queue_email
from workflow.season.recipients import (
    ack_recipient,
    agency_contact,
    blocked_reason,
    is_verified_contact,
    short_quote,
)

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Roster

Version = tuple[models.Message, models.Submission | None]  # a recorded report and the submission it joined


class AckContext(Protocol):
    """What queueing an ack needs (``RecordContext`` and ``ActionContext`` both carry it)."""

    @property
    def roster(self) -> Roster: ...
    @property
    def campaigns(self) -> dict[int, Campaign]: ...
    @property
    def reply_address(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def now(self) -> datetime: ...
    @property
    def own_addresses(self) -> frozenset[str]: ...


def clean_recipients(addresses: list[str], ctx: AckContext, session: Session | None = None) -> list[str]:
    """Valid addresses, once each, never the bot's own nor (with a session) a blocked one."""
    out: list[str] = []
    for address in addresses:
        normal = normalise_address(address or "")
        if normal and normal not in ctx.own_addresses and normal not in out:
            if session is None or blocked_reason(session, normal, ctx.own_addresses) is None:
                out.append(normal)
    return out


def reply_recipient(session: Session, msg: models.Message, ctx: AckContext, *, speaker: str | None = None,
                    device: bool = False, new_message: bool = False) -> list[str]:
    """Who an answer to ``msg`` goes to: as its first ack did, else the rule of ``workflow.season.recipients``.

    ``speaker``: whom the mail speaks for when not its From (the sharer of a
    file service's share notice); ``device``: sent by a machine on the agency's
    behalf, so the agency's people are answered, never the device; ``new_message``: see ``queue_ack``.
    """
    first = None if new_message else session.scalar(
        select(models.OutboxEmail).where(models.OutboxEmail.dedupe_key == f"ack:{msg.id}"))
    if first is not None and first.recipients:
        return clean_recipients(list(first.recipients), ctx, session)
    if device:
        chosen = agency_contact(session, ctx.roster, msg.agency_slug, msg.year, ctx.own_addresses)
    else:
        chosen = ack_recipient(session, from_addr=speaker or msg.from_addr, reply_to=stored_mail.reply_to(msg),
                               agency_slug=msg.agency_slug, year=msg.year, roster=ctx.roster,
                               own_addresses=ctx.own_addresses)
    return [chosen] if chosen else []


def references_of(msg: models.Message) -> str | None:
    """The References of a reply to ``msg``: its own, then its Message-ID."""
    refs = stored_mail.references(msg).split()
    if msg.message_id:
        refs.append(msg.message_id)
    return " ".join(refs) or None


def queue_ack(session: Session, msg: models.Message, sub: models.Submission | None, ctx: AckContext, *,
              dedupe_key: str | None = None, review_reasons: list[str] | None = None,
              replaces: models.Message | None = None, companions: Sequence[Version] = (),
              capped: bool = False, actor: str = BOT, new_message: bool = False) -> models.OutboxEmail | None:
    """An acknowledgement of ``msg`` in the outbox; None when nobody may receive it or ``dedupe_key`` was queued.

    ``review_reasons`` default to the submission's; ``capped``: the bot decided
    to write (recording), so an answer to a stranger counts against the hourly
    cap; ``companions``: other reports of the same mail, listed in this ack.

    ``new_message``: ``msg`` was inserted in this transaction (recording), so
    no ack of it can be in the outbox yet: neither its first ack (whose
    recipients a later ack reuses) nor its dedupe key is looked up. Safe
    because message ids are never reused (no message row is ever deleted;
    a restore replaces the outbox with them), and the dedupe key is unique
    in the database, which would refuse a second row rather than send twice.
    """
    # Whom: as recorded (stored_mail), so a coordinator's placing or a resend answers whom recording would have.
    speaker, device = stored_mail.answer_to(msg)
    recipients = reply_recipient(session, msg, ctx, speaker=speaker, device=sub is not None and device,
                                 new_message=new_message)
    if not recipients:
        audit(session, action="ack_withheld", actor=actor, message_id=msg.id, agency_slug=msg.agency_slug,
              year=msg.year, reason="không có địa chỉ an toàn để gửi thư báo nhận", at=ctx.now)
        return None
    one = recipients[0] if len(recipients) == 1 else None
    reasons = list(review_reasons) if review_reasons is not None else list(sub.review_reasons or []) if sub else []
    context = ack_context(msg, sub, ctx.roster, ctx.campaigns, ctx.reply_address, reasons, one, replaces=replaces)
    context["also"] = [_also_context(row, other, ctx, one) for row, other in companions]
    return queue_email(
        session, dedupe_key=dedupe_key or f"ack:{msg.id}", kind="ack", template="ack", recipients=recipients,
        context=context, domain=ctx.domain, now=ctx.now, agency_slug=msg.agency_slug, year=msg.year,
        related_message_id=msg.id, in_reply_to=fit(msg.message_id, models.OutboxEmail.in_reply_to),
        references=references_of(msg),
        to_stranger=capped and any(is_stranger(msg, r, ctx.roster) for r in recipients),
        unqueued=new_message and dedupe_key is None,
    )


def mark_acknowledged(session: Session, versions: Sequence[Version], row: models.OutboxEmail, *, actor: str,
                      now: datetime) -> None:
    """received -> acknowledged for each version the queued ack ``row`` acknowledges, when it is the current one."""
    for msg, sub in versions:
        if sub is not None and sub.state == states.RECEIVED and sub.current_message_id == msg.id:
            states.transition(session, sub, states.ACKNOWLEDGED, actor=actor, now=now, message_id=msg.id,
                              event=states.ACK_QUEUED, reason=f"thư báo nhận {row.dedupe_key}")


def is_stranger(msg: models.Message, recipient: str, roster: Roster) -> bool:
    """An answer to someone the bot cannot vouch for: counted against the hourly cap on such answers.

    Not a stranger: a sender our receiving server verified, an address the
    roster or the contact book knows exactly, or — only where verification is
    not configured, the best there is — an address in the domain of the agency
    the report was filed under.
    """
    if msg.sender_auth == PASS:
        return False
    if roster.knows(recipient):
        return False
    unchecked = msg.sender_auth in (None, UNCHECKED)
    return not (unchecked and msg.submission_id is not None and roster.speaks_for(recipient, msg.agency_slug, msg.year))


def previous_version(session: Session, msg: models.Message, sub: models.Submission | None) -> models.Message | None:
    """The version this one replaces: the latest earlier message of the same submission, if any."""
    if sub is None:
        return None
    return session.scalar(select(models.Message).where(
        models.Message.submission_id == sub.id, models.Message.id != msg.id,
        models.Message.arrived_at <= msg.arrived_at).order_by(models.Message.arrived_at.desc(),
                                                              models.Message.id.desc())
        .limit(1))


def ack_context(msg: models.Message, sub: models.Submission | None, roster: Roster,
                campaigns: dict[int, Campaign], reply_address: str, review_reasons: list[str],
                recipient: str | None = None, replaces: models.Message | None = None) -> dict:
    """The ``ack`` template's context from the recorded rows, so an ack can be (re)built any time.

    What the sender wrote (subject, file names) is echoed in full only to a
    verified contact of the agency; anyone else gets a short link-free quote.
    A report whose sender does not speak for the agency it names is told a
    coordinator will confirm which agency it belongs to, and is not named as it.
    """
    full = recipient is not None and is_verified_contact(msg, recipient, roster)
    echo = (lambda text: text) if full else short_quote  # noqa: E731
    needs_assignment = (sub is None and bool(msg.agency_slug) and msg.year is not None
                        and not roster.speaks_for(msg.from_addr, msg.agency_slug, msg.year))
    unverified = sub is None and not needs_assignment and msg.sender_auth == FAIL and bool(msg.agency_slug)
    agency = None
    if msg.agency_slug and not needs_assignment:
        try:
            agency = roster.get(msg.agency_slug, msg.year)
        except KeyError:
            agency = None
    campaign = campaigns.get(msg.year) if msg.year else None
    missing_labels: list[str] = []
    if campaign is not None:
        titles = {s.code: s.title for s in campaign.outline}
        missing_labels = [f"{code} ({titles.get(code, '')})".replace(" ()", "") for code in msg.outline_missing or []]
        if LAYOUT_NOTE in (msg.notes or []):  # laid out differently: say so once, not every section
            missing_labels = []
    return {
        "agency_name": agency.name if agency else None,
        "year": msg.year,
        "reference": reference_for(msg),
        "received_at": msg.arrived_at,
        "on_time": sub.on_time if sub else None,
        "deadline": campaign.deadline if campaign else None,
        "subject": echo(msg.subject),
        "attachments": [{"filename": echo(a.filename), "size": a.size} for a in msg.attachments],
        "needs_assignment": needs_assignment,
        "unverified": unverified,
        "delivery": msg.delivery,
        "replaces": {"reference": reference_for(replaces), "received_at": replaces.arrived_at,
                     "files": [echo(a.filename) for a in replaces.attachments]} if replaces is not None else None,
        "outline_missing": missing_labels,
        "different_layout": LAYOUT_NOTE in (msg.notes or []),
        "needs_review": bool(review_reasons) or sub is None,
        "review_reasons": [r if full else short_quote(r, 300) for r in review_reasons],  # they quote file names
        "reply_address": reply_address,
        "campaign_dispatch": campaign.dispatch if campaign else None,
    }


def _also_context(row: models.Message, sub: models.Submission | None, ctx: AckContext,
                  recipient: str | None) -> dict:
    """One line of the acknowledgement for another report in the same mail: its year, files and standing."""
    echo = (lambda text: text) if recipient and is_verified_contact(row, recipient, ctx.roster) else short_quote  # noqa: E731
    campaign = ctx.campaigns.get(row.year) if row.year else None
    return {"year": row.year, "reference": reference_for(row), "on_time": sub.on_time if sub else None,
            "deadline": campaign.deadline if campaign else None,
            "files": [echo(a.filename) for a in row.attachments], "placed": sub is not None}
