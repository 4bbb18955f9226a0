"""The daemon at the deadline (issue #23): readers started with it, acknowledgements sent as each batch commits.

The real daemon (`run_forever` in a thread) on a Maildir, the real document
readers and the file transport. What is proved is an order, not a timing, so a
loaded machine does not change the verdict: the first batch's acknowledgement
is written while the cycle is still reading the next batch, with the outbox
tick set to an hour; the readers exist before any mail arrives.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intake.documents import sandbox
from intake.sources.maildir import deliver
from notifier import render
from tests import mailfactory
from tests.cli_helpers import wait_for, write_config
from tests.reliability import Running
from workflow.app import App
from workflow.runtime import intake_cycle

FIRST = datetime(2024, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[sandbox._Pool]:
    fresh = sandbox._Pool()
    monkeypatch.setattr(sandbox, "_POOL", fresh)
    try:
        yield fresh
    finally:
        fresh.close()


def _config(tmp_path: Path) -> Path:
    """One message per batch, a poll of 1 s (the daemon stops quickly), an outbox tick that never comes in the test,
    and no daily job due now (the digest's catch-up run would flush the outbox too)."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}",
                          '[schedule]\noutbox_seconds = 3600\ndigest_time = "23:59"\n')
    text = config.read_text(encoding="utf-8").replace("[mailbox]\n", "[mailbox]\nbatch_size = 1\npoll_seconds = 1\n")
    config.write_text(text, encoding="utf-8")
    return config


def _acks(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "outbox").rglob("*.eml"))


def test_the_first_batch_is_acknowledged_while_the_cycle_reads_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: sandbox._Pool) -> None:
    config = _config(tmp_path)
    deliver(tmp_path / "mail", mailfactory.report_email(), when=FIRST)
    deliver(tmp_path / "mail", mailfactory.report_email(sender="vanphong@skhcn.cantho.gov.vn", province="Cần Thơ"),
            when=FIRST + timedelta(minutes=1))
    real_understand = intake_cycle.understand
    acks_when_second_was_read: list[int] = []

    def understand(raw, ctx, store, fingerprint=None):  # type: ignore[no-untyped-def]
        if b"cantho" in raw.raw:  # the second batch: is the first one's acknowledgement out already?
            wait_for(lambda: len(_acks(tmp_path)) >= 1, 30)
            acks_when_second_was_read.append(len(_acks(tmp_path)))
        return real_understand(raw, ctx, store, fingerprint)

    monkeypatch.setattr(intake_cycle, "understand", understand)
    app = App.load(str(config))
    try:
        with Running(app, stop_timeout=60):
            assert wait_for(lambda: len(_acks(tmp_path)) == 2, 120), "the two reports were not both acknowledged"
    finally:
        app.close()
    assert acks_when_second_was_read == [1], "the first report's acknowledgement waited for the whole cycle"
    to = sorted(next(line for line in p.read_text(encoding="utf-8").splitlines() if line.startswith("To:"))
                for p in _acks(tmp_path))
    assert to == ["To: vanphong@skhcn.cantho.gov.vn", "To: vanthu@skhcn.tayninh.gov.vn"]  # one each, none twice


def test_the_daemon_starts_its_document_readers_before_any_mail(tmp_path: Path, pool: sandbox._Pool) -> None:
    render._environment.cache_clear()  # nothing compiled by an earlier test in this process
    app = App.load(str(_config(tmp_path)))
    try:
        with Running(app, stop_timeout=60):
            wanted = intake_cycle.UNDERSTAND_THREADS
            assert wait_for(lambda: sum(w.alive() for w in pool._idle) == wanted, 30), \
                f"{len(pool._idle)} readers started, {wanted} wanted"
            memory = int(app.settings.limits.message_memory_mb * 1024 * 1024)
            assert all(w.memory == memory for w in pool._idle)  # the configured budget, as on demand
            # The acknowledgement's templates are compiled too, before the first report asks for them.
            ack = {"email/ack.subject.j2", "email/ack.txt.j2", "email/ack.html.j2"}
            assert wait_for(lambda: ack <= {key[1] for key in render._environment(render.TEMPLATES_DIR).cache}, 30)
    finally:
        app.close()
