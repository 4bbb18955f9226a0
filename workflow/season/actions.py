"""What a coordinator can do to a submission: accept, ask for a resubmission,
exempt, reopen, place a misread message, extend a deadline, resend an ack.

Each action works in the caller's session and is meant to be one
transaction (``with app.db.transaction() as s: accept(s, ctx, ...)``): the
state change, its audit entry and any email it queues commit together or
not at all (invariant 3). Each takes everything it needs as arguments
(``ActionContext``, with the result and errors they share, in
:mod:`workflow.season.action_context`), so tests call them directly without
a CLI; the acknowledgements they queue are :mod:`workflow.season.acknowledgements`.

Re-running an action is safe: a change to the state the submission is
already in is a reported no-op, and every email has a dedupe key derived
from what caused it, so the same decision never queues twice.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reference.addresses import is_machine_address, normalise_address
from reference.time import end_of_day, last_day, vn_date
from reference.time import today as vn_today
from workflow.db import models
from workflow.season import contacts, states, stored_mail, submissions
from workflow.season.acknowledgements import (
    clean_recipients,
    mark_acknowledged,
    queue_ack,
    references_of,
    reply_recipient,
)
from workflow.season.action_context import (
    ActionContext,
    ActionError,
    ActionResult,
    acks_of,
    find_submission,
    get_message,
    illegal_transition,
    implied_state,
    last_day_on_time,
    refresh_versions,
    require_reason,
    resolve_agency,
)
from workflow.season.message_rows import reference_for
from workflow.season.outbox_queue import queue_email
from workflow.season.submissions import _get_submission, audit, deadline_for, recompute_on_time

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Agency


def accept(session: Session, ctx: ActionContext, agency: str, year: int, reason: str = "",
           message_id: int | None = None) -> ActionResult:
    """received / acknowledged / needs_review -> accepted: the coordinator is satisfied with the report.

    ``message_id`` chooses which version is accepted (and becomes current): a
    newer version that arrived after an earlier acceptance waits for exactly
    this choice. Without it the current version is accepted, and a waiting
    newer version stays a version, not current.
    """
    ag = resolve_agency(ctx.roster, agency, year)
    if message_id is not None and submissions.is_unverified_claim(claim := get_message(session, message_id)):
        return _accept_unverified(session, ctx, ag, year, claim, reason)
    sub = find_submission(session, ag.slug, year)
    result = ActionResult("accept", False, ag.slug, year, sub.id if sub else None)
    if sub is None:
        raise illegal_transition(ag, year, states.MISSING, states.ACCEPTED, states.ACCEPT)
    chosen = sub.current_message_id
    if message_id is not None:
        msg = get_message(session, message_id)
        if msg.submission_id != sub.id:
            raise ActionError(f"Thư #{msg.id} không phải một phiên bản báo cáo của {ag.name} năm {year}; dùng `assign` "
                              f"trước. Message {msg.id} is not a version of {ag.slug}/{year}.")
        if msg.rejected:
            raise ActionError(f"Thư #{msg.id} đã bị trả lại. Message {msg.id} was rejected.")
        chosen = msg.id
    waiting = submissions.awaiting_choice(sub)
    if sub.state == states.ACCEPTED and chosen == sub.current_message_id:
        result.from_state = result.to_state = sub.state
        return result
    if chosen != sub.current_message_id:
        previous = sub.current_message_id
        sub.current_message_id = chosen
        current = session.get(models.Message, chosen)
        sub.outline_missing = list(current.outline_missing or []) if current else []
        audit(session, action="version_chosen", actor=ctx.actor, submission=sub, message_id=chosen,
              from_state=sub.state, to_state=sub.state,
              reason=f"chọn thư #{chosen} làm phiên bản hiện hành (trước đó: #{previous})", at=ctx.now)
    if waiting:
        sub.review_reasons = []
    result.from_state = sub.state
    if sub.state != states.ACCEPTED:
        states.transition(session, sub, states.ACCEPTED, actor=ctx.actor, now=ctx.now,
                          reason=reason.strip() or "chấp nhận báo cáo", event=states.ACCEPT, message_id=chosen)
    result.to_state, result.changed, result.message_id = sub.state, True, chosen
    current = session.get(models.Message, chosen) if chosen else None
    if current is not None and current.from_addr and normalise_address(current.from_addr) not in ctx.own_addresses:
        if contacts.learn(session, ag.slug, current.from_addr, actor=ctx.actor, now=ctx.now,
                          why=f"gửi báo cáo năm {year} đã được chấp nhận") is not None:
            result.notes.append(f"đã thêm {normalise_address(current.from_addr)} vào danh bạ (learned)")
    return result


def _accept_unverified(session: Session, ctx: ActionContext, ag: Agency, year: int, msg: models.Message,
                       reason: str) -> ActionResult:
    """A coordinator who checked an unverified claim (by phone) accepts that very message as the agency's report.

    Only by its id, never by accepting the agency: the message joins the
    submission, becomes its current version and is accepted, audited as the
    acceptance of an unverified message. Its address is not learned: one
    checked message does not make the next one from that address proven.
    """
    sub = _get_submission(session, ag.slug, year, ctx.now)
    result = ActionResult("accept", True, ag.slug, year, sub.id, msg.id, from_state=sub.state)
    if sub.state == states.EXEMPT:
        raise ActionError(f"{ag.name} đang được miễn báo cáo năm {year}; mở lại (`reopen`) trước khi chấp nhận thư "
                          f"#{msg.id}. "
                          f"{ag.slug}/{year} is exempt.")
    claimed = f"{msg.agency_slug}/{msg.year}" if msg.agency_slug else "?"
    msg.submission_id, msg.agency_slug, msg.year = sub.id, ag.slug, year
    previous = sub.current_message_id
    sub.current_message_id = msg.id
    sub.last_received_at = msg.arrived_at
    sub.outline_missing = list(msg.outline_missing or [])
    sub.review_reasons = []
    sub.updated_at = ctx.now
    recompute_on_time(session, sub, ctx.campaigns.get(year))
    text = (f"chấp nhận thư chưa xác thực #{msg.id} từ {msg.from_addr or '(không rõ)'} (tự nhận là {claimed})"
            + (f", trước đó phiên bản hiện hành là #{previous}" if previous else "")
            + f": {reason.strip() or 'cán bộ đầu mối đã kiểm tra'}")
    audit(session, action="accept_unverified", actor=ctx.actor, submission=sub, message_id=msg.id,
          from_state=sub.state, to_state=states.ACCEPTED, reason=text, at=ctx.now)
    if sub.state in (states.MISSING, states.RESUBMISSION_REQUESTED):  # no version yet: it arrives by this decision
        states.transition(session, sub, states.RECEIVED, actor=ctx.actor, now=ctx.now, reason=text,
                          event=states.ASSIGN, message_id=msg.id)
    if sub.state != states.ACCEPTED:
        states.transition(session, sub, states.ACCEPTED, actor=ctx.actor, now=ctx.now, reason=text,
                          event=states.ACCEPT, message_id=msg.id)
    result.to_state = sub.state
    result.notes.append("thư chưa xác thực: địa chỉ gửi không được thêm vào danh bạ")
    return result


def request_resubmission(session: Session, ctx: ActionContext, agency: str, year: int, reason: str) -> ActionResult:
    """-> resubmission_requested: the current version is rejected and the agency is asked, once, to resend.

    The rejected version no longer counts for "on time" (the next report
    decides). The email's dedupe key names the rejected message, so running
    the command twice sends one email, and a later request about a newer
    version sends a new one.
    """
    text = require_reason(reason, "request-resubmission")
    ag = resolve_agency(ctx.roster, agency, year)
    sub = find_submission(session, ag.slug, year)
    if sub is None or sub.current_message_id is None:
        raise illegal_transition(ag, year, sub.state if sub else states.MISSING, states.RESUBMISSION_REQUESTED,
                                 states.REQUEST_RESUBMISSION)
    msg = get_message(session, sub.current_message_id)
    result = ActionResult("request_resubmission", False, ag.slug, year, sub.id, msg.id, sub.state, sub.state)
    if sub.state == states.RESUBMISSION_REQUESTED and msg.rejected:
        return result
    states.transition(session, sub, states.RESUBMISSION_REQUESTED, actor=ctx.actor, now=ctx.now, reason=text,
                      message_id=msg.id, event=states.REQUEST_RESUBMISSION)
    msg.rejected = True
    session.flush()
    recompute_on_time(session, sub, ctx.campaigns.get(year))
    result.to_state, result.changed = sub.state, True
    recipients = clean_recipients([*reply_recipient(session, msg, ctx), msg.from_addr, *ag.addresses], ctx, session)
    if not recipients:
        result.notes.append("không có địa chỉ nhận nên chưa gửi thư đề nghị (no address to write to)")
        return result
    deadline = last_day_on_time(session, ctx.campaigns.get(year), ag.slug)
    if deadline is not None and deadline < vn_today(ctx.now):
        deadline = None  # a past date would only confuse: the email then asks for it without a date
    row = queue_email(
        session, dedupe_key=f"resubmission:{ag.slug}:{year}:{msg.id}", kind="resubmission", template="resubmission",
        recipients=recipients, context={"agency_name": ag.name, "year": year, "reason": text, "deadline": deadline,
                                        "reference": reference_for(msg)},
        domain=ctx.domain, now=ctx.now, agency_slug=ag.slug, year=year, related_message_id=msg.id,
        in_reply_to=msg.message_id, references=references_of(msg),
    )
    if row is not None:
        result.queued.append(row.dedupe_key)
    return result


def exempt(session: Session, ctx: ActionContext, agency: str, year: int, reason: str) -> ActionResult:
    """Any state -> exempt: a coordinator decided this agency owes nothing this year."""
    text = require_reason(reason, "exempt")
    ag = resolve_agency(ctx.roster, agency, year)
    sub = _get_submission(session, ag.slug, year, ctx.now)
    result = ActionResult("exempt", False, ag.slug, year, sub.id, sub.current_message_id, sub.state, sub.state)
    if sub.state == states.EXEMPT:
        return result
    states.transition(session, sub, states.EXEMPT, actor=ctx.actor, now=ctx.now, reason=text, event=states.EXEMPT_EVENT)
    result.to_state, result.changed = sub.state, True
    return result


def reopen(session: Session, ctx: ActionContext, agency: str, year: int, reason: str = "") -> ActionResult:
    """exempt -> missing, or the state the recorded versions imply."""
    ag = resolve_agency(ctx.roster, agency, year)
    sub = find_submission(session, ag.slug, year)
    current = sub.state if sub else states.MISSING
    if sub is None or sub.state != states.EXEMPT:
        raise illegal_transition(ag, year, current, states.MISSING, states.REOPEN)
    target = implied_state(session, sub)
    before = states.transition(session, sub, target, actor=ctx.actor, now=ctx.now, event=states.REOPEN,
                               reason=reason.strip() or "bỏ miễn báo cáo", message_id=sub.current_message_id)
    recompute_on_time(session, sub, ctx.campaigns.get(year))
    return ActionResult("reopen", True, ag.slug, year, sub.id, sub.current_message_id, before, sub.state)


def _learn_address(session: Session, ctx: ActionContext, msg: models.Message, agency: Agency, year: int,
                   reason: str) -> str | None:
    """Teach the bot that this sender speaks for ``agency`` (a confirmed contact); returns a note of what happened.

    The sender is the person the mail speaks for (a share notice's sharer, not
    the file service's robot); a device or a robot is never learned: tied to one
    agency, Google's share robot or a province's e-office system would file
    every later mail it carries, for anyone, under that agency, and be reminded.
    """
    speaker, device = stored_mail.answer_to(msg)
    normal = normalise_address(speaker or "")
    if normal is None:
        return "không học địa chỉ gửi: trống hoặc không hợp lệ (sender address empty or invalid)"
    if normal in ctx.own_addresses:
        return f"không học địa chỉ {normal}: đó là địa chỉ của hệ thống (the bot's own address)"
    if device or is_machine_address(normal):
        return (f"không học địa chỉ {normal}: thư do thiết bị hoặc hệ thống tự động gửi, không phải hộp thư của "
                "cán bộ (a device's or robot's address)")
    known = ctx.roster.by_address(normal, year)
    tie = contacts.tie_sender(session, ctx.roster, agency.slug, normal, actor=ctx.actor, now=ctx.now, why=reason)
    if tie.change is None and not tie.untied_from:
        return None  # already a confirmed contact of the agency
    before = sorted((set(tie.untied_from) | ({known.slug} if known is not None else set())) - {agency.slug})
    if not before and known is not None:
        return None  # the roster already knew it (exact address or the agency's domain)
    why = reason + (f"; trước đây gắn với {', '.join(before)}" if before else "")
    audit(session, action="address_learned", actor=ctx.actor, agency_slug=agency.slug, year=year, message_id=msg.id,
          reason=f"{normal} → {agency.slug}: {why}", at=ctx.now)
    return f"đã học địa chỉ {normal} → {agency.slug}"


def _detach(session: Session, ctx: ActionContext, msg: models.Message, old: models.Submission, reason: str) -> None:
    """Take a message out of the submission it was wrongly placed in, and set that one right."""
    msg.submission_id = None
    refresh_versions(session, old)
    recompute_on_time(session, old, ctx.campaigns.get(old.year))
    audit(session, action="message_detached", actor=ctx.actor, submission=old, message_id=msg.id,
          from_state=old.state, to_state=old.state, reason=reason, at=ctx.now)
    if old.current_message_id is None and old.state not in (states.MISSING, states.EXEMPT):
        states.transition(session, old, states.MISSING, actor=ctx.actor, now=ctx.now, message_id=msg.id,
                          event=states.DETACHED, reason=f"không còn phiên bản nào sau khi gán thư #{msg.id} nơi khác")


def assign(session: Session, ctx: ActionContext, message_id: int, agency: str, year: int,
           reason: str = "") -> ActionResult:
    """Place a message (unplaced, misread, or recorded as "other") as ``agency``'s report for ``year``.

    The sender's address is learned so the next report from it lands by
    itself; the ack goes out now if the message never had one.
    """
    msg = get_message(session, message_id)
    if msg.status != "recorded":
        why = msg.quarantine_reason or ", ".join(msg.notes or []) or msg.status
        raise ActionError(f"Thư #{msg.id} không thể gán: thư đã bị "
                          f"{'cách ly' if msg.status == 'quarantined' else 'bỏ qua'} "
                          f"({why}).")
    ag = resolve_agency(ctx.roster, agency, year)
    text = reason.strip() or "điều phối viên gán thư"
    old = session.get(models.Submission, msg.submission_id) if msg.submission_id else None
    result = ActionResult("assign", False, ag.slug, year, None, msg.id)
    if old is not None and old.agency_slug == ag.slug and old.year == year and msg.kind == "report":
        result.submission_id, result.from_state, result.to_state = old.id, old.state, old.state
        note = _learn_address(session, ctx, msg, ag, year, text)
        result.changed = bool(note and note.startswith("đã học"))
        result.notes += [note] if note else []
        return result
    before_desc = (f"{old.agency_slug}/{old.year}" if old else
                   f"{msg.kind or 'chưa phân loại'}, {msg.agency_slug or '?'}/{msg.year or '?'}")
    if old is not None:
        _detach(session, ctx, msg, old, f"{text}; chuyển sang {ag.slug}/{year}")
    sub = _get_submission(session, ag.slug, year, ctx.now)
    result.submission_id, result.from_state = sub.id, sub.state
    msg.submission_id, msg.agency_slug, msg.year, msg.kind = sub.id, ag.slug, year, "report"
    current = refresh_versions(session, sub)
    is_current = current is not None and current.id == msg.id
    if is_current:
        sub.review_reasons = []
    sub.updated_at = ctx.now
    recompute_on_time(session, sub, ctx.campaigns.get(year))
    audit(session, action="message_assigned", actor=ctx.actor, submission=sub, message_id=msg.id,
          from_state=sub.state, to_state=sub.state, reason=f"{text} (trước đây: {before_desc})", at=ctx.now)
    acked = bool(acks_of(session, msg.id))
    if sub.state != states.EXEMPT and is_current:
        target = states.ACKNOWLEDGED if acked else states.RECEIVED
        if sub.state != target:
            states.transition(session, sub, target, actor=ctx.actor, now=ctx.now, message_id=msg.id,
                              event=states.ASSIGN, reason=text)
    elif sub.state == states.EXEMPT:
        result.notes.append("đơn vị đang được miễn: thư được lưu làm một phiên bản, trạng thái giữ nguyên")
    if not acked:
        row = queue_ack(session, msg, sub, ctx, actor=ctx.actor)
        if row is not None:
            result.queued.append(row.dedupe_key)
            mark_acknowledged(session, [(msg, sub)], row, actor=ctx.actor, now=ctx.now)
    note = _learn_address(session, ctx, msg, ag, year, text)
    result.notes += [note] if note else []
    result.to_state, result.changed = sub.state, True
    return result


def extend(session: Session, ctx: ActionContext, year: int, until: date, reason: str,
           agency: str | None = None) -> ActionResult:
    """Extend the deadline to the end of ``until`` (Vietnam time), for everyone or one agency.

    On-time is recomputed at once for the submissions concerned, so the
    status and the digest tell the truth the moment the extension commits.
    """
    text = require_reason(reason, "extend")
    campaign = ctx.campaigns.get(year)
    if campaign is None:
        from reference.campaigns import no_campaign

        raise ActionError(no_campaign(year, ctx.campaigns))
    ag = resolve_agency(ctx.roster, agency, year) if agency else None
    until_at = end_of_day(until)
    slug = ag.slug if ag else None
    current = deadline_for(session, campaign, slug) if slug else _global_deadline(session, campaign)
    if until_at <= current:
        who = ag.name if ag else "tất cả đơn vị"
        raise ActionError(f"Không gia hạn: hạn nộp đang áp dụng cho {who} là hết ngày "
                          f"{vn_date(last_day(current))}; ngày {vn_date(until)} không muộn hơn nên không thay đổi "
                          "gì. Hạn đã gia hạn không rút ngắn được bằng lệnh này.")
    result = ActionResult("extend", False, slug, year)
    extension = models.DeadlineExtension
    same = session.scalar(select(extension).where(
        extension.year == year, extension.until_at == until_at,
        extension.agency_slug.is_(None) if slug is None else extension.agency_slug == slug))
    if same is not None:
        return result
    session.add(models.DeadlineExtension(year=year, agency_slug=slug, until_at=until_at, created_by=ctx.actor,
                                         reason=text, created_at=ctx.now))
    session.flush()
    who = ag.name if ag else "tất cả đơn vị"
    audit(session, action="deadline_extended", actor=ctx.actor, agency_slug=slug, year=year, at=ctx.now,
          reason=f"gia hạn cho {who} đến hết ngày {until:%d/%m/%Y}: {text}")
    query = select(models.Submission).where(models.Submission.year == year)
    if slug is not None:
        query = query.where(models.Submission.agency_slug == slug)
    for sub in session.scalars(query.order_by(models.Submission.id)):
        before = sub.on_time
        recompute_on_time(session, sub, campaign)
        if sub.on_time != before:
            audit(session, action="on_time_recomputed", actor=ctx.actor, submission=sub, at=ctx.now,
                  from_state=sub.state, to_state=sub.state,
                  reason=f"{_on_time_label(before)} → {_on_time_label(sub.on_time)} (gia hạn đến {until:%d/%m/%Y})")
            result.notes.append(f"{sub.agency_slug}: {_on_time_label(sub.on_time)}")
    result.changed = True
    return result


def _global_deadline(session: Session, campaign: Campaign) -> datetime:
    """The campaign's deadline as moved by extensions for everyone (not those for one agency)."""
    latest = session.scalar(select(func.max(models.DeadlineExtension.until_at)).where(
        models.DeadlineExtension.year == campaign.year, models.DeadlineExtension.agency_slug.is_(None)))
    return max(campaign.deadline_at(), latest) if latest is not None else campaign.deadline_at()


def _on_time_label(value: bool | None) -> str:
    return {True: "đúng hạn", False: "muộn", None: "chưa xác định"}[value]


def resend_ack(session: Session, ctx: ActionContext, message_id: int, reason: str = "") -> ActionResult:
    """Queue a fresh acknowledgement for a report (lost mail, corrected details); each call is one more email."""
    msg = get_message(session, message_id)
    if msg.status != "recorded" or msg.kind != "report":
        raise ActionError(f"Thư #{msg.id} không phải báo cáo đã ghi nhận nên không gửi thư báo nhận. "
                          f"Message {msg.id} is not a recorded report ({msg.status}, {msg.kind}).")
    previous = session.scalar(select(func.count()).select_from(models.OutboxEmail).where(
        models.OutboxEmail.dedupe_key.like(f"ack:{msg.id}:resend:%"))) or 0
    sub = session.get(models.Submission, msg.submission_id) if msg.submission_id else None
    result = ActionResult("resend_ack", False, msg.agency_slug, msg.year, sub.id if sub else None, msg.id,
                          sub.state if sub else None, sub.state if sub else None)
    row = queue_ack(session, msg, sub, ctx, dedupe_key=f"ack:{msg.id}:resend:{previous + 1}", actor=ctx.actor)
    if row is None:
        raise ActionError(f"Thư #{msg.id}: không có địa chỉ để gửi thư báo nhận. No address to send the ack to.")
    audit(session, action="ack_resent", actor=ctx.actor, submission=sub, message_id=msg.id, at=ctx.now,
          agency_slug=msg.agency_slug, year=msg.year,
          reason=f"{reason.strip() or 'gửi lại thư báo nhận'} ({row.dedupe_key})")
    mark_acknowledged(session, [(msg, sub)], row, actor=ctx.actor, now=ctx.now)
    result.queued.append(row.dedupe_key)
    result.to_state, result.changed = (sub.state if sub else None), True
    return result


def dismiss(session: Session, ctx: ActionContext, message_id: int, reason: str = "") -> ActionResult:
    """A coordinator looked at an agency's mail that is not a report and sets it aside (it leaves the review list)."""
    msg = get_message(session, message_id)
    result = ActionResult("dismiss", False, msg.sender_agency, msg.year, msg.submission_id, msg.id)
    if msg.kind == "report" and msg.submission_id is not None:
        raise ActionError(f"Thư #{msg.id} là một phiên bản báo cáo; dùng `accept`, `request-resubmission` hoặc "
                          f"`assign` thay vì bỏ qua. Message {msg.id} is a report version.")
    if msg.dismissed_at is not None:
        result.notes.append(f"đã được {msg.dismissed_by} bỏ qua trước đó")
        return result
    msg.dismissed_at, msg.dismissed_by = ctx.now, ctx.actor
    audit(session, action="mail_dismissed", actor=ctx.actor, message_id=msg.id, agency_slug=msg.sender_agency,
          year=msg.year, reason=reason.strip() or "cán bộ đầu mối đã xem: không phải báo cáo", at=ctx.now)
    result.changed = True
    return result
