"""`tdc-bot export`: the status table and the indicator rows as CSV, JSON and XLSX.

The season is the one of test_compile (three reports through the real
pipeline, Cần Thơ late); each format is opened the way a user would and its
rows checked.
"""
from __future__ import annotations

import csv
import json

import openpyxl
import pytest

from tests.cli_helpers import run_cli
from tests.test_compile import YEAR, build_season
from workflow.reports.export import csv_paths, export, gather

REPORTERS = {"bo-cong-thuong": "18/11/2024", "tay-ninh": "20/11/2024", "can-tho": "03/12/2024"}


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("export")
    app, config = build_season(tmp_path)
    yield app, config
    app.close()


@pytest.fixture(scope="module")
def data(season):
    app, _ = season
    with app.db.sessions() as session:
        return gather(session, app.roster, YEAR)


def test_gather_status_rows_follow_the_roster(data, season):
    app, _ = season
    assert [r["agency"] for r in data.status] == [a.slug for a in app.roster.owing(YEAR)]
    by_slug = {r["agency"]: r for r in data.status}
    assert {s: by_slug[s]["received_date"] for s in REPORTERS} == REPORTERS
    assert by_slug["can-tho"]["on_time"] is False and by_slug["tay-ninh"]["on_time"] is True
    assert by_slug["can-tho"]["received_at"] == "2024-12-03T09:00:00+07:00"
    assert by_slug["ha-noi"]["state"] == "missing" and by_slug["ha-noi"]["received_at"] is None
    assert by_slug["tay-ninh"]["versions"] == 1


def test_gather_indicator_rows_are_the_current_versions(data):
    assert [(r["agency"], r["indicator"], r["unit"], r["target"]) for r in data.indicators] == [
        ("bo-cong-thuong", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Doanh nghiệp", 100),
        ("bo-cong-thuong", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Lượt", 10),
        ("tay-ninh", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Doanh nghiệp", 50),
        ("tay-ninh", "Số người được đào tạo về năng suất chất lượng", "Người", 1000),
        ("can-tho", "So doanh nghiep duoc ho tro ap dung he thong quan ly", "doanh nghiep", 40),
        ("can-tho", "Số người được đào tạo về năng suất chất lượng", "người", 500),
    ]
    tay_ninh = data.indicators[3]
    assert (tay_ninh["result"], tay_ninh["cumulative"], tay_ninh["rate"]) == (82, 400, 40)


def test_csv_into_a_folder_has_a_bom_and_vietnamese_headers(data, tmp_path):
    written = export(data, "csv", str(tmp_path) + "/")
    assert written == [tmp_path / "status.csv", tmp_path / "indicators.csv"]
    raw = (tmp_path / "status.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with (tmp_path / "status.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(data.status)
    can_tho = next(r for r in rows if r["Mã đơn vị"] == "can-tho")
    assert can_tho["Tên đơn vị"] == "Thành phố Cần Thơ"
    assert can_tho["Loại"] == "tỉnh/thành phố"  # words, not the code "province" (issue 22)
    assert can_tho["Ngày nhận"] == "03/12/2024" and can_tho["Đúng hạn"] == "Muộn"
    assert can_tho["Thời điểm nhận (ISO)"] == "2024-12-03T09:00:00+07:00"
    with (tmp_path / "indicators.csv").open(encoding="utf-8-sig", newline="") as fh:
        indicators = list(csv.DictReader(fh))
    assert [(r["Mã đơn vị"], r["Chỉ tiêu (kế hoạch)"], r["Lũy kế"]) for r in indicators][3] == ("tay-ninh", "1000",
                                                                                                "400")


def test_csv_paths_with_a_prefix(tmp_path):
    assert csv_paths(str(tmp_path / "mua-2024.csv"), 2024) == (tmp_path / "mua-2024-status.csv",
                                                                tmp_path / "mua-2024-indicators.csv")
    assert csv_paths(None, 2024)[0].name == "tdc-2024-status.csv"
    assert csv_paths(str(tmp_path), 2024) == (tmp_path / "status.csv", tmp_path / "indicators.csv")


def test_xlsx_has_two_named_sheets_with_bold_headers_and_widths(data, tmp_path):
    [path] = export(data, "xlsx", str(tmp_path / "mua.xlsx"))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Tình hình nộp", "Chỉ tiêu"]
    status, indicators = book["Tình hình nộp"], book["Chỉ tiêu"]
    assert status["A1"].value == "Mã đơn vị" and status["A1"].font.bold
    assert status.column_dimensions["B"].width == 34 and status.freeze_panes == "A2"
    assert status.max_row == len(data.status) + 1
    header = [c.value for c in status[1]]
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in status.iter_rows(min_row=2, values_only=True)}
    assert rows["can-tho"]["Ngày nhận"] == "03/12/2024" and rows["can-tho"]["Đúng hạn"] == "Muộn"
    assert rows["can-tho"]["Thời điểm nhận (ISO)"].strftime("%d/%m/%Y %H:%M") == "03/12/2024 09:00"
    values = list(indicators.iter_rows(min_row=2, values_only=True))
    assert len(values) == 6
    assert values[3][:8] == ("tay-ninh", "Tỉnh Tây Ninh", "Số người được đào tạo về năng suất chất lượng", "Người",
                             1000, 82, 400, 40)
    assert isinstance(values[3][4], (int, float))


def test_json_and_xlsx_through_the_command(season, tmp_path):
    _, config = season
    proc = run_cli("export", "--year", str(YEAR), "--format", "json", "--out", "-", config=config)
    payload = json.loads(proc.stdout)
    assert set(payload) == {"year", "status", "indicators"} and payload["year"] == YEAR
    assert {r["agency"]: r["received_date"] for r in payload["status"] if r["agency"] in REPORTERS} == REPORTERS
    assert len(payload["indicators"]) == 6 and payload["indicators"][0]["findings"] == []
    out = tmp_path / "x.xlsx"
    run_cli("export", "--year", str(YEAR), "--format", "xlsx", "--out", str(out), config=config)
    assert openpyxl.load_workbook(out).sheetnames == ["Tình hình nộp", "Chỉ tiêu"]
    run_cli("export", "--year", str(YEAR), "--format", "csv", "--out", str(tmp_path / "p"), config=config)
    assert (tmp_path / "p-status.csv").is_file() and (tmp_path / "p-indicators.csv").is_file()


def test_unknown_format_is_refused(season, tmp_path):
    _, config = season
    proc = run_cli("export", "--year", str(YEAR), "--format", "ods", config=config, check=False, cwd=tmp_path)
    assert proc.returncode == 2 and "--format phải là một trong csv, json, xlsx" in proc.stderr
    assert list(tmp_path.iterdir()) == []
