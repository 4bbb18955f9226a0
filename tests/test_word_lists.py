""".docx paragraphs of a Word list get the number Word draws in front of them (word/numbering.xml)."""
from __future__ import annotations

import time

import pytest

from intake.documents import read_attachment
from intake.documents.legacy_vn import unicode_to_tcvn3
from intake.documents.word_lists import MAX_DEFINITIONS, MAX_LABEL, MAX_LEVEL_TEXT, format_number
from intake.model import DocumentText
from tests.fixtures.list_docx import (
    abstract,
    list_docx,
    lvl,
    num,
    num_pr,
    numbering,
    para,
    start_override,
    style,
    styles,
    table,
)

# The outline of a province report: "I." roman, "1." under it, "1.1." under that.
OUTLINE = numbering(
    abstract(1, lvl(0, "upperRoman", "%1."), lvl(1, "decimal", "%2."), lvl(2, "decimal", "%2.%3.")),
    num(7, 1))


def read(data: bytes) -> DocumentText:
    docs = read_attachment("BC.docx", "", data)
    assert len(docs) == 1
    assert docs[0].needs_review is None, docs[0].notes
    return docs[0]


def lines(data: bytes) -> list[str]:
    return read(data).text.split("\n")


def test_levels_count_and_a_higher_level_restarts_the_ones_below():
    body = "".join(para(text, 7, ilvl) for text, ilvl in [
        ("Tình hình chung", 0), ("Công tác chỉ đạo", 1), ("Kế hoạch", 2), ("Văn bản", 2),
        ("Kết quả", 1), ("Thông tin", 2), ("Đánh giá", 0), ("Tồn tại", 1)])
    assert lines(list_docx(body, OUTLINE)) == [
        "I.\tTình hình chung", "1.\tCông tác chỉ đạo", "1.1.\tKế hoạch", "1.2.\tVăn bản",
        "2.\tKết quả", "2.1.\tThông tin", "II.\tĐánh giá", "1.\tTồn tại"]


def test_list_numbers_make_the_headings_and_their_levels():
    body = (para("BÁO CÁO") + para("Tình hình chung", 7, 0) + para("Kết quả", 7, 1)
            + para("Thông tin", 7, 2) + para("Sở đã ban hành kế hoạch.") + para("Đánh giá", 7, 0))
    assert read(list_docx(body, OUTLINE)).headings == [
        (1, "I. Tình hình chung"), (2, "1. Kết quả"), (3, "1.1. Thông tin"), (1, "II. Đánh giá")]


def test_start_values_and_a_start_override_restart_where_the_list_is_first_used():
    definitions = numbering(abstract(3, lvl(0, "decimal", "%1)", start=3)),
                            num(1, 3), num(2, 3, start_override(0, 1)), num(4, 3))
    body = "".join(para(t, n, 0) for t, n in [("a", 1), ("b", 1), ("c", 2), ("d", 2), ("e", 4)])
    # nums of one abstractNum count together: num 4 (no override) carries on num 2's count
    assert lines(list_docx(body, definitions)) == ["3)\ta", "4)\tb", "1)\tc", "2)\td", "3)\te"]


def test_lvl_restart_zero_keeps_counting_a_lower_level_across_higher_ones():
    definitions = numbering(
        abstract(1, lvl(0, "decimal", "%1."), lvl(1, "lowerLetter", "%2)", extra='<w:lvlRestart w:val="0"/>')),
        num(1, 1))
    body = "".join(para(t, 1, i) for t, i in [("A", 0), ("x", 1), ("B", 0), ("y", 1)])
    assert lines(list_docx(body, definitions)) == ["1.\tA", "a)\tx", "2.\tB", "b)\ty"]


def test_roman_and_letter_formats_as_word_draws_them():
    assert [format_number(n, "upperRoman") for n in (1, 4, 9, 14, 40, 1999)] == [
        "I", "IV", "IX", "XIV", "XL", "MCMXCIX"]
    assert [format_number(n, "lowerRoman") for n in (2, 3)] == ["ii", "iii"]
    assert [format_number(n, "upperLetter") for n in (1, 26, 27, 28, 53)] == ["A", "Z", "AA", "BB", "AAA"]
    assert format_number(2, "lowerLetter") == "b"
    assert format_number(5, "decimalZero") == "05"
    assert format_number(3, "vietnameseCounting") == "3"  # no Latin form: drawn in decimal
    definitions = numbering(abstract(1, lvl(0, "upperLetter", "%1.", start=26)), num(1, 1))
    assert lines(list_docx(para("x", 1, 0) + para("y", 1, 0), definitions)) == ["Z.\tx", "AA.\ty"]


