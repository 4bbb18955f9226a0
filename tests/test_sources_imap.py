"""ImapSource against the real throwaway Dovecot (no mocks)."""
from __future__ import annotations

import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from intake.sources import SourceError, make_source
from intake.sources.imap import ImapSettings, ImapSource

pytestmark = pytest.mark.imap

VN = timezone(timedelta(hours=7))


def message(n: int, date_header: str = "Mon, 01 Jan 2001 00:00:00 +0000") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Sở KH&CN Tây Ninh <skhcn@tayninh.gov.vn>"
    msg["To"] = "tdc@example.gov.vn"
    msg["Subject"] = f"Báo cáo kết quả thực hiện Chương trình 1322 năm 2024 (số {n})"
    msg["Date"] = date_header
    msg["Message-ID"] = f"<report-{n}@tayninh.gov.vn>"
    msg.set_content(f"Kính gửi Bộ KH&CN, báo cáo số {n}.")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def settings(dovecot, **overrides) -> ImapSettings:
    values = dict(
        host=dovecot.server.host, port=dovecot.server.port, security="none",
        username=dovecot.user, password=dovecot.password,
        timeout=10, retry_wait=0.05, retry_wait_max=0.2,
    )
    values.update(overrides)
    return ImapSettings(**values)


@pytest.fixture
def source(dovecot):
    src = ImapSource(settings(dovecot))
    yield src
    src.close()


def subjects(messages) -> list[str]:
    import email
    import email.policy

    return [str(email.message_from_bytes(m.raw, policy=email.policy.default)["Subject"]) for m in messages]


def test_fetch_new_returns_all_with_internaldate_not_date_header(dovecot, source):
    times = [datetime(2024, 11, 28, 9, 0, tzinfo=VN) + timedelta(hours=i) for i in range(3)]
    uids = [dovecot.append(message(i), internaldate=times[i]) for i in range(3)]

    got = list(source.fetch_new({}, limit=10))

    assert [m.uid for m in got] == uids
    assert [m.arrived_at for m in got] == times  # INTERNALDATE, not the 2001 Date header
    assert all(m.arrived_at.utcoffset() == timedelta(0) for m in got)
    assert subjects(got) == [f"Báo cáo kết quả thực hiện Chương trình 1322 năm 2024 (số {i})" for i in range(3)]
    assert got[0].raw.startswith(b"From: ") and b"report-0@tayninh.gov.vn" in got[0].raw
    validity = got[0].uidvalidity
    with dovecot.client() as c:
        assert c.select_folder("INBOX")[b"UIDVALIDITY"] == validity
    assert got[1].source_key == f"imap:INBOX:{validity}:{uids[1]}"
    assert got[1].mailbox == source.mailbox == f"imap://{dovecot.user}@127.0.0.1/INBOX"


def test_cursor_at_newest_uid_returns_nothing(dovecot, source):
    uids = [dovecot.append(message(i)) for i in range(2)]
    validity = next(iter(source.fetch_new({}, limit=1))).uidvalidity
    # The pitfall the source must avoid: "UID n:*" still matches the newest message.
    with dovecot.client() as c:
        c.select_folder("INBOX", readonly=True)
        assert c.search(["UID", f"{uids[-1] + 1}:*"]) == [uids[-1]]

    assert list(source.fetch_new({(source.mailbox, validity): uids[-1]}, limit=10)) == []
    later = list(source.fetch_new({(source.mailbox, validity): uids[0]}, limit=10))
    assert [m.uid for m in later] == [uids[1]]
    # A cursor for another UIDVALIDITY does not apply to this one.
    assert len(list(source.fetch_new({(source.mailbox, validity + 1): uids[-1]}, limit=10))) == 2


