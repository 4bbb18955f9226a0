"""Recording a message and moving its submission through the state machine.

``record`` is the one entry point: plain mail (no report, nothing to
answer; ``workflow.season.record_plain.is_plain``) goes in as Core inserts,
everything else through the ORM here; both write the rows of
:mod:`workflow.season.message_rows`. It does, in the caller's single transaction: the message row, its
attachments, the submission's state change, the audit entries, the
acknowledgement in the outbox, and the mailbox cursor. Either all of it
commits or none does, and a message already known by the hash of its raw
bytes changes nothing (invariant 2).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Row, bindparam, case, insert, or_, select
from sqlalchemy.orm import Session

from intake.sender.identity import FAIL, UNVERIFIED_LABEL
from workflow.db import models
from workflow.season import states
from workflow.season.acknowledgements import Version, mark_acknowledged, previous_version, queue_ack
from workflow.season.audit import BOT, audit
from workflow.season.message_rows import RecordResult, attachment_rows, fit, message_row, message_values
from workflow.season.record_plain import is_plain, record_plain
from workflow.season.reminder_mail import note_response

if TYPE_CHECKING:
    from intake.pipeline import Understanding
    from reference.campaigns import Campaign
    from reference.roster import Roster

__all__ = ["BOT", "audit", "record", "record_again", "RecordContext", "deadline_for", "recompute_on_time"]


@dataclass(frozen=True)
class RecordContext:
    roster: Roster
    campaigns: dict[int, Campaign]
    reply_address: str
    domain: str  # for Message-IDs of outgoing mail
    now: datetime
    own_addresses: frozenset[str] = frozenset()  # the bot's own: never answered


def _extended(campaign: Campaign, agency_slug: str, extensions: Iterable[tuple[str | None, datetime]]) -> datetime:
    """The campaign deadline, moved by a coordinator's extension for everyone (no agency) or this agency."""
    deadline = campaign.deadline_at()
    for slug, until_at in extensions:
        if slug is None or slug == agency_slug:
            deadline = max(deadline, until_at)
    return deadline


def deadline_for(session: Session, campaign: Campaign, agency_slug: str) -> datetime:
    """The campaign deadline, moved by a coordinator's extension for everyone or this agency."""
    extensions = session.execute(select(models.DeadlineExtension.agency_slug, models.DeadlineExtension.until_at).where(
        models.DeadlineExtension.year == campaign.year,
        (models.DeadlineExtension.agency_slug.is_(None)) | (models.DeadlineExtension.agency_slug == agency_slug),
    ))
    return _extended(campaign, agency_slug, extensions.tuples())


def _recording_deadline(session: Session, campaign: Campaign, agency_slug: str) -> datetime:
    """``deadline_for`` with the year's extensions read once per session, for recording only.

    Why safe: recording never writes an extension, and it runs in
    ``Database.transaction()``, a new session per transaction (one message, or
    one batch of them), so the cache dies with the transaction; an extension
    a coordinator grants commits in its own transaction, so it is seen by the
    next batch, as it would be had it committed a moment later. Only
    ``record``/``record_again`` use it: ``actions.extend`` adds an
    extension and recomputes in the same session, so it reads them afresh.
    """
    held: dict = session.info.setdefault("recording_deadline_extensions", {})
    if campaign.year not in held:
        with session.no_autoflush:  # nothing recording leaves pending touches this table
            held[campaign.year] = [(ext.agency_slug, ext.until_at) for ext in session.scalars(
                select(models.DeadlineExtension).where(models.DeadlineExtension.year == campaign.year))]
    return _extended(campaign, agency_slug, held[campaign.year])


def recompute_on_time(session: Session, submission: models.Submission, campaign: Campaign | None, *,
                      deadline: Callable[[Session, Campaign, str], datetime] = deadline_for) -> None:
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
        submission.on_time = first.arrived_at < deadline(session, campaign, submission.agency_slug)


