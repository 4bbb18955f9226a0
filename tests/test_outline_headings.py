"""What a heading is: its number and its words, not its length or its last character."""
from __future__ import annotations

import pytest

from intake.documents.numbering import (
    HeadingText,
    align_lines,
    numbered_headings,
    parse_numbered,
    split_heading,
)
from intake.model import DocumentText
from intake.report.outline import MATCH_CHARS, check_outline, heading_spans
from reference.campaigns import load_campaigns

OUTLINE = load_campaigns()[2023].outline


@pytest.mark.parametrize("title, expected", [
    ("Hoàn thiện cơ chế, chính sách thúc đẩy hoạt động nâng cao NSCL: Chưa phát sinh.",
     HeadingText("Hoàn thiện cơ chế, chính sách thúc đẩy hoạt động nâng cao NSCL", "Chưa phát sinh.", True)),
    ("Hoàn thiện cơ chế, chính sách. Trong năm chưa ban hành văn bản mới.",
     HeadingText("Hoàn thiện cơ chế, chính sách", "Trong năm chưa ban hành văn bản mới.", True)),
    ("Đề xuất, kiến nghị.", HeadingText("Đề xuất, kiến nghị", "", True)),
    ("Đề xuất, kiến nghị:", HeadingText("Đề xuất, kiến nghị", "", True)),
    ("Hỗ trợ doanh nghiệp áp dụng", HeadingText("Hỗ trợ doanh nghiệp áp dụng", "", False)),
    ("Hỗ trợ áp dụng ISO 9001:2015 và 5S", HeadingText("Hỗ trợ áp dụng ISO 9001:2015 và 5S", "", False)),
    ("Hội nghị, hội thảo, v.v. về năng suất", HeadingText("Hội nghị, hội thảo, v.v. về năng suất", "", False)),
])
def test_split_heading_cuts_where_the_heading_words_end(title, expected):
    assert split_heading(title) == expected


def test_a_numbered_paragraph_is_a_heading_candidate_whatever_its_length():
    line = "2.3. Hỗ trợ doanh nghiệp áp dụng tiêu chuẩn: " + "Sở đã hỗ trợ 12 doanh nghiệp áp dụng ISO 9001. " * 20
    numbered = parse_numbered(line)
    assert numbered is not None and numbered.number == "2.3" and numbered.depth == 2
    assert numbered_headings("I. Kết quả\n" + line) == [(1, "I. Kết quả"), (3, " ".join(line.split()))]


def test_sentences_are_still_not_headings():
    assert parse_numbered("2024 là năm Sở triển khai nhiều nhiệm vụ.") is None
    assert parse_numbered("140.000.000 đồng đã được giải ngân.") is None
    assert parse_numbered("12 doanh nghiệp đã tham gia.") is None


def test_align_lines_ties_each_text_to_its_own_line_in_order():
    lines = ["1. Phương hướng", "nội dung", "1. Phương hướng", "x"]
    assert align_lines(lines, ["1. Phương hướng", "1.  Phương hướng", "1. Phương hướng", "y"]) == [0, 2, -1, -1]


def test_a_wrapped_heading_is_joined_only_with_the_rest_of_an_official_title():
    lines = ["2.4. Đào tạo nguồn nhân lực cho hoạt động nâng cao", "", "năng suất chất lượng",
             "hợp tác quốc tế về năng suất chất lượng chưa triển khai"]
    text = "\n".join(lines)
    spans = heading_spans(text, numbered_headings(text), OUTLINE)
    assert [(s.text, s.first, s.last) for s in spans] == [
        ("2.4. Đào tạo nguồn nhân lực cho hoạt động nâng cao năng suất chất lượng", 0, 2)]
    result = check_outline([DocumentText("a.pdf", "pdf", text=text)], "", OUTLINE)
    assert "I.2.4" in result.present and "I.2.6" in result.missing


def test_a_wrapped_heading_ends_where_its_text_starts():
    lines = ["2.1. Hoàn thiện cơ chế, chính", "sách thúc đẩy hoạt động nâng cao NSCL: Chưa phát sinh.",
             "Tăng cường công tác thông tin, truyền thông về năng suất chất lượng"]
    text = "\n".join(lines)
    [span] = heading_spans(text, numbered_headings(text), OUTLINE)
    assert span.text == "2.1. Hoàn thiện cơ chế, chính sách thúc đẩy hoạt động nâng cao NSCL"
    assert span.rest == "Chưa phát sinh." and span.last == 1


def test_matching_work_is_bounded_however_long_a_numbered_paragraph_is():
    text = "1. Tuyên truyền " + "về năng suất chất lượng " * 50_000
    [span] = heading_spans(text, numbered_headings(text), OUTLINE)
    assert len(span.folded) <= MATCH_CHARS and span.folded.startswith("tuyen truyen ve nang suat")
