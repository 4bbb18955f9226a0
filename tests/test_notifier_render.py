"""Templates and filters: Vietnamese wording, Vietnam's dates, and escaping of whatever came from an email."""
from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from notifier.render import (
    TEMPLATES_DIR,
    RenderError,
    one_line,
    render_email,
    vn_date,
    vn_datetime,
    vn_filesize,
    vn_number,
)

EMAIL_NAMES = ["ack", "resubmission", "reminder_notice", "reminder_firm", "reminder_overdue", "digest"]
SCRIPT = "<script>alert(1)</script>"


def ack_context(**overrides: object) -> dict[str, object]:
    context: dict[str, object] = dict(
        agency_name="Tỉnh Tây Ninh",
        year=2024,
        reference="TDC-2024-000123",
        received_at=datetime(2024, 11, 29, 17, 30, tzinfo=UTC),  # 00:30 on 30/11 in Hanoi
        on_time=True,
        deadline=date(2024, 11, 30),
        subject="Báo cáo kết quả thực hiện Chương trình 1322 năm 2024",
        attachments=[{"filename": "BC NSCL 2024 Tây Ninh.docx", "size": 48_213}],
        outline_missing=[],
        needs_review=False,
        review_reasons=[],
        reply_address="baocao@example.vn",
        campaign_dispatch="4258/BKHCN-TĐC",
    )
    context.update(overrides)
    return context


def reminder_context(**overrides: object) -> dict[str, object]:
    context: dict[str, object] = dict(
        agency_name="Tỉnh Tây Ninh",
        year=2024,
        deadline=date(2024, 11, 30),
        days_left=7,
        dispatch="4258/BKHCN-TĐC",
        dispatch_date=date(2023, 11, 17),
        reporting_address="baocao@example.vn",
    )
    context.update(overrides)
    return context


def digest_context(**overrides: object) -> dict[str, object]:
    context: dict[str, object] = dict(
        date=date(2024, 11, 21),
        counts={},
        new_since_yesterday=[],
        missing=[],
        needs_review=[],
        outbox_failed=[],
        quarantine=[],
        no_address=[],
        one_line=False,
    )
    context.update(overrides)
    return context


