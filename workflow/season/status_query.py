"""The season at a glance, as SQL any DB-API connection can run: one row per agency owing a report.

Why plain SQL and the standard library only: ``tdc-bot status`` is typed
all day, and importing SQLAlchemy alone costs several times a bare Python
start on a small machine. The same three queries serve both ways in:
``workflow.season.status`` runs them through a SQLAlchemy session (the
board, the digest, exports, PostgreSQL), and the command line's fast lane
(``interfaces.cli.fast_lane``) runs them on Python's own ``sqlite3``. Values
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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from intake.sender.identity import PASS, UNVERIFIED_LABEL

if TYPE_CHECKING:
    from reference.roster import Roster

# Runs one statement with ``:name`` parameters (the style both sqlite3 and SQLAlchemy's text() take).
Fetch = Callable[[str, dict[str, Any]], Iterable[Sequence[Any]]]

MISSING = "missing"  # workflow.db.models.MISSING, without importing the models
NEEDS_REVIEW = "needs_review"
UNSENT = ("pending", "held", "sending", "failed", "suppressed")  # outbox states that wait or went wrong

# The versions are counted per submission in the index (a subquery), not by joining every version: the join
# looked up the current message once per version and grouped them again, twice the cost at ten per agency.
SUBMISSIONS_SQL = """
SELECT s.agency_slug, s.state, s.first_received_at, s.on_time, s.outline_missing, s.review_reasons,
       (SELECT count(*) FROM messages AS m WHERE m.submission_id = s.id) AS versions, c.sender_auth
FROM submissions AS s
LEFT OUTER JOIN messages AS c ON c.id = s.current_message_id
WHERE s.year = :year
"""
# Only unsent states: walks the (state, next_attempt_at) index over a handful of rows, so status stays
# as fast on a ten-year archive as on an empty one (`stats` keeps the full counts).
UNSENT_SQL = ("SELECT state, count(*) FROM outbox WHERE state IN ('pending', 'held', 'sending', 'failed', "
              "'suppressed') "
              "GROUP BY state")
# Reports that may be an agency's but wait for a coordinator (a stranger's address, a claim our server did not
# vouch for): the agency still owes, but is not "nothing received".
AWAITING_SQL = """
SELECT agency_slug, count(*) FROM messages
WHERE year = :year AND kind = 'report' AND status = 'recorded' AND submission_id IS NULL
      AND agency_slug IS NOT NULL AND dismissed_at IS NULL
GROUP BY agency_slug
"""
# The one count of what waits for a coordinator's decision (status, the digest and the board all show it):
# submissions to review, reports not placed, and an agency's mail not read as a report, for the year.
REVIEW_SQL = """
SELECT (SELECT count(*) FROM submissions WHERE year = :year AND state = 'needs_review')
     + (SELECT count(*) FROM messages WHERE kind = 'report' AND status = 'recorded' AND submission_id IS NULL
               AND dismissed_at IS NULL AND (year = :year OR year IS NULL))
     + (SELECT count(*) FROM messages WHERE kind IN ('other', 'periodic') AND status = 'recorded'
               AND sender_agency IS NOT NULL AND dismissed_at IS NULL AND part_of IS NULL
               AND (year = :year OR year IS NULL)
               AND id NOT IN (SELECT message_id FROM reminder_responses WHERE kind = 'reply'))
"""
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
    awaiting: int = 0  # reports that may be this agency's, waiting for a coordinator to confirm whose they are

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
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def json_list(value: object) -> list:
    """A JSON list column: text from SQLite (nearly always '[]', decoded only when not), a list from psycopg."""
    if isinstance(value, (str, bytes)):
        return json.loads(value) if value not in ("[]", "null", b"[]", b"null") else []
    return list(value or [])  # type: ignore[call-overload]


def _flag(value: object) -> bool | None:
    return None if value is None else bool(value)


def season_rows(fetch: Fetch, roster: Roster, year: int) -> list[StatusRow]:
    found = {row[0]: row for row in fetch(SUBMISSIONS_SQL, {"year": year})}
    awaiting = {slug: int(n) for slug, n in fetch(AWAITING_SQL, {"year": year})}
    rows = []
    for agency in roster.owing(year):
        row = found.get(agency.slug)
        if row is None or row[1] == MISSING:
            rows.append(StatusRow(agency=agency.slug, name=agency.name, kind=agency.kind, state=MISSING,
                                  received_at=None, on_time=None, versions=0, outline_missing=[], review_reasons=[],
                                  awaiting=awaiting.get(agency.slug, 0)))
            continue
        _, state, received, on_time, missing, reasons, versions, sender_auth = row
        rows.append(StatusRow(
            agency=agency.slug, name=agency.name, kind=agency.kind, state=state, received_at=utc(received),
            on_time=_flag(on_time), versions=int(versions), outline_missing=json_list(missing),
            review_reasons=json_list(reasons),
            sender_note=UNVERIFIED_LABEL if versions and sender_auth != PASS else None,
        ))
    return rows


def review_count(fetch: Fetch, year: int) -> int:
    """How many things wait for a coordinator's decision for ``year`` (REVIEW_SQL): one number everywhere."""
    return int(next(iter(fetch(REVIEW_SQL, {"year": year})))[0] or 0)


def shown_state(row: StatusRow) -> str:
    """The state as a coordinator reads it: an agency whose report may be waiting is not "nothing received"."""
    return "awaiting" if row.state == MISSING and row.awaiting else row.state


def unsent_rows(fetch: Fetch) -> dict[str, int]:
    """What `status` shows of the outbox: what waits or went wrong, not the all-time total."""
    counts = dict.fromkeys(UNSENT, 0)
    for state, count in fetch(UNSENT_SQL, {}):
        counts[state] = int(count)
    return counts


def job_rows(fetch: Fetch) -> list[JobRunRow]:
    return [JobRunRow(name=name, last_run_at=utc(at), ok=bool(ok), result=result or "")
            for name, at, ok, result in fetch(JOBS_SQL, {})]
