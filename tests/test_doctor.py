"""`tdc-bot doctor` against real servers: each broken setup names its exact fix; a healthy one passes."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli, write_config
from tests.servers.common import free_port
from tests.servers.smtp import SMTP_PASSWORD, SMTP_USER
from workflow.db.engine import make_engine, pending_migrations
from workflow.operations import doctor


def _imap_config(tmp_path: Path, dovecot, *, ca_file: bool = True) -> Path:
    server = dovecot.server
    extra = (f'\n[mailbox]\nsource = "imap"\nhost = "127.0.0.1"\nport = {server.ssl_port}\nsecurity = "ssl"\n'
             f'username = "{dovecot.user}"\npassword_env = "TDC_IMAP_PASSWORD"\n'
             + (f'ca_file = "{server.cert_path}"\n' if ca_file else ""))
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    # write_config has its own [mailbox] table: replace it with the IMAP one.
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("[mailbox]")
    rest = rest.split("[smtp]", 1)[1]
    path.write_text(head + extra.lstrip("\n") + "[smtp]" + rest, encoding="utf-8")
    return path


def _migrated(tmp_path: Path, config: Path, env: dict[str, str] | None = None) -> None:
    run_cli("db", "upgrade", config=config, env=env)


def _lines(proc) -> list[str]:  # type: ignore[no-untyped-def]
    return proc.stdout.splitlines()


def test_healthy_setup_passes(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    # Healthy includes sender verification (without it doctor warns: tests/security/test_identity.py) and a
    # junk filter's verdict (without one doctor warns: tests/test_junk.py).
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[mailbox]\n", '[mailbox]\ntrusted_authserv_id = "mx.tdc.example.vn"\n')
        + '\n[junk]\ntrust_headers = ["rspamd"]\n', encoding="utf-8")
    _migrated(tmp_path, config)
    proc = run_cli("doctor", "--now", "2024-11-20T09:00", config=config)
    lines = _lines(proc)
    assert proc.returncode == 0
    # An empty contact book is a warning, not a failure (#13): every agency owing 2024 lacks a contact.
    contacts_line = next(line for line in lines if "danh bạ liên hệ:" in line)
    assert contacts_line.startswith("CHÚ Ý")
    assert "năm 2024: 69/69 đơn vị còn nợ báo cáo chưa có liên hệ đã xác nhận" in contacts_line
    assert all(line.startswith("OK") for line in lines[:-1] if line != contacts_line), proc.stdout
    assert any("lược đồ cơ sở dữ liệu: đã ở phiên bản mới nhất" in line for line in lines)
    assert any("bây giờ là 20/11/2024 09:00 (Asia/Ho_Chi_Minh)" in line for line in lines)
    assert any("chiến dịch năm nay: năm 2024" in line and "hạn 30/11/2024" in line for line in lines)
    assert lines[-1] == "Mọi kiểm tra đều đạt."


def test_unmigrated_database_is_reported_and_not_migrated(tmp_path: Path) -> None:
    db = tmp_path / "tdc.db"
    sqlite3.connect(db).close()  # an empty SQLite file: reachable, no schema
    config = write_config(tmp_path, f"sqlite:///{db}")
    proc = run_cli("doctor", config=config, check=False)
    assert proc.returncode == 1
    line = next(line for line in _lines(proc) if "lược đồ cơ sở dữ liệu" in line)
    assert line.startswith("LỖI")
    assert line.endswith("chạy `tdc-bot db upgrade`")
    engine = make_engine(f"sqlite:///{db}")
    try:
        assert pending_migrations(engine), "doctor must not migrate the database"
    finally:
        engine.dispose()


def test_missing_sqlite_file_is_reported_and_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nothing-here.db"
    config = write_config(tmp_path, f"sqlite:///{db}")
    proc = run_cli("doctor", config=config, check=False)
    assert proc.returncode == 1
    assert f"chưa có tệp {db}: chạy `tdc-bot db upgrade` để tạo" in proc.stdout
    assert not db.exists()


def test_wrong_imap_password_names_the_environment_variable(tmp_path: Path, dovecot) -> None:
    config = _imap_config(tmp_path, dovecot)
    _migrated(tmp_path, config, {"TDC_IMAP_PASSWORD": "x"})
    wrong = "khong-dung-mat-khau-42"
    proc = run_cli("doctor", config=config, env={"TDC_IMAP_PASSWORD": wrong}, check=False)
    assert proc.returncode == 1
    line = next(line for line in _lines(proc) if " IMAP: " in line)
    assert line.startswith("LỖI")
    assert line.endswith(f"IMAP: sai mật khẩu IMAP cho {dovecot.user}: kiểm tra biến môi trường TDC_IMAP_PASSWORD")
    assert wrong not in proc.stdout + proc.stderr


def test_right_imap_password_logs_in_and_selects_the_folder(tmp_path: Path, dovecot) -> None:
    config = _imap_config(tmp_path, dovecot)
    _migrated(tmp_path, config, {"TDC_IMAP_PASSWORD": "x"})
    proc = run_cli("doctor", config=config, env={"TDC_IMAP_PASSWORD": dovecot.password}, check=False)
    line = next(line for line in _lines(proc) if " IMAP: " in line)
    assert line.startswith("OK"), proc.stdout
    assert f"đăng nhập {dovecot.user}@127.0.0.1:{dovecot.server.ssl_port} (ssl), thư mục INBOX" in line
    assert dovecot.password not in proc.stdout + proc.stderr


def test_untrusted_imap_certificate_asks_for_ca_file(tmp_path: Path, dovecot) -> None:
    config = _imap_config(tmp_path, dovecot, ca_file=False)
    proc = run_cli("doctor", config=config, env={"TDC_IMAP_PASSWORD": dovecot.password}, check=False)
    assert proc.returncode == 1
    assert "IMAP: chứng chỉ TLS không hợp lệ: cấu hình ca_file" in proc.stdout


def test_unreachable_smtp_host_names_host_and_port(tmp_path: Path) -> None:
    port = free_port()  # bound and released: nothing listens there
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    text = config.read_text(encoding="utf-8").replace(
        'transport = "file"', f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"')
    config.write_text(text, encoding="utf-8")
    _migrated(tmp_path, config)
    proc = run_cli("doctor", config=config, check=False)
    assert proc.returncode == 1
    line = next(line for line in _lines(proc) if " SMTP: " in line)
    assert line.startswith("LỖI")
    assert line.endswith(f"SMTP: không kết nối được tới máy chủ SMTP 127.0.0.1:{port} (bị từ chối kết nối): "
                         "kiểm tra smtp.host và smtp.port")


def test_smtp_login_ok_and_wrong_password(tmp_path: Path, smtp_server_auth) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    text = config.read_text(encoding="utf-8").replace(
        'transport = "file"',
        f'transport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_server_auth.port}\nsecurity = "none"\n'
        f'username = "{SMTP_USER}"\npassword_env = "TDC_SMTP_PASSWORD"')
    config.write_text(text, encoding="utf-8")
    _migrated(tmp_path, config, {"TDC_SMTP_PASSWORD": "x"})
    good = run_cli("doctor", config=config, env={"TDC_SMTP_PASSWORD": SMTP_PASSWORD}, check=False)
    assert good.returncode == 0, good.stdout
    assert f"SMTP: 127.0.0.1:{smtp_server_auth.port} (none), đăng nhập {SMTP_USER}" in good.stdout
    bad = run_cli("doctor", config=config, env={"TDC_SMTP_PASSWORD": "sai-roi-123"}, check=False)
    assert bad.returncode == 1
    assert f"SMTP: sai mật khẩu SMTP cho {SMTP_USER}: kiểm tra biến môi trường TDC_SMTP_PASSWORD" in bad.stdout
    assert "sai-roi-123" not in bad.stdout + bad.stderr


# -- units ------------------------------------------------------------------------------------


def test_clock_before_2024_is_wrong() -> None:
    check = doctor.check_clock("Asia/Ho_Chi_Minh", datetime(2019, 5, 1, tzinfo=UTC))
    assert check.failed and "đồng hồ hệ thống sai (năm 2019)" in check.detail


def test_clock_shows_vietnam_time() -> None:
    check = doctor.check_clock("Asia/Ho_Chi_Minh", datetime(2024, 11, 30, 17, 30, tzinfo=UTC))
    assert not check.failed
    assert check.detail.startswith("bây giờ là 01/12/2024 00:30")


def test_year_without_campaign_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    _migrated(tmp_path, config)
    checks = doctor.run_checks(str(config), now=datetime(2031, 3, 1, tzinfo=UTC), environ={})
    campaign = next(c for c in checks if c.name == "chiến dịch năm nay")
    assert campaign.status == doctor.WARN
    assert "year = 2031" in campaign.detail
    assert not any(c.failed for c in checks)


def test_broken_config_stops_with_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[databse]\nurl = "sqlite:///x.db"\n', encoding="utf-8")
    checks = doctor.run_checks(str(path), environ={})
    assert len(checks) == 1 and checks[0].failed and "databse" in checks[0].detail


def test_unwritable_store_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    check = doctor.check_writable("thư mục lưu trữ", blocker)
    assert check.failed and "không phải thư mục" in check.detail
    ok = doctor.check_writable("thư mục lưu trữ", tmp_path / "new" / "store")
    assert not ok.failed and "sẽ được tạo" in ok.detail
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("url", ["postgresql+psycopg://tdc@127.0.0.1:{port}/tdc"])
def test_unreachable_postgres_is_reported(tmp_path: Path, url: str) -> None:
    port = free_port()
    checks = doctor.check_database(url.format(port=port))
    assert checks[0].failed
    assert checks[0].detail.startswith(f"không kết nối được postgresql+psycopg://tdc@127.0.0.1:{port}/tdc")
