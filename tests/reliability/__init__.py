"""Reliability suites: crashes, outages, bad input, fuzzing and mail loops.

The helpers here are shared by those suites (and the security tests): one
place that writes a daemon config for the real servers, loads many messages
into a mailbox quickly, and reads the database the way a coordinator would.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from intake.sources.maildir import deliver
from tests.cli_helpers import TDC_BOT
from tests.mailfactory import with_headers
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon

ARRIVED = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)
IMAP_PW_ENV = "TDC_TEST_IMAP_PW"
SMTP_PW_ENV = "TDC_TEST_SMTP_PW"


def write_config(tmp_path: Path, *, db_url: str, smtp=None, dovecot=None, maildir: Path | None = None,  # type: ignore[no-untyped-def]
                 name: str = "tdc", mailbox_extra: str = "", smtp_extra: str = "", extra: str = "",
                 poll_seconds: float = 1, lease_seconds: float = 5, ca_file: bool = True) -> Path:
    """A daemon config for the real test servers (IMAP or Maildir in, SMTP or file out)."""
    root = tmp_path / name
    root.mkdir(parents=True, exist_ok=True)
    lines = [f'[database]\nurl = "{db_url}"', f'[storage]\npath = "{root / "store"}"']
    if dovecot is not None:
        server = dovecot.server
        ca = f'ca_file = "{server.cert_path}"\n' if ca_file else ""
        lines.append(
            f'[mailbox]\nsource = "imap"\nhost = "127.0.0.1"\nport = {server.ssl_port}\nsecurity = "ssl"\n{ca}'
            f'username = "{dovecot.user}"\npassword_env = "{IMAP_PW_ENV}"\npoll_seconds = {poll_seconds}\n'
            f'timeout = 10\n{mailbox_extra}'
        )
    else:
        folder = maildir or root / "mail"
        lines.append(f'[mailbox]\nsource = "maildir"\nmaildir = "{folder}"\npoll_seconds = '
                     f'{poll_seconds}\n{mailbox_extra}')
    if smtp is not None:
        lines.append(
            f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
            f'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\nbackoff_seconds = 1\nmax_attempts = 50\n'
            f'{smtp_extra}'
        )
    else:
        lines.append(
            f'[smtp]\ntransport = "file"\noutbox_dir = "{root / "outbox"}"\n'
            f'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\n{smtp_extra}'
        )
    lines.append(f"[schedule]\noutbox_seconds = 1\nlease_seconds = {lease_seconds}")
    lines.append("[reminders]\nenabled = false")  # wall-clock daemon: no real-season reminders in these tests
    path = root / "tdc.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def tagged(raw: bytes, seq: int) -> bytes:
    """Prefix a header that makes every message's bytes (and so its SHA-256) unique."""
    return with_headers(raw, f"X-Test-Seq: {seq}")


def append_many(dovecot, raws: Iterable[bytes], start: datetime = ARRIVED, folder: str = "INBOX",  # type: ignore[no-untyped-def]
                chunk: int = 50) -> int:
    """APPEND many messages quickly (MULTIAPPEND in chunks), one minute apart in INTERNALDATE."""
    raws = list(raws)
    with dovecot.client() as c:
        if not c.folder_exists(folder):
            c.create_folder(folder)
        for begin in range(0, len(raws), chunk):
            part = raws[begin:begin + chunk]
            c.multiappend(folder, [
                {"msg": raw, "date": start + timedelta(minutes=begin + i)} for i, raw in enumerate(part)
            ])
    return len(raws)


def read_mail(config: Path, *raws: bytes, when: datetime = ARRIVED,
              clock: Callable[[], datetime] | None = None) -> None:
    """Deliver ``raws`` to the config's Maildir, arrived ``when``, and let the daemon read them once, in process."""
    app = App.load(str(config))
    try:
        for raw in raws:
            deliver(config.parent / "mail", raw, when=when)
        Daemon(app, clock=clock).run_once()
    finally:
        app.close()


def rows(config: Path, model, *where):  # type: ignore[no-untyped-def]
    """The ``model`` rows the config's database holds (matching ``where``), in id order, detached from it."""
    app = App.load(str(config))
    try:
        with app.db.sessions() as session:
            found = list(session.scalars(select(model).where(*where).order_by(model.id)))
            session.expunge_all()
            return found
    finally:
        app.close()


def engine_for(url: str) -> Engine:
    return create_engine(url)


def count(engine: Engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def outbox_busy(engine: Engine) -> int:
    """Rows the outbox still has to work on (pending or claimed)."""
    return count(engine, models.OutboxEmail, models.OutboxEmail.state.in_((models.PENDING, models.SENDING)))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.3,
               describe: Callable[[], str] | None = None) -> None:
    """Poll until true; on timeout say what was seen last, so a failure explains itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001, S110 - a server being restarted answers nothing for a moment
            pass
        time.sleep(every)
    seen = ""
    if describe is not None:
        try:
            seen = f"; last seen: {describe()}"
        except Exception as exc:  # noqa: BLE001
            seen = f"; could not describe the state: {exc!r}"
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{seen}")


class DaemonProcess:
    """`tdc-bot run` as a real process, in its own session so kill -9 takes all of it."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.log_path = log_path
        self.env = {**{k: v for k, v in os.environ.items() if k != "TDC_CONFIG"}, **(env or {})}
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [TDC_BOT, "run", "--config", str(self.config), *self.args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )
        log.close()
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"daemon did not stop within {timeout}s of SIGTERM") from None

    def log_count(self, text: str) -> int:
        """How often a line containing ``text`` was logged, over every run so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").count(text)
        except FileNotFoundError:
            return 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_dead(self) -> None:
        if self.alive():
            self.kill9()


class Running:
    """`Daemon.run_forever` in a thread, stopped (and checked stopped within ``stop_timeout`` s) at the end."""

    def __init__(self, app: App, stop_timeout: float = 90) -> None:
        self.daemon = Daemon(app)
        self.thread = threading.Thread(target=self.daemon.run_forever, kwargs={"install_signals": False}, daemon=True)
        self.stop_timeout = stop_timeout

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop_event.set()
        self.thread.join(timeout=self.stop_timeout)
        assert not self.thread.is_alive(), "daemon did not stop"
