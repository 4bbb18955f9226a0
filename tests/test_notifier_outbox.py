"""The outbox against a real database (SQLite and PostgreSQL) and a real SMTP server."""
from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from notifier.compose import new_message_id
from notifier.transports import FileTransport, SmtpTransport
from tests.servers.smtp import SmtpServer
from workflow.db.engine import Database
from workflow.db.models import FAILED, PENDING, SENDING, SENT, SUPPRESSED, OutboxEmail
from workflow.runtime.outbox_flush import CLAIM_LEASE, FlushResult, flush

FROM = "Hệ thống tiếp nhận báo cáo <baocao@example.vn>"
T0 = datetime(2024, 11, 20, 1, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def transport_for(server: SmtpServer) -> SmtpTransport:
    return SmtpTransport(server.host, server.port, "none", None, None, timeout=10, local_hostname="localhost")


def add_row(db: Database, n: int, **overrides: object) -> int:
    fields: dict[str, object] = dict(
        dedupe_key=f"ack:{n}", kind="ack", recipients=[f"agency{n}@example.gov.vn"],
        subject=f"Đã nhận báo cáo năm 2024 – số {n}", body_text=f"Nội dung {n}", body_html=f"<p>Nội dung {n}</p>",
        message_id_header=new_message_id("example.vn", "ack", n), attachments=[], next_attempt_at=T0,
    )
    fields.update(overrides)
    with db.transaction() as session:
        row = OutboxEmail(**fields)
        session.add(row)
        session.flush()
        return row.id


def rows(db: Database) -> list[OutboxEmail]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def received_ids(server: SmtpServer) -> list[str]:
    return [m.message()["Message-ID"] for m in server.messages]


def test_due_rows_are_sent_in_order_and_marked_sent(db: Database, smtp_server: SmtpServer) -> None:
    for n in range(3):
        add_row(db, n)
    add_row(db, 99, next_attempt_at=T0 + timedelta(hours=1))  # not due yet
    result = flush(db, transport_for(smtp_server), FROM, now=T0)
    assert result == FlushResult(sent=3)
    stored = rows(db)
    assert received_ids(smtp_server) == [r.message_id_header for r in stored[:3]]
    assert [r.state for r in stored] == [SENT, SENT, SENT, PENDING]
    assert all(r.sent_at == T0 and r.attempts == 1 and r.last_error is None for r in stored[:3])
    msg = smtp_server.messages[0].message()
    assert msg["Subject"] == "Đã nhận báo cáo năm 2024 – số 0" and msg["X-TDC-Bot"] == "1"
    # Nothing is sent twice: a second flush finds nothing due.
    assert flush(db, transport_for(smtp_server), FROM, now=T0) == FlushResult()
    assert len(smtp_server.messages) == 3


def test_outage_holds_the_queue_then_drains_once_in_order(db: Database, smtp_server: SmtpServer) -> None:
    ids = [add_row(db, n) for n in range(4)]
    smtp_server.stop()
    result = flush(db, transport_for(smtp_server), FROM, now=T0, backoff_seconds=60)
    assert (result.sent, result.retried, result.failed) == (0, 1, 0) and result.stopped
    first, *rest = rows(db)
    assert first.state == PENDING and first.attempts == 1 and first.last_error
    assert first.next_attempt_at == T0 + timedelta(seconds=60)
    assert all(r.state == PENDING and r.attempts == 0 and r.next_attempt_at == first.next_attempt_at for r in rest)

    # Still down a minute later: the head row backs off further (60 s, then 120 s).
    result = flush(db, transport_for(smtp_server), FROM, now=T0 + timedelta(seconds=60))
    assert result.retried == 1
    head = rows(db)[0]
    assert head.attempts == 2 and head.next_attempt_at == T0 + timedelta(seconds=60 + 120)

    smtp_server.start()
    assert flush(db, transport_for(smtp_server), FROM, now=T0 + timedelta(seconds=30)) == FlushResult()  # not due
    result = flush(db, transport_for(smtp_server), FROM, now=T0 + timedelta(seconds=180))
    assert result.sent == 4
    stored = rows(db)
    assert [r.id for r in stored] == ids and all(r.state == SENT for r in stored)
    assert received_ids(smtp_server) == [r.message_id_header for r in stored]  # once each, in order


def test_a_deferred_message_is_retried(db: Database, smtp_server: SmtpServer) -> None:
    first = add_row(db, 1)
    add_row(db, 2)
    smtp_server.fail_next(1, code=451)
    result = flush(db, transport_for(smtp_server), FROM, now=T0)
    assert (result.sent, result.retried) == (0, 1)  # a transient error stops the batch
    stored = {r.id: r for r in rows(db)}
    assert stored[first].state == PENDING and "451" in (stored[first].last_error or "")
    result = flush(db, transport_for(smtp_server), FROM, now=T0 + timedelta(minutes=2))
    assert result.sent == 2
    stored = {r.id: r for r in rows(db)}
    assert stored[first].state == SENT and stored[first].attempts == 2
    assert len(smtp_server.messages) == 2


def test_after_max_attempts_the_row_fails_with_the_reason(db: Database, smtp_server: SmtpServer) -> None:
    row_id = add_row(db, 1)
    smtp_server.fail_next(100, code=452, stage="rcpt")
    now = T0
    for attempt in range(1, 4):
        flush(db, transport_for(smtp_server), FROM, now=now, max_attempts=3, backoff_seconds=10)
        [row] = rows(db)
        assert row.attempts == attempt
        now = row.next_attempt_at if row.state == PENDING else now
    assert row.id == row_id and row.state == FAILED
    assert "thôi gửi sau 3 lần thử" in (row.last_error or "") and "452" in (row.last_error or "")
    assert smtp_server.messages == []


def test_a_permanent_refusal_fails_one_row_and_the_rest_go_out(db: Database, smtp_server: SmtpServer) -> None:
    bad = add_row(db, 1)
    good = add_row(db, 2)
    smtp_server.fail_next(1, code=550, stage="rcpt")
    result = flush(db, transport_for(smtp_server), FROM, now=T0)
    assert (result.sent, result.failed) == (1, 1)
    stored = {r.id: r for r in rows(db)}
    assert stored[bad].state == FAILED and "550" in (stored[bad].last_error or "")
    assert stored[good].state == SENT


def test_a_row_that_cannot_be_composed_fails_without_blocking_others(db: Database, smtp_server: SmtpServer,
                                                                     tmp_path: Path) -> None:
    broken = add_row(db, 1, attachments=[{"filename": "x.docx", "path": str(tmp_path / "missing.docx")}])
    add_row(db, 2)
    result = flush(db, transport_for(smtp_server), FROM, now=T0)
    assert (result.sent, result.failed) == (1, 1)
    assert "không còn tệp đính kèm" in (rows(db)[0].last_error or "") and rows(db)[0].id == broken


def test_a_send_interrupted_by_a_crash_is_repeated_after_the_lease(db: Database, smtp_server: SmtpServer) -> None:
    # A daemon claimed these rows and died mid-send: one lease has expired, one has not.
    expired = add_row(db, 1, state=SENDING, attempts=1, next_attempt_at=T0 - timedelta(seconds=1))
    held = add_row(db, 2, state=SENDING, attempts=1, next_attempt_at=T0 + CLAIM_LEASE)
    result = flush(db, transport_for(smtp_server), FROM, now=T0)
    assert result.sent == 1
    stored = {r.id: r for r in rows(db)}
    assert stored[expired].state == SENT and stored[expired].attempts == 2
    assert stored[held].state == SENDING  # its owner may still be sending it
    assert received_ids(smtp_server) == [stored[expired].message_id_header]


def test_a_row_interrupted_every_time_stops_at_max_attempts(db: Database, smtp_server: SmtpServer) -> None:
    add_row(db, 1, state=SENDING, attempts=3, next_attempt_at=T0 - timedelta(seconds=1))
    result = flush(db, transport_for(smtp_server), FROM, now=T0, max_attempts=3)
    assert result.failed == 1 and smtp_server.messages == []
    assert rows(db)[0].state == FAILED and "chương trình dừng giữa lúc gửi" in (rows(db)[0].last_error or "")


def test_daily_cap_suppresses_and_spares_digests(db: Database, smtp_server: SmtpServer) -> None:
    address = "vanthu@tayninh.gov.vn"
    for n in range(2):  # two bot emails to this address in the last 24 hours
        add_row(db, 100 + n, recipients=[address], state=SENT, sent_at=T0 - timedelta(hours=3))
    add_row(db, 110, recipients=[address], state=SENT, sent_at=T0 - timedelta(hours=25))  # outside the window
    capped = add_row(db, 1, kind="reminder_notice", recipients=[address])
    shared = add_row(db, 2, recipients=[address.upper(), "skhcn@tayninh.gov.vn"])
    digest = add_row(db, 3, kind="digest", dedupe_key="digest:2024-11-20", recipients=[address])
    result = flush(db, transport_for(smtp_server), FROM, now=T0, daily_cap=2)
    assert (result.sent, result.suppressed) == (2, 1)
    stored = {r.id: r for r in rows(db)}
    assert stored[capped].state == SUPPRESSED and "daily cap of 2" in (stored[capped].last_error or "")
    assert stored[shared].state == SENT and address.upper() in (stored[shared].last_error or "")
    assert stored[digest].state == SENT
    envelopes = [m.rcpt_tos for m in smtp_server.messages]
    assert envelopes == [["skhcn@tayninh.gov.vn"], [address]]
    assert smtp_server.messages[0].message()["To"] == "skhcn@tayninh.gov.vn"


def test_cap_counts_what_this_flush_sends(db: Database, smtp_server: SmtpServer) -> None:
    for n in range(3):
        add_row(db, n, recipients=["same@example.gov.vn"])
    result = flush(db, transport_for(smtp_server), FROM, now=T0, daily_cap=2)
    assert (result.sent, result.suppressed) == (2, 1)
    assert [r.state for r in rows(db)] == [SENT, SENT, SUPPRESSED]


def test_file_transport_through_the_outbox(db: Database, tmp_path: Path) -> None:
    for n in range(2):
        add_row(db, n)
    result = flush(db, FileTransport(tmp_path / "outbox"), FROM, now=T0)
    assert result.sent == 2
    parsed = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
              for p in sorted((tmp_path / "outbox").glob("*.eml"))]
    assert sorted(m["Message-ID"] for m in parsed) == sorted(r.message_id_header for r in rows(db))


