"""The national report a ministry can sign: wrapped PDF headings, one percentage rule."""
from __future__ import annotations

import pytest

from intake.documents import read_attachment
from intake.report.indicators import format_vn_percent
from intake.report.sections import split_sections
from reference.campaigns import load_campaigns
from tests.corpus.docs import text_pdf

OUTLINE = load_campaigns()[2024].outline
# Headings as a PDF wraps them: the second line of a long heading is a line of its own.
WRAPPED = [
    "BÁO CÁO",
    "I. Tình hình triển khai và kết quả thực hiện Chương trình",
    "1. Công tác lãnh đạo, chỉ đạo triển khai thực hiện",
    "Ban hành kế hoạch số 12.",
    "2. Kết quả thực hiện các nhiệm vụ, giải pháp năm 2024 và lũy kế từ đầu",
    "Chương trình đến hết năm 2024",
    "Nhìn chung, các nhiệm vụ được triển khai đúng tiến độ.",
    "II. Đánh giá kết quả, hiệu quả đã đạt được trong năm 2024 và lũy kế từ đầu",
    "Chương trình đến hết năm 2024",
    "Đạt kết quả tốt.",
    "III. Phương hướng, giải pháp thực hiện Chương trình năm 2025 và những năm",
    "tiếp theo",
    "Tiếp tục hỗ trợ doanh nghiệp.",
]


def test_wrapped_pdf_headings_do_not_leak_into_the_quotes():
    docs = read_attachment("bc.pdf", "application/pdf", text_pdf(WRAPPED))
    texts = split_sections(docs, OUTLINE)
    assert texts["I.2"] == "Nhìn chung, các nhiệm vụ được triển khai đúng tiến độ."
    assert texts["II"] == "Đạt kết quả tốt."
    assert texts["III"] == "Tiếp tục hỗ trợ doanh nghiệp."


def test_a_lower_case_first_body_line_after_a_full_heading_is_text():
    lines = ["III. Phương hướng, giải pháp thực hiện Chương trình năm 2025 và những năm tiếp theo",
             "tiếp tục hỗ trợ doanh nghiệp áp dụng công cụ cải tiến năng suất trong các ngành chủ lực của tỉnh."]
    texts = split_sections(read_attachment("bc.pdf", "application/pdf", text_pdf(lines)), OUTLINE)
    assert texts["III"].startswith("tiếp tục hỗ trợ")


@pytest.mark.parametrize("value, text", [(87, "87,0"), (81.6, "81,6"), (81.63, "81,6"), (100, "100,0"),
                                         (0, "0,0"), (1234.56, "1.234,6")])
def test_one_percentage_rule(value, text):
    assert format_vn_percent(value) == text
