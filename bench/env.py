"""Private servers and configurations for one benchmark run.

The benchmark reuses the test suite's throwaway servers (Dovecot, aiosmtpd,
PostgreSQL) so it measures the bot against the same real software the
integration tests trust, on loopback only, inside one temporary folder that
is removed at the end.
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

PASSWORD_ENV = "TDC_BENCH_IMAP_PW"
DOVECOT_BINARY = "/usr/sbin/dovecot"

@dataclass
class BenchEnv:
    root: Path
    dovecot: DovecotServer
    smtp: SmtpServer
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_user(self, label: str) -> str:
        """A fresh mailbox (Dovecot's static passdb accepts any user with the session password)."""
        return f"{label}{next(self._counter)}"

    def user_maildir(self, user: str) -> Path:
        return self.dovecot.maildir / user

    def workdir(self, name: str) -> Path:
        path = self.root / "work" / name
        path.mkdir(parents=True)
        return path

    def config(self, workdir: Path, user: str, *, db_url: str | None = None, processed_folder: str | None = "Processed",
               extra: str = "", mailbox_extra: str = "", lease_seconds: float = 30) -> Path:
        """A tdc.toml like the end-to-end tests', against this run's servers."""
        server = self.dovecot
        folder_line = f'processed_folder = "{processed_folder}"' if processed_folder else 'processed_folder = ""'
        text = "\n".join([
            f'[database]\nurl = "{db_url or f"sqlite:///{workdir}/tdc.db"}"',
            f'[storage]\npath = "{workdir}/store"',
            f'[mailbox]\nsource = "imap"\nhost = "127.0.0.1"\nport = {server.ssl_port}\nsecurity = "ssl"\n'
            f'ca_file = "{server.cert_path}"\nusername = "{user}"\npassword_env = "{PASSWORD_ENV}"\n'
            f'poll_seconds = 60\ntimeout = 30\n{folder_line}\n{mailbox_extra}',
            f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {self.smtp.port}\nsecurity = "none"\n'
            f'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\nbackoff_seconds = 1\nmax_attempts = 50\n'
            f'max_per_recipient_per_day = 100000',
            f'[schedule]\noutbox_seconds = 1\nlease_seconds = {lease_seconds}',
            '[reminders]\nenabled = false',  # only acknowledgements are measured
        ]) + "\n" + extra
        path = workdir / "tdc.toml"
        path.write_text(text, encoding="utf-8")
        return path


def stop_idle_daemon(env: BenchEnv, user: str, daemon, thread: threading.Thread) -> None:  # type: ignore[no-untyped-def]
    """Stop a daemon idling in IMAP IDLE: set its stop event, then wake it with one small message.

    Without signals (it runs in a thread) it would otherwise sleep out the
    poll interval (60 s) before seeing the event.
    """
    daemon.stop_event.set()
    if thread.is_alive():
        with env.dovecot.client(user) as client:
            client.append("INBOX", b"From: bench@bench.test\r\nSubject: stop\r\n\r\nstop\r\n")
    thread.join(timeout=90)


@contextmanager
def bench_env() -> Iterator[BenchEnv]:
    root = Path(tempfile.mkdtemp(prefix="tdc-bench-"))
    os.chmod(root, 0o755)
    dovecot = DovecotServer(_dovecot_root(root), DOVECOT_BINARY)
    smtp = SmtpServer()
    os.environ[PASSWORD_ENV] = dovecot.password
    try:
        dovecot.start()
        smtp.start()
        yield BenchEnv(root, dovecot, smtp)
    finally:
        smtp.stop()
        dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)


def _dovecot_root(root: Path) -> Path:
    path = root / "dovecot"
    path.mkdir(mode=0o755)
    return path