def test_concurrent_flushes_never_send_a_row_twice(db: Database, smtp_server: SmtpServer) -> None:
    count = 30
    for n in range(count):
        add_row(db, n)
    barrier = threading.Barrier(2)
    results: list[FlushResult] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(flush(db, transport_for(smtp_server), FROM, now=T0, batch=count, daily_cap=100))
        except BaseException as exc:  # noqa: BLE001 - surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sum(r.sent for r in results) == count
    smtp_server.wait_for(count)
    ids = received_ids(smtp_server)
    assert len(ids) == count and len(set(ids)) == count
    assert all(r.state == SENT and r.attempts == 1 for r in rows(db))


def test_naive_now_is_refused(db: Database, smtp_server: SmtpServer) -> None:
    with pytest.raises(ValueError, match="aware"):
        flush(db, transport_for(smtp_server), FROM, now=datetime(2024, 11, 20, 8, 0))


def test_inbox_key_counts_case_tags_and_ignored_dots_as_one_inbox() -> None:
    from reference.addresses import inbox_key

    assert {inbox_key(a) for a in ("Nguyen.Van.A@gmail.com", "nguyenvana+baocao@gmail.com",
                                   "NGUYENVANA@googlemail.com",
                                   "n.g.u.y.e.n.v.a.n.a@gmail.com")} == {"nguyenvana@gmail.com"}
    assert inbox_key("van.thu+x@skhcn.tayninh.gov.vn") == "van.thu@skhcn.tayninh.gov.vn"  # dots matter elsewhere
    assert inbox_key("a@b.vn") != inbox_key("c@b.vn")


