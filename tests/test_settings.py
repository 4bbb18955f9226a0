"""Configuration: defaults, every problem at once, secrets never from the file."""
from __future__ import annotations

from pathlib import Path

import pytest

from workflow.settings import EMBEDDED, ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tdc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults_need_no_server():
    loaded = load_config(None, environ={})
    s = loaded.settings
    assert loaded.source == EMBEDDED
    assert s.database.url == "sqlite:///var/tdc.db"
    assert s.mailbox.source == "maildir" and s.mailbox.maildir == "var/mail"
    assert s.smtp.transport == "file" and s.smtp.outbox_dir == "var/outbox"
    assert s.schedule.timezone == "Asia/Ho_Chi_Minh"


def test_example_config_is_valid_with_its_secrets_in_the_environment():
    env = {"TDC_IMAP_PASSWORD": "imap-secret", "TDC_SMTP_PASSWORD": "smtp-secret"}
    loaded = load_config(REPO / "config" / "tdc.example.toml", environ=env)
    assert loaded.settings.mailbox.source == "imap"
    assert loaded.imap_password == "imap-secret" and loaded.smtp_password == "smtp-secret"


def test_tdc_config_variable_is_the_fallback(tmp_path):
    path = write(tmp_path, '[storage]\npath = "elsewhere"\n')
    assert load_config(None, environ={"TDC_CONFIG": str(path)}).settings.storage.path == "elsewhere"


def test_typo_missing_secret_and_remote_plaintext_are_all_reported_at_once(tmp_path):
    path = write(tmp_path, """
[mailbox]
source = "imap"
hots = "imap.example.vn"
host = "imap.example.vn"
username = "baocao@example.vn"
password_env = "TDC_IMAP_PASSWORD"
security = "none"
""")
    # First pass: the typo alone stops validation of the section's values.
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    text = str(info.value)
    assert str(path) in text
    assert "mailbox.hots: khóa không có trong cấu hình (có phải ý bạn là 'host'?)" in text

    path = write(tmp_path, """
[mailbox]
source = "imap"
host = "imap.example.vn"
username = "baocao@example.vn"
password_env = "TDC_IMAP_PASSWORD"
security = "none"
[smtp]
transport = "smtp"
host = "smtp.example.vn"
username = "baocao@example.vn"
""")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    problems = {(p.key, p.reason.split(" ")[0]) for p in info.value.problems}
    assert ("mailbox.security", "'none'") in problems
    assert any(p.key == "mailbox.password_env" and "TDC_IMAP_PASSWORD chưa đặt" in p.reason
               for p in info.value.problems)
    assert any(p.key == "smtp.password_env" and "chưa đặt password_env" in p.reason for p in info.value.problems)


def test_plaintext_allowed_on_loopback_or_when_explicit(tmp_path):
    base = '[mailbox]\nsource = "imap"\nusername = "u@x.vn"\npassword_env = "P"\nsecurity = "none"\n'
    assert load_config(write(tmp_path, base + 'host = "127.0.0.1"\n'), environ={"P": "x"}).imap_password == "x"
    assert load_config(write(tmp_path, base + 'host = "localhost"\n'), environ={"P": "x"})
    loaded = load_config(write(tmp_path, base + 'host = "imap.example.vn"\nallow_insecure = true\n'),
                         environ={"P": "x"})
    assert loaded.settings.mailbox.security == "none"


def test_password_in_the_file_is_not_a_key(tmp_path):
    path = write(tmp_path, '[mailbox]\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "mailbox.password: khóa không có trong cấu hình" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_password_file(tmp_path):
    secret = tmp_path / "imap.secret"
    secret.write_text("from-file\n", encoding="utf-8")
    path = write(tmp_path,
                 '[mailbox]\nsource = "imap"\nhost = "imap.example.vn"\nusername = "u@x.vn"\npassword_file = '
                 f'"{secret}"\n')
    assert load_config(path, environ={}).imap_password == "from-file"


def test_bad_values_are_named_with_their_key(tmp_path):
    path = write(tmp_path, """
[mailbox]
port = 70000
[schedule]
timezone = "Mars/Olympus"
digest_time = "25:00"
[coordinators]
emails = ["not-an-address"]
""")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    keys = {p.key for p in info.value.problems}
    assert "mailbox.port" in keys


def test_cross_checks_all_reported(tmp_path):
    path = write(tmp_path, """
[schedule]
timezone = "Mars/Olympus"
digest_time = "25:00"
[coordinators]
emails = ["not-an-address"]
[database]
url = "postgresql+psycopg://tdc:secret@db/tdc"
""")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    keys = {p.key for p in info.value.problems}
    assert {"schedule.timezone", "schedule.digest_time", "coordinators.emails[0]", "database.url"} <= keys
    assert "secret" not in str(info.value).replace("TDC_DATABASE_PASSWORD", "")


def test_syntax_error_names_the_file(tmp_path):
    path = write(tmp_path, "[mailbox\nsource=")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(path) in str(info.value) and "(cú pháp)" in str(info.value)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: None, "không có tệp này"),
    (lambda p: p.mkdir(), "đây là thư mục, không phải tệp"),
    (lambda p: p.write_bytes(b"[mailbox]\nsource = \"imap\xff\"\n"), "tệp không phải văn bản UTF-8 (byte lạ ở vị trí"),
])
def test_an_unreadable_config_file_is_named_with_the_reason(tmp_path, make, reason):
    """The config file is read by the same reader as the coordinators' data files (reference.toml_files)."""
    path = tmp_path / "tdc.toml"
    make(path)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(path) in str(info.value) and "(tệp)" in str(info.value) and reason in str(info.value)