def test_legal_numbering_draws_the_levels_above_in_decimal():
    definitions = numbering(abstract(1, lvl(0, "upperRoman", "%1.", start=2),
                                     lvl(1, "decimal", "%1.%2.", extra="<w:isLgl/>")), num(1, 1))
    assert lines(list_docx(para("Đánh giá", 1, 0) + para("Kết quả", 1, 1), definitions)) == [
        "II.\tĐánh giá", "2.1.\tKết quả"]


def test_a_paragraph_style_gives_its_list_and_level_also_through_based_on_and_level_links():
    definitions = numbering(abstract(5, lvl(0, "upperRoman", "%1.", extra='<w:pStyle w:val="Heading1"/>'),
                                     lvl(1, "decimal", "%2.", extra='<w:pStyle w:val="Heading2"/>')),
                            num(9, 5))
    defined = styles(style("Heading1", "heading 1", numbered=num_pr(9)),  # level from the lvl's pStyle link
                     style("Heading2", "heading 2", "Heading1", numbered=num_pr(9, 1)),
                     style("Muc", "Mục của Sở", "Heading2"))  # no numPr of its own: inherits Heading2's
    body = (para("Tình hình", style_id="Heading1") + para("Chỉ đạo", style_id="Heading2")
            + para("Kết quả", style_id="Muc") + para("Đánh giá", style_id="Heading1"))
    doc = read(list_docx(body, definitions, defined))
    assert doc.text.split("\n") == ["I.\tTình hình", "1.\tChỉ đạo", "2.\tKết quả", "II.\tĐánh giá"]
    assert doc.headings == [(1, "I. Tình hình"), (2, "1. Chỉ đạo"), (2, "2. Kết quả"), (1, "II. Đánh giá")]


def test_num_id_zero_takes_a_paragraph_out_of_its_styles_list():
    definitions = numbering(abstract(1, lvl(0, "decimal", "%1.")), num(1, 1))
    defined = styles(style("Muc", "Mục", numbered=num_pr(1, 0)))
    body = para("một", style_id="Muc") + para("không số", 0, style_id="Muc") + para("hai", style_id="Muc")
    assert lines(list_docx(body, definitions, defined)) == ["1.\tmột", "không số", "2.\thai"]


def test_bullets_and_none_show_no_number_and_suffixes_are_drawn():
    definitions = numbering(
        abstract(1, lvl(0, "bullet", "\uf0b7")), abstract(2, lvl(0, "none", "%1.")),
        abstract(3, lvl(0, "decimal", "%1.", extra='<w:suff w:val="space"/>')),
        abstract(4, lvl(0, "decimal", "Điều %1.", extra='<w:suff w:val="nothing"/>')),
        num(1, 1), num(2, 2), num(3, 3), num(4, 4))
    body = para("gạch đầu dòng", 1, 0) + para("không số", 2, 0) + para("cách", 3, 0) + para("liền", 4, 0)
    assert lines(list_docx(body, definitions)) == ["gạch đầu dòng", "không số", "1. cách", "Điều 1.liền"]


def test_table_cells_are_numbered_in_document_order():
    definitions = numbering(abstract(1, lvl(0, "decimal", "%1.")), num(1, 1))
    body = para("trước", 1, 0) + table(para("trong ô", 1, 0), para("ô khác")) + para("sau", 1, 0)
    doc = read(list_docx(body, definitions))
    assert doc.tables == [[["2.\ttrong ô", "ô khác"]]]
    assert doc.text.split("\n")[0] == "1.\ttrước" and doc.text.split("\n")[-1] == "3.\tsau"


def test_level_text_in_a_legacy_font_is_decoded():
    tcvn3 = "".join(unicode_to_tcvn3(ch) for ch in "Điều %1.")
    definitions = numbering(abstract(1, lvl(0, "decimal", tcvn3, extra=(
        '<w:rPr><w:rFonts w:ascii=".VnTime" w:hAnsi=".VnTime"/></w:rPr>'))), num(1, 1))
    assert lines(list_docx(para("Phạm vi", 1, 0), definitions)) == ["Điều 1.\tPhạm vi"]


