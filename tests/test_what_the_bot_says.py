"""What the bot says is true and agrees with itself (issue 22), through the real ``tdc-bot`` on SQLite.

Each test is a finding: a reminder that said "nothing arrived" while a report
waited for review, counts of what waits that differed between views, a
deadline "extended" to an earlier day, ``show`` of a non-report printing
"? (?) năm ?", a year with no campaign answered differently (or with
negative day counts) by each command, a replacement acknowledgement that did
not say what it replaced.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import cli_json, run_cli, write_config

ARRIVED = datetime(2024, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path):  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}",
                        extra='[coordinators]\nemails = ["dieuphoi@tdc.example.vn"]\n')
    path.write_text(path.read_text(encoding="utf-8").replace("[reminders]\nenabled = false",
                                                             "[reminders]\nenabled = true"), encoding="utf-8")
    return path


def _deliver(config, raw: bytes, when: datetime = ARRIVED) -> None:  # type: ignore[no-untyped-def]
    deliver(config.parent / "mail", raw, when=when)


def test_a_report_waiting_for_review_is_not_nothing_received(config):
    """A Gmail address sends Bến Tre's report: Bến Tre still owes, but is told a mail arrived and awaits
    confirmation; status and the digest put it under review, with one count everywhere."""
    _deliver(config, mailfactory.report_email(sender="bentre.vanthu@gmail.com", province="Bến Tre"))
    run_cli("run", "--once", config=config)
    [row] = [r for r in cli_json("status", "--year", "2024", config=config) if r["agency"] == "ben-tre"]
    assert (row["state"], row["awaiting"]) == ("missing", 1)
    text = run_cli("status", "--year", "2024", config=config, env={"COLUMNS": "250"}).stdout
    ben_tre = next(line for line in text.splitlines() if "ben-tre" in line)
    assert "chờ xác nhận thư đã nhận" in ben_tre and "chưa nộp" not in ben_tre
    review_in_status = int(re.search(r"Chờ cán bộ đầu mối xem xét: (\d+)", text).group(1))
    digest = cli_json("digest", "--dry-run", "--year", "2024", "--now", "2024-11-23T08:00", config=config)["digest"]
    assert "ben-tre" not in {m["slug"] for m in digest["missing"]}
    assert review_in_status == len(digest["needs_review"]) == 1
    review = cli_json("review", "list", "--year", "2024", config=config)
    assert review_in_status == len(review["submissions"]) + len(review["messages"]) + len(review["agency_mail"])


def test_the_reminder_letter_names_the_mail_that_waits(tmp_path):
    from notifier.render import render_email

    context = dict(agency_name="Tỉnh Bến Tre", year=2024, deadline=datetime(2024, 11, 30).date(), days_left=7,
                   dispatch="4258/BKHCN-TĐC", dispatch_date=None, reporting_address="baocao@tdc.example.vn",
                   stage="d-7", resubmission=False, contact_unit=None,
                   awaiting={"sender": "bentre.vanthu@gmail.com", "received_at": ARRIVED})
    for template in ("reminder_notice", "reminder_firm", "reminder_overdue"):
        text = " ".join(render_email(template, **context).text.split())
        assert "đã nhận một email từ địa chỉ bentre.vanthu@gmail.com lúc 09:00 ngày 20/11/2024" in text
        assert "Quý cơ quan không cần gửi lại" in text
        assert "Nếu Quý cơ quan đã gửi báo cáo" not in text  # not the "if you already sent it" of nothing received


def test_an_extension_to_an_earlier_day_is_refused_and_changes_nothing(config):
    run_cli("extend", "--year", "2024", "--until", "10/12/2024", "--agency", "tay-ninh", "--reason", "xin gia hạn",
            config=config)
    refused = run_cli("extend", "--agency", "tay-ninh/2024", "--until", "05/12/2024", "--reason", "nhầm",
                      config=config, check=False)
    assert refused.returncode == 1
    assert "hạn nộp đang áp dụng cho Tỉnh Tây Ninh là hết ngày 10/12/2024" in refused.stderr
    assert "xong" not in refused.stdout + refused.stderr
    shown = cli_json("show", "tay-ninh/2024", config=config)
    assert shown["deadline"] == "10/12/2024"
    assert [e["action"] for e in shown["audit"]].count("deadline_extended") == 1


def test_show_of_a_message_that_is_no_report_says_what_it_is(config):
    _deliver(config, mailfactory.newsletter())
    run_cli("run", "--once", config=config)
    out = run_cli("show", "1", config=config).stdout
    assert "Là: thư từ danh sách thư (bỏ qua (thư tự động))" in out
    assert "? (?)" not in out and "năm ?" not in out
    assert "list-id" in out.lower()  # the reason the bot set it aside


def test_a_year_without_a_campaign_gets_one_clear_answer(config):
    expected = "Chưa có đợt báo cáo năm 2031 trong tệp chiến dịch"
    for command in (("status", "--year", "2031"), ("compile", "--year", "2031", "--out", str(config.parent / "x.docx")),
                    ("digest", "--year", "2031", "--dry-run"), ("remind", "--year", "2031", "--dry-run")):
        proc = run_cli(*command, config=config, check=False)
        assert proc.returncode == 1 and expected in proc.stderr, (command, proc.stderr)
        assert "-18" not in proc.stdout and "No campaign" not in proc.stderr


def test_digest_days_are_words_never_negative_numbers(config):
    text = run_cli("digest", "--year", "2024", "--dry-run", "--now", "2024-12-05T08:00", config=config,
                   env={"COLUMNS": "200"}).stdout
    assert "quá hạn 5 ngày" in text and not re.search(r"\s-\d+\b", text)


def test_agency_and_year_are_written_as_show_prints_them(config):
    _deliver(config, mailfactory.report_email())
    run_cli("run", "--once", config=config)
    accepted = cli_json("accept", "tay-ninh/2024", "--actor", "dieuphoi", config=config)
    assert accepted["to_state"] == "accepted"
    out = run_cli("accept", "tay-ninh/2024", config=config).stdout
    assert "Chấp nhận tay-ninh/2024: không có gì thay đổi" in out and "nothing" not in out
    clash = run_cli("exempt", "tay-ninh/2024", "--year", "2025", "--reason", "x", config=config, check=False)
    assert clash.returncode == 2 and "chỉ hai năm khác nhau" in clash.stderr


def test_a_replacement_acknowledgement_says_what_it_replaces(config):
    _deliver(config, mailfactory.report_email(message_id="<v1@skhcn.tayninh.gov.vn>"))
    run_cli("run", "--once", config=config)
    _deliver(config,
             mailfactory.report_email(message_id="<v2@skhcn.tayninh.gov.vn>", subject="Báo cáo NSCL 2024 (bản sửa)"),
             when=ARRIVED + timedelta(days=1))
    run_cli("run", "--once", config=config)
    emails = sorted((config.parent / "outbox").rglob("*.eml"))
    second = emails[-1].read_text("utf-8", errors="replace")
    import email
    from email import policy

    body = email.message_from_string(second, policy=policy.default).get_body(("plain",)).get_content()
    body = " ".join(body.split())
    assert "Báo cáo này thay thế báo cáo Quý cơ quan gửi lúc 09:00 ngày 20/11/2024" in body
    assert "Báo cáo NSCL năm 2024.docx" in body.split("thay thế", 1)[1]


def test_the_ministry_is_named_the_same_way_in_the_reminder_and_the_acknowledgement():
    from notifier.render import render_email
    from tests.test_notifier_render import ack_context

    dispatch = "4258/BKHCN-TĐC"
    ack = " ".join(render_email("ack", **dict(ack_context(), campaign_dispatch=dispatch)).text.split())
    reminder = " ".join(render_email("reminder_notice", agency_name="Tỉnh Bến Tre", year=2024,
                                     deadline=datetime(2024, 11, 30).date(), days_left=7, dispatch=dispatch,
                                     dispatch_date=None, reporting_address="baocao@tdc.example.vn", stage="d-7",
                                     resubmission=False, contact_unit=None).text.split())
    named = f"Công văn số {dispatch} của Bộ Khoa học và Công nghệ"
    assert named in ack and named in reminder


def test_outbox_release_says_when_nothing_was_released(config):
    """`outbox release 99999` or an email already sent: a non-zero exit and the reason, never "0/0"."""
    _deliver(config, mailfactory.report_email())
    run_cli("run", "--once", config=config)
    missing = run_cli("outbox", "release", "99999", config=config, check=False)
    assert missing.returncode == 1 and "hộp thư đi không có thư #99999" in missing.stdout, missing.stdout
    (sent,) = cli_json("outbox", "release", "1", config=config, check=False)
    assert sent["released"] is False and sent["problems"] == ["thư #1 không bị giữ lại: đang ở trạng thái “đã gửi”"]
    assert run_cli("outbox", "release", "1", config=config, check=False).returncode == 1


def test_a_held_acknowledgement_to_a_stranger_is_released_by_its_id(config):
    """Over the hourly cap on strangers an acknowledgement waits (held); a coordinator who looked lets it go."""
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[smtp]\n", "[smtp]\nmax_stranger_acks_per_hour = 1\n"), encoding="utf-8")
    _deliver(config, mailfactory.report_email(sender="bentre.vanthu@gmail.com", province="Bến Tre"))
    _deliver(config, mailfactory.report_email(sender="camau.vanthu@gmail.com", province="Cà Mau",
                                              message_id="<b@gmail.com>"))
    run_cli("run", "--once", config=config)
    held = run_cli("status", "--year", "2024", config=config, env={"COLUMNS": "250"}).stdout
    assert len(sorted((config.parent / "outbox").rglob("*.eml"))) == 1, held
    (released,) = cli_json("outbox", "release", "2", config=config)
    assert released["released"] is True and released["recipients"] == ["camau.vanthu@gmail.com"]
    run_cli("run", "--once", config=config)
    assert len(sorted((config.parent / "outbox").rglob("*.eml"))) == 2


def test_contacts_confirm_brings_back_a_contact_removed_by_mistake(config):
    run_cli("contacts", "add", "tay-ninh", "vanthu@skhcn.tayninh.gov.vn", "--name", "Văn thư", config=config)
    run_cli("contacts", "remove", "tay-ninh", "vanthu@skhcn.tayninh.gov.vn", config=config)
    assert cli_json("contacts", "list", "--agency", "tay-ninh", config=config) == []
    confirmed = cli_json("contacts", "confirm", "tay-ninh", "vanthu@skhcn.tayninh.gov.vn", config=config)
    assert confirmed["action"] == "confirm"
    [back] = cli_json("contacts", "list", "--agency", "tay-ninh", config=config)
    assert (back["email"], back["confirmed"], back["name"]) == ("vanthu@skhcn.tayninh.gov.vn", True, "Văn thư")
    unknown = run_cli("contacts", "confirm", "tay-ninh", "khong-co@x.vn", config=config, check=False)
    assert unknown.returncode != 0 and "không có liên hệ" in unknown.stdout + unknown.stderr
