"""Indicator tables in the shapes provinces use (issue 24): each shape read whole, each check as data.

The shapes themselves (rate headed "%", transposed tables, numbers as typed,
merged headers, split tables, an HTML body) are built in
tests/fixtures/indicator_shapes.py, as real .docx where the shape is about
docx structure.
"""
from __future__ import annotations

import time

import pytest

from intake.model import DocumentText
from intake.report.indicators import (
    CUMULATIVE_BELOW_RESULT,
    MAX_ROWS,
    RATE_MISMATCH,
    UNREADABLE_CELL,
    ZERO_TARGET,
    extract_indicators,
    parse_vn_number,
    parse_vn_quantity,
    rows_of_table,
)
from intake.report.indicators.headers import role
from intake.report.indicators.table import MAX_TABLE_ROWS
from tests.fixtures.indicator_shapes import SHAPES, YEAR, YEAR_AND_PERIOD, Shape


def _values(rows):
    return [(r.indicator, r.unit, r.target, r.result, r.cumulative, r.rate) for r in rows]


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_every_row_of_the_shape_is_read(shape: Shape):
    rows = extract_indicators(shape.docs())
    assert _values(rows) == list(shape.expected)
    assert [r.findings for r in rows] == [[]] * len(rows)  # the example tables add up


# ---- numbers as typed ----

@pytest.mark.parametrize("text, value", [
    ("12\u00a0000", 12000.0), ("2\u2009150", 2150.0), ("9\u202f600", 9600.0), ("1\u2007250,5", 1250.5),
    ("1.250(1)", 1250.0), ("1.250[2]", 1250.0), ("1.250*", 1250.0), ("310**", 310.0), ("1.000¹", 1000.0),
    ("45,5%²", 45.5), ("80%²", 80.0), ("12³", 12.0),
])
def test_thousands_spaces_and_footnote_marks(text, value):
    assert parse_vn_number(text) == value


@pytest.mark.parametrize("text, expected", [
    ("1.250 lượt DN", (1250.0, "lượt DN")), ("1 250 lượt DN", (1250.0, "lượt DN")),
    ("12 mô hình", (12.0, "mô hình")), ("12 mô hình(1)", (12.0, "mô hình")), ("112,5 %", (112.5, None)),
])
def test_units_in_cells_with_the_new_marks(text, expected):
    assert parse_vn_quantity(text) == expected


@pytest.mark.parametrize("text", ["(1)", "¹", "*", "12 (dự kiến)", "1.25.0"])
def test_marks_alone_are_not_numbers(text):
    with pytest.raises(ValueError):
        parse_vn_quantity(text)


@pytest.mark.parametrize("cell", ["1" + " " * 4000 + "!", "1" * 3000 + " " * 3000 + "!", "1 " * 50_000 + "x"])
def test_a_hostile_cell_costs_no_time(cell):
    started = time.perf_counter()
    with pytest.raises(ValueError):
        parse_vn_quantity(cell)
    assert time.perf_counter() - started < 0.05


# ---- headers ----

@pytest.mark.parametrize("header", ["%", "% HT", "(%)", "Tỷ lệ %", "Đạt (%)", "TH/KH (%)", "TH/KH", "So sánh"])
def test_a_percent_sign_and_a_word_head_the_rate(header):
    assert role(header) == "rate"


@pytest.mark.parametrize("header, expected", [
    (f"KH năm {YEAR}", "target"), (f"TH năm {YEAR}", "result"), (f"ƯTH năm {YEAR}", "result"),
    ("Nhiệm vụ KH&CN", "indicator"), ("Ghi chú", "skip"), (f"Năm {YEAR}", None),
])
def test_abbreviated_headers(header, expected):
    assert role(header) == expected


def test_a_list_with_plan_and_done_labels_is_not_a_transposed_table():
    grid = [["Nội dung", "Số lượng"], ["Kế hoạch được ban hành", "2"], ["Hội nghị đã thực hiện", "3"]]
    assert rows_of_table(grid) == []


# ---- the arithmetic, as data ----

HEADER = ["STT", "Nội dung", "Chỉ tiêu giai đoạn 2021-2025", f"Kết quả năm {YEAR}", f"Lũy kế đến hết năm {YEAR}",
          "Tỷ lệ hoàn thành (%)"]


