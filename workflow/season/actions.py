"""What a coordinator can do to a submission: accept, ask for a resubmission,
exempt, reopen, place a misread message, extend a deadline, resend an ack.

Each action works in the caller's session and is meant to be one
transaction (``with app.db.transaction() as s: accept(s, ctx, ...)``): the
state change, its audit entry and any email it queues commit together or
not at all (invariant 3). Each takes everything it needs as arguments
(``ActionContext``), so tests call them directly without a CLI.

Re-running an action is safe: a change to the state the submission is
already in is a reported no-op, and every email has a dedupe key derived
from what caused it, so the same decision never queues twice.
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.identity import parse_mailboxes
from reference.roster import expected_slug, normalise_address
from reference.text import slugify
from workflow.db import models
from workflow.season import contacts, states, submissions
from workflow.season.outbox_queue import queue_email
from workflow.season.recipients import ack_recipient, blocked_reason
from workflow.season.submissions import _get_submission, audit, deadline_for, recompute_on_time, reference_for

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Agency, Roster
    from workflow.app import App

VN = ZoneInfo("Asia/Ho_Chi_Minh")
RAW_HEADER_LIMIT = 256 * 1024  # headers only; a huge body is never read to answer a question about headers


class ActionError(Exception):
    """Input a coordinator must correct (unknown agency, no such message...); message in vi + en."""


@dataclass(frozen=True)
class ActionContext:
    """Everything an action needs besides the session and its own arguments."""

    roster: Roster
    campaigns: dict[int, Campaign]
    now: datetime
    actor: str
    domain: str = "tdc-intake.invalid"  # for Message-IDs of outgoing mail
    reply_address: str = ""
    own_addresses: frozenset[str] = frozenset()  # the bot's own: never learned, never written to

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("ActionContext.now must be timezone-aware")
        if not self.actor.strip():
            raise ValueError("ActionContext.actor must name someone")


def action_context(app: App, now: datetime, actor: str) -> ActionContext:
    """The context as the daemon would see it (same reply address, domain and own addresses)."""
    from email.utils import parseaddr

    from workflow.app import own_addresses, own_domain

    reply = parseaddr(app.settings.smtp.reply_to or app.settings.smtp.from_)[1]
    return ActionContext(roster=app.roster, campaigns=app.campaigns, now=now, actor=actor, domain=own_domain(app),
                         reply_address=reply, own_addresses=own_addresses(app))


@dataclass
class ActionResult:
    action: str
    changed: bool
    agency: str | None = None
    year: int | None = None
    submission_id: int | None = None
    message_id: int | None = None
    from_state: str | None = None
    to_state: str | None = None
    queued: list[str] = field(default_factory=list)  # dedupe keys of the emails this action queued
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for the terminal, in Vietnamese: what was done to whom, and the state it left."""
        if self.agency and self.year:
            who = f"{self.agency}/{self.year}"
        elif self.message_id:
            who = f"thư #{self.message_id}"
        else:
            who = self.agency or (f"năm {self.year}" if self.year else "")
        verb = ACTION_VERBS.get(self.action, self.action)
        if not self.changed:
            head = f"{verb} {who}: không có gì thay đổi"
        elif self.from_state != self.to_state and self.to_state:
            head = f"{verb} {who}: {states.label(self.from_state or states.MISSING)} → {states.label(self.to_state)}"
        else:
            head = f"{verb} {who}: đã thực hiện"
        extra = [f"đã xếp thư {key}" for key in self.queued] + self.notes
        return "; ".join([head, *extra])


# How each action is named to the coordinator who ran it.
ACTION_VERBS = {
    "accept": "Chấp nhận", "request_resubmission": "Đề nghị gửi lại", "exempt": "Miễn báo cáo", "reopen": "Mở lại",
    "assign": "Xếp thư", "extend": "Gia hạn", "resend_ack": "Gửi lại thư báo nhận",
    "dismiss": "Bỏ khỏi danh sách cần xem", "attach": "Đính kèm tệp",
}


