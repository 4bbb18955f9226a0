"""The daemon's main job end to end, against the real Dovecot and SMTP servers.

A report appended to the mailbox is stored, recognised, recorded against its
agency and year, and acknowledged once to its sender; machine mail is
recorded and never answered; nothing is done twice; outages are survived.
"""
from __future__ import annotations

import email
import time
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import cli_json
from tests.reliability import Running
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon

ARRIVED = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)


def make_config(tmp_path: Path, *, source: str, smtp, dovecot=None, extra: str = "") -> Path:
    lines = [
        f'[database]\nurl = "sqlite:///{tmp_path}/tdc.db"',
        f'[storage]\npath = "{tmp_path}/store"',
    ]
    if source == "imap":
        server = dovecot.server
        lines.append(
            f'[mailbox]\nsource = "imap"\nhost = "127.0.0.1"\nport = {server.ssl_port}\nsecurity = "ssl"\n'
            f'ca_file = "{server.cert_path}"\nusername = "{dovecot.user}"\npassword_env = "TDC_TEST_IMAP_PW"\n'
            f'poll_seconds = 60\ntimeout = 10'
        )
    else:
        lines.append(f'[mailbox]\nsource = "maildir"\nmaildir = "{tmp_path}/mail"\npoll_seconds = 1')
    lines.append(
        f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
        f'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\nbackoff_seconds = 1\nmax_attempts = 50'
    )
    lines.append('[schedule]\noutbox_seconds = 1\nlease_seconds = 5')
    lines.append('[reminders]\nenabled = false')  # wall-clock daemon: no real-season reminders in these tests
    path = tmp_path / "tdc.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


class Mailbox:
    """Puts messages where the configured source reads them."""

    def __init__(self, source: str, tmp_path: Path, dovecot=None):
        self.source = source
        self.tmp_path = tmp_path
        self.dovecot = dovecot

    def put(self, raw: bytes, when: datetime = ARRIVED) -> None:
        if self.source == "imap":
            self.dovecot.append(raw, internaldate=when)
        else:
            deliver(self.tmp_path / "mail", raw, when=when)

    def processed_count(self) -> int:
        if self.source == "imap":
            return len(self.dovecot.folder_uids("Processed"))
        folder = self.tmp_path / "mail" / ".Processed" / "cur"
        return len(list(folder.iterdir())) if folder.exists() else 0


@pytest.fixture(params=["imap", "maildir"])
def setup(request, tmp_path, smtp_server, monkeypatch):
    source = request.param
    dovecot = request.getfixturevalue("dovecot") if source == "imap" else None
    if dovecot is not None:
        monkeypatch.setenv("TDC_TEST_IMAP_PW", dovecot.password)
    config = make_config(tmp_path, source=source, smtp=smtp_server, dovecot=dovecot)
    app = App.load(str(config))
    yield app, Mailbox(source, tmp_path, dovecot), smtp_server, config
    app.close()


def status_of(config: Path, year: int, slug: str) -> dict:
    rows = cli_json("status", "--year", str(year), config=config)
    return next(r for r in rows if r["agency"] == slug)


def test_report_is_recorded_and_acknowledged_once(setup):
    app, mailbox, smtp, config = setup
    mailbox.put(mailfactory.report_email())
    result = Daemon(app).run_once()
    assert result.fetched == 1
    [ack] = smtp.wait_for(1, timeout=10)
    assert ack.rcpt_tos == ["vanthu@skhcn.tayninh.gov.vn"]
    msg = email.message_from_bytes(ack.data, policy=policy.default)
    assert msg["Auto-Submitted"].startswith("auto-replied")
    assert "Tây Ninh" in msg["Subject"] and "2024" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert "Báo cáo NSCL năm 2024.docx" in body
    row = status_of(config, 2024, "tay-ninh")
    assert row["state"] == "acknowledged"
    assert row["received_at"].startswith("2024-11-20T03:00")
    assert row["on_time"] is True
    assert mailbox.processed_count() == 1

    # A second cycle sends nothing and records nothing.
    again = Daemon(app).run_once()
    assert again.fetched == 0 and again.sent == 0
    time.sleep(0.3)
    assert len(smtp.messages) == 1
    with app.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(models.Message)) == 1
        assert s.scalar(select(func.count()).select_from(models.OutboxEmail)) == 1


