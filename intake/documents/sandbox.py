"""Reading a message's documents in a child process that has a budget and is killed when it is spent.

Why a child process: the readers run in libraries (pypdf, lxml, python-docx,
pdftoppm, tesseract) that cannot be interrupted from Python. One 8 KB PDF
page of text operators kept pypdf busy for 30 s; a 90 MB document.xml took
lxml to 1.6 GB; a 6000-point page rendered for OCR took 2.9 GB. Checking a
clock between pages cannot stop any of these. A child process can be
limited by the kernel (RLIMIT_AS for memory, RLIMIT_CPU for time, both
inherited by the converters it starts) and killed, with its whole process
group, when the message's wall time is spent.

How: a small pool of worker processes (``python -m intake.documents.sandbox``,
started fresh, so they inherit none of the daemon's threads or locks) is
reused from message to message, so a message pays for a pipe round trip, not
an interpreter start. The daemon starts its readers when it starts
(:func:`keep_warm`): a reader's start (its interpreter and the imports of
pypdf, python-docx, lxml) cost more CPU than reading a report, and paid
during the deadline burst it delayed every acknowledgement. A reader killed
for overrunning, or found dead, is replaced at once, so the pool stays warm.
A worker reads all of one message's documents, sending each result back as
soon as it has it; when the budget runs out the worker is killed with its
converters, what was read is kept, and every document not finished is
recorded as "đọc một phần" with the reason. Nothing is retried next cycle:
the message is recorded like any other. Its CPU limit is moved forward per
message (RLIMIT_CPU counts a process's whole life).

Mail without documents (plain text, HTML, unsupported formats) never
starts a child: see :func:`needs_child`.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from intake.documents.budget import DocLimits
from intake.model import DocumentText

log = logging.getLogger(__name__)

# Formats whose readers are heavy enough to need the budget (libraries, converters, archives).
HEAVY_FORMATS = frozenset({"docx", "pdf", "doc", "zip", "tnef", "image"})
_GRACE_SECONDS = 2.0  # the child's own clock stops it a little before the parent has to
_ENV_KEYS = ("PATH", "TDC_TESSERACT", "TDC_PDFTOPPM", "TDC_ANTIWORD", "TDC_SOFFICE", "TESSDATA_PREFIX")


@dataclass(frozen=True)
class Item:
    """One attachment to read: its bytes, or the path of its stored copy (cheaper to hand over)."""

    index: int
    filename: str
    content_type: str
    data: bytes | None = None
    path: str | None = None


@dataclass
class Outcome:
    """What the child sent back, per item index, and why it stopped early (None: it finished)."""

    documents: dict[int, list[DocumentText]] = field(default_factory=dict)
    stopped: str | None = None
    seconds: float = 0.0


def needs_child(kind: str) -> bool:
    return kind in HEAVY_FORMATS


def over_budget_note(limits: DocLimits) -> str:
    c = limits.containers
    return (f"đọc một phần: thư vượt ngân sách xử lý ({c.message_seconds:g} giây, "
            f"{c.message_memory_bytes // (1024 * 1024)} MB cho cả thư), phần còn lại không được đọc")


# ---- the worker (a child process) ---------------------------------------------------------------
def _apply_env(env: dict[str, str | None]) -> None:
    for key, value in env.items():  # the worker's environment is from its start, not from now
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _set_cpu_budget(seconds: float) -> None:
    """RLIMIT_CPU counts the process's whole life: allow this message's seconds on top of what is used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = int(used + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _serve(requests: Connection, replies: Connection) -> None:
    """Read one message's documents per request, sending each result as soon as it is ready."""
    from intake.documents import read_attachment

    while True:
        try:
            items, limits, env = requests.recv()
        except (EOFError, OSError):
            return
        _apply_env(env)
        _set_cpu_budget(limits.containers.message_seconds)
        deadline = time.monotonic() + max(0.5, limits.containers.message_seconds - _GRACE_SECONDS)
        for item in items:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                with open(item.path, "rb") if item.path else nullcontext(None) as fh:
                    data = fh.read() if fh is not None else item.data
                docs = read_attachment(item.filename, item.content_type, data or b"",
                                       replace(limits, max_seconds=min(limits.max_seconds, left)))
                del data
            except MemoryError:
                replies.send_bytes(json.dumps(["memory", item.index]).encode())
                return  # a fresh worker next time: this one's heap may stay fragmented
            replies.send_bytes(json.dumps(["done", item.index, [asdict(d) for d in docs]]).encode())
        replies.send_bytes(b'["end"]')


def worker_main(argv: list[str]) -> None:
    """Entry point of ``python -m intake.documents.sandbox REQ_FD REPLY_FD MEMORY_BYTES``."""
    request_fd, reply_fd, memory = int(argv[0]), int(argv[1]), int(argv[2])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))  # inherited by pdftoppm/tesseract/antiword
    logging.basicConfig(level=logging.WARNING)
    _serve(Connection(request_fd, writable=False), Connection(reply_fd, readable=False))