# --- lookups -------------------------------------------------------------------------------
def resolve_agency(roster: Roster, text: str, year: int) -> Agency:
    """The agency owing a report for ``year`` named by slug (or by name: "Tây Ninh" -> tay-ninh)."""
    wanted = (text or "").strip()
    slug = next((c for c in dict.fromkeys([wanted.lower(), expected_slug(wanted), slugify(wanted)])
                 if c and _known(roster, c)), None)
    if slug is None:  # a short form people write: "tphcm", "TP HCM", "brvt" (reference.roster.Roster.named)
        named = roster.named(wanted, year) or roster.named(wanted)
        if len(named) > 1:
            choices = ", ".join(f"{a.name} ({a.slug})" for a in named)
            raise ActionError(f"'{wanted}' có thể là: {choices}; hãy ghi mã đơn vị.")
        slug = named[0].slug if named else None
    if slug is None:
        slugs = [a.slug for a in roster.all()]
        close = difflib.get_close_matches(expected_slug(wanted) or wanted.lower(), slugs, n=5, cutoff=0.6)
        hint = f" Có phải: {', '.join(close)}? (did you mean one of these?)" if close else ""
        raise ActionError(f"Không có đơn vị '{wanted}' trong danh sách. Unknown agency {wanted!r}.{hint}")
    agency = roster.get(slug, year)
    if not agency.owes(year):
        successor = roster.successor(slug, year)
        by = (f" Báo cáo năm {year} do '{successor}' gửi (reports for {year} come from {successor!r})."
              if successor else "")
        raise ActionError(f"{agency.name} không phải báo cáo năm {year}. {slug!r} owes no report for {year}.{by}")
    return agency


def _known(roster: Roster, slug: str) -> bool:
    try:
        roster.get(slug)
    except KeyError:
        return False
    return True


def _find_submission(session: Session, slug: str, year: int) -> models.Submission | None:
    return session.scalar(select(models.Submission).where(
        models.Submission.agency_slug == slug, models.Submission.year == year))


def _message(session: Session, message_id: int) -> models.Message:
    msg = session.get(models.Message, message_id)
    if msg is None:
        raise ActionError(f"Không có thư #{message_id}. No message with id {message_id}.")
    return msg


