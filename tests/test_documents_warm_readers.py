"""Document readers started ahead of need (intake.documents.sandbox.keep_warm) keep every budget and stay started.

Issue #23, the deadline burst: a reader started by the first report of a burst
spent more CPU on its own start-up than on reading the report, so the daemon
starts its readers when it starts. These tests use the real worker processes:
a warm reader is started before any message, still stops at the message's
budget, is replaced when it is killed for overrunning, and a reader that died
while idle does not cost the next message its documents.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator

import pytest

from intake.documents import sandbox
from intake.documents.budget import DocLimits
from intake.limits import Limits
from tests import mailfactory
from tests.cli_helpers import wait_for
from tests.security.test_budget import slow_pdf

MEMORY = 512 * 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[sandbox._Pool]:
    """A pool of this test's own (the module's pool serves the whole process)."""
    fresh = sandbox._Pool()
    monkeypatch.setattr(sandbox, "_POOL", fresh)
    try:
        yield fresh
    finally:
        fresh.close()


def _limits(seconds: float = 60) -> DocLimits:
    return DocLimits(containers=dataclasses.replace(Limits(), message_seconds=seconds, message_memory_bytes=MEMORY))


def _idle_pids(pool: sandbox._Pool) -> set[int]:
    return {w.process.pid for w in pool._idle if w.alive()}


def _has_loaded(pid: int, library: str) -> bool:
    """The worker has mapped ``library`` (a shared object its imports load): its start-up is done."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            return library in maps.read()
    except OSError:
        return False


def _read_report(limits: DocLimits) -> list:
    data = mailfactory.report_docx()
    return sandbox.read_all([("Báo cáo 2024.docx", DOCX, data, None)], limits)[0]


def test_warm_readers_are_started_before_any_message_and_read_the_next_one(pool: sandbox._Pool) -> None:
    sandbox.keep_warm(2, MEMORY)
    started = _idle_pids(pool)
    assert len(started) == 2
    # Their imports (lxml for python-docx) happen before any document is asked for.
    assert wait_for(lambda: all(_has_loaded(pid, "lxml") for pid in started), 60), "readers never finished starting"
    docs = _read_report(_limits())
    assert docs and "Tây Ninh" in docs[0].text and not docs[0].notes
    assert _idle_pids(pool) == started, "the message started a reader of its own instead of using a warm one"


def test_a_warm_reader_still_stops_at_the_message_budget_and_is_replaced(pool: sandbox._Pool) -> None:
    sandbox.keep_warm(1, MEMORY)
    (worker,) = pool._idle
    first = worker.process.pid
    assert wait_for(lambda: _has_loaded(first, "lxml"), 60)
    started = time.monotonic()
    docs = sandbox.read_all([("Báo cáo.pdf", "application/pdf", slow_pdf(400_000), None)], _limits(seconds=2))[0]
    elapsed = time.monotonic() - started
    assert any("vượt ngân sách" in n for n in docs[0].notes), docs
    assert elapsed < 10, f"the warm reader ran {elapsed:.1f} s on a 2 s budget"
    assert worker.process.poll() is not None, "the overrunning reader lives on"
    # Replaced at once: the next message finds a started reader, not the cost of starting one.
    replacements = _idle_pids(pool)
    assert len(replacements) == 1 and first not in replacements
    assert _read_report(_limits())[0].text


def test_a_reader_that_died_while_idle_does_not_cost_the_next_message_its_documents(
        pool: sandbox._Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.keep_warm(1, MEMORY)
    (worker,) = pool._idle
    os.killpg(worker.process.pid, signal.SIGKILL)  # the OOM killer, an operator's kill
    worker.process.wait(10)
    # The race this covers: it dies after the pool checked it was alive, before the message reached it.
    monkeypatch.setattr(worker, "alive", lambda: True)
    docs = _read_report(_limits())
    assert docs and "Tây Ninh" in docs[0].text and not docs[0].notes, docs
    assert worker not in pool._idle and len(_idle_pids(pool)) == 1


def test_without_keep_warm_no_reader_is_started_ahead(pool: sandbox._Pool) -> None:
    """`run --once` and the commands that read a document start readers only when a document needs one."""
    assert _idle_pids(pool) == set()
    assert _read_report(_limits())[0].text
    assert len(_idle_pids(pool)) == 1
