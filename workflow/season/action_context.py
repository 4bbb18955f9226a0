"""What every coordinator action shares: its context, its result, its errors, and the lookups it starts with.

The actions themselves are :mod:`workflow.season.actions`; the emails they
queue (acknowledgements and who they go to) :mod:`workflow.season.acknowledgements`.
An action takes everything it needs as arguments (``ActionContext``), so
tests call it directly without a CLI, and reports what it did as an
``ActionResult`` the CLI and the board print the same way.
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference.roster import expected_slug
from reference.text import slugify
from reference.time import last_day
from workflow.db import models
from workflow.season import states
from workflow.season.submissions import deadline_for

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Agency, Roster
    from workflow.app import App


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
    return ActionContext(roster=app.roster, campaigns=app.campaigns, now=now, actor=actor, domain=app.own_domain,
                         reply_address=app.settings.smtp.reply_address, own_addresses=app.own_addresses())


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


def find_submission(session: Session, slug: str, year: int) -> models.Submission | None:
    return session.scalar(select(models.Submission).where(
        models.Submission.agency_slug == slug, models.Submission.year == year))


def get_message(session: Session, message_id: int) -> models.Message:
    msg = session.get(models.Message, message_id)
    if msg is None:
        raise ActionError(f"Không có thư #{message_id}. No message with id {message_id}.")
    return msg


def require_reason(reason: str | None, action: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ActionError(f"Cần nêu lý do (--reason). {action} needs a reason.")
    return text


def illegal_transition(agency: Agency, year: int, from_state: str, to_state: str,
                       event: str) -> states.IllegalTransition:
    """The refusal of a move the state machine does not allow, in the coordinator's words."""
    return states.IllegalTransition(states.refusal(agency.name, year, from_state, to_state, event),
                                    from_state=from_state, to_state=to_state, event=event)


def last_day_on_time(session: Session, campaign: Campaign | None, slug: str) -> date | None:
    """The last day still on time (extensions included), as the emails show it."""
    if campaign is None:
        return None
    return last_day(deadline_for(session, campaign, slug))


def _versions(session: Session, sub: models.Submission) -> list[models.Message]:
    return list(session.scalars(select(models.Message).where(models.Message.submission_id == sub.id)
                                .order_by(models.Message.arrived_at, models.Message.id)))


def refresh_versions(session: Session, sub: models.Submission) -> models.Message | None:
    """Current version = the latest arrival still linked; returns it."""
    session.flush()
    versions = _versions(session, sub)
    latest = versions[-1] if versions else None
    sub.current_message_id = latest.id if latest else None
    sub.last_received_at = latest.arrived_at if latest else None
    sub.outline_missing = list(latest.outline_missing) if latest else []
    return latest


def acks_of(session: Session, message_id: int) -> list[models.OutboxEmail]:
    return list(session.scalars(select(models.OutboxEmail).where(
        (models.OutboxEmail.dedupe_key == f"ack:{message_id}")
        | models.OutboxEmail.dedupe_key.like(f"ack:{message_id}:resend:%")
    ).order_by(models.OutboxEmail.id)))


def implied_state(session: Session, sub: models.Submission) -> str:
    """The state the versions alone justify (used when an exemption is lifted)."""
    current = session.get(models.Message, sub.current_message_id) if sub.current_message_id else None
    if current is None or current.submission_id != sub.id:
        current = refresh_versions(session, sub)
    if current is None:
        return states.MISSING
    if current.rejected:
        return states.RESUBMISSION_REQUESTED
    if sub.review_reasons:
        return states.NEEDS_REVIEW
    return states.ACKNOWLEDGED if acks_of(session, current.id) else states.RECEIVED
