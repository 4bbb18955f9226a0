"""Recording a message and moving its submission through the state machine.

``record`` does, in the caller's single transaction: the message row, its
attachments, the submission's state change, the audit entries, the
acknowledgement in the outbox, and the mailbox cursor. Either all of it
commits or none does, and a message already known by the hash of its raw
bytes changes nothing (invariant 2).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from intake.machine.machine_mail import STORED_KIND
from intake.pipeline import from_a_device, speaker
from intake.report.outline import LAYOUT_NOTE
from intake.sender.identity import FAIL, UNCHECKED, UNVERIFIED_LABEL
from workflow.db import models
from workflow.season import states
from workflow.season.audit import BOT, audit
from workflow.season.outbox_queue import queue_email
from workflow.season.recipients import ack_recipient, agency_contact, is_verified_contact, short_quote
from workflow.season.record_plain import record_plain
from workflow.season.reminder_mail import note_response

if TYPE_CHECKING:
    from intake.pipeline import Understanding
    from reference.campaigns import Campaign
    from reference.roster import Roster

__all__ = ["BOT", "audit", "record", "RecordContext", "RecordResult", "ack_context", "deadline_for",
           "recompute_on_time", "reference_for"]


@dataclass(frozen=True)
class RecordResult:
    message_id: int
    duplicate: bool
    status: str
    submission_id: int | None = None
    state: str | None = None
    ack_queued: bool = False


@dataclass(frozen=True)
class RecordContext:
    roster: Roster
    campaigns: dict[int, Campaign]
    reply_address: str
    domain: str  # for Message-IDs of outgoing mail
    now: datetime
    own_addresses: frozenset[str] = frozenset()  # the bot's own: never answered


def reference_for(message: models.Message) -> str:
    """The reference number a sender quotes to correct a misunderstanding."""
    return f"TDC-{message.year or 0:04d}-{message.id:06d}"


def deadline_for(session: Session, campaign: Campaign, agency_slug: str) -> datetime:
    """The campaign deadline, moved by a coordinator's extension for everyone or this agency."""
    deadline = campaign.deadline_at()
    extensions = session.scalars(select(models.DeadlineExtension).where(
        models.DeadlineExtension.year == campaign.year,
        (models.DeadlineExtension.agency_slug.is_(None)) | (models.DeadlineExtension.agency_slug == agency_slug),
    ))
    for ext in extensions:
        deadline = max(deadline, ext.until_at)
    return deadline


def recompute_on_time(session: Session, submission: models.Submission, campaign: Campaign | None) -> None:
    """On time = the first report not later rejected arrived before the (extended) deadline."""
    first = session.scalar(
        select(models.Message)
        .where(models.Message.submission_id == submission.id, models.Message.rejected.is_(False))
        .order_by(models.Message.arrived_at, models.Message.id)
        .limit(1)
    )
    submission.first_received_at = first.arrived_at if first else None
    if first is None or campaign is None:
        submission.on_time = None
    else:
        submission.on_time = first.arrived_at < deadline_for(session, campaign, submission.agency_slug)


def advance_cursor(session: Session, mailbox: str, uidvalidity: int | None, uid: int | None) -> None:
    if uidvalidity is None or uid is None:
        return
    # Held for the session's life: the identity map forgets a clean object nobody references, and
    # reloading the cursor for every message of a backfill was a query per message.
    held: dict = session.info.setdefault("mailbox_cursors", {})
    cursor = held.get((mailbox, uidvalidity)) or session.get(models.MailboxCursor, (mailbox, uidvalidity))
    if cursor is None:
        cursor = models.MailboxCursor(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=uid)
        session.add(cursor)
    elif uid > cursor.last_uid:
        cursor.last_uid = uid
    held[(mailbox, uidvalidity)] = cursor


def _fit(value: str | None, column: object) -> str | None:
    """Cut a sender-controlled value to its column's length: PostgreSQL refuses longer ones, SQLite does not."""
    length = getattr(getattr(column, "type", None), "length", None)
    return value[:length] if value is not None and length else value


def _message_row(u: Understanding, now: datetime) -> models.Message:
    return models.Message(**message_values(u, now))