def test_machine_mail_is_recorded_and_never_answered(setup):
    app, mailbox, smtp, config = setup
    for raw in (mailfactory.auto_reply(), mailfactory.bounce(), mailfactory.newsletter()):
        mailbox.put(raw)
    result = Daemon(app).run_once()
    assert result.fetched == 3
    time.sleep(0.3)
    assert smtp.messages == []
    with app.db.sessions() as s:
        rows = list(s.scalars(select(models.Message).order_by(models.Message.id)))
        assert len(rows) == 3
        assert {r.status for r in rows} == {"ignored"}
        assert s.scalar(select(func.count()).select_from(models.OutboxEmail)) == 0
    assert mailbox.processed_count() == 3


def test_crash_between_commit_and_marking_leaves_no_duplicate(setup):
    app, mailbox, smtp, config = setup
    mailbox.put(mailfactory.report_email())
    daemon = Daemon(app)

    class Killed(BaseException):
        pass

    def die(_raw):
        raise Killed()

    daemon.cycle.source.mark_done = die  # the process "dies" right after the commit
    with pytest.raises(Killed):
        daemon.run_once()
    assert mailbox.processed_count() == 0
    with app.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(models.Message)) == 1

    # Restart: the message is marked, nothing is recorded or queued twice, the ack goes once.
    restarted = Daemon(App.load(str(config)))
    restarted.run_once()
    assert mailbox.processed_count() == 1
    smtp.wait_for(1, timeout=10)
    time.sleep(0.3)
    assert len(smtp.messages) == 1
    with app.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(models.Message)) == 1
        assert s.scalar(select(func.count()).select_from(models.OutboxEmail)) == 1
        assert s.scalar(select(models.Message.marked_done)) is True


def test_queued_acknowledgements_go_out_when_smtp_comes_back(setup):
    app, mailbox, smtp, config = setup
    smtp.stop()
    mailbox.put(mailfactory.report_email())
    mailbox.put(mailfactory.report_email(sender="vanphong@skhcn.cantho.gov.vn", province="Cần Thơ"))
    result = Daemon(app).run_once()
    assert result.fetched == 2 and result.sent == 0
    with app.db.sessions() as s:
        pending = list(s.scalars(select(models.OutboxEmail)))
        assert [p.state for p in pending] == ["pending", "pending"]
        # The first send met the closed port; the queue then holds, in order, rather than hammering.
        assert pending[0].attempts == 1 and "từ chối kết nối" in pending[0].last_error
        assert pending[1].attempts == 0
    smtp.start()
    time.sleep(1.1)  # backoff_seconds = 1
    Daemon(app).run_once()
    received = smtp.wait_for(2, timeout=10)
    assert sorted(r.rcpt_tos[0] for r in received) == ["vanphong@skhcn.cantho.gov.vn", "vanthu@skhcn.tayninh.gov.vn"]


@pytest.mark.imap
def test_idle_delivers_without_waiting_for_the_poll_interval(tmp_path, smtp_server, dovecot, monkeypatch):
    monkeypatch.setenv("TDC_TEST_IMAP_PW", dovecot.password)
    app = App.load(str(make_config(tmp_path, source="imap", smtp=smtp_server, dovecot=dovecot)))
    try:
        with Running(app):
            time.sleep(2.0)  # connected and idling; poll_seconds is 60
            started = time.monotonic()
            dovecot.append(mailfactory.report_email())
            smtp_server.wait_for(1, timeout=20)
            latency = time.monotonic() - started
            assert latency < 10, f"acknowledgement took {latency:.1f}s; IDLE should beat the 60 s poll"
    finally:
        app.close()


@pytest.mark.imap
def test_daemon_survives_a_dovecot_restart(tmp_path, smtp_server, dovecot, dovecot_server, monkeypatch):
    monkeypatch.setenv("TDC_TEST_IMAP_PW", dovecot.password)
    app = App.load(str(make_config(tmp_path, source="imap", smtp=smtp_server, dovecot=dovecot,
                                   extra="")))
    try:
        with Running(app) as running:
            dovecot.append(mailfactory.report_email())
            smtp_server.wait_for(1, timeout=60)  # ~2 s on a quiet machine; the precondition, not the point
            dovecot_server.restart()
            dovecot.append(mailfactory.report_email(sender="vanphong@skhcn.cantho.gov.vn", province="Cần Thơ"))
            smtp_server.wait_for(2, timeout=90)
            assert running.thread.is_alive()
    finally:
        app.close()