def test_mark_done_moves_to_processed_and_is_idempotent(dovecot, source):
    dovecot.append(message(1))
    dovecot.append(message(2))
    first, second = list(source.fetch_new({}, limit=10))

    source.mark_done(first)
    source.mark_done(first)  # repeating after the move is harmless

    assert dovecot.folder_uids("INBOX") == [second.uid]
    assert len(dovecot.folder_uids("Processed")) == 1
    with dovecot.client() as c:
        c.select_folder("Processed", readonly=True)
        moved = c.fetch(c.search(["ALL"]), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    assert b"report-1@" in next(iter(moved.values()))[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
    assert [m.uid for m in source.fetch_new({}, limit=10)] == [second.uid]


def test_keyword_fallback_when_move_is_not_used(dovecot):
    src = ImapSource(settings(dovecot, use_move=False))
    try:
        dovecot.append(message(1))
        dovecot.append(message(2))
        first, second = list(src.fetch_new({}, limit=10))
        src.mark_done(first)
        src.mark_done(first)

        flags = dovecot.flags("INBOX")
        assert b"$TdcProcessed" in flags[first.uid]
        assert b"$TdcProcessed" not in flags[second.uid]
        assert dovecot.folder_uids("Processed") == []
        # Even with no cursor at all, flagged mail is not offered again.
        assert [m.uid for m in src.fetch_new({}, limit=10)] == [second.uid]
    finally:
        src.close()


def test_fetch_leaves_seen_flag_untouched(dovecot, source):
    dovecot.append(message(1))
    dovecot.append(message(2), flags=[b"\\Seen"])
    got = list(source.fetch_new({}, limit=10))
    assert len(got) == 2
    flags = dovecot.flags("INBOX")
    assert b"\\Seen" not in flags[got[0].uid]
    assert b"\\Seen" in flags[got[1].uid]


class RecordingBatches(ImapSource):
    """Records the UID batches actually fetched (a real subclass, not a mock)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[list[int]] = []

    def _fetch_batch(self, client, uidvalidity, uids):
        self.batches.append(list(uids))
        return super()._fetch_batch(client, uidvalidity, uids)


def test_batches_of_two_yield_all_five_in_order(dovecot):
    base = datetime(2024, 11, 1, 8, 0, tzinfo=UTC)
    uids = [dovecot.append(message(i), internaldate=base + timedelta(minutes=i)) for i in range(5)]
    src = RecordingBatches(settings(dovecot, batch_size=2))
    try:
        got = list(src.fetch_new({}, limit=100))
    finally:
        src.close()
    assert [m.uid for m in got] == uids
    assert subjects(got)[-1].endswith("(số 4)")
    assert src.batches == [uids[0:2], uids[2:4], uids[4:5]]


def test_limit_is_honoured_and_more_is_signalled(dovecot, source):
    uids = [dovecot.append(message(i)) for i in range(5)]
    got = list(source.fetch_new({}, limit=2))
    assert [m.uid for m in got] == uids[:2]
    started = time.monotonic()
    assert source.wait_for_new(10) is True  # the rest is already waiting
    assert time.monotonic() - started < 1
    rest = list(source.fetch_new({(source.mailbox, got[0].uidvalidity): got[-1].uid}, limit=10))
    assert [m.uid for m in rest] == uids[2:]


def test_idle_wakes_up_when_another_client_appends(dovecot, source):
    dovecot.append(message(0))
    first = list(source.fetch_new({}, limit=10))
    assert len(first) == 1
    result: dict[str, object] = {}

    def wait() -> None:
        started = time.monotonic()
        result["new"] = source.wait_for_new(30)
        result["elapsed"] = time.monotonic() - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.7)  # let the source enter IDLE
    dovecot.append(message(1))
    appended_at = time.monotonic()
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert result["new"] is True
    assert result["elapsed"] < 0.7 + 3
    assert time.monotonic() - appended_at < 3
    cursor = {(source.mailbox, first[0].uidvalidity): first[0].uid}
    assert subjects(source.fetch_new(cursor, limit=10)) == [
        "Báo cáo kết quả thực hiện Chương trình 1322 năm 2024 (số 1)"
    ]


def test_polling_fallback_without_idle(dovecot):
    src = ImapSource(settings(dovecot, use_idle=False, poll_interval=0.2))
    try:
        dovecot.append(message(0))
        list(src.fetch_new({}, limit=10))
        started = time.monotonic()
        assert src.wait_for_new(0.5) is False
        assert time.monotonic() - started >= 0.5
        timer = threading.Timer(0.5, lambda: dovecot.append(message(1)))
        timer.start()
        started = time.monotonic()
        assert src.wait_for_new(20) is True
        assert time.monotonic() - started < 3
        timer.join()
    finally:
        src.close()


def test_wait_for_new_times_out_quietly(dovecot, source):
    dovecot.append(message(0))
    list(source.fetch_new({}, limit=10))
    started = time.monotonic()
    assert source.wait_for_new(1.0) is False
    assert 0.9 <= time.monotonic() - started < 5


def test_wait_for_new_sees_mail_that_came_between_fetch_and_wait(dovecot, source):
    dovecot.append(message(0))
    list(source.fetch_new({}, limit=10))
    dovecot.append(message(1))  # no IDLE running yet: no notification will come
    started = time.monotonic()
    assert source.wait_for_new(20) is True
    assert time.monotonic() - started < 2


def test_recovers_after_server_restart(dovecot_server, dovecot, source):
    dovecot.append(message(0))
    first = list(source.fetch_new({}, limit=10))
    dovecot_server.restart()
    dovecot.append(message(1))
    cursor = {(source.mailbox, first[0].uidvalidity): first[0].uid}
    again = list(source.fetch_new(cursor, limit=10))
    assert subjects(again) == ["Báo cáo kết quả thực hiện Chương trình 1322 năm 2024 (số 1)"]
    source.mark_done(again[0])
    assert dovecot.folder_uids("INBOX") == [first[0].uid]


def test_wait_for_new_reconnects_when_the_server_restarts(dovecot_server, dovecot):
    # Patient enough to outlast the restart (the server is down for a moment).
    source = ImapSource(settings(dovecot, retry_attempts=10, retry_wait=0.2, retry_wait_max=1.0))
    dovecot.append(message(0))
    list(source.fetch_new({}, limit=10))
    result: dict[str, object] = {}
    waiter = threading.Thread(target=lambda: result.setdefault("new", source.wait_for_new(30)))
    waiter.start()
    time.sleep(0.7)
    dovecot_server.restart()
    waiter.join(timeout=30)
    assert result.get("new") is True  # mail may have come while disconnected: go and look
    assert len(list(source.fetch_new({}, limit=10))) == 1
    source.close()


def test_server_down_gives_source_error_then_recovers(dovecot_server, dovecot, source):
    dovecot.append(message(0))
    list(source.fetch_new({}, limit=10))
    dovecot_server.stop()
    try:
        with pytest.raises(SourceError) as failure:
            list(source.fetch_new({}, limit=10))
        assert "127.0.0.1" in str(failure.value)
        assert dovecot.password not in str(failure.value)
    finally:
        dovecot_server.start()
    assert len(list(source.fetch_new({}, limit=10))) == 1


def test_uidvalidity_change_rereads_unprocessed_mail(dovecot):
    src = ImapSource(settings(dovecot, folder="Reports", use_move=False))
    try:
        dovecot.append(message(1), folder="Reports")
        dovecot.append(message(2), folder="Reports")
        old = list(src.fetch_new({}, limit=10))
        src.mark_done(old[0])
        cursors = {(src.mailbox, old[0].uidvalidity): old[-1].uid}
        assert list(src.fetch_new(cursors, limit=10)) == []

        # The folder is rebuilt (e.g. a server migration): same mail, new UIDs and UIDVALIDITY,
        # the processed keyword carried over by the migration for the first message.
        with dovecot.client() as c:
            c.delete_folder("Reports")
        dovecot.append(message(1), folder="Reports", flags=[b"$TdcProcessed"])
        dovecot.append(message(2), folder="Reports")
        dovecot.append(message(3), folder="Reports")

        new = list(src.fetch_new(cursors, limit=10))
        assert new[0].uidvalidity != old[0].uidvalidity
        assert subjects(new) == [
            "Báo cáo kết quả thực hiện Chương trình 1322 năm 2024 (số 2)",
            "Báo cáo kết quả thực hiện Chương trình 1322 năm 2024 (số 3)",
        ]
        # A stale message from the old UIDVALIDITY is not marked by a UID that now means something else.
        src.mark_done(old[1])
        assert all(b"$TdcProcessed" not in f for uid, f in dovecot.flags("Reports").items() if uid != 1)
    finally:
        src.close()


def test_wrong_password_is_a_clear_source_error_without_the_password(dovecot):
    src = ImapSource(settings(dovecot, password="sai-mật-khẩu-bí-mật"))
    with pytest.raises(SourceError) as failure:
        list(src.fetch_new({}, limit=1))
    text = str(failure.value)
    assert "từ chối đăng nhập" in text and dovecot.user in text
    assert "sai-mật-khẩu-bí-mật" not in text
    assert "sai-mật-khẩu-bí-mật" not in repr(src.settings)


def test_imaps_with_ca_file(dovecot):
    server = dovecot.server
    options = asdict(settings(dovecot, security="ssl", port=server.ssl_port, ca_file=str(server.cert_path)))
    src = make_source("imap", **options)
    try:
        dovecot.append(message(1))
        assert len(list(src.fetch_new({}, limit=10))) == 1
    finally:
        src.close()


def test_starttls_with_ca_file(dovecot):
    src = ImapSource(settings(dovecot, security="starttls", ca_file=str(dovecot.server.cert_path)))
    try:
        dovecot.append(message(1))
        assert len(list(src.fetch_new({}, limit=10))) == 1
    finally:
        src.close()


def test_imaps_without_the_ca_is_refused_clearly(dovecot):
    src = ImapSource(settings(dovecot, security="ssl", port=dovecot.server.ssl_port))
    started = time.monotonic()
    with pytest.raises(SourceError) as failure:
        list(src.fetch_new({}, limit=1))
    assert "certificate" in str(failure.value)
    assert time.monotonic() - started < 5  # not retried: waiting will not fix a certificate