def visible_text(markup: str) -> str:
    """What a reader sees in the HTML part: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


# -- filters ------------------------------------------------------------------------


def test_vn_date_converts_to_hanoi_time_before_formatting() -> None:
    late_evening_utc = datetime(2024, 11, 30, 18, 5, tzinfo=UTC)  # 01:05 on 01/12 in Hanoi
    assert vn_date(late_evening_utc) == "01/12/2024"
    assert vn_date(date(2024, 3, 5)) == "05/03/2024"
    assert vn_date(None) == ""


def test_vn_datetime_reads_like_a_vietnamese_dispatch() -> None:
    assert vn_datetime(datetime(2024, 11, 29, 17, 30, tzinfo=UTC)) == "00:30 ngày 30/11/2024"


def test_naive_datetimes_are_rejected_not_guessed() -> None:
    with pytest.raises(ValueError, match="naive"):
        vn_date(datetime(2024, 11, 30, 12, 0))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1234567, "1.234.567"), (1234567.5, "1.234.567,5"), (0.25, "0,25"), (-1200.0, "-1.200"), (12, "12"), (None, "")],
)
def test_vn_number_uses_vietnamese_separators(value: float | None, expected: str) -> None:
    assert vn_number(value) == expected


def test_vn_number_keeps_requested_decimals() -> None:
    assert vn_number(1234.5, 2) == "1.234,50"


@pytest.mark.parametrize(("size", "expected"), [(532, "532 byte"), (12_600, "12,3 KB"), (3 * 1024 * 1024, "3 MB")])
def test_vn_filesize(size: int, expected: str) -> None:
    assert vn_filesize(size) == expected


def test_one_line_removes_every_kind_of_line_break() -> None:
    assert one_line("a\r\nBcc: x@y\u2028z\x00 \t end") == "a Bcc: x@y z end"


# -- every template -------------------------------------------------------------------


def contexts() -> dict[str, dict[str, object]]:
    return {
        "ack": ack_context(),
        "resubmission": dict(agency_name="Bộ Y tế", year=2024, reason="Tệp đính kèm bị lỗi, không mở được.",
                             deadline=date(2024, 12, 5), reference="TDC-2024-000007"),
        "reminder_notice": reminder_context(),
        "reminder_firm": reminder_context(days_left=2),
        "reminder_overdue": reminder_context(days_left=-5),
        "digest": digest_context(),
    }


@pytest.mark.parametrize("name", EMAIL_NAMES)
def test_every_email_has_three_parts_in_vietnamese(name: str) -> None:
    for part in ("subject", "txt", "html"):
        assert (TEMPLATES_DIR / "email" / f"{name}.{part}.j2").is_file()
    rendered = render_email(name, **contexts()[name])
    assert rendered.subject and "\n" not in rendered.subject and "\r" not in rendered.subject
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>") and 'lang="vi"' in rendered.html
    # Vietnamese with diacritics (not the ASCII-folded form) in all three parts.
    assert re.search(r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]", rendered.subject.lower())
    for body in (rendered.text, visible_text(rendered.html)):
        assert re.search(r"(Kính gửi|Bản tin)", body)


def test_missing_context_value_is_a_clear_error() -> None:
    context = ack_context()
    del context["reference"]
    with pytest.raises(RenderError, match=r"ack\.(subject|txt|html)\.j2.*reference"):
        render_email("ack", **context)


@pytest.mark.parametrize("name", ["../etc/passwd", "Ack", "ack.txt", "no_such_email"])
def test_bad_or_unknown_template_names_are_refused(name: str) -> None:
    with pytest.raises(RenderError):
        render_email(name, **ack_context())


# -- ack ----------------------------------------------------------------------------


def test_ack_subject_names_year_agency_and_reference() -> None:
    rendered = render_email("ack", **ack_context())
    assert rendered.subject == "Đã nhận báo cáo năm 2024 – Tỉnh Tây Ninh [TDC-2024-000123]"


def test_ack_body_states_what_was_understood_and_how_to_correct_it() -> None:
    rendered = render_email("ack", **ack_context())
    for body in (rendered.text, visible_text(rendered.html)):
        assert "Tỉnh Tây Ninh" in body and "2024" in body
        assert "TDC-2024-000123" in body
        assert "BC NSCL 2024 Tây Ninh.docx" in body and "47,1 KB" in body
        assert "00:30 ngày 30/11/2024" in body
        assert "30/11/2024" in body and "đúng hạn" in body
        assert "4258/BKHCN-TĐC" in body
        assert "trả lời email này" in body and "baocao@example.vn" in body
        assert "Báo cáo chưa có mục" not in body
        assert "cán bộ đầu mối kiểm tra" not in body


def test_ack_for_an_unknown_sender_says_so_and_lists_gaps_and_review() -> None:
    rendered = render_email(
        "ack",
        **ack_context(
            agency_name=None,
            year=None,
            on_time=None,
            attachments=[],
            outline_missing=["I.2.1 (Hoàn thiện cơ chế, chính sách…)", "I.2.3 (Đào tạo, nâng cao năng lực)"],
            needs_review=True,
            review_reasons=["Địa chỉ người gửi chưa có trong danh sách"],
        ),
    )
    assert rendered.subject == "Đã nhận báo cáo [TDC-2024-000123]"
    for body in (rendered.text, visible_text(rendered.html)):
        assert "chưa xác định được" in body
        assert "Báo cáo chưa có mục" in body
        assert "I.2.1 (Hoàn thiện cơ chế, chính sách…)" in body and "I.2.3" in body
        assert "cán bộ đầu mối kiểm tra" in body and "Địa chỉ người gửi chưa có trong danh sách" in body
        assert "không có tệp đính kèm" in body
        assert "đúng hạn" not in body and "sau thời hạn" not in body


def test_ack_late_report_is_called_late() -> None:
    rendered = render_email("ack", **ack_context(on_time=False))
    assert "sau thời hạn" in rendered.text and "đúng hạn" not in rendered.text


def test_text_from_the_email_is_escaped_in_html_and_kept_in_text() -> None:
    rendered = render_email(
        "ack",
        **ack_context(
            subject=SCRIPT,
            agency_name="<b>Tỉnh</b>",
            attachments=[{"filename": '"><img src=x onerror=alert(1)>.docx', "size": 10}],
            review_reasons=["<i>lý do</i>"],
            needs_review=True,
        ),
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<img" not in rendered.html and "<b>Tỉnh</b>" not in rendered.html and "<i>lý do" not in rendered.html
    assert SCRIPT in visible_text(rendered.html)  # shown as text, not dropped
    assert SCRIPT in rendered.text  # plain text needs no escaping


def test_subject_can_never_carry_a_new_header() -> None:
    rendered = render_email("ack", **ack_context(agency_name="Tỉnh X\r\nBcc: victim@example.com"))
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert "Tỉnh X Bcc: victim@example.com" in rendered.subject


# -- reminders --------------------------------------------------------------------------


def test_reminders_escalate_from_notice_to_overdue() -> None:
    notice = render_email("reminder_notice", **reminder_context(days_left=7))
    firm = render_email("reminder_firm", **reminder_context(days_left=2))
    overdue = render_email("reminder_overdue", **reminder_context(days_left=-5))
    assert "còn 7 ngày" in notice.text and "khẩn trương" not in notice.text
    assert "khẩn trương" in firm.subject and "chỉ còn 2 ngày" in firm.text
    assert "quá hạn" in overdue.subject and "đã quá hạn 5 ngày" in overdue.text
    for rendered in (notice, firm, overdue):
        assert "30/11/2024" in rendered.subject
        assert "Công văn số 4258/BKHCN-TĐC ngày 17/11/2023" in rendered.text
        assert "baocao@example.vn" in rendered.text
        assert "Kính gửi: Sở Khoa học và Công nghệ tỉnh Tây Ninh." in rendered.text


def test_reminder_without_a_dispatch_still_reads_well() -> None:
    rendered = render_email("reminder_overdue", **reminder_context(dispatch=None, dispatch_date=None, days_left=-1))
    assert "Công văn số" not in rendered.text and "Bộ Khoa học và Công nghệ" in rendered.text
    assert "None" not in rendered.text and "None" not in rendered.html


def test_deadline_day_reminder() -> None:
    assert "hôm nay là ngày cuối của thời hạn" in render_email("reminder_notice", **reminder_context(days_left=0)).text


# -- digest -------------------------------------------------------------------------------


def test_quiet_digest_is_one_line() -> None:
    rendered = render_email("digest", **digest_context(one_line=True))
    first = rendered.text.split("\n-- \n")[0].strip()
    assert first == "Bản tin ngày 21/11/2024: không có báo cáo mới và không có việc cần xử lý."
    assert "<table" not in rendered.html


def test_digest_with_empty_lists_renders() -> None:
    rendered = render_email("digest", **digest_context())
    assert "Không có." in rendered.text
    assert "None" not in rendered.text and "None" not in rendered.html


def test_digest_tables_are_colour_coded_and_escaped() -> None:
    rendered = render_email(
        "digest",
        **digest_context(
            counts={"missing": 40, "acknowledged": 20, "needs_review": 3},
            new_since_yesterday=[{"name": "Tỉnh Tây Ninh", "year": 2024, "state": "acknowledged",
                                  "received_at": datetime(2024, 11, 20, 3, 15, tzinfo=UTC),
                                  "on_time": True, "reference": "TDC-2024-000123"}],
            missing=[{"name": "Tỉnh Cà Mau", "slug": "ca-mau", "days_left": -2},
                     {"name": "Tỉnh Lào Cai", "slug": "lao-cai", "days_left": 9}],
            needs_review=[{"name": "Bộ Y tế", "reasons": ["người gửi lạ", "thiếu năm báo cáo"]}],
            outbox_failed=[{"recipients": ["a@b.vn"], "subject": "Nhắc", "last_error": "550 5.1.1 no such user"}],
            quarantine=[{"from_addr": "x@y.vn", "subject": SCRIPT, "reason": "quá lớn"}],
            no_address=[{"name": "Tỉnh Điện Biên"}, "Tỉnh Lai Châu"],
        ),
    )
    assert "1 báo cáo mới" in rendered.subject and "2 chưa nộp" in rendered.subject
    assert re.search(r'background:#fdecea;"><td[^>]*>Chưa nộp</td><td[^>]*>40<', rendered.html)
    assert re.search(r'background:#fdecea;"><td[^>]*>Tỉnh Cà Mau</td><td[^>]*>quá hạn 2 ngày<', rendered.html)
    assert re.search(r'background:#ffffff;"><td[^>]*>Tỉnh Lào Cai</td><td[^>]*>còn 9 ngày<', rendered.html)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    for body in (rendered.text, visible_text(rendered.html)):
        assert "Tỉnh Tây Ninh" in body and "TDC-2024-000123" in body and "10:15 ngày 20/11/2024" in body
        assert "người gửi lạ; thiếu năm báo cáo" in body
        assert "550 5.1.1 no such user" in body
        assert "Tỉnh Điện Biên" in body and "Tỉnh Lai Châu" in body


def test_templates_folder_is_the_repository_one() -> None:
    assert TEMPLATES_DIR == Path(__file__).resolve().parent.parent / "templates"
