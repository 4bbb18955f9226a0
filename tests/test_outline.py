"""The outline check: which sections of the 4258 annex a report covers."""
from __future__ import annotations

import dataclasses

import pytest
from anyascii import anyascii

from intake.documents import read_attachment
from intake.model import DocumentText, OutlineSection
from intake.report.outline import check_outline, format_missing
from reference.campaigns import load_campaigns
from tests.fixtures.documents import docx_from_lines, reference_text
from tests.fixtures.outline_reports import ANNEX_HEADINGS, annex_report_lines

ALL_CODES = [code for code, _ in ANNEX_HEADINGS]


@pytest.fixture(scope="module")
def outline() -> tuple[OutlineSection, ...]:
    """The configured outline, so the data and the matcher are tested together."""
    sections = load_campaigns()[2023].outline
    assert [s.code for s in sections] == ALL_CODES
    return sections


@pytest.fixture(scope="module")
def tay_ninh_docs() -> list[DocumentText]:
    return read_attachment("BC Tay Ninh 2024.docx", "", docx_from_lines(reference_text().splitlines()))


def test_tay_ninh_report_sections_found_by_meaning(outline, tay_ninh_docs):
    result = check_outline(tay_ninh_docs, "", outline)
    assert result.missing == ["I.2.1", "I.2.5", "I.2.6", "III.2", "IV"]
    assert result.present == ["I", "I.1", "I.2", "I.2.2", "I.2.3", "I.2.4", "II", "II.1", "II.2", "II.3",
                              "III", "III.1"]
    assert result.missing_required == []
    # renumbered headings matched by what they say
    assert result.matches["I.2.2"] == "2.1. Tăng cường công tác thông tin truyền thông về năng suất, chất lượng"
    assert result.matches["I.2.4"] == "2.2. Đào tạo nguồn nhân lực cho hoạt động nâng cao năng suất chất lượng"
    assert result.matches["I.2.3"].startswith("3. Hỗ trợ doanh nghiệp áp dụng tiêu chuẩn")
    assert result.matches["II"] == "II. Đánh giá, nhận xét"
    assert result.matches["II.2"] == result.matches["II.3"] == "2. Mặt tồn tại, hạn chế, nguyên nhân"
    assert result.matches["III"] == "III. Phương hướng triển khai trong năm 2025"


def test_tay_ninh_missing_sections_in_vietnamese(outline, tay_ninh_docs):
    text = format_missing(check_outline(tay_ninh_docs, "", outline), outline)
    assert text.startswith("Báo cáo chưa có mục: I.2.1 (Hoàn thiện cơ chế, chính sách")
    assert "I.2.6 (Đẩy mạnh hợp tác quốc tế về năng suất chất lượng)" in text
    assert text.endswith("III.2 (Giải pháp thực hiện), IV (Đề xuất, kiến nghị)")


def test_same_report_as_plain_text_without_diacritics(outline):
    docs = [DocumentText("bc.pdf", "pdf", text=anyascii(reference_text()))]
    result = check_outline(docs, "", outline)
    assert result.missing == ["I.2.1", "I.2.5", "I.2.6", "III.2", "IV"]


@pytest.mark.parametrize("numbering", ["annex", "arabic"])
@pytest.mark.parametrize("diacritics", [True, False])
def test_report_following_the_annex_lacks_nothing(outline, numbering, diacritics):
    lines = annex_report_lines(numbering, diacritics)
    docs = read_attachment("bc.docx", "", docx_from_lines(lines))
    result = check_outline(docs, "", outline)
    assert result.missing == []
    assert result.present == ALL_CODES
    assert format_missing(result, outline) == ""
    # each section is witnessed by its own heading, not by its parent's
    for code, title in ANNEX_HEADINGS:
        assert result.matches[code].endswith(title if diacritics else anyascii(title))


def test_headings_in_the_email_body_count(outline):
    result = check_outline([], "\n".join(annex_report_lines("arabic")), outline)
    assert result.missing == []


def test_a_sub_heading_does_not_satisfy_another_top_section(outline):
    """'2. Đánh giá kết quả...' under 'I.' is part of I, not section II."""
    lines = ["I. Kết quả thực hiện Chương trình",
             "1. Công tác lãnh đạo, chỉ đạo triển khai thực hiện",
             "2. Đánh giá kết quả, hiệu quả đã đạt được",
             "3. Phương hướng, giải pháp thực hiện"]
    result = check_outline([DocumentText("a.pdf", "pdf", text="\n".join(lines))], "", outline)
    assert "II" not in result.present and "III" not in result.present
    assert {"I", "I.1"} <= set(result.present)
    assert result.missing_required == ["I.2", "II", "III"]


def test_a_message_that_is_not_a_report_has_every_section_missing(outline):
    docs = [DocumentText("tb.pdf", "pdf", text=reference_text("004_b06a40e13c0a8a63.txt"))]
    result = check_outline(docs, "", outline)
    assert result.present == []
    assert result.different_layout  # headings of its own, none of the outline's: said once
    assert "bố cục khác đề cương" in format_missing(result, outline)
    listed = dataclasses.replace(result, different_layout=False)
    assert format_missing(listed, outline).count("(") == 4  # only I, II, III, IV: children are implied


def test_fuzzy_match_tolerates_ocr_typos(outline):
    lines = ["I. Tinh hình triến khai và kết quá thực hiện Chương trinh",
             "2.6. Đẩy mạnh hợp tác quốc tể về năng suất chất lượng"]
    result = check_outline([DocumentText("scan.pdf", "pdf", text="\n".join(lines))], "", outline)
    assert result.matches["I"] == lines[0]
    assert result.matches["I.2.6"] == lines[1]


def test_sections_without_keywords_match_by_title():
    sections = (OutlineSection("I", "Kết quả thực hiện"), OutlineSection("II", "Kiến nghị"))
    docs = [DocumentText("a.pdf", "pdf", text="I. Kết quả thực hiện\nnội dung\nII. Một việc khác")]
    result = check_outline(docs, "", sections)
    assert result.present == ["I"] and result.missing == ["II"] and result.missing_required == ["II"]
    assert format_missing(result, sections) == "Báo cáo chưa có mục: II (Kiến nghị)"
