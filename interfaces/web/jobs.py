"""The national report compiled on request, in a background thread, with progress.

Compiling reads every agency's current report (.docx/.pdf), which takes
seconds to minutes: the request only starts ``workflow.reports.compile`` in a thread
and the page refreshes itself (a meta refresh, no script) until the .docx is
ready. One job per year at a time; the finished file stays for download
until the next compilation of that year replaces it.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow.app import App

log = logging.getLogger(__name__)


@dataclass
class CompileJob:
    year: int
    requested_by: str
    started_at: datetime
    done: int = 0
    total: int = 0
    current: str = ""
    finished_at: datetime | None = None
    path: Path | None = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.finished_at is None

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


class CompileJobs:
    def __init__(self, app: App, clock: Callable[[], datetime]) -> None:
        self.app = app
        self.clock = clock
        self._jobs: dict[int, CompileJob] = {}
        self._lock = threading.Lock()

    def get(self, year: int) -> CompileJob | None:
        with self._lock:
            return self._jobs.get(year)

    def start(self, year: int, actor: str) -> CompileJob:
        """Start compiling ``year`` unless a compilation of it is already running."""
        with self._lock:
            job = self._jobs.get(year)
            if job is not None and job.running:
                return job
            job = CompileJob(year=year, requested_by=actor, started_at=self.clock())
            job.thread = threading.Thread(target=self._run, args=(job,), name=f"compile-{year}", daemon=True)
            self._jobs[year] = job
        job.thread.start()
        return job

    def _run(self, job: CompileJob) -> None:
        from workflow.reports.compile import compile_for_app
        from workflow.reports.compile_docx import compiled_report_docx

        def progress(done: int, total: int, name: str) -> None:
            job.done, job.total, job.current = done, total, name

        try:
            report = compile_for_app(self.app, job.year, progress=progress, now=self.clock())
            out = self.app.store_root / "generated" / f"bao-cao-tong-hop-{job.year}.docx"
            job.path = compiled_report_docx(report, out, tz=self.app.tz)
        except Exception as exc:  # shown on the page; the board itself keeps serving
            log.exception("compile %s failed", job.year)
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = self.clock()
