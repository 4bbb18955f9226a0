"""The season at a glance, as SQL any DB-API connection can run: one row per agency owing a report.

Why plain SQL and the standard library only: ``tdc-bot status`` is typed
all day, and importing SQLAlchemy alone costs several times a bare Python
start on a small machine. The same three queries serve both ways in:
``workflow.season.status`` runs them through a SQLAlchemy session (the
board, the digest, exports, PostgreSQL), and the command line's fast lane
(``workflow.cli.fast_lane``) runs them on Python's own ``sqlite3``. Values
come back as the driver gives them (SQLite: text dates and JSON, 0/1; psycopg:
datetimes, lists, booleans); the readers below accept both.

Cost: one query for the year's submissions (year index) with their version
counts through the messages' submission index, joined in memory with the
roster, so it follows the number of agencies, not the size of the archive.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from intake.identity import PASS, UNVERIFIED_LABEL

if TYPE_CHECKING:
    from reference.roster import Roster

# Runs one statement with ``:name`` parameters (the style both sqlite3 and SQLAlchemy's text() take).
Fetch = Callable[[str, dict[str, Any]], Iterable[Sequence[Any]]]

MISSING = "missing"  # workflow.db.models.MISSING, without importing the models
UNSENT = ("pending", "sending", "failed", "suppressed")  # outbox states that wait or went wrong

SUBMISSIONS_SQL = """
SELECT s.agency_slug, s.state, s.first_received_at, s.on_time, s.outline_missing, s.review_reasons,
       count(m.id) AS versions, max(c.sender_auth) AS sender_auth
FROM submissions AS s
LEFT OUTER JOIN messages AS m ON m.submission_id = s.id
LEFT OUTER JOIN messages AS c ON c.id = s.current_message_id
WHERE s.year = :year
GROUP BY s.id
"""
# Only unsent states: walks the (state, next_attempt_at) index over a handful of rows, so status stays
# as fast on a ten-year archive as on an empty one (`stats` keeps the full counts).
UNSENT_SQL = ("SELECT state, count(*) FROM outbox WHERE state IN ('pending', 'sending', 'failed', 'suppressed') "
              "GROUP BY state")
JOBS_SQL = "SELECT name, last_run_at, ok, result FROM job_runs ORDER BY name"


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


@dataclass(frozen=True)
class JobRunRow:
    name: str
    last_run_at: datetime | None
    ok: bool
    result: str


def utc(value: object) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite keeps naive UTC text, PostgreSQL aware values."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        raise TypeError(f"not a stored time: {value!r}")
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def json_list(value: object) -> list:
    """A JSON list column: text from SQLite (nearly always '[]', decoded only when not), a list from psycopg."""
    if isinstance(value, (str, bytes)):
        return json.loads(value) if value not in ("[]", "null", b"[]", b"null") else []
    return list(value or [])  # type: ignore[call-overload]


def _flag(value: object) -> bool | None:
    return None if value is None else bool(value)


def season_rows(fetch: Fetch, roster: "Roster", year: int) -> list[StatusRow]:
    found = {row[0]: row for row in fetch(SUBMISSIONS_SQL, {"year": year})}
    rows = []
    for agency in roster.owing(year):
        row = found.get(agency.slug)
        if row is None:
            rows.append(StatusRow(agency=agency.slug, name=agency.name, kind=agency.kind, state=MISSING,
                                  received_at=None, on_time=None, versions=0, outline_missing=[], review_reasons=[]))
            continue
        _, state, received, on_time, missing, reasons, versions, sender_auth = row
        rows.append(StatusRow(
            agency=agency.slug, name=agency.name, kind=agency.kind, state=state, received_at=utc(received),
            on_time=_flag(on_time), versions=int(versions), outline_missing=json_list(missing),
            review_reasons=json_list(reasons),
            sender_note=UNVERIFIED_LABEL if versions and sender_auth != PASS else None,
        ))
    return rows


def unsent_rows(fetch: Fetch) -> dict[str, int]:
    """What `status` shows of the outbox: what waits or went wrong, not the all-time total."""
    counts = dict.fromkeys(UNSENT, 0)
    for state, count in fetch(UNSENT_SQL, {}):
        counts[state] = int(count)
    return counts


def job_rows(fetch: Fetch) -> list[JobRunRow]:
    return [JobRunRow(name=name, last_run_at=utc(at), ok=bool(ok), result=result or "")
            for name, at, ok, result in fetch(JOBS_SQL, {})]
