"""§5 Backups and files on disk: restore treats the archive as untrusted, private files, no symlinks.

Each test builds the attack by code: a self-consistent archive whose outbox
mails /etc/passwd to an outsider, a small archive that expands enormously,
the default umask, and symbolic links dropped into the Maildir.
"""
from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import cli_json, run_cli, write_config
from workflow.app import App
from workflow.db import models
from workflow.operations.backup import BackupError, create_backup, restore_backup
from workflow.operations.restore_safety import HELD_REASON, ArchiveLimits

OUTSIDER = "thu-thap@attacker.example"


def _app(config: Path) -> App:
    return App.load(str(config))


def _queue(app: App, **values) -> None:  # type: ignore[no-untyped-def]
    with app.db.transaction() as session:
        session.add(models.OutboxEmail(subject="Báo cáo", body_text="xem tệp", body_html=None,
                                       message_id_header=f"<{values['dedupe_key']}@tdc.example.vn>", **values))


def _files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_restored_outbox_is_held_and_never_mails_files_from_outside_the_store(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    app = _app(write_config(src, f"sqlite:///{src / 'tdc.db'}"))
    try:
        _queue(app, dedupe_key="evil", kind="ack", recipients=[OUTSIDER],
               attachments=[{"filename": "passwd.txt", "content_type": "text/plain", "path": "/etc/passwd"}])
        _queue(app, dedupe_key="fine", kind="ack", recipients=["vanthu@skhcn.tayninh.gov.vn"], attachments=[])
        archive = create_backup(app, tmp_path / "crafted.tar.gz").path  # self-consistent: every checksum matches
    finally:
        app.close()

    dst = tmp_path / "dst"
    dst.mkdir()
    config = write_config(dst, f"sqlite:///{dst / 'tdc.db'}")
    out = run_cli("restore", str(archive), config=config).stdout
    assert "outbox release" in out
    run_cli("run", "--once", config=config)  # the next cycle: nothing restored goes out by itself
    assert not _files_in(dst / "outbox")

    released = {r["id"]: r for r in cli_json("outbox", "release", "--restored", config=config)}
    app = _app(config)
    try:
        with app.db.sessions() as session:
            rows = {r.dedupe_key: r for r in session.scalars(select(models.OutboxEmail))}
    finally:
        app.close()
    evil, fine = rows["evil"], rows["fine"]
    assert evil.state == models.SUPPRESSED and evil.last_error == HELD_REASON
    assert not released[evil.id]["released"]
    assert any("ngoài thư mục lưu trữ" in p for p in released[evil.id]["problems"])
    assert released[fine.id]["released"] and fine.state == models.PENDING
    run_cli("run", "--once", config=config)
    sent = b"".join(p.read_bytes() for p in _files_in(dst / "outbox"))
    assert b"vanthu@skhcn.tayninh.gov.vn" in sent
    assert OUTSIDER.encode() not in sent and b"root:x:0:0" not in sent


def _bomb(path: Path, members: list[tuple[str, int]]) -> Path:
    """A gzip tar whose members are runs of zeros: tiny on disk, large unpacked."""
    with tarfile.open(path, "w:gz") as tar:
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    return path


@pytest.mark.parametrize("members", [
    [("database/tdc.sqlite", 24 * 1024 * 1024)],  # one member over the cap
    [(f"store/aa/{i:04d}.eml", 512 * 1024) for i in range(48)],  # many small ones adding up
], ids=["one-member", "many-members"])
def test_a_small_archive_cannot_expand_beyond_the_caps(tmp_path, members):
    archive = _bomb(tmp_path / "bomb.tar.gz", members)
    assert archive.stat().st_size < 200 * 1024
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    app = _app(config)
    limits = ArchiveLimits(max_member_bytes=16 * 1024 * 1024, max_total_bytes=64 * 1024 * 1024,
                           max_ratio=50.0, min_ratio_floor=8 * 1024 * 1024)
    try:
        with pytest.raises(BackupError, match="từ chối"):
            restore_backup(app, archive, limits=limits)
    finally:
        app.close()
    assert not _files_in(tmp_path / "store")
    assert not [p for p in tmp_path.rglob(".tdc-restore-*")]  # the partial unpack is gone


def test_restore_bomb_through_the_cli_stops_early(tmp_path):
    """Default caps: 2 GiB of zeros in a ~2 MB archive is refused at the member's header."""
    with tarfile.open(tmp_path / "bomb.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("store/aa/big.eml")
        info.size = 5 * 1024 ** 3
        tar.addfile(info)  # header only: the stream ends early, which is fine, the cap must fire first
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    started = time.monotonic()
    proc = run_cli("restore", str(tmp_path / "bomb.tar.gz"), config=config, check=False)
    assert proc.returncode != 0 and "từ chối" in proc.stderr, proc.stderr
    assert time.monotonic() - started < 60
    assert not _files_in(tmp_path / "store")


def test_database_and_backup_are_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db' / 'tdc.db'}")
        app = _app(config)
        try:
            with app.db.transaction() as session:
                session.add(models.JobRun(name="x", ok=True, result="", last_run_at=datetime.now(UTC)))
            archive = create_backup(app, tmp_path / "b.tar.gz").path
        finally:
            app.close()
    finally:
        os.umask(old)
    for path in [tmp_path / "db" / "tdc.db", *tmp_path.joinpath("db").glob("tdc.db-*"), archive]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_maildir_never_follows_symlinks(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(mailfactory.report_email() + b"\r\nSECRET-7731\r\n")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    mail = tmp_path / "mail"
    deliver(mail, mailfactory.report_email("vanthu@skhcn.angiang.gov.vn", "An Giang"))
    os.symlink(secret, mail / "dropped.eml")
    old = time.time() - 60
    os.utime(mail / "dropped.eml", (old, old), follow_symlinks=False)
    os.symlink(secret, mail / "new" / "1732071600.M1P1.evil")
    run_cli("run", "--once", config=config)
    stats = cli_json("stats", config=config)
    assert stats["messages"] == 1  # only the real delivery
    for path in _files_in(tmp_path / "store"):
        assert b"SECRET-7731" not in path.read_bytes()
    assert (mail / "dropped.eml").is_symlink()  # left where it was, not adopted


def test_restored_rows_cannot_point_outside_the_store(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    config = write_config(src, f"sqlite:///{src / 'tdc.db'}")
    deliver(src / "mail", mailfactory.report_email())
    run_cli("run", "--once", config=config)
    app = _app(config)
    try:
        with app.db.transaction() as session:
            for attachment in session.scalars(select(models.Attachment)):
                attachment.path = "/etc/passwd"  # compile would read it back into the national report
        archive = create_backup(app, tmp_path / "crafted.tar.gz").path
    finally:
        app.close()
    dst = tmp_path / "dst"
    dst.mkdir()
    proc = run_cli("restore", str(archive), config=write_config(dst, f"sqlite:///{dst / 'tdc.db'}"), check=False)
    assert proc.returncode != 0 and "ngoài thư mục lưu trữ" in proc.stderr, proc.stderr
    app = _app(dst / "tdc.toml")
    try:
        with app.db.sessions() as session:
            assert session.scalar(select(models.Attachment.id)) is None
    finally:
        app.close()
