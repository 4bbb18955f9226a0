"""Reports that follow the official outline word for word are told nothing is missing (issue 24).

The report is the annex of dispatch 4258 itself (headings read from the dispatch's
text, see tests.fixtures.official_outline), sent as .docx (typed numbers, bold
runs, Word heading styles), as a PDF whose page wraps the long headings, and as
the text of an email; with its text in the heading's own paragraph, with
headings ending in a full stop or a colon, without diacritics. Sections left
out of such a report must still be reported missing, and prose that merely
mentions a section's words is not that section's heading.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from anyascii import anyascii

from intake.documents import read_attachment
from intake.model import DocumentText, OutlineSection
from intake.report.outline import check_outline, format_missing
from intake.report.sections import split_sections
from reference.campaigns import load_campaigns
from reference.text import words
from tests.fixtures.documents import reference_text
from tests.fixtures.official_outline import (
    BODY,
    NOTHING_YET,
    Paragraph,
    annex_headings,
    official_report,
    present_codes,
    report_docx,
    report_text,
    word_list_docx,
    wrapped_pdf,
)

PDF = "application/pdf"


@pytest.fixture(scope="module")
def outline() -> tuple[OutlineSection, ...]:
    return load_campaigns()[2023].outline


def read(paragraphs: list[Paragraph], form: str) -> tuple[list[DocumentText], str]:
    """(documents, email body) of a report sent in ``form``."""
    if form.startswith("docx-"):
        return read_attachment("BC.docx", "", report_docx(paragraphs, form.removeprefix("docx-"))), ""
    if form == "pdf":  # 13 pt on a 16 cm column, as printed
        return read_attachment("BC.pdf", PDF, wrapped_pdf(paragraphs)), ""
    if form == "pdf-narrow":  # a 10 cm column: the long headings take two to four lines
        return read_attachment("BC.pdf", PDF, wrapped_pdf(paragraphs, 13, 10)), ""
    assert form == "body"
    return [], report_text(paragraphs)


FORMS = ["docx-plain", "docx-bold", "docx-styled", "pdf", "pdf-narrow", "body"]
VARIANTS = {
    "verbatim": {},
    "text in the heading's paragraph": {"inline": True},
    "headings end with a full stop": {"ending": "."},
    "headings end with a colon": {"ending": ":"},
    "no diacritics": {"diacritics": False},
    "no diacritics, text in the heading's paragraph": {"diacritics": False, "inline": True},
}


def test_the_annex_read_from_the_dispatch_is_the_configured_outline(outline):
    """The fixture's headings and the coordinators' outline data say the same thing."""
    annex = {h.code: h.title for h in annex_headings() if h.code}
    assert list(annex) == [s.code for s in outline]
    for section in outline:
        assert words(annex[section.code]) == words(section.title), section.code


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_report_copying_the_outline_lacks_nothing(outline, form, variant):
    paragraphs = official_report(**VARIANTS[variant])
    docs, body = read(paragraphs, form)
    result = check_outline(docs, body, outline)
    assert result.missing == [] and result.present == [s.code for s in outline]
    assert not result.different_layout
    assert format_missing(result, outline) == ""
    # each section is witnessed by its own heading, as the report wrote it
    for heading in (h for h in annex_headings() if h.code):
        expected = heading.line() if VARIANTS[variant].get("diacritics", True) else anyascii(heading.line())
        assert result.matches[heading.code] == expected


def test_the_annex_as_published_has_every_section(outline):
    """The dispatch's own text wraps every heading ("2.1. Hoàn thiện cơ chế, chính" / "sách …")."""
    text = reference_text("000_db258a1af6abeb36.txt")
    annex = DocumentText("4258-phu-luc.pdf", "pdf", text=text[text.index("\nPHỤ LỤC"):])
    result = check_outline([annex], "", outline)
    assert result.missing == []
    assert result.matches["I.2.1"] == "2.1. Hoàn thiện cơ chế, chính sách thúc đẩy hoạt động nâng cao NSCL"
    assert result.matches["I.2.5"] == ("2.5. Tăng cường năng lực hoạt động tiêu chuẩn hóa và đánh giá sự phù hợp "
                                       "với tiêu chuẩn, quy chuẩn kỹ thuật")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("omit", [("I.2.1", "I.2.5", "II.3"), ("I.2", "IV"), ("III",), ("I.1", "I.2.6")])
def test_sections_really_absent_are_still_missing(outline, form, omit):
    paragraphs = official_report(omit=omit)
    docs, body = read(paragraphs, form)
    result = check_outline(docs, body, outline)
    absent = [s.code for s in outline if s.code not in present_codes(paragraphs)]
    assert result.missing == absent
    listed = format_missing(result, outline)
    assert listed.startswith("Báo cáo chưa có mục: ")
    assert [item.split(" (")[0] for item in listed.removeprefix("Báo cáo chưa có mục: ").split("), ")] == list(omit)