def message_values(u: Understanding, now: datetime) -> dict:
    """The ``messages`` row of one understood message, as column values (ORM and Core paths share it)."""
    env = u.envelope
    cls = u.classification
    notes = list(u.notes)
    if u.verdict is not None and u.verdict.action != "accept":
        notes.extend(u.verdict.reasons)
    return dict(
        sha256=u.blob.sha256,
        source_key=_fit(u.raw.source_key, models.Message.source_key),
        mailbox=_fit(u.raw.mailbox, models.Message.mailbox),
        uidvalidity=u.raw.uidvalidity,
        uid=u.raw.uid,
        message_id=_fit(env.message_id if env else None, models.Message.message_id),
        raw_path=str(u.blob.path) if u.blob.path else "",
        size=len(u.raw.raw),
        from_addr=_fit(env.from_addr if env else "", models.Message.from_addr),
        from_name=_fit(env.from_name if env else "", models.Message.from_name),
        subject=env.subject if env else "",
        date_header=env.date_header if env else None,
        arrived_at=u.raw.arrived_at,
        recorded_at=now,
        status=u.status,
        kind=(cls.kind if cls else (STORED_KIND.get(u.verdict.kind or "") if u.verdict else None)),
        agency_slug=cls.agency if cls else None,
        year=cls.year if cls else None,
        confidence=cls.confidence if cls else None,
        reasons=list(cls.reasons) if cls else [],
        notes=notes,
        quarantine_reason=u.quarantine_reason,
        outline_present=list(u.outline.present) if u.outline else [],
        outline_missing=list(u.outline.missing) if u.outline else [],
        marked_done=False,
        rejected=False,
        content_sha256=u.fingerprint,
        raw_fingerprint=u.raw_fingerprint,
        reading_deferred=u.deferred,
        sender_agency=u.sender_agency,
        delivery=cls.delivery if cls and cls.kind == "report" else None,
        links=list(cls.links) if cls else [],
        read_at=None if u.deferred else now,
        sender_auth=u.sender.status if u.sender else None,
    )


def _attachment_rows(u: Understanding, exclude: set[str] | frozenset[str] = frozenset()) -> list[models.Attachment]:
    return [models.Attachment(**values) for values in attachment_values(u) if values["sha256"] not in exclude]


def attachment_values(u: Understanding) -> list[dict]:
    """The ``attachments`` rows of one message, without ``message_id`` (ORM and Core paths share them)."""
    return [
        dict(
            filename=_fit(a.filename, models.Attachment.filename),
            safe_name=_fit(a.safe_name, models.Attachment.safe_name),
            content_type=_fit(a.content_type, models.Attachment.content_type), size=a.size,
            sha256=a.sha256, path=a.path, from_forward=a.from_forward, text_chars=a.text_chars, notes=list(a.notes),
        )
        for a in u.attachments
    ]


def _indicator_rows(u: Understanding) -> list[models.IndicatorRow]:
    return [
        models.IndicatorRow(position=i, indicator=r.indicator, unit=_fit(r.unit, models.IndicatorRow.unit),
                            target=r.target, result=r.result,
                            cumulative=r.cumulative, rate=r.rate, findings=list(r.findings),
                            checks=[{"code": c.code, "text": c.text} for c in r.checks])
        for i, r in enumerate(u.indicators)
    ]


def _get_submission(session: Session, agency: str, year: int, now: datetime) -> models.Submission:
    sub = session.scalar(select(models.Submission).where(
        models.Submission.agency_slug == agency, models.Submission.year == year))
    if sub is None:
        sub = models.Submission(agency_slug=agency, year=year, state=models.MISSING, created_at=now, updated_at=now,
                                review_reasons=[], outline_missing=[])
        session.add(sub)
        session.flush()
    return sub


NEW_AFTER_DECISION = "phiên bản mới sau khi đã chấp nhận"


def is_unverified_claim(msg: models.Message) -> bool:
    """A report that names an agency our receiving server did not vouch for, not placed: a claim, not a submission."""
    return msg.submission_id is None and msg.kind == "report" and msg.sender_auth == FAIL and bool(msg.agency_slug)


