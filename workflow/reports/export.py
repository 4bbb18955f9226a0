"""The season's data for spreadsheets: the status table and the indicator rows.

Formats and where they go (``tdc-bot export --year Y --format F [--out PATH]``):

* ``csv``: two files, UTF-8 with a BOM so Excel shows Vietnamese. When PATH
  is an existing folder (or ends with "/"): ``PATH/status.csv`` and
  ``PATH/indicators.csv``. Otherwise PATH is a prefix (a trailing ".csv" is
  dropped): ``PATH-status.csv`` and ``PATH-indicators.csv``. Default prefix
  ``tdc-<year>`` in the current folder. Numbers are written with a dot
  decimal mark (locale-free); use xlsx when Excel's locale gets in the way.
* ``json``: one object ``{"year", "status": [...], "indicators": [...]}``
  (field names in English, dates ISO 8601); PATH ``-`` writes to stdout.
  Default ``tdc-<year>.json``.
* ``xlsx``: one workbook, sheets "Tình hình nộp" and "Chỉ tiêu", bold
  header, frozen header row, widths set, real numbers and dates. Default
  ``tdc-<year>.xlsx``.

CSV and XLSX headers are Vietnamese (they are read by officials); JSON keys
are English (they are read by programs). Only each agency's current version
contributes indicator rows, as in the consolidated report.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.labels import agency_kind_label, state_label
from notifier.safe_text import spreadsheet_text
from reference.time import VN as VIETNAM
from workflow.db import models
from workflow.season.status import season_status

if TYPE_CHECKING:
    from reference.roster import Roster

FORMATS = ("csv", "json", "xlsx")
ON_TIME_LABELS = {True: "Đúng hạn", False: "Muộn", None: ""}

# (key, Vietnamese header, xlsx width)
STATUS_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("agency", "Mã đơn vị", 22), ("name", "Tên đơn vị", 34), ("kind_label", "Loại", 16),
    ("state", "Trạng thái (mã)", 22), ("state_label", "Trạng thái", 20),
    ("received_date", "Ngày nhận", 12), ("received_at", "Thời điểm nhận (ISO)", 27),
    ("on_time", "Đúng hạn", 10), ("outline_missing", "Mục còn thiếu", 30), ("versions", "Số lần gửi", 10),
)
INDICATOR_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("agency", "Mã đơn vị", 22), ("name", "Tên đơn vị", 30), ("indicator", "Chỉ tiêu", 50),
    ("unit", "Đơn vị tính", 14), ("target", "Chỉ tiêu (kế hoạch)", 14), ("result", "Kết quả năm", 14),
    ("cumulative", "Lũy kế", 14), ("rate", "Tỷ lệ hoàn thành (%)", 14), ("findings", "Nhận xét kiểm tra", 50),
)
STATUS_SHEET = "Tình hình nộp"
INDICATOR_SHEET = "Chỉ tiêu"


@dataclass
class ExportData:
    year: int
    status: list[dict[str, Any]]  # JSON-ready: received_at ISO, on_time bool, lists as lists
    indicators: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"year": self.year, "status": self.status, "indicators": self.indicators}


def gather(session: Session, roster: Roster, year: int) -> ExportData:
    """Status rows in roster order, then the current versions' indicator rows in the same order."""
    rows = season_status(session, roster, year)
    status = [{
        "agency": r.agency, "name": r.name, "kind": r.kind, "kind_label": agency_kind_label(r.kind),
        "state": r.state, "state_label": state_label(r.state, capital=True),
        "received_date": r.received_at.astimezone(VIETNAM).strftime("%d/%m/%Y") if r.received_at else "",
        "received_at": r.received_at.astimezone(VIETNAM).isoformat() if r.received_at else None,
        "on_time": r.on_time, "outline_missing": list(r.outline_missing), "versions": r.versions,
    } for r in rows]
    names = {r.agency: r.name for r in rows}
    current = {slug: message_id for slug, message_id in session.execute(
        select(models.Submission.agency_slug, models.Submission.current_message_id)
        .where(models.Submission.year == year, models.Submission.current_message_id.is_not(None))).tuples()
        if message_id is not None}
    by_message: dict[int, list[models.IndicatorRow]] = {}
    if current:
        for item in session.scalars(select(models.IndicatorRow)
                                    .where(models.IndicatorRow.message_id.in_(list(current.values())))
                                    .order_by(models.IndicatorRow.message_id, models.IndicatorRow.position)):
            by_message.setdefault(item.message_id, []).append(item)
    indicators = [{
        "agency": r.agency, "name": names[r.agency], "indicator": item.indicator, "unit": item.unit,
        "target": item.target, "result": item.result, "cumulative": item.cumulative, "rate": item.rate,
        "findings": list(item.findings or []),
    } for r in rows if r.agency in current for item in by_message.get(current[r.agency], [])]
    return ExportData(year=year, status=status, indicators=indicators)


