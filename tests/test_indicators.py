"""Indicator tables: Vietnamese numbers, header wordings, and the rate arithmetic."""
from __future__ import annotations

import docx
import pytest

from intake.documents import read_attachment
from intake.model import DocumentText
from intake.report.indicators import (
    IndicatorRow,
    extract_indicators,
    format_vn_number,
    is_indicator_table,
    parse_vn_number,
    rows_of_table,
)
from tests.fixtures.documents import add_table, docx_bytes


@pytest.mark.parametrize("text, value", [
    ("10.000", 10000.0), ("1.234,5", 1234.5), ("9,93 %", 9.93), ("173,5%", 173.5), ("12", 12.0),
    ("1.234.567", 1234567.0), ("10 000", 10000.0), ("0.5", 0.5), ("2.75", 2.75), ("1,234.5", 1234.5),
    ("-3,5", -3.5), ("100%", 100.0), ("\u00a012\u00a0", 12.0),
    ("-", None), ("", None), ("–", None), ("x", None), (None, None),
])
def test_parse_vn_number(text, value):
    assert parse_vn_number(text) == value


@pytest.mark.parametrize("text", ["abc", "2021-2025", "12 doanh nghiệp", "1..2", "5,,0"])
def test_parse_vn_number_rejects_text(text):
    with pytest.raises(ValueError):
        parse_vn_number(text)


def test_format_vn_number():
    assert [format_vn_number(v) for v in (1234.5, 80.0, 9.93, 10000)] == ["1.234,5", "80", "9,93", "10.000"]


HEADER_TOP = ["STT", "Chỉ tiêu", "Đơn vị tính", "Chỉ tiêu giai đoạn 2021-2025", "Kết quả thực hiện", "",
              "Tỷ lệ hoàn thành (%)"]
HEADER_BOTTOM = ["", "", "", "", "Năm 2024", "Lũy kế đến hết năm 2024", ""]
DATA = [
    ["1", "Doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Doanh nghiệp", "1.000", "120", "650", "65"],
    ["2", "Lượt người được đào tạo về năng suất", "Lượt người", "10.000", "1.250", "7.420", "74,2%"],
    ["3", "Tin, bài tuyên truyền", "Tin, bài", "150", "48", "260,5", "173,5"],
    ["4", "Chuyên gia năng suất được đào tạo", "Người", "40", "-", "12", "45"],  # 12/40 = 30 %, not 45 %
    ["5", "Mô hình điểm áp dụng công cụ cải tiến", "Mô hình", "25", "3", "", ""],
]


def _indicator_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Bảng 1. Kết quả thực hiện các chỉ tiêu của Chương trình")
    add_table(document, [HEADER_TOP, HEADER_BOTTOM, *DATA],
              merges=[(0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 1, 2), (0, 3, 1, 3), (0, 4, 0, 5), (0, 6, 1, 6)])
    document.add_paragraph("Một bảng khác không phải chỉ tiêu:")
    add_table(document, [["Họ và tên", "Chức vụ"], ["Nguyễn Văn A", "Giám đốc"]])
    return docx_bytes(document)


def test_indicator_table_from_docx_with_two_row_merged_header():
    docs = read_attachment("bc.docx", "", _indicator_docx())
    rows = extract_indicators(docs)
    assert [(r.indicator, r.unit, r.target, r.result, r.cumulative, r.rate) for r in rows] == [
        ("Doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Doanh nghiệp", 1000.0, 120.0, 650.0, 65.0),
        ("Lượt người được đào tạo về năng suất", "Lượt người", 10000.0, 1250.0, 7420.0, 74.2),
        ("Tin, bài tuyên truyền", "Tin, bài", 150.0, 48.0, 260.5, 173.5),
        ("Chuyên gia năng suất được đào tạo", "Người", 40.0, None, 12.0, 45.0),
        ("Mô hình điểm áp dụng công cụ cải tiến", "Mô hình", 25.0, 3.0, None, None),
    ]
    assert [r.findings for r in rows[:3] + rows[4:]] == [[], [], [], []]
    assert rows[3].findings == ["tỷ lệ hoàn thành ghi 45% nhưng lũy kế 12 ÷ chỉ tiêu 40 = 30%"]


def test_rate_tolerance():
    header = [["Nội dung", "Kế hoạch", "Lũy kế", "Tỷ lệ (%)"]]
    ok = rows_of_table(header + [["A", "3", "1", "33,3"], ["B", "1.000", "995", "100"]])  # 0.3 pt; 0.5 pt
    assert [r.findings for r in ok] == [[], []]
    relative = rows_of_table(header + [["C", "100", "180", "181,5"]])  # 1.5 pt but < 1 % relative
    assert relative[0].findings == []
    bad = rows_of_table(header + [["D", "100", "90", "91"]])  # 1 pt and 1.1 %
    assert len(bad[0].findings) == 1 and bad[0].findings[0].startswith("tỷ lệ hoàn thành ghi 91%")


def test_headers_without_diacritics_and_other_wordings():
    grid = [["TT", "Noi dung", "DVT", "Muc tieu", "Thuc hien nam 2024", "Luy ke tu dau Chuong trinh", "Ty le"],
            ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)=(6)/(4)"],
            ["I", "Nhóm chỉ tiêu về doanh nghiệp", "", "", "", "", ""],
            ["1", "Doanh nghiep", "DN", "200", "30", "150", "75"]]
    assert is_indicator_table(grid)
    assert rows_of_table(grid) == [IndicatorRow("Doanh nghiep", "DN", 200.0, 30.0, 150.0, 75.0, [])]


def test_bare_chi_tieu_is_the_target_when_another_column_names_the_indicator():
    grid = [["Nội dung", "Chỉ tiêu", "Thực hiện", "Tỷ lệ hoàn thành"], ["Hội nghị", "4", "2", "50"]]
    assert rows_of_table(grid) == [IndicatorRow("Hội nghị", None, 4.0, 2.0, None, 50.0, [])]


def test_unreadable_number_is_a_finding_not_an_error():
    grid = [["Chỉ tiêu", "Kế hoạch", "Kết quả", "Tỷ lệ"], ["Đào tạo", "10", "khoảng 5", "50"]]
    rows = rows_of_table(grid)
    assert rows[0].result is None
    assert rows[0].findings == ["ô kết quả năm không đọc được thành số: “khoảng 5”"]


def test_tables_that_are_not_indicator_tables_are_ignored():
    docs = [DocumentText("a.docx", "docx", tables=[[["Họ và tên", "Chức vụ"], ["A", "B"]], [], [["x"]]])]
    assert extract_indicators(docs) == []
