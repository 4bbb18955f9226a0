"""What every figure shares: the result record, the child-process runner, mailbox counts."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TDC_BOT = Path(sys.executable).parent / "tdc-bot"


@dataclass
class Figure:
    """One measured figure and its goal; ``met`` compares with ``op`` (<= by default)."""

    name: str
    value: float | None
    goal: float
    unit: str
    how: str
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def met(self) -> bool:
        return self.error is None and self.value is not None and self.value <= self.goal

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["met"] = self.met
        return data


@dataclass
class ChildRun:
    seconds: float
    max_rss_mb: float
    returncode: int
    output: str
    cpu_seconds: float = 0.0  # user + system of the child: what it cost, whatever else loads the machine


def run_bot_once(config: Path, *, kill_when=None, poll: float = 0.05) -> ChildRun:
    """Run ``tdc-bot run --once`` as a child; its own peak RSS comes from wait4's rusage.

    ``kill_when`` (a no-argument predicate) is polled while the child runs;
    when it turns true the child gets SIGKILL, as a power cut would.
    """
    cmd = [str(TDC_BOT), "run", "--once", "--config", str(config), "--log-level", "warning"]
    log = config.parent / f"run-{time.monotonic_ns()}.log"
    started = time.perf_counter()
    with open(log, "wb") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=config.parent)
        while True:  # wait4 (not Popen.poll) so the child's own rusage is what we collect
            pid, status, usage = os.wait4(child.pid, os.WNOHANG if kill_when is not None else 0)
            if pid:
                break
            if kill_when():
                child.kill()
                kill_when = None
            else:
                time.sleep(poll)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return ChildRun(seconds, usage.ru_maxrss / 1024, child.returncode, log.read_text(errors="replace")[-4000:],
                    usage.ru_utime + usage.ru_stime)


def sqlite_count(db: Path, sql: str) -> int:
    """Read-only count on the bot's SQLite file while it may be writing (WAL allows it)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0


def folder_count(server, user: str, folder: str) -> int:
    with server.client(user) as client:
        if not client.folder_exists(folder):
            return 0
        info = client.select_folder(folder, readonly=True)
        return int(info[b"EXISTS"])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
