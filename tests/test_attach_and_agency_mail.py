"""Reports that reach the ledger by a coordinator's hand, and agency mail that must not vanish (issue 24).

Through the real ``tdc-bot`` on SQLite: a report handed over outside email is
attached with ``tdc-bot attach`` and counts (read like a mailed one, audited);
an agency's mail that is not read as a report stays in the review list until
a coordinator dismisses it.
"""
from __future__ import annotations

from datetime import UTC, datetime

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import cli_json, run_cli, status_row, write_config
from tests.fixtures.real_tables import report_with_table

ROWS = [["1", "Số lượt doanh nghiệp được hỗ trợ", "100 lượt doanh nghiệp", "20 lượt doanh nghiệp",
         "60 lượt doanh nghiệp", "60 %"]]


def test_a_report_received_outside_email_is_attached_read_and_counted(tmp_path):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    report = tmp_path / "BC NSCL 2024 Tây Ninh.docx"
    report.write_bytes(report_with_table("Tây Ninh", 2024, ROWS))
    assert status_row(config)["state"] == "missing"
    out = run_cli("attach", "tay-ninh/2024", str(report), "--received", "25/11/2024", "--actor", "dieuphoi",
                  "--reason", "nhận qua hệ thống văn bản điện tử", config=config).stdout
    assert "Đính kèm tệp tay-ninh/2024: chưa nộp → đã nhận" in out
    row = status_row(config)
    assert row["state"] == "received" and row["on_time"] is True  # 25/11, before the deadline
    shown = cli_json("show", "tay-ninh/2024", config=config)
    [version] = shown["versions"]
    assert version["attachments"][0]["filename"] == "BC NSCL 2024 Tây Ninh.docx"
    assert [(r["indicator"], r["result"]) for r in version["indicators"]] == [("Số lượt doanh nghiệp được hỗ trợ",
                                                                               20.0)]
    assert any(e["action"] == "report_recorded_by_hand" and e["actor"] == "dieuphoi"
               and "văn bản điện tử" in e["reason"] for e in shown["audit"])
    refused = run_cli("attach", "tay-ninh", str(tmp_path / "khong-co.docx"), "--year", "2024", config=config,
                      check=False)
    assert refused.returncode == 1 and "Không đọc được tệp" in refused.stderr
    missing_year = run_cli("attach", "tay-ninh", str(report), config=config, check=False)
    assert missing_year.returncode == 2 and "Thiếu năm báo cáo" in missing_year.stderr


def test_an_agencys_mail_that_is_no_report_waits_in_review_until_dismissed(tmp_path):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    deliver(tmp_path / "mail", mailfactory.agency_question(), when=datetime(2024, 11, 18, 2, 0, tzinfo=UTC))
    deliver(tmp_path / "mail", mailfactory.newsletter(), when=datetime(2024, 11, 18, 3, 0, tzinfo=UTC))
    run_cli("run", "--once", config=config)
    [mail] = cli_json("review", "list", config=config)["agency_mail"]  # the newsletter is nobody's: not listed
    assert mail["agency"] == "tay-ninh" and mail["kind"] == "other" and mail["subject"] == "Hỏi về mẫu biểu"
    assert "không được đọc là báo cáo" in mail["label"]
    assert [m["id"] for m in cli_json("show", "tay-ninh/2024", config=config)["agency_mail"]] == [mail["id"]]
    text = run_cli("review", "list", config=config, env={"COLUMNS": "250"}).stdout
    assert "Thư của đơn vị không được đọc là báo cáo: 1" in text
    out = run_cli("dismiss", str(mail["id"]), "--actor", "dieuphoi", "--reason", "hỏi mẫu biểu, đã trả lời",
                  config=config).stdout
    assert f"Bỏ khỏi danh sách cần xem thư #{mail['id']}: đã thực hiện" in out
    assert cli_json("review", "list", config=config)["agency_mail"] == []
    again = cli_json("dismiss", str(mail["id"]), config=config)
    assert again["changed"] is False
