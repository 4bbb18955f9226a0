"""Smaller things found on the way (issue 11 §6)."""
from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from intake.model import RawMessage
from intake.pipeline import understand
from tests import mailfactory
from tests.cli_helpers import run_cli, write_config
from workflow.app import App
from workflow.operations.doctor import _scrubber
from workflow.runtime.intake_cycle import intake_context
from workflow.settings import ConfigError, load_config


def test_doctor_masks_the_secret_only_where_it_stands_alone() -> None:
    scrub = _scrubber(["host", "s3cret"])
    assert scrub("không đăng nhập được mailbox.host:993") == "không đăng nhập được mailbox.host:993"
    assert scrub("password=s3cret; url imap://u:host@mailbox.host/") == "password=***; url imap://u:***@mailbox.host/"


def test_config_errors_list_every_problem_at_once(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[mailbox]\nsource = "imap"\nhost = "mail.example.vn"\nusername = "u"\n'
                    'password_env = "TDC_TEST_UNSET_PW"\npoll_secondz = 3\n[smtp]\nfrom = "not-an-address"\n'
                    '[schedule]\ndigest_time = "25:99"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    keys = {p.key for p in caught.value.problems}
    assert {"mailbox.poll_secondz", "mailbox.password_env", "smtp.from", "schedule.digest_time"} <= keys


@pytest.mark.slow
def test_read_only_commands_need_no_mail_passwords(tmp_path) -> None:
    extra = ('[mailbox]\nsource = "imap"\nhost = "mail.example.vn"\nusername = "u@example.vn"\n'
             'password_env = "TDC_TEST_UNSET_IMAP_PW"\n')
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    text = config.read_text(encoding="utf-8").replace('[mailbox]\nsource = "maildir"\nmaildir = '
                                                      f'"{tmp_path / "mail"}"\n', extra)
    text = text.replace('[smtp]\ntransport = "file"', '[smtp]\ntransport = "smtp"\nhost = "smtp.example.vn"\n'
                        'username = "u@example.vn"\npassword_env = "TDC_TEST_UNSET_SMTP_PW"')
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(config, environ={})  # the daemon still refuses to start without them
    for args in (["status", "--year", "2024"], ["roster", "--year", "2024"], ["review", "list"]):
        proc = run_cli(*args, config=config, check=False)
        assert proc.returncode == 0, (args, proc.stdout[-1000:], proc.stderr[-2000:])


def test_documents_of_machine_mail_are_not_read(tmp_path) -> None:
    msg = EmailMessage()
    msg["From"] = "Mail Delivery System <mailer-daemon@mx.example.vn>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = "Undeliverable: Báo cáo kết quả NSCL 2024"
    msg.set_content("Your message could not be delivered.")
    msg.add_attachment(mailfactory.report_docx(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="BC.docx")
    app = App.load(str(write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")))
    try:
        u = understand(RawMessage("k", msg.as_bytes(), datetime(2024, 11, 20, tzinfo=UTC), "m"),
                       intake_context(app), None)
    finally:
        app.close()
    assert u.status == "ignored" and u.verdict is not None and u.verdict.kind == "bounce"
    assert u.documents == [] and [a.text_chars for a in u.attachments] == [0]