def test_the_ii_heading_does_not_stand_for_i2(outline):
    """The annex's II title has I.2's words ("lũy kế từ đầu Chương trình"); at its own level it is II."""
    ii = "II. Đánh giá kết quả, hiệu quả đã đạt được trong năm 2023 và lũy kế từ đầu Chương trình đến hết năm 2023"
    lines = ["I. Tình hình triển khai và kết quả thực hiện Chương trình", "Nội dung.", ii, "Nội dung."]
    result = check_outline([DocumentText("a.pdf", "pdf", text="\n".join(lines))], "", outline)
    assert "I.2" in result.missing and "II" in result.present


def test_a_heading_naming_its_parent_and_a_child_still_stands_for_both(outline):
    """'I. Kết quả thực hiện các nhiệm vụ' is I, and says what I.2 says: a heading at its own
    level keeps the sections of its own branch."""
    lines = ["I. Kết quả thực hiện các nhiệm vụ, giải pháp của Chương trình", "Nội dung."]
    result = check_outline([DocumentText("a.pdf", "pdf", text="\n".join(lines))], "", outline)
    assert {"I", "I.2"} <= set(result.present)


@pytest.mark.parametrize("form", ["docx-plain", "pdf", "pdf-narrow", "body"])
def test_prose_that_mentions_a_section_is_not_its_heading(outline, form):
    """A report without I.2.6 and IV that talks about both in its text, including a line that
    follows a heading and starts with the words of another section's title."""
    paragraphs = official_report(omit=("I.2.6", "IV"))
    at = next(i for i, p in enumerate(paragraphs) if p.heading is not None and p.heading.code == "I.2.5")
    paragraphs[at + 1:at + 1] = [
        Paragraph("đẩy mạnh hợp tác quốc tế về năng suất chất lượng là việc Sở chưa làm được trong năm 2023."),
        Paragraph("Về đề xuất, kiến nghị: Sở sẽ có văn bản riêng gửi Bộ Khoa học và Công nghệ."),
    ]
    docs, body = read(paragraphs, form)
    result = check_outline(docs, body, outline)
    assert result.missing == ["I.2.6", "IV"]


def test_text_in_the_heading_paragraph_is_quoted_under_its_section(outline):
    """The national report quotes "Chưa phát sinh." under I.2.1, not under I.2."""
    docs, _ = read(official_report(inline=True), "docx-plain")
    texts = split_sections(docs, outline)
    assert texts["I.2.1"] == NOTHING_YET
    assert texts["I.2.3"] == BODY
    assert NOTHING_YET not in texts["I.2"]


def test_a_wrapped_heading_is_quoted_under_its_own_section(outline):
    """On a narrow column "2.5. Tăng cường năng lực hoạt động" is only the first line of I.2.5's heading."""
    docs, _ = read(official_report(), "pdf-narrow")
    texts = split_sections(docs, outline)
    assert " ".join(texts["I.2.5"].split()) == BODY
    assert "tiêu chuẩn hóa" not in texts["I.2.4"]


@pytest.mark.parametrize("name", ["official-outline.doc", "official-outline-word-list.doc"])
def test_a_doc_copying_the_outline_lacks_nothing(outline, name, monkeypatch):
    """Word 97-2003 files read with antiword (made once by LibreOffice, see
    tests/fixtures/make_doc_fixtures.py); in the second, Word numbers the I.2 headings itself."""
    from intake.documents.tools import find_tool
    if find_tool("antiword") is None:
        pytest.skip("antiword is not installed")
    monkeypatch.setenv("TDC_SOFFICE", "/nonexistent/soffice")  # antiword's reading, as on the servers
    data = (Path(__file__).parent / "fixtures" / "doc" / name).read_bytes()
    docs = read_attachment("BC.doc", "application/msword", data)
    result = check_outline(docs, "", outline)
    assert result.missing == [] and not result.different_layout
    assert split_sections(docs, outline)["I.2.1"] == NOTHING_YET


def test_a_docx_whose_headings_are_a_word_list_lacks_nothing(outline):
    """The same report as the .doc above, as .docx: Word numbers the I.2 headings itself."""
    docs = read_attachment("BC.docx", "", word_list_docx(official_report()))
    result = check_outline(docs, "", outline)
    assert result.missing == [] and not result.different_layout
    assert "2.1.\tHoàn thiện cơ chế, chính sách" in docs[0].text  # the number Word draws, as it draws it
    assert split_sections(docs, outline)["I.2.1"] == NOTHING_YET
