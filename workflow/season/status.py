"""The season at a glance through a SQLAlchemy session: one row per agency that owes a report for a year.

The queries themselves live in ``workflow.season.status_query`` (plain SQL,
standard library only) so the command line can run them without importing
SQLAlchemy; here they run through the session's connection, on SQLite and
PostgreSQL alike.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from workflow.db import models
from workflow.season.status_query import (
    UNSENT,
    Fetch,
    JobRunRow,
    StatusRow,
    job_rows,
    review_count,
    season_rows,
    unsent_rows,
)

if TYPE_CHECKING:
    from reference.roster import Roster

__all__ = ["UNSENT", "JobRunRow", "StatusRow", "job_runs", "message_counts", "outbox_counts", "season_status",
           "unsent_counts"]


def _fetch(session: Session) -> Fetch:
    """The queries' runner on a session: ``text()`` takes the same ``:name`` parameters as sqlite3.

    Flushed first, as an ORM query would be: a plain ``text()`` statement does not autoflush, and a
    caller that just moved a submission in this session (an action, then the digest) must see it.
    """
    def fetch(sql: str, params: dict[str, Any]) -> list[Any]:
        if session.autoflush:
            session.flush()
        return list(session.execute(text(sql), params).all())
    return fetch


def season_status(session: Session, roster: Roster, year: int) -> list[StatusRow]:
    return season_rows(_fetch(session), roster, year)


def review_total(session: Session, year: int) -> int:
    """The one count of what waits for a coordinator for ``year`` (status, the digest and the board show it)."""
    return review_count(_fetch(session), year)


def unsent_counts(session: Session) -> dict[str, int]:
    return unsent_rows(_fetch(session))


def job_runs(session: Session) -> list[JobRunRow]:
    return job_rows(_fetch(session))


def outbox_counts(session: Session) -> dict[str, int]:
    counts = {state: 0 for state in (models.PENDING, models.HELD, models.SENDING, models.SENT, models.FAILED,
                                     models.SUPPRESSED)}
    for state, count in session.execute(select(models.OutboxEmail.state,
                                               func.count()).group_by(models.OutboxEmail.state)):
        counts[state] = count
    return counts


def message_counts(session: Session) -> dict[str, int]:
    counts = {"recorded": 0, "ignored": 0, "junk": 0, "quarantined": 0}
    for status, count in session.execute(select(models.Message.status, func.count()).group_by(models.Message.status)):
        counts[status] = count
    return counts