# ---- the parent ---------------------------------------------------------------------------------
@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    requests: Connection
    replies: Connection
    memory: int
    uses: int = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the worker and the converters it started
        except (ProcessLookupError, PermissionError, OSError):
            pass
        for conn in (self.requests, self.replies):
            try:
                conn.close()
            except OSError:
                pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass


class _Pool:
    """Idle workers kept for the next message; one is killed whenever its message overruns.

    ``warm`` workers (idle or busy) are kept started ahead of need once
    :meth:`keep_warm` asked for them: each one killed, retired or found dead is
    replaced at once, so the next message finds a reader whose start-up is done.
    """

    MAX_USES = 200  # a long-lived reader's heap only grows: start afresh now and then

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._busy = 0
        self._warm = 0
        self._warm_memory = 0
        self._lock = threading.Lock()
        atexit.register(self.close)

    def keep_warm(self, count: int, memory: int) -> None:
        with self._lock:
            self._warm, self._warm_memory = count, memory
            stale = [w for w in self._idle if w.memory != memory]  # started under another budget
            self._idle = [w for w in self._idle if w.memory == memory]
        for worker in stale:
            worker.kill()
        self._refill()

    def acquire(self, memory: int) -> _Worker:
        unusable: list[_Worker] = []
        with self._lock:
            worker = None
            while self._idle:
                candidate = self._idle.pop()
                if candidate.alive() and candidate.memory == memory:
                    worker = candidate
                    break
                unusable.append(candidate)
            self._busy += 1
        for dead in unusable:
            dead.kill()
        if unusable:
            self._refill()
        if worker is not None:
            return worker
        try:
            return _start(memory)
        except BaseException:
            with self._lock:
                self._busy -= 1
            raise

    def release(self, worker: _Worker) -> None:
        worker.uses += 1
        if worker.uses >= self.MAX_USES or not worker.alive():
            self.discard(worker)
            return
        with self._lock:
            self._busy -= 1
            self._idle.append(worker)

    def discard(self, worker: _Worker) -> None:
        """Kill a worker taken by :meth:`acquire` (its message overran, or it died) and start its replacement."""
        worker.kill()
        with self._lock:
            self._busy -= 1
        self._refill()

    def _refill(self) -> None:
        with self._lock:
            missing = self._warm - len(self._idle) - self._busy
            memory = self._warm_memory
        for _ in range(max(0, missing)):
            try:
                worker = _start(memory)
            except OSError as exc:  # the next message starts its own reader, as without a warm pool
                log.warning("could not start a document reader ahead of need: %s", exc)
                return
            with self._lock:
                self._idle.append(worker)

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._warm = self._idle, [], 0
        for worker in idle:
            worker.kill()


def _start(memory: int) -> _Worker:
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "intake.documents.sandbox", str(request_r), str(reply_w), str(memory)],
            pass_fds=(request_r, reply_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed as one with its converters
        )
    finally:
        os.close(request_r)
        os.close(reply_w)
    return _Worker(process, Connection(request_w, readable=False), Connection(reply_r, writable=False), memory)


_POOL = _Pool()


def keep_warm(count: int, memory_bytes: int) -> None:
    """Start ``count`` readers now, under ``memory_bytes`` each, and replace any that is killed or dies.

    Called by the daemon when it starts: the readers' start-up is then paid
    while the mailbox is quiet, not by the first reports of a burst. The
    budgets are unchanged: RLIMIT_AS from the start, RLIMIT_CPU and the wall
    clock per message, as for a reader started on demand.
    """
    _POOL.keep_warm(count, memory_bytes)