def test_daily_cap_counts_one_inbox_however_it_is_spelt(db: Database, smtp_server: SmtpServer) -> None:
    """Issue 21 §4: '+tag', dots Gmail ignores and case were three inboxes to the cap, one to the person."""
    spellings = ["nguyenvana@gmail.com", "Nguyen.VanA@gmail.com", "nguyenvana+1@gmail.com", "NGUYENVANA+2@GMAIL.COM"]
    for n, address in enumerate(spellings):
        add_row(db, n, recipients=[address])
    result = flush(db, transport_for(smtp_server), FROM, now=T0, daily_cap=2)
    assert (result.sent, result.suppressed) == (2, 2)
    assert [r.state for r in rows(db)] == [SENT, SENT, SUPPRESSED, SUPPRESSED]


def test_acknowledgements_to_strangers_wait_for_the_hourly_cap(db: Database, smtp_server: SmtpServer) -> None:
    """Issue 21 §4: a flood of forged senders is answered at most ``stranger_cap`` times an hour; the rest wait."""
    from workflow.db.models import HELD

    for n in range(7):
        add_row(db, n, recipients=[f"forged{n}@example.net"], to_stranger=True)
    add_row(db, 50, recipients=["vanthu@skhcn.tayninh.gov.vn"])  # a known address: never held
    result = flush(db, transport_for(smtp_server), FROM, now=T0, stranger_cap=3)
    assert (result.sent, result.held) == (4, 4)
    stored = rows(db)
    assert [r.state for r in stored] == [SENT] * 3 + [HELD] * 4 + [SENT]
    assert all("giữ lại do vượt giới hạn 3 thư báo nhận mỗi giờ" in (r.last_error or "") for r in stored[3:7])
    assert all(r.attempts == 0 for r in stored[3:7])  # waiting is not a failed attempt
    assert flush(db, transport_for(smtp_server), FROM, now=T0 + timedelta(minutes=30), stranger_cap=3).sent == 0
    later = flush(db, transport_for(smtp_server), FROM, now=T0 + timedelta(minutes=61), stranger_cap=3)
    assert later.sent == 3 and [r.state for r in rows(db)].count(HELD) == 1
    assert len(smtp_server.messages) == 7