def _settle_on_time(session: Session, sub: models.Submission, msg: models.Message, campaign: Campaign | None,
                    fresh: bool) -> None:
    """``recompute_on_time`` as recording does it; a submission created for ``msg`` has it as its first report.

    Why the shortcut is exact: the first report is the earliest not rejected,
    and a fresh submission holds only ``msg`` (just recorded, not rejected).
    """
    if not fresh:
        recompute_on_time(session, sub, campaign, deadline=_recording_deadline)
        return
    sub.first_received_at = msg.arrived_at
    sub.on_time = None if campaign is None else msg.arrived_at < _recording_deadline(session, campaign,
                                                                                     sub.agency_slug)


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


def _indicator_rows(u: Understanding) -> list[models.IndicatorRow]:
    return [
        models.IndicatorRow(position=i, indicator=r.indicator, unit=fit(r.unit, models.IndicatorRow.unit),
                            target=r.target, result=r.result,
                            cumulative=r.cumulative, rate=r.rate, findings=list(r.findings),
                            checks=[{"code": c.code, "text": c.text} for c in r.checks])
        for i, r in enumerate(u.indicators)
    ]


def _get_submission(session: Session, agency: str, year: int, now: datetime) -> models.Submission:
    return _submission_for(session, agency, year, now)[0]


def _submission_for(session: Session, agency: str, year: int, now: datetime) -> tuple[models.Submission, bool]:
    """The agency's submission for the year, created (missing) on its first report; True when created now."""
    sub = session.scalar(select(models.Submission).where(
        models.Submission.agency_slug == agency, models.Submission.year == year))
    if sub is None:
        sub = models.Submission(agency_slug=agency, year=year, state=models.MISSING, created_at=now, updated_at=now,
                                review_reasons=[], outline_missing=[])
        session.add(sub)
        session.flush()
        return sub, True
    return sub, False


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
    recompute_on_time(session, sub, ctx.campaigns.get(sub.year), deadline=_recording_deadline)
    if before == states.NEEDS_REVIEW:
        audit(session, action=states.SUPERSEDED, submission=sub, message_id=msg.id, from_state=before, to_state=before,
              reason=reason, at=ctx.now)
    else:
        states.transition(session, sub, states.NEEDS_REVIEW, actor=BOT, reason=reason, now=ctx.now, message_id=msg.id,
                          event=states.SUPERSEDED)


@dataclass(frozen=True)
class Placement:
    """The submission a report joins (None: it cannot be placed), and whether it was created for this report."""

    submission: models.Submission | None = None
    fresh: bool = False


def _is_report(u: Understanding) -> bool:
    """What ``_settle`` files as a report: recorded (not quarantined, not junk) and read as one."""
    return u.status == "recorded" and u.classification is not None and u.classification.kind == "report"


def _place(session: Session, u: Understanding, ctx: RecordContext) -> Placement:
    """Where a report goes, found before its message row is written.

    Why before: the row then goes in with its ``submission_id`` (one INSERT,
    not an INSERT and an UPDATE). Only for a report (``_is_report``).
    """
    cls = u.classification
    assert cls is not None
    if cls.agency is None or cls.year is None:
        return Placement()
    if u.foreign_sender:
        return Placement()  # not the agency's address nor its domain: counts for no one until a coordinator assigns it
    if u.unverified:
        return Placement()  # claims the agency, our server did not vouch for it: counts for no one until accepted by id
    try:
        agency = ctx.roster.get(cls.agency)
    except KeyError:
        return Placement()
    if not agency.owes(cls.year):
        u.review_reasons.append(f"{agency.name} không thuộc danh sách phải báo cáo năm {cls.year}")
        return Placement()
    sub, fresh = _submission_for(session, cls.agency, cls.year, ctx.now)
    return Placement(sub, fresh)


def _attach_report(session: Session, msg: models.Message, placed: Placement, u: Understanding,
                   ctx: RecordContext) -> models.Submission | None:
    """Link a report to its submission and move the state; None when it cannot be placed (review queue)."""
    sub = placed.submission
    if sub is None:
        return None
    msg.submission_id = sub.id  # already so for a new row; a message read again joins here
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
    _settle_on_time(session, sub, msg, ctx.campaigns.get(sub.year), placed.fresh)
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