# ---- cell values for spreadsheets ------------------------------------------------------------
# Text cells pass through spreadsheet_text: an agency's "=HYPERLINK(...)" is shown, never evaluated
# (OWASP CSV injection); numbers are written as numbers and never altered.
def _csv_value(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "on_time":
        return ON_TIME_LABELS[value]
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return spreadsheet_text("; ".join(str(v) for v in value))
    return spreadsheet_text(str(value))


def _xlsx_value(key: str, value: Any) -> Any:
    if key == "received_at" and value:
        return datetime.fromisoformat(value).replace(tzinfo=None)  # Excel has no time zones; Vietnam time
    if key in ("on_time", "outline_missing", "findings") or isinstance(value, list):
        return _csv_value(key, value) or None
    if isinstance(value, str):
        return spreadsheet_text(value)
    return value


# ---- writers ------------------------------------------------------------------------------------
def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def csv_paths(out: str | None, year: int) -> tuple[Path, Path]:
    """(status, indicators) file paths for --out, as the module docstring describes."""
    if out and (out.endswith(("/", os.sep)) or Path(out).is_dir()):
        folder = Path(out)
        return folder / "status.csv", folder / "indicators.csv"
    prefix = out or f"tdc-{year}"
    if prefix.lower().endswith(".csv"):
        prefix = prefix[:-4]
    return Path(f"{prefix}-status.csv"), Path(f"{prefix}-indicators.csv")


def _write_csv(path: Path, columns: tuple[tuple[str, str, int], ...], rows: list[dict[str, Any]]) -> Path:
    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([header for _, header, _ in columns])
            for row in rows:
                writer.writerow([_csv_value(key, row.get(key)) for key, _, _ in columns])
    return _atomic(path, write)


def write_csv(data: ExportData, out: str | None) -> list[Path]:
    status_path, indicators_path = csv_paths(out, data.year)
    return [_write_csv(status_path, STATUS_COLUMNS, data.status),
            _write_csv(indicators_path, INDICATOR_COLUMNS, data.indicators)]


def write_json(data: ExportData, out: str | None) -> list[Path]:
    text = json.dumps(data.as_json(), ensure_ascii=False, indent=2) + "\n"
    if out == "-":
        sys.stdout.write(text)
        return []
    path = Path(out) if out else Path(f"tdc-{data.year}.json")
    if path.is_dir():
        path = path / f"tdc-{data.year}.json"
    return [_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))]


def _sheet(workbook, title: str, columns: tuple[tuple[str, str, int], ...], rows: list[dict[str, Any]],
           first: bool) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.active if first else workbook.create_sheet()
    sheet.title = title
    sheet.append([header for _, header, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        sheet.append([_xlsx_value(key, row.get(key)) for key, _, _ in columns])
    for index, (key, _, width) in enumerate(columns, 1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        if key == "received_at":
            for cell in sheet[letter][1:]:
                cell.number_format = "dd/mm/yyyy hh:mm"
    sheet.freeze_panes = "A2"


def write_xlsx(data: ExportData, out: str | None) -> list[Path]:
    from openpyxl import Workbook

    path = Path(out) if out else Path(f"tdc-{data.year}.xlsx")
    if path.is_dir():
        path = path / f"tdc-{data.year}.xlsx"
    workbook = Workbook()
    _sheet(workbook, STATUS_SHEET, STATUS_COLUMNS, data.status, first=True)
    _sheet(workbook, INDICATOR_SHEET, INDICATOR_COLUMNS, data.indicators, first=False)
    return [_atomic(path, lambda tmp: workbook.save(tmp))]


WRITERS: dict[str, Callable[[ExportData, str | None], list[Path]]] = {
    "csv": write_csv, "json": write_json, "xlsx": write_xlsx,
}


def export(data: ExportData, fmt: str, out: str | None) -> list[Path]:
    """Write ``data`` in ``fmt``; the files written (none for JSON to stdout). ValueError: unknown format."""
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ValueError(f"định dạng không hỗ trợ: {fmt!r} (chọn một trong: {', '.join(FORMATS)})") from None
    return writer(data, out)
