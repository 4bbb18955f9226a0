"""The submission state machine: which state may follow which, and on what event.

One table, read by the code and by people: a coordinator who wonders why the
bot refused "accept" finds the answer here, and the refusal itself says it
in Vietnamese and English. Every change goes through ``transition``, which
writes the audit entry, so no state moves without a trace (who, when, why).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from notifier.labels import STATE_LABELS
from workflow.db import models
from workflow.season.audit import audit

MISSING = models.MISSING
RECEIVED = models.RECEIVED
ACKNOWLEDGED = models.ACKNOWLEDGED
NEEDS_REVIEW = models.NEEDS_REVIEW
RESUBMISSION_REQUESTED = models.RESUBMISSION_REQUESTED
ACCEPTED = models.ACCEPTED
EXEMPT = models.EXEMPT

STATE_LABELS_VI: dict[str, str] = STATE_LABELS  # one vocabulary: notifier.labels

# Events: what causes a transition. The names are also the audit ``action``.
REPORT_RECEIVED = "report_received"   # a report arrives (first one, or after a resubmission request)
SUPERSEDED = "superseded"             # a newer version of the report replaces the current one
ACK_QUEUED = "ack_queued"             # the acknowledgement went into the outbox
FLAGGED = "flagged_for_review"        # unknown sender, low confidence, outline gaps
ACCEPT = "accept"                     # coordinator
REQUEST_RESUBMISSION = "request_resubmission"  # coordinator
EXEMPT_EVENT = "exempt"               # coordinator
REOPEN = "reopen"                     # coordinator, undoes an exemption
ASSIGN = "assign"                     # coordinator places a misread or unplaced message
DETACHED = "detached"                 # the last version was assigned elsewhere

EVENTS = (REPORT_RECEIVED, SUPERSEDED, ACK_QUEUED, FLAGGED, ACCEPT, REQUEST_RESUBMISSION, EXEMPT_EVENT, REOPEN,
          ASSIGN, DETACHED)

_HAS_REPORT = (RECEIVED, ACKNOWLEDGED, NEEDS_REVIEW, ACCEPTED)
_NOT_EXEMPT = (MISSING, RECEIVED, ACKNOWLEDGED, NEEDS_REVIEW, RESUBMISSION_REQUESTED, ACCEPTED)


def _table() -> dict[tuple[str, str], frozenset[str]]:
    """(from, to) -> the events that may cause it; anything absent is illegal."""
    rules: dict[tuple[str, str], set[str]] = {}

    def allow(event: str, sources: tuple[str, ...], *targets: str) -> None:
        for source in sources:
            for target in targets:
                if source != target:
                    rules.setdefault((source, target), set()).add(event)

    allow(REPORT_RECEIVED, (MISSING, RESUBMISSION_REQUESTED), RECEIVED, NEEDS_REVIEW)
    allow(SUPERSEDED, _HAS_REPORT, RECEIVED, NEEDS_REVIEW)
    allow(SUPERSEDED, (EXEMPT,), NEEDS_REVIEW)  # a report after an exemption waits for the coordinator
    allow(ACK_QUEUED, (RECEIVED,), ACKNOWLEDGED)
    allow(FLAGGED, (RECEIVED, ACKNOWLEDGED), NEEDS_REVIEW)
    allow(ACCEPT, (RECEIVED, ACKNOWLEDGED, NEEDS_REVIEW), ACCEPTED)
    allow(REQUEST_RESUBMISSION, _HAS_REPORT, RESUBMISSION_REQUESTED)
    allow(EXEMPT_EVENT, _NOT_EXEMPT, EXEMPT)
    allow(REOPEN, (EXEMPT,), MISSING, RECEIVED, ACKNOWLEDGED, NEEDS_REVIEW, RESUBMISSION_REQUESTED)
    allow(ASSIGN, _NOT_EXEMPT, RECEIVED, ACKNOWLEDGED)
    allow(DETACHED, tuple(s for s in _NOT_EXEMPT if s != MISSING), MISSING)
    return {key: frozenset(events) for key, events in rules.items()}


TRANSITIONS: dict[tuple[str, str], frozenset[str]] = _table()

# How each event reads in a refusal: (Vietnamese verb phrase, English verb).
_VERBS: dict[str, tuple[str, str]] = {
    REPORT_RECEIVED: ("ghi nhận báo cáo", "record a report"),
    SUPERSEDED: ("thay thế báo cáo", "supersede the report"),
    ACK_QUEUED: ("báo nhận báo cáo", "acknowledge"),
    FLAGGED: ("chuyển sang cần xem xét báo cáo", "flag for review"),
    ACCEPT: ("chấp nhận báo cáo", "accept"),
    REQUEST_RESUBMISSION: ("đề nghị gửi lại báo cáo", "request a resubmission"),
    EXEMPT_EVENT: ("miễn báo cáo", "exempt"),
    REOPEN: ("mở lại báo cáo", "reopen"),
    ASSIGN: ("gán thư vào báo cáo", "assign a message"),
    DETACHED: ("gỡ thư khỏi báo cáo", "detach the last version"),
}

# Why not, in English, by the state the submission is in.
_WHY: dict[str, str] = {
    MISSING: "nothing was received",
    EXEMPT: "the agency is exempt for this year; reopen it first",
    RESUBMISSION_REQUESTED: "a resubmission was requested; wait for the new report",
    ACCEPTED: "the report was already accepted",
}


class IllegalTransition(Exception):
    """A state change the table does not allow; the message is for the coordinator (vi + en)."""

    def __init__(self, message: str, *, from_state: str, to_state: str, event: str | None) -> None:
        super().__init__(message)
        self.from_state = from_state
        self.to_state = to_state
        self.event = event


def label(state: str) -> str:
    return STATE_LABELS_VI.get(state, state)


def is_allowed(from_state: str, to_state: str, event: str | None = None) -> bool:
    events = TRANSITIONS.get((from_state, to_state), frozenset())
    return bool(events) if event is None else event in events


def default_event(from_state: str, to_state: str) -> str | None:
    """The event that explains a change when the caller did not name one (the coordinator's one first)."""
    events = TRANSITIONS.get((from_state, to_state), frozenset())
    for event in EVENTS[::-1]:  # coordinator events are listed last
        if event in events:
            return event
    return None


def _target_event(to_state: str) -> str:
    """The event a refusal talks about when none was named: what reaching ``to_state`` usually means."""
    return {ACCEPTED: ACCEPT, RESUBMISSION_REQUESTED: REQUEST_RESUBMISSION, EXEMPT: EXEMPT_EVENT,
            ACKNOWLEDGED: ACK_QUEUED, NEEDS_REVIEW: FLAGGED, MISSING: DETACHED}.get(to_state, REPORT_RECEIVED)


def agency_display_name(session: Session, slug: str) -> str:
    """The agency's official name from the roster mirror, so refusals name it as officials do."""
    row = session.get(models.Agency, slug)
    return row.name if row is not None else slug


def refusal(agency_name: str, year: int, from_state: str, to_state: str, event: str | None) -> str:
    """The refusal text: what was asked, the current state in both languages, and why not."""
    event = event or _target_event(to_state)
    vi_verb, en_verb = _VERBS.get(event, (event, event))
    why = _WHY.get(from_state) or f"the report is {from_state}, and {en_verb} is not allowed from there"
    if event == REOPEN and from_state != EXEMPT:
        why = "only an exempt submission can be reopened"
    if event == ACK_QUEUED and from_state != RECEIVED:
        why = f"only a received report moves to acknowledged (it is {from_state})"
    return (f"Không thể {vi_verb} của {agency_name} năm {year}: trạng thái hiện tại là "
            f"'{label(from_state)}' ({from_state}). Cannot {en_verb}: {why}.")


def transition(session: Session, submission: models.Submission, to_state: str, *, actor: str, reason: str,
               now: datetime, message_id: int | None = None, event: str | None = None) -> str:
    """Move ``submission`` to ``to_state`` and audit it; returns the state it left.

    Raises ``IllegalTransition`` (nothing changed) when the table does not
    allow it, including a "change" to the state it is already in: callers
    that want idempotency check the state first and report a no-op.
    """
    if to_state not in STATE_LABELS_VI:
        raise ValueError(f"unknown submission state {to_state!r}")
    if event is not None and event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    before = submission.state
    if not is_allowed(before, to_state, event):
        name = agency_display_name(session, submission.agency_slug)
        raise IllegalTransition(refusal(name, submission.year, before, to_state, event),
                                from_state=before, to_state=to_state, event=event)
    submission.state = to_state
    submission.updated_at = now
    audit(session, action=event or default_event(before, to_state) or "transition", actor=actor,
          submission=submission, message_id=message_id, from_state=before, to_state=to_state, reason=reason, at=now)
    return before