def test_findings_are_counted_by_code_and_read_as_sentences():
    rows = rows_of_table([HEADER,
                          ["1", "Đúng", "100", "20", "60", "60"],
                          ["2", "Tỷ lệ sai", "100", "20", "60", "75"],
                          ["3", "Lũy kế nhỏ hơn kết quả năm", "100", "70", "60", "60"],
                          ["4", "Chỉ tiêu bằng 0", "0", "1", "1", "100"],
                          ["5", "Ô chữ", "100", "khoảng 20", "60", "60"]])
    assert [[c.code for c in r.checks] for r in rows] == [
        [], [RATE_MISMATCH], [CUMULATIVE_BELOW_RESULT], [ZERO_TARGET], [UNREADABLE_CELL]]
    assert [r.findings for r in rows] == [[c.text for c in r.checks] for r in rows]
    assert rows[1].findings == ["tỷ lệ hoàn thành ghi 75% nhưng lũy kế 60 ÷ chỉ tiêu 100 = 60%"]
    assert rows[2].findings == ["lũy kế 60 nhỏ hơn kết quả năm 70 (lũy kế từ đầu Chương trình phải gồm cả kết quả năm)"]
    assert rows[3].findings == ["chỉ tiêu bằng 0, không tính được tỷ lệ hoàn thành"]


def test_a_rate_against_the_years_plan_is_result_over_that_plan():
    header = ["Nội dung", f"Kế hoạch năm {YEAR}", f"Thực hiện năm {YEAR}", "Lũy kế", "%"]
    right, wrong = rows_of_table([header, ["Hội nghị", "4", "3", "8", "75"], ["Tin bài", "40", "30", "80", "200"]])
    assert right.findings == []
    assert wrong.findings == ["tỷ lệ hoàn thành ghi 200% nhưng kết quả năm 30 ÷ chỉ tiêu 40 = 75%"]


def test_a_rate_against_the_five_year_plan_is_cumulative_over_it():
    header = ["Nội dung", "Kế hoạch giai đoạn 2021-2025", f"Thực hiện năm {YEAR}", "Lũy kế",
              "Tỷ lệ so với KH giai đoạn (%)"]
    (row,) = rows_of_table([header, ["Hội nghị", "100", "20", "60", "20"]])  # 20 is the year's, not the programme's
    assert [c.code for c in row.checks] == [RATE_MISMATCH]
    assert row.findings == ["tỷ lệ hoàn thành ghi 20% nhưng lũy kế 60 ÷ chỉ tiêu 100 = 60%"]


def test_a_rate_whose_header_does_not_say_may_be_either_quotient():
    header = ["Nội dung", "Kế hoạch", "Thực hiện", "Lũy kế", "Tỷ lệ (%)"]
    year, programme, neither = rows_of_table([header, ["A", "100", "20", "60", "20"], ["B", "100", "20", "60", "60"],
                                              ["C", "100", "20", "60", "45"]])
    assert (year.findings, programme.findings) == ([], [])
    assert neither.findings == ["tỷ lệ hoàn thành ghi 45% nhưng lũy kế 60 ÷ chỉ tiêu 100 = 60%"]


def test_only_a_yearly_rate_is_checked_against_the_yearly_plan():
    header = ["Nội dung", f"KH năm {YEAR}", "KH giai đoạn 2021-2025", f"TH năm {YEAR}", "Lũy kế", "So với KH năm (%)"]
    right, wrong = rows_of_table([header, ["Hội nghị", "40", "200", "36", "150", "90"],
                                  ["Tin bài", "40", "200", "36", "150", "75"]])  # 75 is 150 ÷ 200, not the year's
    assert (right.target, right.rate, right.findings) == (200.0, 90.0, [])
    assert wrong.findings == ["tỷ lệ so với kế hoạch năm ghi 75% nhưng kết quả năm 36 ÷ kế hoạch năm 40 = 90%"]


def test_both_rates_are_checked_when_a_table_gives_two():
    docs = YEAR_AND_PERIOD.docs()
    docs[0].tables[0][2][6] = "95"  # the yearly rate of the first row: 36 ÷ 40 is 90 %
    first = extract_indicators(docs)[0]
    assert first.rate == 75.0
    assert first.findings == ["tỷ lệ so với kế hoạch năm ghi 95% nhưng kết quả năm 36 ÷ kế hoạch năm 40 = 90%"]


# ---- bounds ----

def test_a_huge_table_is_read_only_up_to_its_cap():
    grid = [HEADER] + [[str(i), f"Chỉ tiêu {i}", "10", "1", "5", "50"] for i in range(MAX_TABLE_ROWS * 4)]
    started = time.perf_counter()
    rows = rows_of_table(grid)
    assert len(rows) == MAX_TABLE_ROWS - 1  # the header row is one of the rows looked at
    assert time.perf_counter() - started < 5


def test_all_documents_together_give_at_most_max_rows():
    table = [HEADER] + [[str(i), f"Chỉ tiêu {i}", "10", "1", "5", "50"] for i in range(MAX_TABLE_ROWS - 1)]
    docs = [DocumentText(f"{n}.docx", "docx", tables=[table, table]) for n in range(4)]
    assert len(extract_indicators(docs)) == MAX_ROWS