def claim_label(msg: models.Message, roster: Roster) -> str:
    """'chưa xác thực, tự nhận là Sở KH&CN …': how a coordinator reads an unverified claim."""
    try:
        name = roster.get(msg.agency_slug or "", msg.year).name
    except KeyError:
        name = msg.agency_slug or "?"
    return f"chưa xác thực, tự nhận là {name}" + (f" (năm {msg.year})" if msg.year else "")


def awaiting_choice(sub: models.Submission) -> bool:
    """A newer version arrived after a coordinator's decision and waits for them to choose."""
    return sub.state == states.NEEDS_REVIEW and any(str(r).startswith(NEW_AFTER_DECISION)
                                                    for r in sub.review_reasons or [])


def _new_version_after_decision(session: Session, sub: models.Submission, msg: models.Message, u: Understanding,
                                ctx: RecordContext) -> None:
    """Keep the version a coordinator accepted (or the exemption) and ask them to choose.

    Never displacing a decision automatically is what stops a spoofed "new
    version" from replacing an accepted report.
    """
    before = sub.state
    decided = {states.ACCEPTED: f"đã chấp nhận thư #{sub.current_message_id}", states.EXEMPT: "đã miễn báo cáo"}.get(
        before, "chờ cán bộ đầu mối quyết định")
    reason = (f"{NEW_AFTER_DECISION} ({decided}): thư #{msg.id} chờ cán bộ đầu mối chọn "
              f"(tdc-bot accept {sub.agency_slug} --year {sub.year} --message {msg.id} để dùng phiên bản mới)")
    sub.last_received_at = msg.arrived_at
    kept = [r for r in (sub.review_reasons or []) if str(r).startswith(NEW_AFTER_DECISION)]
    sub.review_reasons = [*kept, reason, *u.review_reasons]
    sub.updated_at = ctx.now
    recompute_on_time(session, sub, ctx.campaigns.get(sub.year))
    if before == states.NEEDS_REVIEW:
        audit(session, action=states.SUPERSEDED, submission=sub, message_id=msg.id, from_state=before, to_state=before,
              reason=reason, at=ctx.now)
    else:
        states.transition(session, sub, states.NEEDS_REVIEW, actor=BOT, reason=reason, now=ctx.now, message_id=msg.id,
                          event=states.SUPERSEDED)


def _attach_report(session: Session, msg: models.Message, u: Understanding,
                   ctx: RecordContext) -> models.Submission | None:
    """Link a report to its submission and move the state; None when it cannot be placed (review queue)."""
    cls = u.classification
    assert cls is not None
    if cls.agency is None or cls.year is None:
        return None
    if u.foreign_sender:
        return None  # not the agency's address nor its domain: counts for no one until a coordinator assigns it
    if u.unverified:
        return None  # claims the agency, our server did not vouch for it: counts for no one until accepted by id
    try:
        agency = ctx.roster.get(cls.agency)
    except KeyError:
        return None
    if not agency.owes(cls.year):
        u.review_reasons.append(f"{agency.name} không thuộc danh sách phải báo cáo năm {cls.year}")
        return None
    sub = _get_submission(session, cls.agency, cls.year, ctx.now)
    msg.submission_id = sub.id
    if sub.state in (states.ACCEPTED, states.EXEMPT) or awaiting_choice(sub):
        _new_version_after_decision(session, sub, msg, u, ctx)
        return sub
    before = sub.state
    superseded = sub.current_message_id
    sub.current_message_id = msg.id
    sub.last_received_at = msg.arrived_at
    sub.outline_missing = list(msg.outline_missing)
    sub.review_reasons = list(u.review_reasons)
    sub.updated_at = ctx.now
    recompute_on_time(session, sub, ctx.campaigns.get(cls.year))
    reason = "; ".join(u.review_reasons) or "nhận báo cáo"
    if superseded is not None:
        reason = f"phiên bản mới thay thế thư #{superseded}; {reason}"
    target = states.NEEDS_REVIEW if u.review_reasons else states.RECEIVED
    if before == target:
        audit(session, action=states.SUPERSEDED if superseded else states.REPORT_RECEIVED, submission=sub,
              message_id=msg.id, from_state=before, to_state=before, reason=reason, at=ctx.now)
    else:
        event = states.REPORT_RECEIVED if before in (states.MISSING,
                                                     states.RESUBMISSION_REQUESTED) else states.SUPERSEDED
        states.transition(session, sub, target, actor=BOT, reason=reason, now=ctx.now, message_id=msg.id, event=event)
    return sub


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


