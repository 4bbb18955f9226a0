"""The season at a glance: one row per agency that owes a report for a year.

One query for the year's submissions (indexed by year) with their version
counts (through the messages' submission index), joined in memory with the roster: the cost depends on the number of agencies, not on
how many messages the archive holds.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Text, func, select, type_coerce
from sqlalchemy.orm import Session, aliased

from intake.identity import PASS, UNVERIFIED_LABEL

from workflow.db import models

if TYPE_CHECKING:
    from reference.roster import Roster


@dataclass(frozen=True)
class StatusRow:
    agency: str
    name: str
    kind: str
    state: str
    received_at: datetime | None
    on_time: bool | None
    versions: int
    outline_missing: list[str]
    review_reasons: list[str]
    sender_note: str | None = None  # "người gửi chưa được xác thực" unless our receiving server vouched for it

    def as_json(self) -> dict:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        return data


def _json_list(value: object) -> list:
    """A JSON list column read as text: nearly always '[]', so decode only when there is something in it."""
    if isinstance(value, str):
        return json.loads(value) if value not in ("[]", "null") else []
    return list(value or [])  # drivers that parse JSON themselves (psycopg)


def season_status(session: Session, roster: "Roster", year: int) -> list[StatusRow]:
    sub, msg = models.Submission, models.Message
    current = aliased(models.Message)
    # One query: the year's submissions (year index) with their versions counted through the
    # messages' submission_id index, so the cost follows the roster, not the archive. Plain
    # columns, not ORM objects: building 100 entities per call cost more than the query.
    found = {row.agency_slug: row for row in session.execute(
        select(sub.agency_slug, sub.state, sub.first_received_at, sub.on_time,
               type_coerce(sub.outline_missing, Text).label("outline_missing"),
               type_coerce(sub.review_reasons, Text).label("review_reasons"), func.count(msg.id).label("versions"),
               func.max(current.sender_auth).label("sender_auth"))
        .outerjoin(msg, msg.submission_id == sub.id)
        .outerjoin(current, current.id == sub.current_message_id)
        .where(sub.year == year)
        .group_by(sub.id)
    )}
    rows = []
    for agency in roster.owing(year):
        row = found.get(agency.slug)
        rows.append(StatusRow(
            agency=agency.slug,
            name=agency.name,
            kind=agency.kind,
            state=row.state if row else models.MISSING,
            received_at=row.first_received_at if row else None,
            on_time=row.on_time if row else None,
            versions=row.versions if row else 0,
            outline_missing=_json_list(row.outline_missing) if row else [],
            review_reasons=_json_list(row.review_reasons) if row else [],
            sender_note=UNVERIFIED_LABEL if row and row.versions and row.sender_auth != PASS else None,
        ))
    return rows


UNSENT = (models.PENDING, models.SENDING, models.FAILED, models.SUPPRESSED)


def unsent_counts(session: Session) -> dict[str, int]:
    """What `status` shows of the outbox: what waits or went wrong, not the all-time total.

    Counting only unsent states walks the (state, next_attempt_at) index over a
    handful of rows, so `status` stays as fast on a ten-year archive as on an
    empty one; `stats` keeps the full counts.
    """
    counts = dict.fromkeys(UNSENT, 0)
    rows = session.execute(select(models.OutboxEmail.state, func.count())
                           .where(models.OutboxEmail.state.in_(UNSENT)).group_by(models.OutboxEmail.state))
    for state, count in rows:
        counts[state] = count
    return counts


def outbox_counts(session: Session) -> dict[str, int]:
    counts = {state: 0 for state in (models.PENDING, models.SENDING, models.SENT, models.FAILED, models.SUPPRESSED)}
    for state, count in session.execute(select(models.OutboxEmail.state, func.count()).group_by(models.OutboxEmail.state)):
        counts[state] = count
    return counts


def message_counts(session: Session) -> dict[str, int]:
    counts = {"recorded": 0, "ignored": 0, "quarantined": 0}
    for status, count in session.execute(select(models.Message.status, func.count()).group_by(models.Message.status)):
        counts[status] = count
    return counts
