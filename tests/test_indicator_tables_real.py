"""Indicator tables as provinces really write them, read through the pipeline and summed by `compile`.

Units inside value cells, header wordings from real reports, long indicator
names, merged two-row headers and tables broken over a page (the last rows a
second, headerless table). The season test delivers three such reports to a
Maildir, runs the real daemon cycle, then `compile`, and checks every summed
value and rate in the .docx.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import docx
import pytest

from intake.documents import read_attachment
from intake.report.indicators import extract_indicators, parse_vn_quantity
from intake.sources.maildir import deliver
from tests.cli_helpers import run_cli, write_config
from tests.fixtures.real_tables import LONG_NAME, report_with_table
from workflow.app import App
from workflow.reports.compile import compile_for_app
from workflow.reports.compile_docx import compiled_report_docx
from workflow.runtime.daemon import Daemon

YEAR = 2024


@pytest.mark.parametrize("text, expected", [
    ("1.250 lượt doanh nghiệp", (1250.0, "lượt doanh nghiệp")),
    ("45 lượt chuyên gia", (45.0, "lượt chuyên gia")),
    ("8 phòng thử nghiệm", (8.0, "phòng thử nghiệm")),
    ("8 phong thu nghiem", (8.0, "phong thu nghiem")),
    ("0", (0.0, None)), ("0 %", (0.0, None)), ("112,5 %", (112.5, None)), ("112,5%", (112.5, None)),
    ("1.250", (1250.0, None)), ("-", (None, None)), ("", (None, None)),
    ("12 doanh nghiệp.", (12.0, "doanh nghiệp")),
])
def test_quantity_splits_the_unit_off(text, expected):
    assert parse_vn_quantity(text) == expected


@pytest.mark.parametrize("text", ["khoảng 5", "2021-2025", "abc", "5 10 doanh nghiệp"])
def test_quantity_rejects_what_is_not_a_quantity(text):
    with pytest.raises(ValueError):
        parse_vn_quantity(text)


# (indicator, target, result, cumulative, rate) per province; targets "theo Kế hoạch 05 năm".
TAY_NINH = [
    ["1", LONG_NAME, "1.500 lượt doanh nghiệp", "320 lượt doanh nghiệp", "1.250 lượt doanh nghiệp", "83,3 %"],
    ["2", "Chuyên gia năng suất được đào tạo", "60 lượt chuyên gia", "12 lượt chuyên gia", "45 lượt chuyên gia",
     "75 %"],
    ["3", "Phòng thử nghiệm được hỗ trợ nâng cao năng lực", "8 phòng thử nghiệm", "0", "9 phòng thử nghiệm",
     "112,5 %"],
    ["4", "Mô hình điểm về năng suất chất lượng", "4 mô hình", "0", "0", "0 %"],
]
BEN_TRE = [  # typed without diacritics, units differently cased
    ["1", LONG_NAME, "500 luot doanh nghiep", "90 luot doanh nghiep", "410 luot doanh nghiep", "82"],
    ["2", "Chuyen gia nang suat duoc dao tao", "40 luot chuyen gia", "10 luot chuyen gia", "30 luot chuyen gia",
     "75"],
]
KIEN_GIANG = [
    ["1", LONG_NAME, "1.000 lượt doanh nghiệp", "150 lượt doanh nghiệp", "700 lượt doanh nghiệp", "70 %"],
    ["2", "Phòng thử nghiệm được hỗ trợ nâng cao năng lực", "2 phòng thử nghiệm", "1 phòng thử nghiệm",
     "1 phòng thử nghiệm", "50 %"],
]

SEASON = {
    "tay-ninh": ("Tây Ninh", "vanthu@skhcn.tayninh.gov.vn", datetime(2024, 11, 20, 3, 0, tzinfo=UTC),
                 TAY_NINH, "merged", 2),
    "ben-tre": ("Bến Tre", "vanthu@skhcn.bentre.gov.vn", datetime(2024, 11, 21, 3, 0, tzinfo=UTC),
                BEN_TRE, "ascii", None),
    "kien-giang": ("Kiên Giang", "vanthu@skhcn.kiengiang.gov.vn",
                   datetime(2024, 11, 22, 3, 0, tzinfo=UTC), KIEN_GIANG, "plain", 1),
}


def _rows(data: bytes):
    return [(r.indicator, r.unit, r.target, r.result, r.cumulative, r.rate, r.findings)
            for r in extract_indicators(read_attachment("bc.docx", "", data))]


def test_page_broken_merged_header_table_with_units_in_cells():
    rows = _rows(report_with_table("Tây Ninh", YEAR, TAY_NINH, style="merged", break_after=2))
    assert rows == [
        (LONG_NAME, "lượt doanh nghiệp", 1500.0, 320.0, 1250.0, 83.3, []),
        ("Chuyên gia năng suất được đào tạo", "lượt chuyên gia", 60.0, 12.0, 45.0, 75.0, []),
        ("Phòng thử nghiệm được hỗ trợ nâng cao năng lực", "phòng thử nghiệm", 8.0, 0.0, 9.0, 112.5, []),
        ("Mô hình điểm về năng suất chất lượng", "mô hình", 4.0, 0.0, 0.0, 0.0, []),
    ]


def test_arithmetic_check_still_applies_to_unit_bearing_cells():
    bad = [["1", "Chuyên gia năng suất được đào tạo", "60 lượt chuyên gia", "12 lượt chuyên gia",
            "45 lượt chuyên gia", "57 %"]]
    rows = _rows(report_with_table("Tây Ninh", YEAR, bad, style="plain"))
    assert rows[0][6] == ["tỷ lệ hoàn thành ghi 57% nhưng lũy kế 45 ÷ chỉ tiêu 60 = 75%"]


def test_ascii_headers_and_a_break_after_the_first_row():
    assert [r[:6] for r in _rows(report_with_table("Bến Tre", YEAR, BEN_TRE, style="ascii", break_after=1))] == [
        (LONG_NAME, "luot doanh nghiep", 500.0, 90.0, 410.0, 82.0),
        ("Chuyen gia nang suat duoc dao tao", "luot chuyen gia", 40.0, 10.0, 30.0, 75.0),
    ]


def test_a_headerless_table_not_after_an_indicator_table_is_not_read():
    document = docx.Document()
    from tests.fixtures.documents import add_table, docx_bytes
    add_table(document, [["Họ và tên", "Chức vụ"], ["A", "B"]])
    add_table(document, [["1", "Một việc", "5 lượt", "1 lượt", "3 lượt", "60"]])
    assert extract_indicators(read_attachment("x.docx", "", docx_bytes(document))) == []


def _email(slug: str) -> bytes:
    province, sender, arrived, rows, style, break_after = SEASON[slug]
    msg = EmailMessage()
    msg["From"] = f"Sở KH&CN {province} <{sender}>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = f"Báo cáo kết quả thực hiện Chương trình 1322 năm {YEAR} - tỉnh {province}"
    msg["Date"] = format_datetime(arrived)
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    msg.set_content(f"Kính gửi Bộ Khoa học và Công nghệ,\n\nSở KH&CN tỉnh {province} gửi báo cáo kết quả năm {YEAR} "
                    "(tệp đính kèm).\n\nTrân trọng.\n")
    msg.add_attachment(report_with_table(province, YEAR, rows, style=style, break_after=break_after),
                       maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename=f"BC NSCL {YEAR}.docx")
    return msg.as_bytes()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("units")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    for slug, spec in SEASON.items():
        deliver(tmp_path / "mail", _email(slug), when=spec[2])
    app = App.load(str(config))
    Daemon(app).run_once()
    report = compile_for_app(app, YEAR, now=datetime(2024, 12, 5, 2, 0, tzinfo=UTC))
    path = compiled_report_docx(report, tmp_path / "tong-hop.docx", tz=app.tz)
    yield app, config, report, docx.Document(str(path))
    app.close()


def test_every_report_was_recorded_with_all_its_rows(compiled):
    _, config, report, _ = compiled
    assert [r.agency for r in report.reported] == ["tay-ninh", "ben-tre", "kien-giang"]
    shown = json.loads(run_cli("show", f"tay-ninh/{YEAR}", "--json", config=config).stdout)
    assert [row["unit"] for row in _indicator_rows(shown)] == [
        "lượt doanh nghiệp", "lượt chuyên gia", "phòng thử nghiệm", "mô hình"]


def test_compile_sums_every_value_and_rate(compiled):
    _, _, report, document = compiled
    table = next(t for t in document.tables if any("Số đơn vị báo cáo" in c.text for c in t.rows[0].cells))
    rows = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert rows == [
        # 1.500 + 500 + 1.000; 320 + 90 + 150; 1.250 + 410 + 700; 2.360 / 3.000 = 78,67 %
        ["1", LONG_NAME, "lượt doanh nghiệp", "3.000", "560", "2.360", "78,7", "3"],
        # 60 + 40; 12 + 10; 45 + 30; 75 / 100 = 75 %
        ["2", "Chuyên gia năng suất được đào tạo", "lượt chuyên gia", "100", "22", "75", "75,0", "2"],
        # 8 + 2; 0 + 1; 9 + 1; 10 / 10 = 100 %
        ["3", "Phòng thử nghiệm được hỗ trợ nâng cao năng lực", "phòng thử nghiệm", "10", "1", "10", "100,0", "2"],
        # 4; 0; 0; 0 / 4 = 0 %
        ["4", "Mô hình điểm về năng suất chất lượng", "mô hình", "4", "0", "0", "0,0", "1"],
    ]
    assert "0 chỉ tiêu" not in "\n".join(p.text for p in document.paragraphs)


def _indicator_rows(shown: dict) -> list[dict]:
    versions = shown.get("versions") or shown.get("messages") or []
    return [row for version in versions[-1:] for row in version.get("indicators", [])]


def test_sub_headers_under_a_merged_result_header_say_what_each_column_is():
    from intake.report.indicators import rows_of_table

    grid = [["TT", "Nội dung thực hiện", "Kết quả thực hiện", "", "", "Tỷ lệ (%)"],
            ["", "", f"Kế hoạch năm {YEAR}", f"Thực hiện năm {YEAR}", "Lũy kế đến nay", ""],
            ["1", "Hội nghị tuyên truyền", "4 cuộc", "3 cuộc", "3 cuộc", "75"]]
    (row,) = rows_of_table(grid)
    assert (row.unit, row.target, row.result, row.cumulative, row.rate, row.findings) == (
        "cuộc", 4.0, 3.0, 3.0, 75.0, [])
