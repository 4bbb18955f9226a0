"""``tdc-bot status`` on SQLite runs in the fast lane, and says exactly what the full path says (issue #14 §2).

The lane (interfaces/cli/fast_lane.py) skips Typer, pydantic, SQLAlchemy and Rich;
these tests hold it to three promises: it really runs (the heavy libraries are
not imported), its output is the full path's output byte for byte, and every
case it is not sure of goes to the full path (config errors, a database to
migrate, PostgreSQL, unusual arguments).
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from interfaces.cli import fast_lane
from tests.cli_helpers import run_cli, write_config
from workflow.db.engine import Database

YEAR = 2024
LANE_SKIPS = {"typer", "pydantic", "sqlalchemy", "rich", "alembic"}

# The real entry point in a child; reports which top-level packages it imported.
_PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write(
    "MODULES " + json.dumps(sorted({m.split('.')[0] for m in sys.modules})) + "\\n"))
sys.argv = ["tdc-bot", *json.loads(sys.argv[1])]
from interfaces.cli import main
main()
"""
# The full path only: the Typer app itself, as `tdc-bot` ran it before the lane existed.
_FULL = "import sys; from interfaces.cli.commands import app; sys.argv = ['tdc-bot', *sys.argv[1:]]; app()"


def _modules_after(*args: str, env: dict[str, str] | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(list(args))], capture_output=True, text=True,
                          timeout=120, env=env)
    line = next(ln for ln in done.stderr.splitlines() if ln.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES "))), done


def _full(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _FULL, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def season(tmp_path):
    """A migrated SQLite database with submissions in every shape status shows, a job run and an unsent email."""
    from workflow.db import models

    url = f"sqlite:///{tmp_path / 'tdc.db'}"
    config = write_config(tmp_path, url)
    db = Database(url)
    at = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)
    try:
        with db.transaction() as s:
            message = models.Message(sha256="a" * 64, source_key="k1", mailbox="INBOX", raw_path="x", arrived_at=at,
                                     size=10, status="recorded", sender_auth="unchecked")
            s.add(message)
            s.flush()
            s.add(models.Submission(agency_slug="tay-ninh", year=YEAR, state="needs_review", first_received_at=at,
                                    on_time=True, outline_missing=["I.2.1", "IV"],
                                    review_reasons=["độ tin cậy thấp"], current_message_id=message.id))
            s.flush()
            message.submission_id = s.query(models.Submission.id).filter_by(agency_slug="tay-ninh").scalar()
            s.add(models.Submission(agency_slug="can-tho", year=YEAR, state="accepted", first_received_at=at,
                                    on_time=False, outline_missing=[], review_reasons=[]))
            s.add(models.JobRun(name="outbox", last_run_at=at, ok=False, result="đã gửi 1, lỗi 2, chờ gửi lại 0"))
            s.add(models.OutboxEmail(dedupe_key="x", kind="ack", recipients=["a@b.vn"], subject="s", body_text="t",
                                     message_id_header="<m@x>", state="failed"))
    finally:
        db.dispose()
    accept(config)
    return config


def accept(config) -> None:
    """What any full-path command does first: the loader validates the file and notes its content."""
    from workflow.app import App

    App.load(str(config), need_secrets=False).close()


def test_status_runs_in_the_lane_without_the_heavy_libraries(season):
    loaded, done = _modules_after("status", "--year", str(YEAR), "--config", str(season))
    assert done.returncode == 0, done.stderr
    assert not loaded & LANE_SKIPS, loaded & LANE_SKIPS
    assert "Tây Ninh" in done.stdout and "cần xem xét" in done.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_lane_and_full_path_print_the_same(season, as_json):
    args = ["status", "--year", str(YEAR), "--config", str(season)] + (["--json"] if as_json else [])
    lane = run_cli(*args)
    full = _full(*args)
    assert full.returncode == 0, full.stderr
    assert lane.stdout == full.stdout
    if as_json:
        rows = {r["agency"]: r for r in json.loads(lane.stdout)}
        assert rows["tay-ninh"]["outline_missing"] == ["I.2.1", "IV"]
        assert rows["tay-ninh"]["received_at"] == "2024-11-20T03:00:00+00:00"
        assert rows["tay-ninh"]["sender_note"] == "người gửi chưa được xác thực" and rows["tay-ninh"]["versions"] == 1
        assert rows["can-tho"]["on_time"] is False and rows["can-tho"]["sender_note"] is None
        assert rows["ha-noi"]["state"] == "missing"
    else:
        assert "Thư chưa gửi: chờ gửi 0, giữ lại (giới hạn mỗi giờ) 0, đang gửi 0, lỗi 1" in lane.stdout
        assert "Việc gửi thư: 20/11/2024 10:00 · LỖI" in lane.stdout


def test_a_database_to_migrate_goes_the_full_way(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'new.db'}")
    loaded, done = _modules_after("status", "--year", str(YEAR), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "sqlalchemy" in loaded  # no database yet: the full path creates and migrates it
    loaded, done = _modules_after("status", "--year", str(YEAR), "--config", str(config))
    assert not loaded & LANE_SKIPS  # from then on, the lane


def test_an_old_schema_is_migrated_not_read(season, tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "tdc.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    loaded, done = _modules_after("status", "--year", str(YEAR), "--config", str(season))
    assert "alembic" in loaded  # the full path saw the old revision and ran Alembic


@pytest.mark.parametrize("extra, expected", [
    ('[databse]\nurl = "sqlite:///x.db"\n', "databse: khóa không có trong cấu hình"),
    ("[limits]\nmax_parts = 0\n", "limits.max_parts"),  # a key status does not read, still judged
])
def test_config_problems_are_reported_by_the_full_validation(season, extra, expected):
    season.write_text(season.read_text(encoding="utf-8") + extra, encoding="utf-8")
    proc = run_cli("status", "--year", str(YEAR), config=season, check=False)
    assert proc.returncode == 2 and expected in proc.stderr


def test_content_the_full_path_has_not_accepted_goes_the_full_way_once(season):
    """An edited file (here only a comment) is judged by the one loader before the lane trusts it again."""
    season.write_text(season.read_text(encoding="utf-8") + "# sửa ngày 07/12\n", encoding="utf-8")
    loaded, done = _modules_after("status", "--year", str(YEAR), "--config", str(season))
    assert done.returncode == 0, done.stderr
    assert "pydantic" in loaded  # the full validation read the changed file
    loaded, done = _modules_after("status", "--year", str(YEAR), "--config", str(season))
    assert done.returncode == 0, done.stderr
    assert not loaded & LANE_SKIPS  # accepted: from now on, the lane


def test_accepted_content_is_noted_per_database_and_bounded(tmp_path):
    from workflow.settings_keys import CHECKED_KEEP, config_digest, mark_checked, was_checked

    one, other = tmp_path / "one.db", tmp_path / "other.db"
    digests = [config_digest(f"[database]\n# {i}\n".encode()) for i in range(CHECKED_KEEP + 1)]
    mark_checked(one, digests[0])
    assert was_checked(one, digests[0]) and not was_checked(other, digests[0])
    assert not was_checked(one, config_digest(None))  # the embedded defaults are content of their own
    for digest in digests[1:]:
        mark_checked(one, digest)
    assert not was_checked(one, digests[0]) and all(was_checked(one, d) for d in digests[1:])


@pytest.mark.parametrize("argv, expected", [
    (["status", "--year", "2024"], fast_lane.StatusArgs(2024, False, None)),
    (["status", "-y", "2024", "--json", "-c", "a.toml"], fast_lane.StatusArgs(2024, True, "a.toml")),
    (["status", "--year=2024", "--config=b.toml"], fast_lane.StatusArgs(2024, False, "b.toml")),
    (["status", "--year", "2024", "--help"], None),
    (["status", "--year", "20x4"], None),
    (["status", "--year"], None),
    (["status", "--json"], None),
    (["status", "--year", "2024", "--verbose"], None),
    (["stats"], None),
    ([], None),
])
def test_only_plain_status_arguments_take_the_lane(argv, expected):
    assert fast_lane.status_args(argv, {}) == expected


def test_config_from_the_environment_like_typer():
    assert fast_lane.status_args(["status", "-y", "2024"], {"TDC_CONFIG": "c.toml"}).config == "c.toml"
    assert fast_lane.status_args(["status", "-y", "2024", "-c", "d.toml"], {"TDC_CONFIG": "c.toml"}).config == "d.toml"
    assert fast_lane.status_args(["status", "-y", "2024"], {"TDC_CONFIG": ""}) is None


@pytest.mark.parametrize("url, lane", [
    ("sqlite:///var/tdc.db", True), ("sqlite:////abs/tdc.db", True), ("sqlite://", False),
    ("sqlite:///:memory:", False), ("sqlite:///x.db?mode=ro", False), ("sqlite+pysqlite:///x.db", False),
    ("postgresql+psycopg://u@h/db", False), (5, False),
])
def test_only_plain_sqlite_files_take_the_lane(url, lane):
    assert (fast_lane.sqlite_file(url) is not None) == lane


def test_lane_constants_are_the_models():
    from workflow.db import models
    from workflow.season import status_query

    assert status_query.MISSING == models.MISSING and status_query.NEEDS_REVIEW == models.NEEDS_REVIEW
    assert status_query.UNSENT == (models.PENDING, models.HELD, models.SENDING, models.FAILED, models.SUPPRESSED)
    from workflow.settings import DatabaseConfig

    assert fast_lane.DEFAULT_DATABASE_URL == DatabaseConfig().url


def test_the_session_path_sees_changes_not_yet_flushed(tmp_path, db_url):
    """season_status through a session reads what that session just changed, as an ORM query would
    (a plain SQL statement does not autoflush by itself): an action, then the digest, in one transaction."""
    from sqlalchemy import select

    from reference.roster import load_roster
    from workflow.db import models
    from workflow.season.status import season_status

    db = Database(db_url)
    at = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)
    try:
        with db.transaction() as s:
            s.add(models.Submission(agency_slug="tay-ninh", year=YEAR, state="acknowledged", first_received_at=at,
                                    on_time=True, outline_missing=[], review_reasons=[]))
        with db.transaction() as s:
            sub = s.scalars(select(models.Submission).where(models.Submission.agency_slug == "tay-ninh")).one()
            sub.state = "needs_review"
            rows = {r.agency: r for r in season_status(s, load_roster(None), YEAR)}
            assert rows["tay-ninh"].state == "needs_review"
    finally:
        db.dispose()