def _send_request(items: list[Item], limits: DocLimits) -> _Worker | None:
    """A worker holding this message's request, or None when none could take it.

    A worker that died while idle (its pipe is closed: OOM killer, an operator's
    kill) is replaced once; the message is not charged for a death it did not cause.
    """
    request = (items, limits, {key: os.environ.get(key) for key in _ENV_KEYS})
    for attempt in (1, 2):
        try:
            worker = _POOL.acquire(limits.containers.message_memory_bytes)
        except OSError as exc:
            log.warning("could not start the document reader: %s", exc)
            return None
        try:
            worker.requests.send(request)
            return worker
        except OSError as exc:
            _POOL.discard(worker)
            if attempt == 2:
                log.warning("could not hand the documents to a reader: %s", exc)
    return None


def _document(data: dict[str, Any]) -> DocumentText:
    return DocumentText(
        filename=str(data["filename"]), format=str(data["format"]), text=str(data.get("text") or ""),
        headings=[(int(level), str(text)) for level, text in data.get("headings") or []],
        tables=[[[str(c) for c in row] for row in table] for table in data.get("tables") or []],
        notes=[str(n) for n in data.get("notes") or []],
        needs_review=str(data["needs_review"]) if data.get("needs_review") else None,
    )


def read_in_child(items: list[Item], limits: DocLimits) -> Outcome:
    """Read ``items`` in one budgeted worker; never raises for what the documents do."""
    outcome = Outcome()
    if not items:
        return outcome
    started = time.monotonic()
    deadline = started + limits.containers.message_seconds
    worker = _send_request(items, limits)
    if worker is None:
        outcome.stopped = "died"
        return outcome
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not worker.replies.poll(left):
                outcome.stopped = "time"
                break
            try:  # JSON, not pickle: what comes back was shaped by hostile input
                message = json.loads(worker.replies.recv_bytes())
            except (EOFError, OSError):
                outcome.stopped = "died"  # RLIMIT_AS/CPU: the kernel or the allocator ended it
                break
            except Exception as exc:  # noqa: BLE001 - a result that cannot be read is a lost document
                log.warning("document reader sent an unreadable result: %s", exc)
                outcome.stopped = "died"
                break
            if message[0] == "end":
                break
            if message[0] == "memory":
                outcome.stopped = "memory"
                break
            outcome.documents[int(message[1])] = [_document(d) for d in message[2]]
    finally:
        if outcome.stopped is None:
            _POOL.release(worker)
        else:
            _POOL.discard(worker)
        outcome.seconds = time.monotonic() - started
    if outcome.stopped:
        log.warning("document reading stopped (%s) after %.1f s; %d of %d documents read",
                    outcome.stopped, outcome.seconds, len(outcome.documents), len(items))
    return outcome


def read_all(entries: list[tuple[str, str, bytes, str | None]], limits: DocLimits) -> list[list[DocumentText]]:
    """Documents of each (filename, content type, bytes, stored path) entry, in order, within the budget.

    Cheap formats are read here; documents, archives and images in one child
    for the whole message (see the module docstring).
    """
    from intake.documents import read_attachment, sniff_format

    kinds = [sniff_format(name, ctype, data) for name, ctype, data, _ in entries]
    results: list[list[DocumentText]] = [[] for _ in entries]
    heavy: list[Item] = []
    for index, ((name, ctype, data, path), kind) in enumerate(zip(entries, kinds, strict=True)):
        if needs_child(kind):
            readable_path = path if path and os.path.isfile(path) else None
            heavy.append(Item(index, name, ctype, None if readable_path else data, readable_path))
        else:
            results[index] = read_attachment(name, ctype, data, limits)
    if heavy:
        outcome = read_in_child(heavy, limits)
        for item in heavy:
            if item.index in outcome.documents:
                results[item.index] = outcome.documents[item.index]
            else:
                results[item.index] = [DocumentText(
                    filename=item.filename, format=kinds[item.index], notes=[over_budget_note(limits)],
                    needs_review="Đọc một phần: thư vượt ngân sách xử lý, tệp này cần người đọc")]
    return results


if __name__ == "__main__":
    worker_main(sys.argv[1:])
