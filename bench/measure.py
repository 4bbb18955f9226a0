"""What every figure shares: the result record, the child-process runner, mailbox counts."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TDC_BOT = Path(sys.executable).parent / "tdc-bot"


@dataclass
class Figure:
    """One measured figure and its goal; ``met`` when the value is at most the goal.

    An ``informational`` figure (a measurement to inform a decision) has no
    goal: it is met when it was measured.
    """

    name: str
    value: float | None
    goal: float
    unit: str
    how: str
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    informational: bool = False

    @property
    def met(self) -> bool:
        if self.error is not None or self.value is None:
            return False
        return self.informational or self.value <= self.goal

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


def installed_env(pycache: Path) -> dict[str, str]:
    """The environment of a child run as an installed ``tdc-bot`` runs: byte-code cached.

    This machine's shells set PYTHONDONTWRITEBYTECODE, so without this every
    child compiles the project's modules again (≈ 0.4 s of CPU per start),
    which pip-installed code never does. The cache goes to ``pycache``, not
    into the source tree.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TDC_CONFIG")}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_bot_once(config: Path, *, kill_when=None, poll: float = 0.05, env: dict[str, str] | None = None) -> ChildRun:
    """Run ``tdc-bot run --once`` as a child; its own peak RSS comes from wait4's rusage.

    ``kill_when`` (a no-argument predicate) is polled while the child runs;
    when it turns true the child gets SIGKILL, as a power cut would.
    """
    cmd = [str(TDC_BOT), "run", "--once", "--config", str(config), "--log-level", "warning"]
    log = config.parent / f"run-{time.monotonic_ns()}.log"
    started = time.perf_counter()
    with open(log, "wb") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=config.parent, env=env)
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


def run_child(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> ChildRun:
    """Any child process, waited for with wait4: its own CPU and peak RSS, whatever else loads the machine."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    output = child.stdout.read()  # small outputs only; a full pipe would block the child
    _, status, usage = os.wait4(child.pid, 0)
    child.stdout.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(time.perf_counter() - started, usage.ru_maxrss / 1024, child.returncode,
                    output.decode(errors="replace")[-4000:], usage.ru_utime + usage.ru_stime)


class LoadSampler:
    """The 1-minute load average sampled while a figure is measured: the machine is shared, so say how busy it was.

    Use as a context manager; ``span()`` gives (min, max) of the samples.
    """

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def span(self) -> list[float]:
        return [round(min(self.samples), 2), round(max(self.samples), 2)] if self.samples else []


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
