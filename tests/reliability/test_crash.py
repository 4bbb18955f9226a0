"""Crash anywhere: `kill -9` the real daemon at random moments, restart it, and lose nothing.

Invariants 1-3 of the architecture under the harshest stop there is: every
message recorded exactly once, every acknowledgement sent at least once
(a repeat per kill at most), and the season's states exactly as an
uninterrupted run leaves them.
"""
from __future__ import annotations

import email
import os
import random
import time
import uuid
from collections import Counter
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reference.roster import load_roster
from tests import mailfactory
from tests.cli_helpers import cli_json
from tests.reliability import (
    IMAP_PW_ENV,
    DaemonProcess,
    append_many,
    count,
    engine_for,
    outbox_busy,
    tagged,
    wait_until,
    write_config,
)
from tests.servers.dovecot import DovecotUser
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon

pytestmark = [pytest.mark.slow, pytest.mark.imap]


def _other_mail(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Nguyễn Văn {i} <nguoidan{i}@gmail.com>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = f"Hỏi về lịch họp giao ban số {i}"
    msg["Message-ID"] = make_msgid(domain="gmail.com")
    msg.set_content("Xin hỏi lịch họp giao ban tuần tới tổ chức ở phòng nào. Cảm ơn.")
    return msg.as_bytes()


def _bounce(i: int) -> bytes:
    return mailfactory.bounce().replace(b"<bounce-1@mx.example.vn>", f"<bounce-{i}@mx.example.vn>".encode())


def build_corpus(total: int, seed: int) -> list[bytes]:
    """About a third reports (each 2024 agency once, then second versions), the rest machine and other mail."""
    rng = random.Random(seed)
    agencies = [a for a in load_roster().owing(2024) if a.domains]
    n_reports = total // 3
    reports = []
    for i in range(n_reports):
        agency = agencies[i % len(agencies)]
        sender = f"vanthu@skhcn.{agency.domains[0]}"
        subject = None if i < len(agencies) else f"Báo cáo bổ sung Chương trình 1322 năm 2024 - {agency.short_name}"
        reports.append(mailfactory.report_email(sender=sender, province=agency.short_name, subject=subject))
    makers = [
        lambda i: mailfactory.auto_reply(sender=f"vanthu@skhcn.{agencies[i % len(agencies)].domains[0]}"),
        lambda i: mailfactory.newsletter(),
        _bounce,
        _other_mail,
    ]
    filler = [makers[i % len(makers)](i) for i in range(total - n_reports)]
    mixed = reports + filler
    rng.shuffle(mixed)
    # Second versions must come after first versions, as in real life: keep reports in roster order.
    order, is_report = iter(reports), set(reports)
    mixed = [next(order) if raw in is_report else raw for raw in mixed]
    return [tagged(raw, i) for i, raw in enumerate(mixed)]


def _status(config) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = cli_json("status", "--year", "2024", config=config)
    assert isinstance(rows, list)
    return sorted(rows, key=lambda r: r["agency"])


def _messages(url: str) -> dict[str, tuple]:
    with Session(engine_for(url)) as s:
        return {m.sha256: (m.status, m.kind, m.agency_slug, m.year, m.marked_done)
                for m in s.scalars(select(models.Message))}


def _recorded(engine) -> int:  # type: ignore[no-untyped-def]
    try:
        return count(engine, models.Message)
    except Exception:  # noqa: BLE001 - no schema yet: killed before the first migration finished
        return 0


def _fresh_db(postgres_server, sqlite_path) -> str:  # type: ignore[no-untyped-def]
    if postgres_server is None:
        return f"sqlite:///{sqlite_path}"
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:16]}")


