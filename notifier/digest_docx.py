"""The digest's .docx: a first page a coordinator can forward, then the season's status table as an annex.

The first page says what a reader needs before the 60-row table: the date,
how many agencies are in each state, what arrived since yesterday, who is
late and what waits for review.

Why a Word file: coordinators paste this table into the Ministry's summary
report, which is drafted in Word in the official style (Decree 30/2020:
Times New Roman 13, a "PHỤ LỤC" heading, dd/mm/yyyy dates). A landscape
A4 page leaves room for the "missing sections" column.

The file is written to a temporary name and renamed, so an outbox row never
points at a half-written attachment.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from notifier.docx_style import set_font
from notifier.files import save_atomically
from notifier.labels import STATE_LABELS, days_left, state_label
from notifier.safe_text import xml_clean
from reference.time import vn_date, vn_datetime

FONT = "Times New Roman"
FONT_SIZE = Pt(13)
COLUMNS = ("STT", "Đơn vị", "Trạng thái", "Ngày nhận", "Đúng hạn", "Mục còn thiếu")
COLUMN_WIDTHS_MM = (14, 80, 45, 30, 25, 63)  # sums to the text width of landscape A4 with 20 mm margins
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"



class StatusLike(Protocol):
    """What a row needs (workflow.season.status.StatusRow, a frozen dataclass, has it)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def received_at(self) -> datetime | None: ...
    @property
    def on_time(self) -> bool | None: ...
    @property
    def outline_missing(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class TableRow:
    cells: tuple[str, str, str, str, str, str]


def table_rows(rows: Iterable[StatusLike]) -> list[TableRow]:
    """The table's text, one row per agency, numbered from 1."""
    out = []
    for i, row in enumerate(rows, 1):
        received = vn_date(row.received_at)
        on_time = {True: "Đúng hạn", False: "Muộn", None: ""}[row.on_time]
        out.append(TableRow((str(i), row.name, state_label(row.state, capital=True), received, on_time,
                             ", ".join(row.outline_missing or []))))
    return out


def _set_font(style_or_run, bold: bool | None = None) -> None:  # noqa: ANN001
    set_font(style_or_run, FONT, FONT_SIZE, bold)


def _paragraph(doc, text: str, bold: bool = False, italic: bool = False, center: bool = True) -> None:
    para = doc.add_paragraph()
    if center:
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    para.paragraph_format.space_after = Pt(0)
    run = para.add_run(text)
    _set_font(run, bold)
    run.italic = italic


def _repeat_header(row) -> None:
    """The header row repeats on every page, as a multi-page annex table must."""
    trpr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)


def _fill_cell(cell, text: str, bold: bool = False, center: bool = False) -> None:
    para = cell.paragraphs[0]
    para.paragraph_format.space_after = Pt(0)
    if center:
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = para.add_run(text)
    _set_font(run, bold)


def _heading(doc, text: str) -> None:
    para = doc.add_paragraph()
    para.paragraph_format.space_before = Pt(8)
    para.paragraph_format.space_after = Pt(2)
    _set_font(para.add_run(text), bold=True)


def _items(doc, lines: list[str], empty: str = "Không có.") -> None:
    for line in lines or [empty]:
        _paragraph(doc, f"- {line}" if lines else line, center=False)


def _days(n: Any) -> str:
    return days_left(n)