def is_stranger(u: Understanding, msg: models.Message, recipient: str, roster: Roster) -> bool:
    """An answer to someone the bot cannot vouch for: counted against the hourly cap on such answers.

    Not a stranger: a sender our receiving server verified, an address the
    roster or the contact book knows exactly, or — only where verification is
    not configured, the best there is — an address in the domain of the agency
    the report was filed under.
    """
    if u.sender is not None and u.sender.verified:
        return False
    if roster.knows(recipient):
        return False
    unchecked = u.sender is None or u.sender.status == UNCHECKED
    return not (unchecked and msg.submission_id is not None and roster.speaks_for(recipient, msg.agency_slug, msg.year))


def _queue_ack(session: Session, msg: models.Message, sub: models.Submission | None, u: Understanding,
               ctx: RecordContext,
               companions: list[tuple[models.Message, models.Submission | None]] | None = None) -> bool:
    env = u.envelope
    assert env is not None
    if sub is not None and from_a_device(env):  # the copier or the e-office robot: answer the agency's people
        recipient = agency_contact(session, ctx.roster, msg.agency_slug, msg.year, ctx.own_addresses)
    else:
        recipient = ack_recipient(session, from_addr=speaker(env), reply_to=env.reply_to, agency_slug=msg.agency_slug,
                                  year=msg.year, roster=ctx.roster, own_addresses=ctx.own_addresses)
    if not recipient:
        audit(session, action="ack_withheld", message_id=msg.id, agency_slug=msg.agency_slug, year=msg.year,
              reason="không có địa chỉ an toàn để gửi thư báo nhận", at=ctx.now)
        return False
    context = ack_context(msg, sub, ctx.roster, ctx.campaigns, ctx.reply_address, list(u.review_reasons), recipient,
                          replaces=previous_version(session, msg, sub))
    context["also"] = [_also_context(row, other, ctx, recipient) for row, other in companions or []]
    refs = " ".join(filter(None, [env.header("references"), env.message_id])) or None
    stranger = is_stranger(u, msg, recipient, ctx.roster)
    row = queue_email(
        session, dedupe_key=f"ack:{msg.id}", kind="ack", template="ack", recipients=[recipient], context=context,
        domain=ctx.domain, now=ctx.now, agency_slug=msg.agency_slug, year=msg.year, related_message_id=msg.id,
        in_reply_to=_fit(env.message_id, models.OutboxEmail.in_reply_to), references=refs, to_stranger=stranger,
    )
    if row is None:
        return False
    for acked, acked_sub in [(msg, sub), *(companions or [])]:
        if acked_sub is not None and acked_sub.state == states.RECEIVED:
            states.transition(session, acked_sub, states.ACKNOWLEDGED, actor=BOT,
                              reason=f"thư báo nhận {row.dedupe_key}",
                              now=ctx.now, message_id=acked.id, event=states.ACK_QUEUED)
    return True


def previous_version(session: Session, msg: models.Message, sub: models.Submission | None) -> models.Message | None:
    """The version this one replaces: the latest earlier message of the same submission, if any."""
    if sub is None:
        return None
    return session.scalar(select(models.Message).where(
        models.Message.submission_id == sub.id, models.Message.id != msg.id,
        models.Message.arrived_at <= msg.arrived_at).order_by(models.Message.arrived_at.desc(),
                                                              models.Message.id.desc())
        .limit(1))


def _also_context(row: models.Message, sub: models.Submission | None, ctx: RecordContext,
                  recipient: str | None) -> dict:
    """One line of the acknowledgement for another report in the same mail: its year, files and standing."""
    echo = (lambda text: text) if recipient and is_verified_contact(row, recipient, ctx.roster) else short_quote  # noqa: E731
    campaign = ctx.campaigns.get(row.year) if row.year else None
    return {"year": row.year, "reference": reference_for(row), "on_time": sub.on_time if sub else None,
            "deadline": campaign.deadline if campaign else None,
            "files": [echo(a.filename) for a in row.attachments], "placed": sub is not None}


