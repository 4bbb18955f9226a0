"""Flush the outbox: claim due rows, send them, record what happened.

The workflow writes outbox rows in the same transaction as the decision
that caused them (invariant 3); this module is the only one that sends.

Claiming: one row at a time, in id order, in a short transaction. The
claim sets ``state = sending``, adds one to ``attempts`` and sets
``next_attempt_at`` to the end of a lease (10 minutes). The send happens
outside any transaction, then the outcome is recorded in a second one, which
also claims the next row (one commit per email, not two). If
the process dies between the two, the row stays ``sending`` until its lease
runs out and is then claimed and sent again: a crash can at worst repeat
one send (with the same Message-ID), never skip one. Counting the attempt
at claim time also means a row that kills the process every time cannot
loop forever: it fails after ``max_attempts``.

Two daemons: on PostgreSQL the claim reads with ``FOR UPDATE SKIP LOCKED``,
so each daemon takes a different row; on both backends the claim itself is
a conditional UPDATE (``WHERE state = <seen> AND attempts = <seen>``) that
only one transaction can win, which is what protects SQLite, where the read
takes no lock.

Per-recipient daily cap (invariant 4): counted over a rolling 24 hours of
SENT rows, not the calendar day. A rolling window cannot be dodged at
midnight (five emails at 23:55 and five more at 00:05) and needs no time
zone. Digests to coordinators are exempt and not counted. An address over
the cap is dropped from the envelope; a row left with nobody to send to
becomes SUPPRESSED with the reason.

Per-inbox counting: ``reference.addresses.inbox_key`` (case, ``+tag``, and the dots
Gmail ignores reach one inbox), so a sender cannot multiply the cap by spelling.

Acknowledgements to strangers (neither a verified sender nor a known address,
``outbox.to_stranger``) have a global cap too, ``stranger_cap`` an hour over a
rolling hour: a thousand forged messages from a thousand addresses must not
make the ministry's address mail a thousand people. A row over it is HELD with
the reason (coordinators see it) and goes out, oldest first, as the hour allows.

Order: rows go out in id order. A transient failure stops the batch (no
burst of failures against a dead server); when the server itself is the
problem, the rest of the queue is held back until the failed row's retry
time, so that when the server returns the queue drains in its original
order. A failure that concerns only one message (a 4xx to RCPT or DATA)
delays only that message.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from notifier.compose import ComposeError, compose
from notifier.labels import outbox_state_label
from notifier.transports import PermanentSendError, SendError, TransientSendError, Transport, make_transport
from reference.addresses import header_address, header_addresses, inbox_key, verp_address
from workflow.db.engine import Database, rows_changed
from workflow.db.models import FAILED, HELD, PENDING, SENDING, SENT, SUPPRESSED, OutboxEmail

if TYPE_CHECKING:
    from workflow.app import App

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=6)
CAP_WINDOW = timedelta(hours=24)
STRANGER_WINDOW = timedelta(hours=1)
CAP_EXEMPT_KINDS = frozenset({"digest"})
ERROR_MAX = 500
# Marks a retry caused by the server being unusable; while the oldest waiting
# row carries it, the whole queue waits, so rows queued during an outage
# cannot overtake it when the server returns.
SERVER_DOWN = "server unavailable: "
_CLAIM_TRIES = 5


@dataclass
class FlushResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    suppressed: int = 0
    stopped: str | None = None  # why the batch stopped early (a transient error), for status output
    held: int = 0  # acknowledgements to strangers waiting for the hourly cap


HELD_PREFIX = "giữ lại do vượt giới hạn "


@dataclass(frozen=True)
class _Outcome:
    kind: Literal["sent", "suppressed", "failed", "retry", "held"]
    note: str | None = None
    recipients: tuple[str, ...] = ()
    scope: str = "message"


def flush(
    db: Database,
    transport: Transport,
    from_header: str,
    now: datetime | None = None,
    batch: int = 50,
    max_attempts: int = 8,
    backoff_seconds: float = 60,
    daily_cap: int = 5,
    reply_to: str | None = None,
    stranger_cap: int = 20,
) -> FlushResult:
    """Send up to ``batch`` due outbox rows; never raises for a row's or the server's fault.

    ``now`` fixes the clock (tests); otherwise each step reads the real time.
    """
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    envelope_from = header_address(from_header)
    result = FlushResult(failed=_fail_exhausted_claims(db, clock(), max_attempts))
    sent_counts = _recent_counts(db, clock())
    strangers = _release_held(db, clock(), stranger_cap)
    row = _claim_next(db, clock())
    taken = 0
    while row is not None:
        taken += 1
        if row.to_stranger and strangers >= stranger_cap:
            outcome = _Outcome("held", f"{HELD_PREFIX}{stranger_cap} thư báo nhận mỗi giờ cho người gửi chưa xác thực")
            final_state, row = _record(db, row, outcome, clock(), max_attempts, backoff_seconds, taken < batch)
            _count(result, final_state)
            continue
        outcome = _deliver(row, transport, from_header, verp_address(envelope_from, row.verp_token), reply_to, clock(),
                           sent_counts, daily_cap)
        more = taken < batch and outcome.kind != "retry"
        final_state, following = _record(db, row, outcome, clock(), max_attempts, backoff_seconds, more)
        _count(result, final_state)
        if final_state == SENT and row.kind not in CAP_EXEMPT_KINDS:
            sent_counts.update(_address(r) for r in outcome.recipients)
        if final_state == SENT and row.to_stranger:
            strangers += 1
        if outcome.kind == "retry":
            result.stopped = outcome.note
            break
        row = following
    return result


# -- claiming -------------------------------------------------------------------------


def _fail_exhausted_claims(db: Database, now: datetime, max_attempts: int) -> int:
    """Rows whose every attempt was interrupted mid-send (the process died each time) stop here."""
    with db.transaction() as session:
        return rows_changed(session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.state == SENDING,
                OutboxEmail.next_attempt_at <= now,
                OutboxEmail.attempts >= max_attempts,
            )
            .values(state=FAILED, last_error=f"thôi gửi sau {max_attempts} lần thử: chương trình dừng giữa lúc gửi")
            .execution_options(synchronize_session=False)
        ))


def release_interrupted_claims(db: Database, now: datetime) -> int:
    """Make rows claimed by a sender that has since died due again at once; returns how many.

    Called by a daemon when it becomes the leader: only the leader sends, so
    a claim still open at that moment belongs to a process that lost the
    lease (killed, or cut off). Without this the rows would wait out the
    whole claim lease (10 minutes) after every crash. The attempt counter is
    kept, so a row that kills its sender each time still ends as FAILED
    after ``max_attempts``; at worst one send is repeated, with the same
    Message-ID.
    """
    with db.transaction() as session:
        released = rows_changed(session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.state == SENDING)
            .values(state=PENDING, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        ))
    if released:
        log.warning("hộp thư đi: %d lượt gửi bị chương trình trước ngắt giữa chừng, nay gửi lại", released)
    return released


def _claim_next(db: Database, now: datetime) -> OutboxEmail | None:
    """Take the oldest due row (pending and due, or sending with an expired lease), or None."""
    for _ in range(_CLAIM_TRIES):
        with db.transaction() as session:
            row, lost = _claim_in(session, db.is_postgres, now)
        if not lost:
            return row
    return None


def _claim_in(session: Session, postgres: bool, now: datetime) -> tuple[OutboxEmail | None, bool]:
    """Claim the oldest due row in ``session``'s transaction: (row, False), (None, False) when none is due,
    (None, True) when another daemon claimed the candidate between our read and our write."""
    if _queue_held(session, now):
        return None, False
    query = (
        select(OutboxEmail.id, OutboxEmail.state, OutboxEmail.attempts)
        .where(OutboxEmail.state.in_((PENDING, SENDING)), OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.id)
        .limit(1)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    candidate = session.execute(query).first()
    if candidate is None:
        return None, False
    won = rows_changed(session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == candidate.id,
            OutboxEmail.state == candidate.state,
            OutboxEmail.attempts == candidate.attempts,
        )
        .values(state=SENDING, attempts=candidate.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    ))
    if won != 1:
        return None, True
    if candidate.state == SENDING:
        log.warning("hộp thư đi %s: lần gửi trước bị ngắt (hết hạn giữ); gửi lại", candidate.id)
    return session.get(OutboxEmail, candidate.id), False


def _release_held(db: Database, now: datetime, cap: int) -> int:
    """Acknowledgements to strangers sent in the last hour; held ones are made due, oldest first, while the cap
    allows."""
    with db.transaction() as session:
        sent = session.scalar(select(func.count()).select_from(OutboxEmail).where(
            OutboxEmail.to_stranger.is_(True), OutboxEmail.state == SENT,
            OutboxEmail.sent_at >= now - STRANGER_WINDOW)) or 0
        room = cap - sent
        if room > 0:
            ids = list(session.scalars(select(OutboxEmail.id).where(OutboxEmail.state == HELD)
                                       .order_by(OutboxEmail.id).limit(room)))
            if ids:
                session.execute(update(OutboxEmail).where(OutboxEmail.id.in_(ids), OutboxEmail.state == HELD)
                                .values(state=PENDING, next_attempt_at=now)
                                .execution_options(synchronize_session=False))
    return sent


def _queue_held(session: Session, now: datetime) -> bool:
    """True while the oldest waiting row is backing off from a dead server (see SERVER_DOWN)."""
    head = session.execute(
        select(OutboxEmail.next_attempt_at, OutboxEmail.last_error)
        .where(OutboxEmail.state == PENDING).order_by(OutboxEmail.id).limit(1)
    ).first()
    return head is not None and head.next_attempt_at > now and (head.last_error or "").startswith(SERVER_DOWN)


# -- sending --------------------------------------------------------------------------


def _address(recipient: str) -> str:
    """The inbox a recipient string reaches (``reference.addresses.inbox_key``)."""
    return inbox_key(header_address(recipient) or recipient)


def _recent_counts(db: Database, now: datetime) -> Counter[str]:
    """Bot emails each address received in the last 24 hours (digests not counted)."""
    counts: Counter[str] = Counter()
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxEmail.recipients, OutboxEmail.cc, OutboxEmail.kind).where(
                OutboxEmail.state == SENT, OutboxEmail.sent_at >= now - CAP_WINDOW
            )
        )
        for recipients, copies, kind in rows:
            if kind not in CAP_EXEMPT_KINDS:
                counts.update(_address(r) for r in [*(recipients or []), *(copies or [])])
    return counts


def _deliver(
    row: OutboxEmail,
    transport: Transport,
    from_header: str,
    envelope_from: str,
    reply_to: str | None,
    now: datetime,
    sent_counts: Counter[str],
    daily_cap: int,
) -> _Outcome:
    recipients = [r for r in (row.recipients or []) if isinstance(r, str)]
    copies = [r for r in (row.cc or []) if isinstance(r, str)]
    capped: list[str] = []
    if row.kind not in CAP_EXEMPT_KINDS:
        capped = [r for r in recipients + copies if sent_counts[_address(r)] >= daily_cap]
        recipients = [r for r in recipients if r not in capped]
        copies = [r for r in copies if r not in capped]
    cap_note = f"daily cap of {daily_cap} emails per address reached for {', '.join(capped)}" if capped else None
    if not recipients:
        recipients, copies = copies, []  # the copies still deserve the mail when every To is capped
    if not recipients:
        return _Outcome("suppressed", cap_note or "no recipients")
    try:
        msg = compose(row, from_header, reply_to=reply_to, now=now, recipients=recipients, cc=copies)
        envelope_to = header_addresses(recipients + copies)
        refused = transport.send(msg, envelope_to, envelope_from)
    except ComposeError as exc:
        return _Outcome("failed", f"không soạn được thư: {exc}")
    except PermanentSendError as exc:
        return _Outcome("failed", str(exc))
    except TransientSendError as exc:
        return _Outcome("retry", str(exc), scope=exc.scope)
    except SendError as exc:
        return _Outcome("retry", str(exc))
    except Exception as exc:  # a bug in a transport must not stop the daemon
        log.exception("hộp thư đi %s: lỗi không lường trước khi gửi", row.id)
        return _Outcome("retry", f"unexpected {type(exc).__name__}: {exc}")
    notes = [n for n in (cap_note, _refused_note(refused)) if n]
    return _Outcome("sent", "; ".join(notes) or None, recipients=tuple(recipients + copies))


def _refused_note(refused: dict[str, tuple[int, str]]) -> str | None:
    if not refused:
        return None
    return "refused by the server: " + "; ".join(f"{addr} ({reply})" for addr, (_, reply) in refused.items())


# -- recording ------------------------------------------------------------------------


def _backoff(attempts: int, backoff_seconds: float) -> timedelta:
    delay = timedelta(seconds=backoff_seconds * 2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


def _short(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def _record(
    db: Database, claimed: OutboxEmail, outcome: _Outcome, now: datetime, max_attempts: int, backoff_seconds: float,
    claim_next: bool = False,
) -> tuple[str | None, OutboxEmail | None]:
    """Store the outcome, and with ``claim_next`` claim the next due row in the same transaction.

    Returns the row's new state (None if our claim was lost meanwhile) and the
    next claimed row. Why one transaction: each commit waits for the disk, and
    two per email made a burst of acknowledgements wait on fsyncs. Nothing
    changes for a crash: the outcome and the next claim commit together or not
    at all, so at worst the one send in hand is repeated, as before.
    """
    values: dict[str, object] = {"last_error": _short(outcome.note)}
    if outcome.kind == "held":
        values.update(state=HELD, attempts=claimed.attempts - 1)  # waiting is not an attempt
    elif outcome.kind == "sent":
        values.update(state=SENT, sent_at=now)
    elif outcome.kind == "suppressed":
        values.update(state=SUPPRESSED)
    elif outcome.kind == "failed":
        values.update(state=FAILED)
    elif claimed.attempts >= max_attempts:
        values.update(state=FAILED, last_error=_short(f"thôi gửi sau {claimed.attempts} lần thử: {outcome.note}"))
    else:
        retry_at = now + _backoff(claimed.attempts, backoff_seconds)
        values.update(state=PENDING, next_attempt_at=retry_at)
        if outcome.scope == "connection":
            values["last_error"] = _short(SERVER_DOWN + (outcome.note or ""))
    following: OutboxEmail | None = None
    lost_race = False
    with db.transaction() as session:
        updated = rows_changed(session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == claimed.id, OutboxEmail.state == SENDING, OutboxEmail.attempts == claimed.attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        ))
        if updated == 1 and values["state"] == PENDING and outcome.scope == "connection":
            _hold_queue(session, claimed.id, values["next_attempt_at"])  # type: ignore[arg-type]
        if claim_next:
            following, lost_race = _claim_in(session, db.is_postgres, now)
    if lost_race:  # another daemon took that one: look again, each look in its own transaction
        following = _claim_next(db, now)
    if updated != 1:
        log.warning("hộp thư đi %s: mất quyền giữ thư trước khi ghi kết quả (%s)", claimed.id, outcome.kind)
        return None, following
    _log_outcome(claimed, values)
    return str(values["state"]), following


def _hold_queue(session: Session, failed_id: int, until: datetime) -> None:
    """The server is unusable: keep every other waiting row behind the failed one, in order."""
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.state == PENDING, OutboxEmail.id != failed_id, OutboxEmail.next_attempt_at < until)
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


def _log_outcome(row: OutboxEmail, values: dict[str, object]) -> None:
    state = values["state"]
    if state == SENT:
        log.info("hộp thư đi %s (%s): đã gửi", row.id, row.dedupe_key)
    elif state == PENDING:
        log.warning("hộp thư đi %s (%s): sẽ gửi lại lúc %s: %s", row.id, row.dedupe_key, values["next_attempt_at"],
                    values["last_error"])
    else:
        log.warning("hộp thư đi %s (%s) %s: %s", row.id, row.dedupe_key, outbox_state_label(str(state)),
                    values["last_error"])


def _count(result: FlushResult, state: str | None) -> None:
    if state == SENT:
        result.sent += 1
    elif state == FAILED:
        result.failed += 1
    elif state == PENDING:
        result.retried += 1
    elif state == SUPPRESSED:
        result.suppressed += 1
    elif state == HELD:
        result.held += 1


def send_due(app: App, now: datetime, transport: Transport | None = None, batch: int = 50) -> FlushResult:
    """Send everything due in the outbox, batch after batch, with the configured transport, retries and caps.

    Why until empty: at the deadline sixty reports arrive together, and one
    batch per outbox tick left the last of their acknowledgements waiting a
    tick or more. A batch that stops early (a transient error) ends the run.
    """
    smtp = app.settings.smtp
    transport = transport or make_transport(smtp, app.config.smtp_password)
    total = FlushResult()
    while True:
        result = flush(
            app.db, transport, smtp.from_, now=now, batch=batch,
            max_attempts=smtp.max_attempts, backoff_seconds=smtp.backoff_seconds,
            daily_cap=smtp.max_per_recipient_per_day, reply_to=smtp.reply_to,
            stranger_cap=smtp.max_stranger_acks_per_hour,
        )
        for name in ("sent", "failed", "retried", "suppressed", "held"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.stopped = result.stopped
        handled = result.sent + result.failed + result.retried + result.suppressed + result.held
        if result.stopped or handled < batch:
            return total