def first_page(doc, year: int, day: date, summary: Mapping[str, Any], rows: list[StatusLike]) -> None:
    """Date, counts by state, new since yesterday, late, waiting for review: what a reader needs first."""
    _paragraph(doc, f"BẢN TIN TÌNH HÌNH TIẾP NHẬN BÁO CÁO NĂM {year}", bold=True)
    _paragraph(doc, "Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng sản phẩm, hàng hóa "
                    "giai đoạn 2021-2030", italic=True)
    _paragraph(doc, f"Ngày {day:%d/%m/%Y}", italic=True)
    counts = dict(summary.get("counts") or {})
    _heading(doc, f"1. Số đơn vị theo trạng thái (tổng số {sum(counts.values())})")
    _items(doc, [f"{state_label(state, capital=True)}: {counts[state]}" for state in STATE_LABELS if counts.get(state)])
    new = list(summary.get("new_since_yesterday") or [])
    _heading(doc, f"2. Báo cáo mới nhận từ hôm qua ({len(new)})")
    _items(doc, [f"{r.get('name') or '(chưa xác định cơ quan)'}"
                 + (f", nhận lúc {vn_datetime(r['received_at'])}"
                    if isinstance(r.get("received_at"), datetime) else "")
                 + (", sau thời hạn" if r.get("on_time") is False else "") for r in new])
    overdue = [m for m in summary.get("missing") or [] if (m.get("days_left") is not None and m["days_left"] < 0)]
    late = [r for r in rows if r.on_time is False]
    _heading(doc, f"3. Chậm báo cáo ({len(overdue)} chưa nộp đã quá hạn, {len(late)} nộp sau thời hạn)")
    _items(doc, [f"{m.get('name') or m.get('slug')}: chưa nộp, {_days(m.get('days_left'))}" for m in overdue]
           + [f"{r.name}: nộp sau thời hạn" for r in late])
    review = list(summary.get("needs_review") or [])
    _heading(doc, f"4. Chờ cán bộ đầu mối xem xét ({len(review)})")
    _items(doc, [f"{r.get('name') or '(chưa xác định cơ quan)'}"
                 + (f": {'; '.join(r['reasons']) if not isinstance(r['reasons'], str) else r['reasons']}"
                    if r.get("reasons") else "") for r in review])
    _paragraph(doc, "Chi tiết từng đơn vị: xem Phụ lục ở trang sau.", italic=True, center=False)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def status_table_docx(rows: Iterable[StatusLike], year: int, day: date, path: Path | str,
                      annex: str = "", summary: Mapping[str, Any] | None = None) -> Path:
    """Write the status table for ``year`` as of ``day`` to ``path`` (landscape A4); return the path.

    With ``summary`` (the digest's template context) a first page comes before the annex.
    """
    rows = list(rows)
    body = xml_clean(table_rows(rows))  # agency names and outline labels: no XML-forbidden characters
    annex = xml_clean(annex)
    summary = xml_clean(dict(summary)) if summary is not None else None  # subjects and reasons come from mail
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    _set_font(doc.styles["Normal"])
    if summary is not None:
        first_page(doc, year, day, summary, rows)

    _paragraph(doc, f"PHỤ LỤC{(' ' + annex) if annex else ''}", bold=True)
    _paragraph(doc, f"TÌNH HÌNH GỬI BÁO CÁO NĂM {year}", bold=True)
    _paragraph(doc, "CHƯƠNG TRÌNH QUỐC GIA HỖ TRỢ DOANH NGHIỆP NÂNG CAO NĂNG SUẤT VÀ CHẤT LƯỢNG "
                    "SẢN PHẨM, HÀNG HÓA GIAI ĐOẠN 2021-2030", bold=True)
    _paragraph(doc, f"(Số liệu đến ngày {day:%d/%m/%Y})", italic=True)
    doc.add_paragraph()

    table = doc.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    header = table.rows[0]
    _repeat_header(header)
    for cell, title in zip(header.cells, COLUMNS, strict=False):
        _fill_cell(cell, title, bold=True, center=True)
    for row in body:
        cells = table.add_row().cells
        for i, (cell, text) in enumerate(zip(cells, row.cells, strict=False)):
            _fill_cell(cell, text, center=i in (0, 3, 4))
    for column, width in zip(table.columns, COLUMN_WIDTHS_MM, strict=False):
        for cell in column.cells:
            cell.width = Mm(width)
    return save_atomically(path, doc.save)