def _same_message(session: Session, u: Understanding) -> int | None:
    """The message already recorded with the same Message-ID, sender and content (another delivery of it)."""
    if not u.fingerprint:
        return None
    return session.scalar(select(models.Message.id).where(models.Message.content_sha256 == u.fingerprint)
                          .order_by(models.Message.id).limit(1))


@cache
def _delivery_statements():
    """Built once (as in record_plain): a statement built per message cost more than running it.

    ``twin``: the earlier delivery's few columns and whether this delivery's
    audit line is already written, in one SELECT (no ORM row, no JSON columns,
    no autoflush); then the audit line as a Core INSERT when it is not.
    """
    messages, audit_log = models.table_of(models.Message), models.table_of(models.AuditEntry)
    seen = select(audit_log.c.id).where(audit_log.c.message_id == messages.c.id,
                                        audit_log.c.action == "duplicate_delivery",
                                        audit_log.c.reason == bindparam("note")).exists()
    twin = select(messages.c.id, messages.c.sha256, messages.c.status, messages.c.submission_id,
                  messages.c.agency_slug, messages.c.year, seen.label("seen")).where(messages.c.id == bindparam("id"))
    return twin, insert(audit_log)


def _duplicate_note(twin_id: int, u: Understanding) -> str:
    return f"thư #{twin_id} được giao thêm một lần (khác tiêu đề vận chuyển), bản gốc sha256 {u.blob.sha256}"


def _record_duplicate_delivery(session: Session, twin_id: int, u: Understanding,
                               ctx: RecordContext) -> RecordResult | None:
    """One audit line per extra delivery (its raw hash), no new version, no new acknowledgement.

    None when message ``twin_id`` is not there. The same bytes as the twin's
    are no extra delivery (a message read again after a crash): no line.
    """
    find, write = _delivery_statements()
    note = _duplicate_note(twin_id, u)
    twin = session.execute(find, {"id": twin_id, "note": note}).first()
    if twin is None:
        return None
    if twin.sha256 != u.blob.sha256 and not twin.seen:
        session.execute(write, {"at": ctx.now, "actor": BOT, "action": "duplicate_delivery",
                                "agency_slug": twin.agency_slug, "year": twin.year, "submission_id": None,
                                "message_id": twin.id, "from_state": None, "to_state": None, "reason": note})
    return RecordResult(twin.id, True, twin.status, twin.submission_id)


def _record_known_delivery(session: Session, u: Understanding, ctx: RecordContext) -> RecordResult:
    """A delivery recognised before reading (raw fingerprint or raw hash): the audit line of a duplicate delivery."""
    assert u.duplicate_of is not None
    result = _record_duplicate_delivery(session, u.duplicate_of, u, ctx)
    if result is None:  # removed since the lookup (a restore): nothing to be a twin of; keep the bytes, quarantined
        raise LookupError(f"message #{u.duplicate_of} vanished during the intake cycle")
    return result


def record(session: Session, u: Understanding, ctx: RecordContext) -> RecordResult:
    """Record one understood message; a message already known by its content hash is a no-op."""
    advance_cursor(session, u.raw.mailbox, u.raw.uidvalidity, u.raw.uid)
    if u.duplicate_of is not None:
        return _record_known_delivery(session, u, ctx)
    if (plain := record_plain(session, u, ctx.now)) is not None:
        return plain  # ordinary mail and machine mail: Core inserts (workflow/season/record_plain.py)
    existing = session.scalar(select(models.Message).where(models.Message.sha256 == u.blob.sha256))
    if existing is not None:
        return RecordResult(existing.id, True, existing.status, existing.submission_id)
    twin = _same_message(session, u)
    if twin is not None and (again := _record_duplicate_delivery(session, twin, u, ctx)) is not None:
        return again
    msg = _message_row(u, ctx.now)
    msg.attachments = _attachment_rows(u, exclude=_companion_files(u))
    session.add(msg)
    session.flush()
    return _settle(session, msg, u, ctx)


def _companion_files(u: Understanding) -> set[str]:
    """Files another report in the same mail stands on: kept with that report's row, not the mail's."""
    return {a.sha256 for c in u.companions for a in c.attachments}


# Columns that name the stored delivery, not the reading of it: kept when a message is read again.
_DELIVERY_COLUMNS = frozenset({"sha256", "source_key", "mailbox", "uidvalidity", "uid", "raw_path", "size",
                               "arrived_at", "recorded_at", "marked_done", "rejected"})