@pytest.mark.parametrize("backend,total,kills", [
    pytest.param("postgres", 300, 20, marks=pytest.mark.postgres, id="postgres-300"),
    pytest.param("sqlite", 90, 10, id="sqlite-90"),
])
def test_kill_9_anywhere_loses_and_repeats_nothing(backend, total, kills, request, tmp_path, dovecot_server,
                                                    smtp_server, monkeypatch):
    postgres = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    seed = int(os.environ.get("TDC_CRASH_SEED", random.randrange(1 << 30)))
    print(f"\ncrash test seed: {seed} (set TDC_CRASH_SEED={seed} to repeat)")
    rng = random.Random(seed)
    corpus = build_corpus(total, seed)
    monkeypatch.setenv(IMAP_PW_ENV, dovecot_server.password)
    tag = uuid.uuid4().hex[:8]

    # The reference: the same messages through one uninterrupted daemon (in-process, file outbox).
    ref_box = DovecotUser(dovecot_server, f"ref{tag}")
    append_many(ref_box, corpus)
    ref_url = _fresh_db(postgres, tmp_path / "ref.db")
    ref_config = write_config(tmp_path, db_url=ref_url, dovecot=ref_box, name="ref")
    ref_app = App.load(str(ref_config))
    try:
        Daemon(ref_app).run_once()
    finally:
        ref_app.close()
    assert len(ref_box.folder_uids("Processed")) == total

    # The crash run: a real process, killed with SIGKILL again and again.
    box = DovecotUser(dovecot_server, f"crash{tag}")
    append_many(box, corpus)
    url = _fresh_db(postgres, tmp_path / "crash.db")
    config = write_config(tmp_path, db_url=url, smtp=smtp_server, dovecot=box, name="crash", lease_seconds=3,
                          poll_seconds=1, mailbox_extra="cycle_limit = 15\nbatch_size = 5\n")
    engine = engine_for(url)
    daemon = DaemonProcess(config, tmp_path / "daemon.log", env={IMAP_PW_ENV: dovecot_server.password},
                           args=("--log-level", "info"))
    started = time.monotonic()
    progress = []
    try:
        for _ in range(kills):
            before = _recorded(engine)
            leaders = daemon.log_count("nhận quyền chạy")
            daemon.start()
            moment = rng.random()
            if moment < 0.2:  # during start-up: imports, migrations, waiting for the dead daemon's lease
                time.sleep(rng.uniform(0.2, 4.0))
            elif moment < 0.4 or before >= total:  # just after taking the lease: connecting, fetching, or sending
                wait_until(lambda leaders=leaders: daemon.log_count("nhận quyền chạy") > leaders, timeout=30,
                           what="the restarted daemon to take the lease", every=0.05)
                time.sleep(rng.uniform(0.0, 1.5))
            else:  # in the middle of the work: parsing, committing, moving, sending
                wait_until(lambda before=before: _recorded(engine) > before, timeout=30,
                           what="the daemon to record a message",
                           every=0.05)
                time.sleep(rng.uniform(0.0, 0.6))
            daemon.kill9()
            progress.append(_recorded(engine))
        leaders = daemon.log_count("nhận quyền chạy")
        daemon.start()
        wait_until(lambda: daemon.log_count("nhận quyền chạy") > leaders
                   and len(box.folder_uids("Processed")) == total and not box.folder_uids("INBOX")
                   and outbox_busy(engine) == 0 and count(engine, models.Message) == total,
                   timeout=300, what="the daemon to finish the mailbox and the outbox", every=1,
                   describe=lambda: (f"Processed {len(box.folder_uids('Processed'))}, "
                                     f"INBOX {box.folder_uids('INBOX')}, "
                                     f"outbox busy {outbox_busy(engine)}, messages {count(engine, models.Message)}"))
        assert daemon.terminate() == 0, (tmp_path / "daemon.log").read_text(errors="replace")[-3000:]
    finally:
        daemon.ensure_dead()
    elapsed = time.monotonic() - started

    # Every message recorded exactly once, all marked on the server.
    crash_rows = _messages(url)
    assert len(crash_rows) == total == count(engine, models.Message)
    assert all(marked for *_, marked in crash_rows.values())
    assert box.folder_uids("INBOX") == []

    # Same understanding and same season as without the crashes.
    assert crash_rows == _messages(ref_url)
    assert _status(config) == _status(ref_config)

    # Every acknowledgement sent at least once; repeats bounded by the kills.
    with Session(engine) as s:
        acks = list(s.scalars(select(models.OutboxEmail).where(models.OutboxEmail.kind == "ack")))
        reports = count(engine, models.Message, models.Message.kind == "report")
    assert len(acks) == reports > 0
    delivered = Counter(email.message_from_bytes(m.data,
                                                 policy=policy.default)["Message-ID"] for m in smtp_server.messages)
    missing = [a.dedupe_key for a in acks if delivered[a.message_id_header] < 1]
    assert missing == []
    duplicates = sum(n - 1 for n in delivered.values())
    assert set(delivered) == {a.message_id_header for a in acks}
    assert all(a.state == models.SENT for a in acks)
    print(f"crash test [{backend}]: {total} messages, {kills} kills (messages recorded at each kill: {progress}), "
          f"{len(acks)} acks, {duplicates} duplicate sends, {elapsed:.1f}s")
    assert duplicates <= kills
    engine.dispose()
    if postgres is not None:
        for u in (url, ref_url):
            postgres.drop_database(u.rsplit("/", 1)[1])
