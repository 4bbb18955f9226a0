"""Lookups that must not grow with the archive have their index (issue #23, migrations 0015 and 0016).

``tdc-bot status``, the board and the digest count the reports not placed in a
submission (``status_query.AWAITING_SQL``, ``REVIEW_SQL``). With only
``ix_messages_status`` (nearly every row is 'recorded') SQLite walked the whole
archive for them, so status slowed as the seasons piled up. These tests ask each
database's own planner which index it takes, on an archive shaped like the
benchmark's (placed reports of several years, a few unplaced ones), and check
that the migrations go down and up again. A re-delivered message looks up its
own audit line by message (``submissions._record_duplicate_delivery``): without
``ix_audit_log_message_id`` that read the whole audit log per re-delivery.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import insert, inspect, text

from workflow.db import models
from workflow.db.engine import Database, alembic_config, make_engine
from workflow.season.status_query import AWAITING_SQL, REVIEW_SQL
from workflow.season.submissions import _delivery_statements

INDEX = "ix_messages_unplaced_reports"
AUDIT_INDEX = "ix_audit_log_message_id"


def _fill(db: Database) -> None:
    """Three years × 40 agencies × 5 placed reports, 3 unplaced reports of 2024 (one dismissed), and ordinary
    mail, which is most of a real archive: no submission, no year, as the recorder leaves it."""
    at = datetime(2024, 11, 1, tzinfo=UTC)
    subs, msgs = [], []
    for year in (2023, 2024, 2025):
        for a in range(40):
            subs.append({"id": len(subs) + 1, "agency_slug": f"dv-{a}", "year": year, "state": "acknowledged"})
            for _ in range(5):
                msgs.append({"submission_id": len(subs), "agency_slug": f"dv-{a}", "year": year})
    msgs += [{"submission_id": None, "agency_slug": "dv-1", "year": 2024},
             {"submission_id": None, "agency_slug": "dv-2", "year": 2024},
             {"submission_id": None, "agency_slug": "dv-2", "year": 2024, "dismissed_at": at}]
    msgs = [{"kind": "report", **m} for m in msgs]
    msgs += [{"kind": "other", "submission_id": None, "agency_slug": None, "year": None}] * 1500
    rows = [{"sha256": hashlib.sha256(str(i).encode()).hexdigest(), "source_key": f"k{i}", "mailbox": "INBOX",
             "raw_path": "", "size": 1, "arrived_at": at, "status": "recorded", **m}
            for i, m in enumerate(msgs)]
    with db.transaction() as session:
        session.execute(insert(models.Submission), subs)
        session.execute(insert(models.Message), rows)


def _plan(db: Database, sql: str) -> str:
    """The planner's choice for ``sql`` at year 2024, after the statistics are gathered."""
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        if db.engine.dialect.name == "sqlite":
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql), {"year": 2024})
            return "\n".join(str(row[-1]) for row in rows)
        return "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + sql), {"year": 2024}))


def test_the_awaiting_and_review_counts_use_the_unplaced_reports_index(db_url):
    db = Database(db_url)
    try:
        _fill(db)
        awaiting = _plan(db, AWAITING_SQL)
        assert INDEX in awaiting and "ix_messages_status" not in awaiting, awaiting
        review = _plan(db, REVIEW_SQL)
        assert INDEX in review, review
        with db.engine.connect() as conn:  # and the answers are the same as without it
            assert conn.execute(text(AWAITING_SQL), {"year": 2024}).all() == [("dv-1", 1), ("dv-2", 1)]
            assert conn.execute(text(REVIEW_SQL), {"year": 2024}).scalar() == 2
    finally:
        db.dispose()


def test_a_redelivery_finds_its_audit_line_through_the_message_index(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    try:
        find, _ = _delivery_statements()
        sql = str(find.params(id=1, note="x").compile(db.engine, compile_kwargs={"literal_binds": True}))
        with db.engine.connect() as conn:
            plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        assert AUDIT_INDEX in plan and "SCAN audit_log" not in plan, plan
    finally:
        db.dispose()


def test_the_index_migrations_go_down_and_up(db_url):
    Database(db_url).dispose()  # migrated to the head
    engine = make_engine(db_url)
    try:
        def indexes(table: str) -> set[str]:
            return {ix["name"] for ix in inspect(engine).get_indexes(table) if ix["name"]}

        assert INDEX in indexes("messages") and AUDIT_INDEX in indexes("audit_log")
        command.downgrade(alembic_config(engine), "0015")
        assert INDEX in indexes("messages") and AUDIT_INDEX not in indexes("audit_log")
        command.downgrade(alembic_config(engine), "0014")
        assert INDEX not in indexes("messages") and "ix_messages_status" in indexes("messages")
        command.upgrade(alembic_config(engine), "head")
        assert INDEX in indexes("messages") and AUDIT_INDEX in indexes("audit_log")
    finally:
        engine.dispose()
