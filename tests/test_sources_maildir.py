"""MaildirSource and deliver() on a real temporary folder."""
from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake.sources import SourceError, make_source
from intake.sources.maildir import MaildirSource, deliver, delivery_time


def message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Chi cục TĐC Hải Phòng <chicuctdc@haiphong.gov.vn>"
    msg["To"] = "tdc@example.gov.vn"
    msg["Subject"] = f"Báo cáo năm 2023 số {n}"
    msg["Date"] = "Mon, 01 Jan 2001 00:00:00 +0000"
    msg.set_content(f"Nội dung {n}")
    return msg.as_bytes()


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "Maildir"


def test_deliver_writes_into_new_via_tmp(maildir):
    path = deliver(maildir, message(1))
    assert path.parent == maildir / "new"
    assert path.read_bytes() == message(1)
    assert list((maildir / "tmp").iterdir()) == []
    assert {p.name for p in maildir.iterdir()} == {"new", "cur", "tmp"}
    # Two deliveries in the same microsecond still get distinct names.
    assert deliver(maildir, b"x") != deliver(maildir, b"x")


def test_source_creates_missing_folders(maildir):
    MaildirSource(maildir)
    assert all((maildir / sub).is_dir() for sub in ("new", "cur", "tmp"))


def test_fetch_oldest_first_with_delivery_time(maildir):
    base = datetime(2023, 11, 29, 10, 0, 0, 250000, tzinfo=UTC)
    deliver(maildir, message(2), when=base + timedelta(hours=2))
    deliver(maildir, message(0), when=base)
    deliver(maildir, message(1), when=base + timedelta(hours=1))
    source = MaildirSource(maildir)

    got = list(source.fetch_new({}, limit=10))

    assert [m.raw for m in got] == [message(0), message(1), message(2)]
    assert [m.arrived_at for m in got] == [base, base + timedelta(hours=1), base + timedelta(hours=2)]
    assert got[0].mailbox == source.mailbox == f"maildir:{maildir.resolve()}"
    assert got[0].source_key.startswith("maildir:") and ":" not in got[0].source_key[len("maildir:"):]
    assert got[0].uid is None and got[0].uidvalidity is None


def test_messages_in_cur_with_flags_are_read_too(maildir):
    source = MaildirSource(maildir)
    (maildir / "cur" / "1700000000.M5P1Q1.mx:2,S").write_bytes(message(7))
    got = list(source.fetch_new({}, limit=10))
    assert got[0].raw == message(7)
    assert got[0].source_key == "maildir:1700000000.M5P1Q1.mx"
    assert got[0].arrived_at == datetime.fromtimestamp(1700000000.000005, tz=UTC)


def test_arrival_falls_back_to_mtime_for_foreign_names(maildir):
    source = MaildirSource(maildir)
    odd = maildir / "new" / "saved-by-hand"
    odd.write_bytes(message(1))
    os.utime(odd, (1701234567.5, 1701234567.5))
    assert delivery_time(odd) == datetime.fromtimestamp(1701234567.5, tz=UTC)
    assert next(iter(source.fetch_new({}, limit=1))).arrived_at == delivery_time(odd)


def test_limit_honoured_and_rest_signalled(maildir):
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(4):
        deliver(maildir, message(i), when=base + timedelta(minutes=i))
    source = MaildirSource(maildir)
    got = list(source.fetch_new({}, limit=3))
    assert [m.raw for m in got] == [message(i) for i in range(3)]
    assert source.wait_for_new(5) is True


def test_mark_done_moves_into_processed_cur(maildir):
    deliver(maildir, message(1), when=datetime(2024, 1, 1, tzinfo=UTC))
    deliver(maildir, message(2), when=datetime(2024, 1, 2, tzinfo=UTC))
    source = MaildirSource(maildir)
    first, second = list(source.fetch_new({}, limit=10))

    source.mark_done(first)
    source.mark_done(first)  # repeating is harmless

    processed = list((maildir / ".Processed" / "cur").iterdir())
    assert [p.read_bytes() for p in processed] == [message(1)]
    assert processed[0].name == first.source_key[len("maildir:"):] + ":2,"
    assert [m.raw for m in source.fetch_new({}, limit=10)] == [message(2)]


def test_mark_done_rejects_foreign_messages(maildir, tmp_path):
    source = MaildirSource(maildir)
    other = MaildirSource(tmp_path / "other")
    deliver(other.root, message(1))
    foreign = next(iter(other.fetch_new({}, limit=1)))
    with pytest.raises(ValueError):
        source.mark_done(foreign)


def test_plain_eml_dropped_in_root_is_picked_up(maildir):
    source = MaildirSource(maildir)
    dropped = maildir / "bao-cao-tay-ninh.eml"
    dropped.write_bytes(message(9))
    os.utime(dropped, (1732870000.25, 1732870000.25))
    young = maildir / "still-copying.eml"
    young.write_bytes(b"half a mess")

    got = list(source.fetch_new({}, limit=10))

    assert [m.raw for m in got] == [message(9)]
    assert got[0].arrived_at == datetime.fromtimestamp(1732870000.25, tz=UTC)
    assert not dropped.exists()
    assert young.exists()  # younger than settle_seconds: maybe still being written
    source.mark_done(got[0])
    assert [p.read_bytes() for p in (maildir / ".Processed" / "cur").iterdir()] == [message(9)]


def test_wait_for_new_sees_a_later_delivery(maildir):
    source = MaildirSource(maildir, poll_step=0.05)
    deliver(maildir, message(0))
    list(source.fetch_new({}, limit=10))
    assert source.wait_for_new(0.3) is False  # the already-fetched message does not count
    timer = threading.Timer(0.3, lambda: deliver(maildir, message(1)))
    timer.start()
    started = time.monotonic()
    assert source.wait_for_new(10) is True
    assert time.monotonic() - started < 2
    timer.join()


def test_make_source_builds_a_maildir(maildir):
    source = make_source("maildir", path=str(maildir), poll_step=0.1)
    assert isinstance(source, MaildirSource)
    with pytest.raises(ValueError):
        make_source("pop3", path=str(maildir))


def test_unreadable_folder_is_a_source_error(maildir):
    source = MaildirSource(maildir)
    deliver(maildir, message(1))
    (maildir / "cur").rmdir()
    (maildir / "cur").write_text("not a folder")
    with pytest.raises(SourceError):
        list(source.fetch_new({}, limit=10))