def test_styled_heading_without_a_number_is_a_heading_whatever_its_length():
    long_title = "Kết quả thực hiện các nhiệm vụ, giải pháp " + "và đánh giá chi tiết " * 12
    defined = styles(style("Heading2", "heading 2"))
    doc = read(list_docx(para(long_title.strip(), style_id="Heading2"), styles_xml=defined))
    assert len(long_title) > 220
    assert doc.headings == [(2, " ".join(long_title.split()))]


# ---- hostile and broken numbering ----

def test_cyclic_style_chains_and_list_style_links_end():
    definitions = numbering(
        abstract(1, lvl(0, "decimal", "%1.")),
        abstract(2, extra='<w:numStyleLink w:val="Vong"/>'),  # the list style points back to this list
        num(1, 1), num(2, 2))
    defined = styles(style("A", "A", "B"), style("B", "B", "A", numbered=num_pr(1, 0)),
                     style("Vong", "Vòng", numbered=num_pr(2), kind="numbering"))
    body = para("vòng kiểu", style_id="A") + para("vòng danh sách", 2, 0) + para("tiếp", style_id="B")
    started = time.monotonic()
    assert lines(list_docx(body, definitions, defined)) == ["1.\tvòng kiểu", "vòng danh sách", "2.\ttiếp"]
    assert time.monotonic() - started < 5


def test_a_list_style_link_reaches_the_list_it_names():
    definitions = numbering(
        abstract(1, lvl(0, "upperRoman", "%1."), extra='<w:styleLink w:val="DeCuong"/>'),
        abstract(2, extra='<w:numStyleLink w:val="DeCuong"/>'),
        num(1, 1), num(2, 2))
    defined = styles(style("DeCuong", "Đề cương", numbered=num_pr(1), kind="numbering"))
    assert lines(list_docx(para("một", 2, 0) + para("hai", 2, 0), definitions, defined)) == [
        "I.\tmột", "II.\thai"]


@pytest.mark.parametrize("bad", [
    num(2, 99),  # an abstractNum that does not exist
    '<w:num w:numId="2"/>',  # no abstractNum at all
    num(2, "x"),  # not a number
    num(2, 3),  # abstractNum 3 has no level 0
])
def test_a_list_that_goes_nowhere_gives_no_number_and_the_others_still_count(bad):
    definitions = numbering(abstract(1, lvl(0, "decimal", "%1.")), abstract(3, lvl(1, "decimal", "%2.")),
                            num(1, 1), bad)
    body = para("một", 1, 0) + para("lạc", 2, 0) + para("sai cấp", 1, 12) + para("hai", 1, 0)
    assert lines(list_docx(body, definitions)) == ["1.\tmột", "lạc", "sai cấp", "2.\thai"]


def test_huge_hostile_numbering_is_read_within_bounds():
    hostile_levels = "".join([
        lvl(0, "decimal", "%1." * 5000, start="999999999999999999999"),  # text and start past every bound
        lvl(1, "upperLetter", "%2%2%2%2%2%2%2%2%2", start=32000),
        '<w:lvl w:ilvl="99999"><w:numFmt w:val="decimal"/><w:lvlText w:val="%1"/></w:lvl>',
    ] * 200)
    many = "".join(abstract(i, lvl(0, "decimal", "%1.")) for i in range(10, 10 + 3 * MAX_DEFINITIONS))
    definitions = numbering(abstract(1, hostile_levels), many, num(1, 1),
                            "".join(num(i, i) for i in range(10, 10 + 3 * MAX_DEFINITIONS)))
    body = (para("một", 1, 0) + para("chữ", 1, 1) + para("trong giới hạn", 10, 0)
            + para("ngoài", 10 + 2 * MAX_DEFINITIONS, 0))  # defined, but past the nums that are read
    data = list_docx(body, definitions)
    assert len(data) > 1_000_000
    started = time.monotonic()
    text = lines(data)
    assert time.monotonic() - started < 20
    # a start that is no bounded number is the schema's default 0; texts are cut to a bounded length
    assert text[0] == "0." * (MAX_LEVEL_TEXT // 3) + "\tmột"  # the placeholders of the level text's first characters
    label, words = text[1].split("\t")
    assert words == "chữ" and label.isalpha() and len(label) == MAX_LABEL
    assert text[2:] == ["1.\ttrong giới hạn", "ngoài"]  # nums past the first MAX_DEFINITIONS are not read


def test_no_numbering_part_leaves_paragraphs_as_written():
    """A numPr without word/numbering.xml (guards the new path: python-docx would create a part and fail)."""
    assert lines(list_docx(para("một", 1, 0) + para("hai", 1, 1))) == ["một", "hai"]