def record_again(session: Session, msg: models.Message, u: Understanding, ctx: RecordContext) -> RecordResult:
    """A stored message read again (a coordinator rescued it from junk): its row takes the new reading.

    Then it settles as a newly arrived message would: a report joins its
    submission (and is acknowledged), a bounce or a reply reaches its reminder.
    """
    for key, value in message_values(u, ctx.now).items():
        if key not in _DELIVERY_COLUMNS:
            setattr(msg, key, value)
    msg.attachments = _attachment_rows(u, exclude=_companion_files(u))
    session.flush()
    return _settle(session, msg, u, ctx)


def _settle(session: Session, msg: models.Message, u: Understanding, ctx: RecordContext) -> RecordResult:
    """What a recorded message changes: indicators, its submission's state, the acknowledgement."""
    for row in _indicator_rows(u):
        row.message_id = msg.id
        session.add(row)
    if msg.status == "quarantined":
        audit(session, action="quarantined", message_id=msg.id, reason=msg.quarantine_reason or "", at=ctx.now)
        return RecordResult(msg.id, False, msg.status)
    if msg.status != "recorded" or u.classification is None or u.classification.kind != "report":
        note_response(session, msg, u, ctx.now)  # a bounce of, or a reply to, one of our reminders
        return RecordResult(msg.id, False, msg.status)
    sub = _file_report(session, msg, u, ctx)
    companions = [_record_companion(session, msg, u, i, ctx) for i in range(len(u.companions))]
    acked = _queue_ack(session, msg, sub, u, ctx, companions)
    return RecordResult(msg.id, False, msg.status, sub.id if sub else None, sub.state if sub else None, acked)


def _file_report(session: Session, msg: models.Message, u: Understanding,
                 ctx: RecordContext) -> models.Submission | None:
    """The report joins its submission, or waits unplaced (with the audit line that says why)."""
    sub = _attach_report(session, msg, u, ctx)
    if sub is None:
        msg.notes = list(msg.notes) + list(u.review_reasons)
        if u.unverified and msg.agency_slug and msg.year is not None and not u.foreign_sender:
            audit(session, action="unverified_claim", message_id=msg.id, agency_slug=msg.agency_slug, year=msg.year,
                  reason=f"{claim_label(msg, ctx.roster)}: " + ("; ".join(u.review_reasons) or UNVERIFIED_LABEL),
                  at=ctx.now)
        else:
            audit(session, action="report_unplaced", message_id=msg.id, agency_slug=msg.agency_slug, year=msg.year,
                  reason="; ".join(u.review_reasons) or "không xác định được đơn vị hoặc năm", at=ctx.now)
    return sub


def _record_companion(session: Session, mail: models.Message, u: Understanding, index: int,
                      ctx: RecordContext) -> tuple[models.Message, models.Submission | None]:
    """A second report in the same mail (last year's file beside this year's) as its own row, filed for its year.

    Its row points at the mail's row (``part_of``) and shares its raw bytes; it
    holds only its own files, outline and indicators, so each year counts only
    what was sent for it. It is never a duplicate of anything and needs no mark
    on the server (the mail's row carries that).
    """
    import dataclasses

    companion = u.companions[index]
    reading = dataclasses.replace(u, classification=companion.classification, attachments=companion.attachments,
                                  outline=companion.outline, indicators=companion.indicators, companions=[],
                                  review_reasons=[r for r in u.review_reasons if not r.startswith(NEW_AFTER_DECISION)])
    values = message_values(reading, ctx.now)
    values.update(sha256=hashlib.sha256(f"{mail.sha256}:{index + 1}".encode()).hexdigest(), content_sha256=None,
                  raw_fingerprint=None, marked_done=True, part_of=mail.id,
                  notes=[*values["notes"], f"cùng thư #{mail.id}: tệp {', '.join(companion.classification.documents)}"])
    row = models.Message(**values)
    row.attachments = _attachment_rows(reading)
    session.add(row)
    session.flush()
    for indicator in _indicator_rows(reading):
        indicator.message_id = row.id
        session.add(indicator)
    return row, _file_report(session, row, reading, ctx)
