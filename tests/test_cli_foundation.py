"""The foundation through the real command line: roster, status, config check, db upgrade."""
from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import inspect

from tests.cli_helpers import cli_json, run_cli, write_config
from workflow.db.engine import Database, pending_migrations

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_help_lists_every_command():
    out = run_cli("--help").stdout
    for command in ("run", "status", "roster", "stats", "classify", "config", "db", "quarantine"):
        assert command in out


def test_roster_2024_has_63_provinces_and_6_ministries(tmp_path):
    agencies = cli_json("roster", "--year", "2024", config=write_config(tmp_path, f"sqlite:///{tmp_path}/t.db"))
    assert len(agencies) == 69
    kinds = [a["kind"] for a in agencies]
    assert kinds.count("province") == 63 and kinds.count("ministry") == 6
    slugs = {a["slug"] for a in agencies}
    assert {"tay-ninh", "ho-chi-minh", "ba-ria-vung-tau", "dak-lak", "bo-y-te",
            "bo-nong-nghiep-va-phat-trien-nong-thon", "bo-thong-tin-va-truyen-thong"} <= slugs
    assert all(SLUG.match(s) for s in slugs)


def test_roster_2025_has_34_provinces_and_the_merged_ministries(tmp_path):
    agencies = cli_json("roster", "--year", "2025", config=write_config(tmp_path, f"sqlite:///{tmp_path}/t.db"))
    provinces = [a for a in agencies if a["kind"] == "province"]
    ministries = {a["slug"] for a in agencies if a["kind"] == "ministry"}
    assert len(provinces) == 34
    assert "bo-nong-nghiep-va-moi-truong" in ministries
    assert not ministries & {"bo-giao-thong-van-tai", "bo-thong-tin-va-truyen-thong",
                             "bo-nong-nghiep-va-phat-trien-nong-thon"}
    tay_ninh = next(a for a in provinces if a["slug"] == "tay-ninh")
    assert "long-an" in tay_ninh["absorbed"]


def test_status_on_a_fresh_database_shows_every_owed_agency_missing(tmp_path, db_url):
    rows = cli_json("status", "--year", "2024", config=write_config(tmp_path, db_url))
    assert len(rows) == 69
    assert {r["state"] for r in rows} == {"missing"}
    for row in rows:
        assert set(row) >= {"agency", "name", "state", "received_at", "on_time"}
        assert row["received_at"] is None and row["on_time"] is None


def test_migrations_create_the_schema_on_both_backends(db_url):
    db = Database(db_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert {"messages", "attachments", "submissions", "outbox", "audit_log", "agencies", "campaigns",
                "leases", "mailbox_cursors", "alembic_version"} <= tables
        assert pending_migrations(db.engine) == []
    finally:
        db.dispose()


def test_db_upgrade_command(tmp_path, db_url):
    out = run_cli("db", "upgrade", config=write_config(tmp_path, db_url)).stdout
    assert "đã ở phiên bản mới nhất" in out


def test_config_check_reports_every_problem_and_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[mailbox]\nsource = "imap"\nhost = "imap.example.vn"\nsecurity = "none"\n'
                    'username = "u@example.vn"\npassword_env = "TDC_TEST_MISSING_PW"\n[smtpp]\nhost = "x"\n',
                    encoding="utf-8")
    proc = run_cli("config", "check", config=path, check=False)
    assert proc.returncode == 2
    assert str(path) in proc.stderr
    assert "smtpp: khóa không có trong cấu hình" in proc.stderr and proc.stderr.startswith("Lỗi cấu hình:")


def test_a_config_file_with_broken_syntax_or_bytes_says_where_in_vietnamese(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[mailbox]\nsource = "imap"\nhost = imap.example.vn\n', encoding="utf-8")
    proc = run_cli("config", "check", config=path, check=False)
    assert proc.returncode == 2 and "dòng 3" in proc.stderr and "host = imap.example.vn" in proc.stderr, proc.stderr
    path.write_bytes(b'[mailbox]\nfolder = "H\xf4p th\xf4"\n')  # Latin-1, as an old editor saves it
    proc = run_cli("config", "check", config=path, check=False)
    assert proc.returncode == 2 and "không phải văn bản UTF-8" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_check_cross_problems(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[mailbox]\nsource = "imap"\nhost = "imap.example.vn"\nsecurity = "none"\n'
                    'username = "u@example.vn"\npassword_env = "TDC_TEST_MISSING_PW"\n', encoding="utf-8")
    proc = run_cli("config", "check", config=path, check=False)
    assert proc.returncode == 2
    assert "mailbox.security" in proc.stderr and "loopback" in proc.stderr
    assert "TDC_TEST_MISSING_PW chưa đặt" in proc.stderr


def test_config_check_ok_on_example(tmp_path):
    from tests.cli_helpers import REPO

    proc = run_cli("config", "check", config=REPO / "config" / "tdc.example.toml",
                   env={"TDC_IMAP_PASSWORD": "pw-imap-123", "TDC_SMTP_PASSWORD": "pw-smtp-456"})
    assert proc.stdout.startswith("Cấu hình hợp lệ: ")
    assert "pw-imap-123" not in proc.stdout + proc.stderr


def test_a_wrong_config_fails_at_start_of_any_command(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[database]\nurll = "sqlite:///x.db"\n', encoding="utf-8")
    proc = run_cli("status", "--year", "2024", config=path, check=False)
    assert proc.returncode == 2
    assert f"{path}: database.urll: khóa không có trong cấu hình (có phải ý bạn là 'url'?)" in proc.stderr


def test_status_reports_outline_gaps_and_review_reasons_on_both_backends(tmp_path, db_url):
    from datetime import datetime

    from workflow.db import models

    config = write_config(tmp_path, db_url)
    run_cli("db", "upgrade", config=config)
    db = Database(db_url)
    try:
        with db.transaction() as s:
            at = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)
            s.add(models.Submission(agency_slug="tay-ninh", year=2024, state="needs_review", first_received_at=at,
                                    on_time=True, outline_missing=["I.2.1", "IV"], review_reasons=["độ tin cậy thấp"]))
            s.add(models.Submission(agency_slug="can-tho", year=2024, state="acknowledged", first_received_at=at,
                                    on_time=True, outline_missing=[], review_reasons=[]))
    finally:
        db.dispose()
    rows = {r["agency"]: r for r in cli_json("status", "--year", "2024", config=config)}
    assert rows["tay-ninh"]["outline_missing"] == ["I.2.1", "IV"]
    assert rows["tay-ninh"]["review_reasons"] == ["độ tin cậy thấp"]
    assert rows["can-tho"]["outline_missing"] == [] and rows["can-tho"]["review_reasons"] == []
    assert rows["ha-noi"]["state"] == "missing" and rows["ha-noi"]["outline_missing"] == []