def _require_reason(reason: str | None, action: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ActionError(f"Cần nêu lý do (--reason). {action} needs a reason.")
    return text


def _refuse(agency: Agency, year: int, from_state: str, to_state: str, event: str) -> states.IllegalTransition:
    return states.IllegalTransition(states.refusal(agency.name, year, from_state, to_state, event),
                                    from_state=from_state, to_state=to_state, event=event)


def last_day_on_time(session: Session, campaign: Campaign | None, slug: str) -> date | None:
    """The last day still on time (extensions included), as the emails show it."""
    if campaign is None:
        return None
    first_late = deadline_for(session, campaign, slug)
    return (first_late - timedelta(microseconds=1)).astimezone(VN).date()


def _versions(session: Session, sub: models.Submission) -> list[models.Message]:
    return list(session.scalars(select(models.Message).where(models.Message.submission_id == sub.id)
                                .order_by(models.Message.arrived_at, models.Message.id)))


def _refresh_versions(session: Session, sub: models.Submission) -> models.Message | None:
    """Current version = the latest arrival still linked; returns it."""
    session.flush()
    versions = _versions(session, sub)
    latest = versions[-1] if versions else None
    sub.current_message_id = latest.id if latest else None
    sub.last_received_at = latest.arrived_at if latest else None
    sub.outline_missing = list(latest.outline_missing) if latest else []
    return latest


def _acks_of(session: Session, message_id: int) -> list[models.OutboxEmail]:
    return list(session.scalars(select(models.OutboxEmail).where(
        (models.OutboxEmail.dedupe_key == f"ack:{message_id}")
        | models.OutboxEmail.dedupe_key.like(f"ack:{message_id}:resend:%")
    ).order_by(models.OutboxEmail.id)))


def implied_state(session: Session, sub: models.Submission) -> str:
    """The state the versions alone justify (used when an exemption is lifted)."""
    current = session.get(models.Message, sub.current_message_id) if sub.current_message_id else None
    if current is None or current.submission_id != sub.id:
        current = _refresh_versions(session, sub)
    if current is None:
        return states.MISSING
    if current.rejected:
        return states.RESUBMISSION_REQUESTED
    if sub.review_reasons:
        return states.NEEDS_REVIEW
    return states.ACKNOWLEDGED if _acks_of(session, current.id) else states.RECEIVED


# --- email helpers -------------------------------------------------------------------------
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


def _clean_recipients(addresses: list[str], ctx: ActionContext, session: Session | None = None) -> list[str]:
    out: list[str] = []
    for address in addresses:
        normal = normalise_address(address or "")
        if normal and normal not in ctx.own_addresses and normal not in out:
            if session is None or blocked_reason(session, normal, ctx.own_addresses) is None:
                out.append(normal)
    return out


def _reply_recipient(session: Session, msg: models.Message, ctx: ActionContext) -> list[str]:
    """Who an acknowledgement goes to: as the first ack did, else the rule of ``workflow.season.recipients``."""
    first = session.scalar(select(models.OutboxEmail).where(models.OutboxEmail.dedupe_key == f"ack:{msg.id}"))
    if first is not None and first.recipients:
        return _clean_recipients(list(first.recipients), ctx, session)
    reply_to = [m.address for m in parse_mailboxes(_raw_headers(msg).get("reply-to", "")) or []]
    chosen = ack_recipient(session, from_addr=msg.from_addr, reply_to=reply_to, agency_slug=msg.agency_slug,
                           year=msg.year, roster=ctx.roster, own_addresses=ctx.own_addresses)
    return [chosen] if chosen else []


def _references(msg: models.Message) -> str | None:
    refs = _raw_headers(msg).get("references", "").split()
    if msg.message_id:
        refs.append(msg.message_id)
    return " ".join(refs) or None


def ack_context(session: Session, msg: models.Message, sub: models.Submission | None, ctx: ActionContext,
                review_reasons: list[str] | None = None, recipient: str | None = None) -> dict[str, Any]:
    """The ``ack`` template's context for a recorded message (shared with the recorder)."""
    return submissions.ack_context(msg, sub, ctx.roster, ctx.campaigns, ctx.reply_address, list(review_reasons or []),
                                   recipient)


def _queue_ack(session: Session, msg: models.Message, sub: models.Submission | None, ctx: ActionContext,
               dedupe_key: str) -> models.OutboxEmail | None:
    recipients = _reply_recipient(session, msg, ctx)
    if not recipients:
        return None
    return queue_email(
        session, dedupe_key=dedupe_key, kind="ack", template="ack", recipients=recipients,
        context=ack_context(session, msg, sub, ctx, list(sub.review_reasons or []) if sub else [],
                            recipients[0] if len(recipients) == 1 else None),
        domain=ctx.domain, now=ctx.now, agency_slug=msg.agency_slug, year=msg.year, related_message_id=msg.id,
        in_reply_to=msg.message_id, references=_references(msg),
    )


def _mark_acknowledged(session: Session, sub: models.Submission | None, msg: models.Message, row: models.OutboxEmail,
                       ctx: ActionContext) -> None:
    if sub is not None and sub.state == states.RECEIVED and sub.current_message_id == msg.id:
        states.transition(session, sub, states.ACKNOWLEDGED, actor=ctx.actor, now=ctx.now, message_id=msg.id,
                          event=states.ACK_QUEUED, reason=f"thư báo nhận {row.dedupe_key}")


# --- actions -------------------------------------------------------------------------------
def accept(session: Session, ctx: ActionContext, agency: str, year: int, reason: str = "",
           message_id: int | None = None) -> ActionResult:
    """received / acknowledged / needs_review -> accepted: the coordinator is satisfied with the report.

    ``message_id`` chooses which version is accepted (and becomes current): a
    newer version that arrived after an earlier acceptance waits for exactly
    this choice. Without it the current version is accepted, and a waiting
    newer version stays a version, not current.
    """
    ag = resolve_agency(ctx.roster, agency, year)
    if message_id is not None and submissions.is_unverified_claim(claim := _message(session, message_id)):
        return _accept_unverified(session, ctx, ag, year, claim, reason)
    sub = _find_submission(session, ag.slug, year)
    result = ActionResult("accept", False, ag.slug, year, sub.id if sub else None)
    if sub is None:
        raise _refuse(ag, year, states.MISSING, states.ACCEPTED, states.ACCEPT)
    chosen = sub.current_message_id
    if message_id is not None:
        msg = _message(session, message_id)
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
    text = _require_reason(reason, "request-resubmission")
    ag = resolve_agency(ctx.roster, agency, year)
    sub = _find_submission(session, ag.slug, year)
    if sub is None or sub.current_message_id is None:
        raise _refuse(ag, year, sub.state if sub else states.MISSING, states.RESUBMISSION_REQUESTED,
                      states.REQUEST_RESUBMISSION)
    msg = _message(session, sub.current_message_id)
    result = ActionResult("request_resubmission", False, ag.slug, year, sub.id, msg.id, sub.state, sub.state)
    if sub.state == states.RESUBMISSION_REQUESTED and msg.rejected:
        return result
    states.transition(session, sub, states.RESUBMISSION_REQUESTED, actor=ctx.actor, now=ctx.now, reason=text,
                      message_id=msg.id, event=states.REQUEST_RESUBMISSION)
    msg.rejected = True
    session.flush()
    recompute_on_time(session, sub, ctx.campaigns.get(year))
    result.to_state, result.changed = sub.state, True
    recipients = _clean_recipients([*_reply_recipient(session, msg, ctx), msg.from_addr, *ag.addresses], ctx, session)
    if not recipients:
        result.notes.append("không có địa chỉ nhận nên chưa gửi thư đề nghị (no address to write to)")
        return result
    deadline = last_day_on_time(session, ctx.campaigns.get(year), ag.slug)
    if deadline is not None and deadline < ctx.now.astimezone(VN).date():
        deadline = None  # a past date would only confuse: the email then asks for it without a date
    row = queue_email(
        session, dedupe_key=f"resubmission:{ag.slug}:{year}:{msg.id}", kind="resubmission", template="resubmission",
        recipients=recipients, context={"agency_name": ag.name, "year": year, "reason": text, "deadline": deadline,
                                        "reference": reference_for(msg)},
        domain=ctx.domain, now=ctx.now, agency_slug=ag.slug, year=year, related_message_id=msg.id,
        in_reply_to=msg.message_id, references=_references(msg),
    )
    if row is not None:
        result.queued.append(row.dedupe_key)
    return result


def exempt(session: Session, ctx: ActionContext, agency: str, year: int, reason: str) -> ActionResult:
    """Any state -> exempt: a coordinator decided this agency owes nothing this year."""
    text = _require_reason(reason, "exempt")
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
    sub = _find_submission(session, ag.slug, year)
    current = sub.state if sub else states.MISSING
    if sub is None or sub.state != states.EXEMPT:
        raise _refuse(ag, year, current, states.MISSING, states.REOPEN)
    target = implied_state(session, sub)
    before = states.transition(session, sub, target, actor=ctx.actor, now=ctx.now, event=states.REOPEN,
                               reason=reason.strip() or "bỏ miễn báo cáo", message_id=sub.current_message_id)
    recompute_on_time(session, sub, ctx.campaigns.get(year))
    return ActionResult("reopen", True, ag.slug, year, sub.id, sub.current_message_id, before, sub.state)


def _learn_address(session: Session, ctx: ActionContext, msg: models.Message, agency: Agency, year: int,
                   reason: str) -> str | None:
    """Teach the bot that this sender speaks for ``agency``; returns a note of what happened."""
    normal = normalise_address(msg.from_addr or "")
    if normal is None:
        return "không học địa chỉ gửi: trống hoặc không hợp lệ (sender address empty or invalid)"
    if normal in ctx.own_addresses:
        return f"không học địa chỉ {normal}: đó là địa chỉ của hệ thống (the bot's own address)"
    contacts.learn(session, agency.slug, normal, actor=ctx.actor, now=ctx.now, why=reason)  # the contact book
    row = session.get(models.LearnedAddress, normal)
    if row is not None and row.agency_slug == agency.slug:
        return None
    if row is None:
        known = ctx.roster.by_address(normal, year)
        if known is not None and known.slug == agency.slug:
            return None  # the roster already knows it (exact address or the agency's domain)
        session.add(models.LearnedAddress(address=normal, agency_slug=agency.slug, taught_by=ctx.actor,
                                          created_at=ctx.now))
        why = reason
    else:
        why = f"{reason}; trước đây gắn với {row.agency_slug}"
        row.agency_slug, row.taught_by, row.created_at = agency.slug, ctx.actor, ctx.now
    audit(session, action="address_learned", actor=ctx.actor, agency_slug=agency.slug, year=year, message_id=msg.id,
          reason=f"{normal} → {agency.slug}: {why}", at=ctx.now)
    return f"đã học địa chỉ {normal} → {agency.slug}"


def _detach(session: Session, ctx: ActionContext, msg: models.Message, old: models.Submission, reason: str) -> None:
    """Take a message out of the submission it was wrongly placed in, and set that one right."""
    msg.submission_id = None
    _refresh_versions(session, old)
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
    msg = _message(session, message_id)
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
    current = _refresh_versions(session, sub)
    is_current = current is not None and current.id == msg.id
    if is_current:
        sub.review_reasons = []
    sub.updated_at = ctx.now
    recompute_on_time(session, sub, ctx.campaigns.get(year))
    audit(session, action="message_assigned", actor=ctx.actor, submission=sub, message_id=msg.id,
          from_state=sub.state, to_state=sub.state, reason=f"{text} (trước đây: {before_desc})", at=ctx.now)
    acked = bool(_acks_of(session, msg.id))
    if sub.state != states.EXEMPT and is_current:
        target = states.ACKNOWLEDGED if acked else states.RECEIVED
        if sub.state != target:
            states.transition(session, sub, target, actor=ctx.actor, now=ctx.now, message_id=msg.id,
                              event=states.ASSIGN, reason=text)
    elif sub.state == states.EXEMPT:
        result.notes.append("đơn vị đang được miễn: thư được lưu làm một phiên bản, trạng thái giữ nguyên")
    if not acked:
        row = _queue_ack(session, msg, sub, ctx, f"ack:{msg.id}")
        if row is not None:
            result.queued.append(row.dedupe_key)
            _mark_acknowledged(session, sub, msg, row, ctx)
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
    text = _require_reason(reason, "extend")
    campaign = ctx.campaigns.get(year)
    if campaign is None:
        from reference.campaigns import no_campaign

        raise ActionError(no_campaign(year, ctx.campaigns))
    ag = resolve_agency(ctx.roster, agency, year) if agency else None
    until_at = datetime.combine(until + timedelta(days=1), time(0), tzinfo=VN)
    slug = ag.slug if ag else None
    current = deadline_for(session, campaign, slug) if slug else _global_deadline(session, campaign)
    if until_at <= current:
        last_day = (current - timedelta(days=1)).astimezone(VN)
        who = ag.name if ag else "tất cả đơn vị"
        raise ActionError(f"Không gia hạn: hạn nộp đang áp dụng cho {who} là hết ngày {last_day:%d/%m/%Y}; ngày "
                          f"{until:%d/%m/%Y} không muộn hơn nên không thay đổi gì. Hạn đã gia hạn không rút ngắn "
                          "được bằng lệnh này.")
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
    msg = _message(session, message_id)
    if msg.status != "recorded" or msg.kind != "report":
        raise ActionError(f"Thư #{msg.id} không phải báo cáo đã ghi nhận nên không gửi thư báo nhận. "
                          f"Message {msg.id} is not a recorded report ({msg.status}, {msg.kind}).")
    previous = session.scalar(select(func.count()).select_from(models.OutboxEmail).where(
        models.OutboxEmail.dedupe_key.like(f"ack:{msg.id}:resend:%"))) or 0
    sub = session.get(models.Submission, msg.submission_id) if msg.submission_id else None
    result = ActionResult("resend_ack", False, msg.agency_slug, msg.year, sub.id if sub else None, msg.id,
                          sub.state if sub else None, sub.state if sub else None)
    row = _queue_ack(session, msg, sub, ctx, f"ack:{msg.id}:resend:{previous + 1}")
    if row is None:
        raise ActionError(f"Thư #{msg.id}: không có địa chỉ để gửi thư báo nhận. No address to send the ack to.")
    audit(session, action="ack_resent", actor=ctx.actor, submission=sub, message_id=msg.id, at=ctx.now,
          agency_slug=msg.agency_slug, year=msg.year,
          reason=f"{reason.strip() or 'gửi lại thư báo nhận'} ({row.dedupe_key})")
    _mark_acknowledged(session, sub, msg, row, ctx)
    result.queued.append(row.dedupe_key)
    result.to_state, result.changed = (sub.state if sub else None), True
    return result


def dismiss(session: Session, ctx: ActionContext, message_id: int, reason: str = "") -> ActionResult:
    """A coordinator looked at an agency's mail that is not a report and sets it aside (it leaves the review list)."""
    msg = _message(session, message_id)
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
