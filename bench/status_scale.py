"""Status at scale: `tdc-bot status` must cost the same after ten seasons as on day one.

The database is filled directly (SQLAlchemy bulk inserts) with 10 years ×
100 agencies × 10 messages, each agency-year a submission with its outbox
ack, then the work the `status` command does (season_status, outbox
counts, job runs) is timed in-process against the same on an empty database.
"""
from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bench.measure import Figure, LoadSampler, median

YEARS = list(range(2021, 2031))


def _status_work(app, year: int) -> int:
    from workflow.db import models
    from workflow.season.status import season_status, unsent_counts

    with app.db.sessions() as session:
        rows = season_status(session, app.roster, year)
        unsent_counts(session)
        list(session.scalars(select(models.JobRun).order_by(models.JobRun.name)))
    return len(rows)


def _fill(app, agencies: int, per_agency: int) -> int:
    from workflow.db import models

    base = datetime(2021, 11, 1, tzinfo=UTC)
    submissions, messages, outbox = [], [], []
    sub_id = msg_id = 0
    for year in YEARS:
        slugs = [a.slug for a in app.roster_base.owing(min(year, 2030))]
        slugs += [f"don-vi-khac-{i}" for i in range(agencies - len(slugs))]
        for slug in slugs[:agencies]:
            sub_id += 1
            submissions.append({"id": sub_id, "agency_slug": slug, "year": year, "state": "acknowledged",
                                "first_received_at": base, "last_received_at": base, "on_time": True})
            for k in range(per_agency):
                msg_id += 1
                at = base.replace(year=year) + timedelta(minutes=k)
                messages.append({
                    "id": msg_id, "sha256": hashlib.sha256(str(msg_id).encode()).hexdigest(),
                    "source_key": f"imap:INBOX:1:{msg_id}", "mailbox": "imap://bench@127.0.0.1/INBOX",
                    "uidvalidity": 1, "uid": msg_id, "raw_path": "", "size": 50_000, "from_addr": f"{slug}@gov.vn",
                    "arrived_at": at, "status": "recorded", "kind": "report", "agency_slug": slug, "year": year,
                    "submission_id": sub_id, "marked_done": True,
                })
                outbox.append({"dedupe_key": f"ack:{msg_id}", "kind": "ack", "recipients": [f"{slug}@gov.vn"],
                               "subject": "Đã nhận báo cáo", "body_text": "Đã nhận.", "state": "sent",
                               "message_id_header": f"<ack-{msg_id}@bench.test>", "agency_slug": slug, "year": year,
                               "related_message_id": msg_id, "next_attempt_at": at, "sent_at": at})
    with app.db.transaction() as session:
        session.execute(insert(models.Submission), submissions)
        for table, rows in ((models.Message, messages), (models.OutboxEmail, outbox)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(table), rows[start:start + 5000])
    return len(messages)


def _app(url: str, workdir: Path):
    from workflow.app import App

    config = workdir / "status.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[storage]\npath = "{workdir}/store"\n'
                      f'[mailbox]\nsource = "maildir"\nmaildir = "{workdir}/mail"\n', encoding="utf-8")
    return App.load(str(config))


def _timed_pair(empty, full, rounds: int) -> tuple[float, float]:
    """Median of each side, the two taken in turn: on a shared machine the load moves within seconds, and
    timing all of one side then all of the other gave the later side whatever the machine did meanwhile
    (1.3 to 2.9 in three runs of the same code, issue #23)."""
    for app in (empty, full):
        _status_work(app, 2024)  # warm the connection pool and statement cache
    samples: dict[int, list[float]] = {id(empty): [], id(full): []}
    for _ in range(rounds):
        for app in (empty, full):
            started = time.perf_counter()
            _status_work(app, 2024)
            samples[id(app)].append(time.perf_counter() - started)
    return median(samples[id(empty)]), median(samples[id(full)])


def status_ratio(backend: str, empty_url: str, full_url: str, workdir: Path, *, agencies: int = 100,
                 per_agency: int = 10, rounds: int = 50) -> Figure:
    empty = _app(empty_url, workdir / "empty")
    full = _app(full_url, workdir / "full")
    try:
        inserted = _fill(full, agencies, per_agency)
        with LoadSampler() as load:
            empty_s, full_s = _timed_pair(empty, full, rounds)
    finally:
        empty.close()
        full.close()
    return Figure(f"status_{backend}", round(full_s / empty_s, 3), 2.0, "× (full ÷ empty)",
                  f"in-process work of `tdc-bot status --year 2024` ({backend}): {len(YEARS)} years × {agencies} "
                  "agencies "
                  f"× {per_agency} messages vs an empty database, median of {rounds} taken in turn",
                  {"messages": inserted, "full_ms": round(full_s * 1000, 2), "empty_ms": round(empty_s * 1000, 2),
                   "loadavg_1min_span": load.span()})
