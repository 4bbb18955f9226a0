"""Letters addressed as Vietnamese administration does; no internal scores in mail to agencies."""
from __future__ import annotations

import pytest

from notifier.addressing import addressee, agency_reasons
from notifier.render import render_email
from tests.test_notifier_render import ack_context, contexts, visible_text


@pytest.mark.parametrize("name, unit, expected", [
    ("Tỉnh Kiên Giang", None, "Sở Khoa học và Công nghệ tỉnh Kiên Giang"),
    ("Thành phố Hà Nội", None, "Sở Khoa học và Công nghệ thành phố Hà Nội"),
    ("Thành phố Huế", "", "Sở Khoa học và Công nghệ thành phố Huế"),
    ("Bộ Y tế", None, "Cục Khoa học công nghệ và Đào tạo, Bộ Y tế"),
    ("Bộ Công Thương", None, "Vụ Khoa học và Công nghệ, Bộ Công Thương"),
    ("Bộ Xây dựng", None, "Vụ Khoa học công nghệ và môi trường, Bộ Xây dựng"),
    ("Tỉnh Kiên Giang", "Chi cục Tiêu chuẩn Đo lường Chất lượng Kiên Giang",
     "Chi cục Tiêu chuẩn Đo lường Chất lượng Kiên Giang"),
    (None, None, "Quý cơ quan, đơn vị"),
])
def test_addressee(name, unit, expected):
    assert addressee(name, unit) == expected


def test_agency_reasons_carry_no_scores():
    reasons = agency_reasons(["độ tin cậy thấp (0,55 < 0,60)", "không xác định được năm báo cáo",
                              "báo cáo thiếu mục bắt buộc của đề cương: I, II",
                              "BC.pdf: Không đọc được tệp PDF (tệp hỏng hoặc sai định dạng)",
                              "do tin cay thap (0.41 < 0.60)"])
    assert reasons == ["hệ thống chưa xác định chắc chắn cơ quan gửi hoặc năm của báo cáo",
                       "không xác định được năm báo cáo",
                       "báo cáo chưa có đủ các mục chính theo đề cương",
                       "BC.pdf: Không đọc được tệp PDF (tệp hỏng hoặc sai định dạng)"]


@pytest.mark.parametrize("name", ["ack", "resubmission", "reminder_notice", "reminder_firm", "reminder_overdue"])
def test_every_agency_letter_is_addressed_to_the_department(name):
    context = contexts()[name]
    context["agency_name"] = "Tỉnh Tây Ninh"
    rendered = render_email(name, **context)
    for body in (rendered.text, " ".join(visible_text(rendered.html).split()).replace(" .", ".")):
        body = body.replace("Kính gửi:  ", "Kính gửi: ")
        assert "Kính gửi: Sở Khoa học và Công nghệ tỉnh Tây Ninh." in body
        assert "Kính gửi: Tỉnh" not in body
    rendered = render_email(name, **dict(context, contact_unit="Chi cục TĐC Tây Ninh"))
    assert "Kính gửi: Chi cục TĐC Tây Ninh." in rendered.text


def test_contact_unit_wins_and_scores_never_reach_the_ack():
    context = dict(ack_context(), contact_unit="Chi cục TĐC Tây Ninh", needs_review=True,
                   review_reasons=["độ tin cậy thấp (0,55 < 0,60)"])
    rendered = render_email("ack", **context)
    assert "Kính gửi: Chi cục TĐC Tây Ninh." in rendered.text
    assert "0.55" not in rendered.text and "0,55" not in rendered.text and "0.60" not in rendered.html
    assert "hệ thống chưa xác định chắc chắn" in rendered.text