def _known(session: Session, u: Understanding) -> Row | None:
    """The message already recorded with these raw bytes, else the first with the same Message-ID, sender and
    content (another delivery of it): both in one SELECT of a few columns, the same bytes first."""
    messages = models.table_of(models.Message)
    same_bytes = messages.c.sha256 == u.blob.sha256
    match = or_(same_bytes, messages.c.content_sha256 == u.fingerprint) if u.fingerprint else same_bytes
    return session.execute(select(messages.c.id, messages.c.sha256, messages.c.status, messages.c.submission_id)
                           .where(match).order_by(case((same_bytes, 0), else_=1), messages.c.id).limit(1)).first()


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
    if is_plain(u):
        return record_plain(session, u, ctx.now)  # ordinary mail and machine mail: Core inserts
    known = _known(session, u)
    if known is not None and known.sha256 == u.blob.sha256:
        return RecordResult(known.id, True, known.status, known.submission_id)
    if known is not None and (again := _record_duplicate_delivery(session, known.id, u, ctx)) is not None:
        return again
    placed = _place(session, u, ctx) if _is_report(u) else Placement()
    msg = message_row(u, ctx.now)
    msg.submission_id = placed.submission.id if placed.submission else None
    msg.attachments = attachment_rows(u, exclude=_companion_files(u))
    session.add(msg)
    session.flush()
    return _settle(session, msg, placed, u, ctx, new=True)


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
    msg.attachments = attachment_rows(u, exclude=_companion_files(u))
    session.flush()
    return _settle(session, msg, _place(session, u, ctx) if _is_report(u) else Placement(), u, ctx, new=False)


def _settle(session: Session, msg: models.Message, placed: Placement, u: Understanding, ctx: RecordContext, *,
            new: bool) -> RecordResult:
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
    sub = _file_report(session, msg, placed, u, ctx)
    companions = [_record_companion(session, msg, u, i, ctx) for i in range(len(u.companions))]
    alone = placed.fresh and all(other is not sub for _, other in companions)
    acked = _acknowledge(session, msg, sub, u, ctx, companions, alone=alone, new=new)
    return RecordResult(msg.id, False, msg.status, sub.id if sub else None, sub.state if sub else None, acked)


def _acknowledge(session: Session, msg: models.Message, sub: models.Submission | None, u: Understanding,
                 ctx: RecordContext, companions: list[Version], *, alone: bool, new: bool) -> bool:
    """The report's acknowledgement (listing the other reports of the same mail), and received -> acknowledged.

    ``alone``: ``sub`` was created for ``msg`` and no other report joined it, so
    there is no earlier version to name (``previous_version`` would find none);
    ``new``: ``msg`` was inserted in this transaction (not a stored message
    read again), so no ack of it can be queued yet (``queue_ack``'s ``new_message``).
    """
    replaces = None if alone else previous_version(session, msg, sub)
    row = queue_ack(session, msg, sub, ctx, review_reasons=list(u.review_reasons), replaces=replaces,
                    companions=companions, capped=True, new_message=new)
    if row is None:
        return False
    mark_acknowledged(session, [(msg, sub), *companions], row, actor=BOT, now=ctx.now)
    return True


def _file_report(session: Session, msg: models.Message, placed: Placement, u: Understanding,
                 ctx: RecordContext) -> models.Submission | None:
    """The report joins its submission, or waits unplaced (with the audit line that says why)."""
    sub = _attach_report(session, msg, placed, u, ctx)
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
    placed = _place(session, reading, ctx)
    row = models.Message(**values, submission_id=placed.submission.id if placed.submission else None)
    row.attachments = attachment_rows(reading)
    session.add(row)
    session.flush()
    for indicator in _indicator_rows(reading):
        indicator.message_id = row.id
        session.add(indicator)
    return row, _file_report(session, row, placed, reading, ctx)
