"""Strangers' files that spend their whole budget are read beside the daemon's cycles, not in front of a report.

Issue 21 §5: small CPU-bomb mails from strangers must not hold a known agency's
report. The cycle already records a stranger's mail at once and defers the
reading of its files (workflow/runtime/intake_cycle.py); this file proves the
rest, with the real daemon on a Maildir and the real document reader: a report
that arrives *while* those files are being read is read and acknowledged
before the strangers' reading ends — an order, not a timing, so a loaded
machine does not change the verdict. `run --once` still reads everything
before it exits.
"""
from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import wait_for, write_config
from tests.reliability import Running
from tests.security.test_budget import stranger_cpu_bomb
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon

STRANGERS = 6
BUDGET = 'message_seconds = 4\n'  # each stranger's reading ends at the budget: 3 waves of 2 threads, ≥ 12 s


def stranger_email(i: int) -> bytes:
    return stranger_cpu_bomb(i, files=6)


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}",
                        f"[limits]\n{BUDGET}[schedule]\noutbox_seconds = 1\n")


def _deferred(app: App) -> int:
    with app.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(models.Message)
                              .where(models.Message.reading_deferred.is_(True))) or 0


def _report_ack(app: App) -> models.OutboxEmail | None:
    with app.db.sessions() as session:
        return session.scalar(select(models.OutboxEmail).where(models.OutboxEmail.kind == "ack",
                                                               models.OutboxEmail.agency_slug == "tay-ninh"))


def test_a_report_arriving_while_strangers_files_are_read_is_acknowledged_first(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for i in range(STRANGERS):
        deliver(tmp_path / "mail", stranger_email(i))
    app = App.load(str(config))
    try:
        with Running(app, stop_timeout=120):
            # The first cycle records the strangers at once; their files wait to be read.
            assert wait_for(lambda: _deferred(app) == STRANGERS, 60), "the strangers were not recorded"
            deliver(tmp_path / "mail", mailfactory.report_email())
            assert wait_for(lambda: _report_ack(app) is not None, 120), "the report was never acknowledged"
            still_deferred = _deferred(app)
            # Read and acknowledged while strangers' files still waited to be read: it did not queue behind them.
            assert still_deferred > 0, "the report waited for every stranger's reading"
            assert wait_for(lambda: _deferred(app) == 0, 180), "the strangers' files were never read"
    finally:
        app.close()
    with app.db.sessions() as session:
        strangers = session.scalars(select(models.Message).where(models.Message.from_addr.like("khach.nguyen%"))).all()
        assert len(strangers) == STRANGERS and all(m.read_at is not None for m in strangers)
        # Each was really read, to its budget (the files' notes say where the reading stopped).
        assert all(any("ngân sách" in n for a in m.attachments for n in (a.notes or [])) for m in strangers)


def test_run_once_still_reads_the_deferred_files_before_it_exits(tmp_path: Path) -> None:
    config = _config(tmp_path)
    deliver(tmp_path / "mail", stranger_email(0))
    app = App.load(str(config))
    try:
        started = time.monotonic()
        result = Daemon(app).run_once()
        assert result.cycles[0].read_later == 1, result.cycles[0]
        assert _deferred(app) == 0 and time.monotonic() - started < 120
    finally:
        app.close()
