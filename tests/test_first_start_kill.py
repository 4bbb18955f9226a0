"""A first start on the embedded SQLite default survives kill -9 (issue 11 §5).

The first start of a daemon creates the schema and loads reference data. It
is killed with SIGKILL at ten moments spread over every SQL statement it
runs (counted, so each moment is exact and the ten land in migrations and
reference data alike); each time, a later ``tdc-bot run --once`` must
succeed. A database left half-made by an older release (tables, no
``alembic_version`` row, no data) is repaired too.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli, write_config

# Runs App.load (the first start) and kills itself after the N-th SQL statement; N=0 counts them.
_STARTER = r'''
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine

kill_at = int(sys.argv[2])
seen = 0

@event.listens_for(Engine, "after_cursor_execute")
def _count(*_args):
    global seen
    seen += 1
    if seen == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

from workflow.app import App
app = App.load(sys.argv[1])
app.db  # the first start: migrations, then reference data
app.close()
print(seen)
'''


def _first_start(config: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TDC_CONFIG"}
    return subprocess.run([sys.executable, "-c", _STARTER, str(config), str(kill_at)], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.mark.slow
def test_kill_at_ten_moments_of_the_first_start_then_run_once_succeeds(tmp_path):
    (tmp_path / "probe").mkdir()
    probe = _first_start(write_config(tmp_path / "probe", f"sqlite:///{tmp_path / 'probe' / 'tdc.db'}"), 0)
    assert probe.returncode == 0, probe.stderr
    statements = int(probe.stdout.split()[-1])
    assert statements >= 20
    moments = sorted({max(1, statements * i // 10) for i in range(10)} | {2})[:10]
    for moment in moments:
        root = tmp_path / f"kill-{moment}"
        root.mkdir()
        config = write_config(root, f"sqlite:///{root / 'tdc.db'}")
        killed = _first_start(config, moment)
        assert killed.returncode == -signal.SIGKILL, (moment, killed.stderr[-2000:])
        proc = run_cli("run", "--once", config=config, check=False)
        assert proc.returncode == 0, (moment, proc.stderr[-3000:])
        with sqlite3.connect(root / "tdc.db") as conn:
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_half_made_schema_of_an_older_release_is_repaired(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    with sqlite3.connect(tmp_path / "tdc.db") as conn:
        conn.execute("CREATE TABLE agencies (slug VARCHAR(60) PRIMARY KEY)")
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    proc = run_cli("run", "--once", config=config, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_database_with_data_is_never_dropped(tmp_path):
    from workflow.db.engine import make_engine, repair_half_made_schema

    path = tmp_path / "tdc.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE agencies (slug VARCHAR(60) PRIMARY KEY)")
        conn.execute("INSERT INTO agencies VALUES ('tay-ninh')")
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert repair_half_made_schema(engine) == []
    finally:
        engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT slug FROM agencies").fetchall() == [("tay-ninh",)]
