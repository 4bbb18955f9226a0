"""Backup and restore: a season survives the round trip exactly, on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import cli_json, run_cli, write_config
from workflow.app import App
from workflow.db import models

YEAR = 2024


def _season(config: Path, maildir: Path) -> None:
    """Three reports (one late, one a second version), an auto-reply, a bounce; one intake cycle."""
    arrivals = [
        (mailfactory.report_email("vanthu@skhcn.tayninh.gov.vn", "Tây Ninh"), datetime(2024, 11, 20, 2, tzinfo=UTC)),
        (mailfactory.report_email("vanthu@skhcn.danang.gov.vn", "Đà Nẵng"), datetime(2024, 11, 25, 3, tzinfo=UTC)),
        (mailfactory.report_email("vanthu@skhcn.camau.gov.vn", "Cà Mau", subject="Báo cáo NSCL 2024 tỉnh Cà Mau"),
         datetime(2024, 12, 3, 4, tzinfo=UTC)),
        (mailfactory.report_email("vanthu@skhcn.tayninh.gov.vn", "Tây Ninh",
                                  subject="Báo cáo thay thế NSCL 2024 tỉnh Tây Ninh"), datetime(2024, 11, 27, 2,
                                                                                                tzinfo=UTC)),
        (mailfactory.auto_reply(), datetime(2024, 11, 21, 1, tzinfo=UTC)),
        (mailfactory.bounce(), datetime(2024, 11, 22, 1, tzinfo=UTC)),
    ]
    for raw, when in arrivals:
        deliver(maildir, raw, when=when)
    run_cli("run", "--once", config=config)


def _snapshot(config: Path) -> tuple[object, object]:
    return cli_json("status", "--year", str(YEAR), config=config), cli_json("stats", config=config)


def _make_season(tmp_path: Path, db_url: str) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    config = write_config(src, db_url)
    _season(config, src / "mail")
    return config


def _round_trip(tmp_path: Path, source_url: str, target_url: str) -> tuple[Path, Path, Path]:
    config = _make_season(tmp_path, source_url)
    archive = tmp_path / "backup.tar.gz"
    run_cli("backup", "--out", str(archive), config=config)
    dst = tmp_path / "dst"
    dst.mkdir()
    new_config = write_config(dst, target_url)
    run_cli("restore", str(archive), config=new_config)
    return config, new_config, archive


def _assert_same_season(config: Path, new_config: Path) -> None:
    before_status, before_stats = _snapshot(config)
    after_status, after_stats = _snapshot(new_config)
    assert after_status == before_status
    assert after_stats == before_stats
    states = {row["agency"]: row for row in after_status}
    assert states["tay-ninh"]["versions"] == 2
    assert states["ca-mau"]["on_time"] is False
    assert before_stats["ignored"] >= 2  # the machine mail came along too


def _assert_files_moved(new_config: Path) -> None:
    """Every stored path now points into the new store, with the very bytes that were backed up."""
    app = App.load(str(new_config), migrate=False)
    try:
        store = str(app.store_root)
        with app.db.sessions() as session:
            messages = list(session.scalars(select(models.Message)))
            attachments = list(session.scalars(select(models.Attachment)))
        assert messages
        for m in messages:
            assert m.raw_path.startswith(store + "/"), m.raw_path
            assert hashlib.sha256(Path(m.raw_path).read_bytes()).hexdigest() == m.sha256
        for a in attachments:
            assert a.path.startswith(store + "/")
            assert hashlib.sha256(Path(a.path).read_bytes()).hexdigest() == a.sha256
    finally:
        app.close()


def test_sqlite_round_trip_is_exact(tmp_path: Path) -> None:
    config, new_config, archive = _round_trip(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                                              f"sqlite:///{tmp_path / 'b.db'}")
    _assert_same_season(config, new_config)
    _assert_files_moved(new_config)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert "database/tdc.sqlite" in names
    assert manifest["database"]["backend"] == "sqlite"
    assert manifest["database"]["revision"]
    assert manifest["database"]["counts"]["messages"] == 6
    assert set(manifest["members"]) == set(names) - {"manifest.json"}


def test_restored_installation_keeps_working(tmp_path: Path) -> None:
    _, new_config, _ = _round_trip(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}")
    deliver(tmp_path / "dst" / "mail", mailfactory.report_email("vanthu@skhcn.angiang.gov.vn", "An Giang"),
            when=datetime(2024, 11, 28, 2, tzinfo=UTC))
    run_cli("run", "--once", config=new_config)
    status = {row["agency"]: row for row in cli_json("status", "--year", str(YEAR), config=new_config)}  # type: ignore[union-attr]
    assert status["an-giang"]["state"] != "missing"


def test_postgres_round_trip_is_exact(tmp_path: Path, pg_url: str, postgres_server) -> None:
    target = postgres_server.create_database(f"r_{tmp_path.name[-20:].lower().replace('-', '_')}"[:40])
    try:
        config, new_config, archive = _round_trip(tmp_path, pg_url, target)
        _assert_same_season(config, new_config)
        _assert_files_moved(new_config)
        with tarfile.open(archive) as tar:
            assert any(n.startswith("database/tables/") for n in tar.getnames())
        # Ids were restored explicitly: the sequences must have moved past them.
        deliver(tmp_path / "dst" / "mail", mailfactory.report_email("vanthu@skhcn.angiang.gov.vn", "An Giang"),
                when=datetime(2024, 11, 28, 2, tzinfo=UTC))
        run_cli("run", "--once", config=new_config)
    finally:
        postgres_server.drop_database(target.rsplit("/", 1)[1])


def test_sqlite_backup_restores_into_postgres(tmp_path: Path, pg_url: str) -> None:
    config, new_config, _ = _round_trip(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", pg_url)
    _assert_same_season(config, new_config)


def test_restore_refuses_a_target_with_data_unless_forced(tmp_path: Path) -> None:
    config = _make_season(tmp_path, f"sqlite:///{tmp_path / 'a.db'}")
    archive = tmp_path / "b.tar.gz"
    run_cli("backup", "--out", str(archive), config=config)
    proc = run_cli("restore", str(archive), config=config, check=False)
    assert proc.returncode == 1
    assert "không khôi phục đè lên dữ liệu đang có" in proc.stderr
    assert "--force" in proc.stderr
    before = _snapshot(config)
    run_cli("restore", str(archive), "--force", config=config)
    assert _snapshot(config) == before


def _pre_0017_archive(tmp_path: Path) -> Path:
    """An archive as the release before migration 0017 wrote it: learned_addresses beside the contact book."""
    from tests.test_contacts import seed_0016
    from workflow.operations.backup import create_backup

    old = tmp_path / "old"
    old.mkdir()
    url = f"sqlite:///{old / 'old.db'}"
    seed_0016(url)
    app = App.load(str(write_config(old, url)), migrate=False)  # this release's code reading the old file
    made = tmp_path / "made.tar.gz"
    try:
        create_backup(app, made)
    finally:
        app.close()
    archive = tmp_path / "old.tar.gz"
    with tarfile.open(made) as src, tarfile.open(archive, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":  # that release counted every table it had
                manifest = json.loads(data)
                assert manifest["database"]["revision"] == "0016"
                manifest["database"]["counts"]["learned_addresses"] = 4
                data = json.dumps(manifest).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return archive


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_backup_from_before_0017_restores_with_its_learned_addresses(tmp_path: Path, target: str,
                                                                       request: pytest.FixtureRequest) -> None:
    from tests.test_contacts import assert_folded

    archive = _pre_0017_archive(tmp_path)
    dst = tmp_path / "dst"
    dst.mkdir()
    url = f"sqlite:///{dst / 'new.db'}" if target == "sqlite" else request.getfixturevalue("pg_url")
    config = write_config(dst, url)
    from workflow.operations.backup import head_revision

    assert f"(schema revision {head_revision()})" in run_cli("restore", str(archive), config=config).stdout
    app = App.load(str(config))
    try:
        with app.db.sessions() as session:
            assert_folded(session)
        assert app.roster.by_address("chi.mai@gmail.com", 2024).slug == "tay-ninh"
    finally:
        app.close()


def test_an_old_backup_whose_rows_differ_from_its_manifest_is_refused(tmp_path: Path) -> None:
    archive = _pre_0017_archive(tmp_path)
    lied = tmp_path / "lied.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(lied, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["database"]["counts"]["learned_addresses"] = 3
                data = json.dumps(manifest).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'b.db'}")
    proc = run_cli("restore", str(lied), config=config, check=False)
    assert proc.returncode == 1
    assert "learned_addresses: 4 dòng, manifest ghi 3" in proc.stderr


def _tamper(archive: Path, out: Path, member_prefix: str) -> str:
    """Copy the archive, changing one byte of the first member under ``member_prefix``."""
    changed = ""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if data is not None and not changed and member.name.startswith(member_prefix):
                data = bytes([data[0] ^ 1]) + data[1:]
                changed = member.name
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    return changed


def test_a_corrupted_archive_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    config = _make_season(tmp_path, f"sqlite:///{tmp_path / 'a.db'}")
    archive = tmp_path / "b.tar.gz"
    run_cli("backup", "--out", str(archive), config=config)
    bad = tmp_path / "bad.tar.gz"
    changed = _tamper(archive, bad, "store/")
    assert changed
    dst = tmp_path / "dst"
    dst.mkdir()
    new_config = write_config(dst, f"sqlite:///{tmp_path / 'b.db'}")
    proc = run_cli("restore", str(bad), config=new_config, check=False)
    assert proc.returncode == 1
    assert f"{changed} sai mã kiểm tra SHA-256" in proc.stderr
    assert not (dst / "store").exists() or not any(p.is_file() for p in (dst / "store").rglob("*"))


def test_not_a_backup_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    with tarfile.open(junk, "w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'b.db'}")
    proc = run_cli("restore", str(junk), config=config, check=False)
    assert proc.returncode == 1
    assert "đường dẫn không an toàn" in proc.stderr
    assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.parametrize("value,expected", [
    ("/old/store/messages/ab/cd.eml", "/new/store/messages/ab/cd.eml"),
    ("var/store/att/x.docx", "/new/store/att/x.docx"),
    ("/elsewhere/x", "/elsewhere/x"),
    ("/old/storefront/x", "/old/storefront/x"),
])
def test_path_rewriting(value: str, expected: str) -> None:
    from workflow.operations.backup import PathRewriter

    assert PathRewriter(["/old/store", "var/store"], "/new/store")(value) == expected
