"""The raw store: content addressing, atomic writes, safe names."""
from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import store as store_mod
from intake.store import RawStore, StoreError, sanitize_filename


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_message_is_content_addressed(tmp_path: Path) -> None:
    raw = b"From: a@x.vn\r\nSubject: s\r\n\r\nbody\r\n"
    store = RawStore(tmp_path)
    blob = store.put_message(raw)
    sha = hashlib.sha256(raw).hexdigest()
    assert blob.sha256 == sha and blob.size == len(raw)
    assert blob.path == tmp_path / "messages" / sha[:2] / sha[2:4] / f"{sha}.eml"
    assert blob.path.read_bytes() == raw
    assert store.exists(sha) and store.read(sha) == raw
    assert store.message_path(sha) == blob.path


def test_same_content_twice_is_one_file_and_no_temp_files(tmp_path: Path) -> None:
    store = RawStore(tmp_path)
    first = store.put_message(b"same bytes")
    mtime = first.path.stat().st_mtime_ns
    second = store.put_message(b"same bytes")
    store.put_message(b"other bytes")
    assert first == second
    assert first.path.stat().st_mtime_ns == mtime  # not rewritten
    files = _all_files(tmp_path)
    assert len(files) == 2
    assert not [f for f in files if f.name.startswith(".tmp-")]


def test_files_are_not_executable(tmp_path: Path) -> None:
    blob = RawStore(tmp_path).put_attachment(b"#!/bin/sh\necho hi\n", "run.sh")
    mode = stat.S_IMODE(blob.path.stat().st_mode)
    assert mode == 0o640
    assert not mode & 0o111


def test_failed_write_leaves_nothing_and_raises_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.os, "fsync", disk_full)
    store = RawStore(tmp_path)
    with pytest.raises(StoreError, match="disk full"):
        store.put_message(b"payload")
    assert _all_files(tmp_path) == []
    assert not store.exists(hashlib.sha256(b"payload").hexdigest())


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_store_raises_store_error(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="permission denied"):
            RawStore(root).put_message(b"x")
    finally:
        root.chmod(0o700)


def test_read_only_file_system_raises_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(store_mod.tempfile, "mkstemp", read_only)
    with pytest.raises(StoreError, match="read-only"):
        RawStore(tmp_path).put_attachment(b"x", "a.pdf")


def test_read_detects_corruption_and_rejects_bad_digests(tmp_path: Path) -> None:
    store = RawStore(tmp_path)
    blob = store.put_message(b"original")
    blob.path.write_bytes(b"tampered")
    with pytest.raises(StoreError, match="corrupt"):
        store.read(blob.sha256)
    with pytest.raises(StoreError):
        store.read("../../etc/passwd")
    with pytest.raises(StoreError):
        store.read("0" * 64)
    assert store.exists("../x") is False


def test_attachment_keeps_the_human_name(tmp_path: Path) -> None:
    data = b"PK\x03\x04"
    blob = RawStore(tmp_path).put_attachment(data, "Báo cáo năm 2024.docx")
    sha = hashlib.sha256(data).hexdigest()
    assert blob.path == tmp_path / "attachments" / sha[:2] / sha[2:4] / sha / "Báo cáo năm 2024.docx"
    assert blob.path.read_bytes() == data


@settings(max_examples=150, deadline=None)
@given(name=st.text(min_size=0, max_size=300))
def test_attachment_path_always_stays_inside_root(tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
    root = tmp_path_factory.mktemp("store")
    blob = RawStore(root).put_attachment(b"d", name)
    assert blob.path.resolve().is_relative_to(root.resolve())
    assert blob.path.parent.name == blob.sha256
    assert blob.path.read_bytes() == b"d"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path.docx", "path.docx"),
        ("C:\\Users\\van thu\\Báo cáo.docx", "Báo cáo.docx"),
        ("a\x00b.docx", "ab.docx"),
        ("\u202egpj.exe", "gpj.exe"),  # shows as "exe.jpg" to a reader; the real extension wins
        ("Bao\u2066cao\u2069\u200e.pdf", "Baocao.pdf"),
        ("CON.docx", "_CON.docx"),
        ("lpt1", "_lpt1"),
        ("report. . ", "report"),
        ("...hidden", "hidden"),
        ("..", "attachment.bin"),
        ("", "attachment.bin"),
        ("\x01\x02", "attachment.bin"),
        ('a<b>:"c"|?*.pdf', "a_b___c____.pdf"),
        ("Báo cáo Tây Ninh.docx", "Báo cáo Tây Ninh.docx"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_sanitize_nfc_and_long_names_keep_extension() -> None:
    import unicodedata

    assert sanitize_filename(unicodedata.normalize("NFD", "Báo cáo.docx")) == "Báo cáo.docx"
    long_name = "Báo cáo kết quả thực hiện " * 20 + ".docx"
    result = sanitize_filename(long_name)
    assert result.endswith(".docx")
    assert len(result.encode("utf-8")) <= 150
    result.encode("utf-8").decode("utf-8")  # cut on a character boundary
    assert len(sanitize_filename("ư" * 400, max_bytes=40).encode("utf-8")) <= 40
