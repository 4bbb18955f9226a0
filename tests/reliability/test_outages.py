"""Outages under a running daemon: IMAP, SMTP, PostgreSQL and the storage folder.

Each server goes away while the daemon is working; the daemon never exits,
loses nothing, and catches up once the server is back.
"""
from __future__ import annotations

import logging
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.reliability import ARRIVED, IMAP_PW_ENV, Running, append_many, count, tagged, wait_until, write_config
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon

PROVINCES = [("tayninh", "Tây Ninh"), ("cantho", "Cần Thơ"), ("angiang", "An Giang"), ("camau", "Cà Mau"),
             ("baclieu", "Bạc Liêu"), ("soctrang", "Sóc Trăng"), ("haugiang", "Hậu Giang"), ("dongthap", "Đồng Tháp")]


def _report(i: int) -> bytes:
    domain, name = PROVINCES[i % len(PROVINCES)]
    return mailfactory.report_email(sender=f"vanthu{i}@skhcn.{domain}.gov.vn", province=name)


def _messages(app: App) -> int:
    return count(app.db.engine, models.Message)


@pytest.mark.slow
@pytest.mark.imap
def test_imap_restart_while_fetching(tmp_path, smtp_server, dovecot, dovecot_server, monkeypatch):
    total = 150
    monkeypatch.setenv(IMAP_PW_ENV, dovecot.password)
    filler = [mailfactory.newsletter() if i % 3 else _report(i) for i in range(total)]
    append_many(dovecot, [tagged(raw, i) for i, raw in enumerate(filler)])
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}", smtp=smtp_server, dovecot=dovecot,
                          mailbox_extra="cycle_limit = 40\nbatch_size = 10\n")
    app = App.load(str(config))
    try:
        with Running(app) as running:
            wait_until(lambda: _messages(app) >= 10, timeout=60, what="the first messages", every=0.05)
            at_restart = _messages(app)
            dovecot_server.restart()
            wait_until(lambda: _messages(app) == total and not dovecot.folder_uids("INBOX"), timeout=180,
                       what="every message after the restart", every=0.5,
                       describe=lambda: f"{_messages(app)} recorded, INBOX {len(dovecot.folder_uids('INBOX'))}")
            assert running.thread.is_alive()
        print(f"IMAP restarted after {at_restart} of {total} messages")
        assert at_restart < total, "the restart came too late to test anything"
        with Session(app.db.engine) as s:
            shas = list(s.scalars(select(models.Message.sha256)))
        assert len(shas) == len(set(shas)) == total
        assert len(dovecot.folder_uids("Processed")) == total
    finally:
        app.close()


@pytest.mark.slow
def test_smtp_outage_queue_grows_then_drains_in_order(tmp_path, smtp_server):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}", smtp=smtp_server)
    maildir = tmp_path / "tdc" / "mail"
    app = App.load(str(config))

    def outbox() -> list[models.OutboxEmail]:
        with Session(app.db.engine) as s:
            return list(s.scalars(select(models.OutboxEmail).order_by(models.OutboxEmail.id)))

    try:
        smtp_server.stop()
        with Running(app) as running:
            for i in range(3):
                deliver(maildir, _report(i), when=ARRIVED + timedelta(minutes=i))
            wait_until(lambda: len(outbox()) == 3 and outbox()[0].attempts >= 2, timeout=30,
                       what="retries against the dead server")
            for i in range(3, 6):  # the queue grows while the server is down
                deliver(maildir, _report(i), when=ARRIVED + timedelta(minutes=i))
            wait_until(lambda: len(outbox()) == 6, timeout=30, what="the queue to grow")
            assert all(o.state == models.PENDING for o in outbox())
            assert smtp_server.messages == []
            smtp_server.start()
            wait_until(lambda: all(o.state == models.SENT for o in outbox()), timeout=60, what="the queue to drain",
                       describe=lambda: str([(o.id, o.state, o.attempts, o.next_attempt_at) for o in outbox()]))
            assert running.thread.is_alive()
        rows = outbox()
        assert [o.id for o in sorted(rows, key=lambda o: (o.sent_at, o.id))] == [o.id for o in rows]
        assert [r.message()["Message-ID"] for r in smtp_server.messages] == [o.message_id_header for o in rows]
        assert rows[0].attempts >= 3  # backed off and retried, not given up
    finally:
        app.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_restart_under_the_daemon(tmp_path, smtp_server, postgres_server, pg_url):
    config = write_config(tmp_path, db_url=pg_url, smtp=smtp_server)
    maildir = tmp_path / "tdc" / "mail"
    app = App.load(str(config))
    try:
        with Running(app) as running:
            deliver(maildir, _report(0), when=ARRIVED)
            smtp_server.wait_for(1, timeout=30)
            postgres_server.restart()
            deliver(maildir, _report(1), when=ARRIVED + timedelta(minutes=1))
            smtp_server.wait_for(2, timeout=90)
            assert running.thread.is_alive()
        assert _messages(app) == 2
        assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == sorted(
            ["vanthu0@skhcn.tayninh.gov.vn", "vanthu1@skhcn.cantho.gov.vn"])
    finally:
        app.close()


def _processed(maildir: Path) -> int:
    folder = maildir / ".Processed" / "cur"
    return len(list(folder.iterdir())) if folder.exists() else 0


def _check_storage_outage(app: App, maildir: Path, caplog: pytest.LogCaptureFixture, break_it, fix_it,  # type: ignore[no-untyped-def]
                          why: str) -> None:
    deliver(maildir, _report(0), when=ARRIVED)
    break_it()
    with caplog.at_level(logging.ERROR, logger="workflow.runtime.intake_cycle"):
        result = Daemon(app).run_once()
    assert result.cycles[0].stopped_early and "kho lưu trữ" in result.cycles[0].stopped_early
    lines = [r.getMessage() for r in caplog.records if r.name == "workflow.runtime.intake_cycle"]
    assert any("không lưu được thư" in line and why in line and "thử lại ở lượt sau" in line for line in lines), lines
    assert _messages(app) == 0 and _processed(maildir) == 0  # not marked processed
    fix_it()
    result = Daemon(app).run_once()
    assert result.cycles[0].recorded == 1 and result.cycles[0].stopped_early is None
    assert _messages(app) == 1 and _processed(maildir) == 1


def test_storage_path_that_is_not_a_folder(tmp_path, caplog):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    app = App.load(str(config))
    messages_dir = app.store_root / "messages"
    try:
        _check_storage_outage(
            app, tmp_path / "tdc" / "mail", caplog,
            break_it=lambda: (messages_dir.parent.mkdir(parents=True, exist_ok=True),
                              messages_dir.write_bytes(b"not a folder")),
            fix_it=lambda: messages_dir.unlink(),
            why="Not a directory",
        )
    finally:
        app.close()


def test_storage_full(tmp_path, caplog):
    """A 64 KiB tmpfs over the store: the report's attachment does not fit (disk full)."""
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    app = App.load(str(config))
    store = app.store_root
    store.mkdir(parents=True, exist_ok=True)
    mounted = False

    def fill() -> None:
        nonlocal mounted
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(store)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tiny tmpfs here ({proc.stderr.strip() or proc.returncode}); "
                        "the not-a-folder test covers storage failure")
        mounted = True
        (store / "ballast").write_bytes(b"\0" * 60 * 1024)

    def free() -> None:
        nonlocal mounted
        subprocess.run(["umount", str(store)], check=True)
        mounted = False

    try:
        _check_storage_outage(app, tmp_path / "tdc" / "mail", caplog, fill, free, why="disk full")
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(store)], check=False)
        app.close()
