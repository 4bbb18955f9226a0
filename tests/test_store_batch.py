"""Batched durability of the raw store (issue #14, part 3): written, flushed, named, in that order."""
from __future__ import annotations

import errno
import os

import pytest

from intake.store import RawStore, StoreError


def _temporaries(root) -> list:
    return [p for p in root.rglob(".tmp-*")]


def test_a_deferred_file_gets_its_name_only_when_synced(tmp_path):
    store = RawStore(tmp_path)
    with store.deferred_sync():
        blob = store.put_message(b"Subject: a\r\n\r\nbody\r\n")
        assert not blob.path.exists(), "named before it was flushed"
        assert len(_temporaries(tmp_path)) == 1
        store.sync_pending()
        assert blob.path.read_bytes() == b"Subject: a\r\n\r\nbody\r\n"
    assert store.read(blob.sha256) == b"Subject: a\r\n\r\nbody\r\n"
    assert not _temporaries(tmp_path)


def test_the_same_content_twice_in_a_batch_is_one_file(tmp_path):
    store = RawStore(tmp_path)
    with store.deferred_sync():
        first = store.put_attachment(b"same bytes", "báo cáo.docx")
        second = store.put_attachment(b"same bytes", "báo cáo.docx")
        assert first == second and len(_temporaries(tmp_path)) == 1
        store.sync_pending()
    assert first.path.read_bytes() == b"same bytes"


def test_a_batch_left_unsynced_leaves_nothing_behind(tmp_path):
    store = RawStore(tmp_path)
    with store.deferred_sync():
        blob = store.put_message(b"never synced")
    assert not blob.path.exists() and not _temporaries(tmp_path)
    again = store.put_message(b"never synced")  # outside a batch: written and flushed at once, as before
    assert again.path.read_bytes() == b"never synced"


def test_a_refused_sync_is_a_store_error_and_keeps_no_half_files(tmp_path, monkeypatch):
    store = RawStore(tmp_path)
    with store.deferred_sync():
        blobs = [store.put_message(f"message {i}".encode()) for i in range(3)]

        def full(*_args):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "replace", full)
        with pytest.raises(StoreError, match="disk full"):
            store.sync_pending()
    assert not any(b.path.exists() for b in blobs)
    assert not _temporaries(tmp_path)


def test_a_deferred_attachment_is_readable_by_path_before_its_flush(tmp_path):
    """The document reader (a child process) gets a path to read, never a copy of the bytes through a pipe."""
    store = RawStore(tmp_path)
    with store.deferred_sync():
        blob = store.put_attachment(b"docx bytes", "bao-cao.docx")
        early = store.readable_path(blob.path)
        assert early is not None and early != str(blob.path)
        with open(early, "rb") as fh:
            assert fh.read() == b"docx bytes"
        store.sync_pending()
        assert store.readable_path(blob.path) == str(blob.path)
    assert store.readable_path(tmp_path / "attachments" / "never-stored.docx") is None
