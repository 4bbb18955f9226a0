"""Two daemons against one PostgreSQL database: each reminder is sent once, and the standby takes over.

Real processes (`tdc-bot run`), a real PostgreSQL cluster and a real SMTP server.
The daemons run with --now on a 2024 season day, so the test does not depend on
today's date: on 25/11/2024 (deadline 30/11, campaign opened 17/11) the due stage
for an agency that has not reported is d-7.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import TDC_BOT, wait_for
from workflow.db import models
from workflow.db.engine import Database
from workflow.season import contacts

LEASE_SECONDS = 3
NOW = "2024-11-25T09:00"
TAUGHT = {"vanthu@skhcn.tayninh.gov.vn": "tay-ninh", "vanphong@skhcn.cantho.gov.vn": "can-tho"}


def _config(tmp_path: Path, pg_url: str, smtp_port: int) -> Path:
    path = tmp_path / "tdc.toml"
    path.write_text(
        f'[database]\nurl = "{pg_url}"\n'
        f'[storage]\npath = "{tmp_path / "store"}"\n'
        f'[mailbox]\nsource = "maildir"\nmaildir = "{tmp_path / "mail"}"\npoll_seconds = 1\n'
        f'[smtp]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\n'
        '[coordinators]\nemails = ["dieuphoi@tdc.example.vn"]\n'
        # Both daily jobs are already past at 09:00, so each daemon's start-up catch-up tries them.
        '[schedule]\nreminder_time = "08:00"\ndigest_time = "07:30"\noutbox_seconds = 1\nlease_seconds = '
        f'{LEASE_SECONDS}\n',
        encoding="utf-8",
    )
    return path


def _start(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([TDC_BOT, "run", "--config", str(config), "--now", NOW], stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))


def _leader_pid(db: Database) -> int | None:
    with db.sessions() as s:
        lease = s.get(models.Lease, "leader")
    return int(lease.holder.split(":")[1]) if lease else None


@pytest.mark.postgres
@pytest.mark.slow
def test_two_daemons_send_each_reminder_once_and_the_standby_takes_over(tmp_path, pg_url, smtp_server):
    db = Database(pg_url)
    with db.transaction() as s:
        for address, slug in TAUGHT.items():
            contacts.learn(s, slug, address, actor="test", now=datetime.now(UTC), why="gán thư")
    config = _config(tmp_path, pg_url, smtp_server.port)
    daemons = [_start(config, tmp_path / "a.log"), _start(config, tmp_path / "b.log")]
    try:
        # Two reminders (the two agencies with a known address) and one digest, each delivered once.
        smtp_server.wait_for(3, timeout=60)
        time.sleep(3)  # give a second sender every chance to repeat one
        by_recipient = Counter(r.rcpt_tos[0] for r in smtp_server.messages)
        assert by_recipient == Counter({**{a: 1 for a in TAUGHT}, "dieuphoi@tdc.example.vn": 1})
        with db.sessions() as s:
            keys = sorted(s.scalars(select(models.OutboxEmail.dedupe_key)))
        assert keys == ["digest:2024-11-25", "reminder:can-tho:2024:d-7", "reminder:tay-ninh:2024:d-7"]

        # Kill the leader; the standby must take the lease and read mail within the lease interval.
        leader = _leader_pid(db)
        assert leader in {d.pid for d in daemons}
        os.kill(leader, signal.SIGKILL)
        killed_at = time.monotonic()
        deliver(tmp_path / "mail", mailfactory.report_email())
        assert wait_for(lambda: _leader_pid(db) not in (None, leader), timeout=LEASE_SECONDS * 5, every=0.2)
        takeover = time.monotonic() - killed_at
        smtp_server.wait_for(4, timeout=30)
        ack = smtp_server.messages[-1]
        assert ack.rcpt_tos == ["vanthu@skhcn.tayninh.gov.vn"] and b"TDC-2024-" in ack.data
        print(f"\nstandby took over {takeover:.1f}s after the leader was killed (lease {LEASE_SECONDS}s)")
        assert takeover < LEASE_SECONDS * 3
    finally:
        for d in daemons:
            if d.poll() is None:
                d.send_signal(signal.SIGTERM)
        for d in daemons:
            try:
                d.wait(timeout=30)
            except subprocess.TimeoutExpired:
                d.kill()
        db.dispose()
    survivor = next(d for d in daemons if d.pid != leader)
    assert survivor.returncode == 0, (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
