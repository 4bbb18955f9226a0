"""The real `tdc-bot run` process on the embedded shape: delivers, quarantines, stops cleanly."""
from __future__ import annotations

import signal
import subprocess
from datetime import UTC
from pathlib import Path

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import TDC_BOT, cli_json, run_cli, wait_for, write_config


def test_daemon_acknowledges_then_stops_cleanly_on_sigterm(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/tdc.db",
                          extra='[schedule]\noutbox_seconds = 1\n')
    config.write_text(config.read_text(encoding="utf-8").replace('maildir = "', 'poll_seconds = 1\nmaildir = "'),
                      encoding="utf-8")
    proc = subprocess.Popen([TDC_BOT, "run", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deliver(tmp_path / "mail", mailfactory.report_email())
        outbox = tmp_path / "outbox"
        assert wait_for(lambda: outbox.exists() and any(outbox.glob("*.eml")), 30), "no acknowledgement written"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "daemon đã dừng" in err
    stats = cli_json("stats", config=config)
    assert stats["messages"] == 1 and stats["quarantined"] == 0
    assert stats["outbox"]["sent"] == 1


def test_run_once_quarantines_what_it_cannot_read_and_goes_on(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/tdc.db")
    deliver(tmp_path / "mail", b"\x00\x01\x02 not an email at all \xff\xfe")
    deliver(tmp_path / "mail", mailfactory.report_email())
    out = run_cli("run", "--once", config=config).stdout
    assert "cách ly 1" in out and "đã ghi 1" in out
    rows = cli_json("quarantine", "list", config=config)
    assert len(rows) == 1 and rows[0]["reason"]
    assert Path(rows[0]["raw_path"]).read_bytes().startswith(b"\x00\x01\x02")
    status = {r["agency"]: r for r in cli_json("status", "--year", "2024", config=config)}
    assert status["tay-ninh"]["state"] == "acknowledged"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_run_once_as_a_standby_says_so_and_exits_3(tmp_path):
    from datetime import datetime, timedelta

    from workflow.db import models
    from workflow.db.engine import Database

    config = write_config(tmp_path, f"sqlite:///{tmp_path}/tdc.db")
    run_cli("db", "upgrade", config=config)
    db = Database(f"sqlite:///{tmp_path}/tdc.db")
    with db.transaction() as s:  # a daemon elsewhere holds the lease for another minute
        s.add(models.Lease(name="leader", holder="other-host:1:x",
                           expires_at=datetime.now(UTC) + timedelta(minutes=1)))
    db.dispose()
    deliver(tmp_path / "mail", mailfactory.report_email())
    proc = run_cli("run", "--once", config=config, check=False)
    assert proc.returncode == 3
    assert "daemon khác (other-host:1:x) đang giữ quyền chạy" in proc.stderr and "lease_seconds" in proc.stderr
    assert cli_json("stats", config=config)["messages"] == 0
