"""The consolidated national report as a Word document, in the official style.

Coordinators turn this draft into the Ministry's summary report, so it
already follows the presentation rules of Decree 30/2020/NĐ-CP: A4, margins
top/bottom 2 cm, left 3 cm, right 2 cm; Times New Roman 14 (the East Asian
font set too, or some Word builds draw the diacritics in another face); the
national header; headings numbered as the outline ("I.", "1.", "2.1."); page
numbers in the footer. Headings use Word's built-in Heading styles so the
navigation pane and a table of contents work.

The text under each heading is quoted from the agencies (attributed, trimmed)
and the indicator sums are computed, not written: the document says so, and
a coordinator edits it before it is signed.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from intake.report.indicators import format_vn_number, format_vn_percent
from notifier.docx_style import set_font
from notifier.files import save_atomically
from notifier.labels import state_label
from notifier.safe_text import xml_clean

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import _Cell

    from workflow.reports.compile import AggregatedIndicator, CompiledReport, SectionExtracts
    from workflow.season.status import StatusRow

FONT = "Times New Roman"
BODY_SIZE = Pt(14)
TABLE_SIZE = Pt(12)
EXTRACT_CHARS = 900  # per agency and section: enough to see what was done, short enough to read 60 of them
TEXT_WIDTH_MM = 160  # A4 210 mm - left 30 - right 20
PROGRAMME = ("Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng sản phẩm, "
             "hàng hóa giai đoạn 2021-2030")
INDICATOR_COLUMNS = ("STT", "Chỉ tiêu", "Đơn vị tính", "Chỉ tiêu (kế hoạch)", "Kết quả năm {year}",
                     "Lũy kế", "Tỷ lệ hoàn thành (%)", "Số đơn vị báo cáo")
INDICATOR_WIDTHS_MM = (10, 44, 16, 20, 20, 20, 15, 15)
ANNEX_COLUMNS = ("STT", "Đơn vị", "Ngày nhận", "Đúng hạn", "Trạng thái", "Số lần gửi")
ANNEX_WIDTHS_MM = (10, 58, 24, 22, 30, 16)
MISSING_COLUMNS = ("STT", "Đơn vị", "Ghi chú")
MISSING_WIDTHS_MM = (10, 100, 50)


# ---- fonts and styles --------------------------------------------------------------------------
def _fonts(element, size: Pt | None = None, bold: bool | None = None, italic: bool | None = None) -> None:
    set_font(element, FONT, size, bold, italic)


def _setup(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin = section.bottom_margin = Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(20)
    normal = doc.styles["Normal"]
    _fonts(normal, BODY_SIZE)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.15
    for level, italic in ((1, False), (2, False), (3, True)):
        style = doc.styles[f"Heading {level}"]
        _fonts(style, BODY_SIZE, bold=True, italic=italic)
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.paragraph_format.space_before = Pt(6)
        style.paragraph_format.space_after = Pt(6)
        style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    _page_number_footer(section)


def _page_number_footer(section) -> None:
    """A centred PAGE field: Word fills in the number on every page."""
    para = section.footer.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = para.add_run()
    _fonts(run, Pt(12))
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            t = OxmlElement("w:t")
            t.text = text
            run._r.append(t)


# ---- paragraphs ---------------------------------------------------------------------------------
def _para(container, text: str = "", *, bold: bool = False, italic: bool = False,
          align: WD_ALIGN_PARAGRAPH | None = WD_ALIGN_PARAGRAPH.CENTER, size: Pt | None = None,
          space_after: Pt = Pt(0)):  # noqa: B008 - Pt is an immutable int
    para = container.add_paragraph()
    if align is not None:
        para.alignment = align
    para.paragraph_format.space_after = space_after
    if text:
        _fonts(para.add_run(text), size, bold=bold, italic=italic)
    return para


UNDER_REVIEW_MARK = "(báo cáo đang được cán bộ xem xét, chưa chính thức)"


def trim_extract(text: str, limit: int = EXTRACT_CHARS) -> str:
    """One paragraph of at most ``limit`` characters, cut at a word, ending in "…" when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-–")
    return cut + "…"


def heading_label(code: str) -> str:
    """'I' -> 'I.', 'I.1' -> '1.', 'I.2.1' -> '2.1.': the outline's own numbering."""
    parts = code.split(".")
    return (parts[0] if len(parts) == 1 else ".".join(parts[1:])) + "."


def vn_day(value: datetime | None, tz) -> str:
    return value.astimezone(tz).strftime("%d/%m/%Y") if value else ""


# ---- blocks -------------------------------------------------------------------------------------
def _no_borders(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    table._tbl.tblPr.append(borders)


def _national_header(doc: DocxDocument, issuer: str, place: str, day: datetime) -> None:
    table = doc.add_table(rows=1, cols=2)
    table.autofit = False
    _no_borders(table)
    left, right = table.rows[0].cells
    left.width, right.width = Mm(62), Mm(98)
    left.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _fonts(left.paragraphs[0].add_run(issuer), Pt(13), bold=True)
    _para(left, "───────", size=Pt(13))
    right.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _fonts(right.paragraphs[0].add_run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"), Pt(13), bold=True)
    _para(right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=BODY_SIZE)
    _para(right, "───────────────", size=Pt(13))
    _para(right, f"{place}, ngày {day:%d} tháng {day:%m} năm {day:%Y}", italic=True, size=BODY_SIZE)


def _title(doc: DocxDocument, report: CompiledReport, tz) -> None:
    _para(doc, "")
    _para(doc, f"BÁO CÁO TỔNG HỢP KẾT QUẢ THỰC HIỆN NĂM {report.year}", bold=True)
    _para(doc, PROGRAMME.upper(), bold=True, space_after=Pt(12))
    basis = f"theo Công văn số {report.dispatch} của Bộ Khoa học và Công nghệ" if report.dispatch else \
        "theo đề cương báo cáo của Bộ Khoa học và Công nghệ"
    owing = len(report.reported) + len(report.missing) + len(report.exempt)
    _para(doc, (f"Báo cáo tổng hợp từ báo cáo năm {report.year} của {len(report.reported)}/{owing} đơn vị "
                f"({_count_kinds(report.reported)}) gửi về {basis}, hạn nộp {report.deadline:%d/%m/%Y}. "
                "Nội dung dưới mỗi mục là trích dẫn báo cáo của từng đơn vị; số liệu chỉ tiêu do hệ thống "
                "cộng tự động từ bảng chỉ tiêu các đơn vị gửi, cần được cán bộ rà soát trước khi ban hành."
                + (f" Trích dẫn ghi “{UNDER_REVIEW_MARK}” là của báo cáo chưa được chấp nhận."
                   if any(e.under_review for s in report.sections for e in s.extracts) else "")),
          italic=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY, space_after=Pt(6))


def _count_kinds(rows: Iterable[StatusRow]) -> str:
    rows = list(rows)
    ministries = sum(1 for r in rows if r.kind == "ministry")
    return f"{ministries} bộ, ngành và {len(rows) - ministries} tỉnh, thành phố"


def _section(doc: DocxDocument, section: SectionExtracts, has_children: bool, limit: int) -> None:
    doc.add_heading(f"{heading_label(section.code)} {section.title}", level=min(section.depth, 3))
    for extract in section.extracts:
        para = doc.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        para.paragraph_format.first_line_indent = Mm(10)
        _fonts(para.add_run(f"{extract.name}:"), bold=True)
        if extract.under_review:
            _fonts(para.add_run(f" {UNDER_REVIEW_MARK}"), italic=True)
        _fonts(para.add_run(" " + trim_extract(extract.text, limit)))
    if not section.extracts and not has_children:
        _para(doc, "(Chưa có đơn vị nào báo cáo nội dung này.)", italic=True, align=WD_ALIGN_PARAGRAPH.LEFT,
              space_after=Pt(6))


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)


def _cell(cell: _Cell, text: str, bold: bool = False, align=WD_ALIGN_PARAGRAPH.LEFT) -> None:
    para = cell.paragraphs[0]
    para.alignment = align
    para.paragraph_format.space_after = Pt(0)
    _fonts(para.add_run(text), TABLE_SIZE, bold=bold)


def _grid(doc: DocxDocument, columns: tuple[str, ...], widths: tuple[int, ...],
          rows: Sequence[tuple[str, ...]], numeric_from: int = 99) -> None:
    table = doc.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _repeat_header(table.rows[0])
    for cell, title in zip(table.rows[0].cells, columns, strict=False):
        _cell(cell, title, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    for row in rows:
        cells = table.add_row().cells
        for i, (cell, text) in enumerate(zip(cells, row, strict=False)):
            align = (WD_ALIGN_PARAGRAPH.CENTER if i == 0 else
                     WD_ALIGN_PARAGRAPH.RIGHT if i >= numeric_from else WD_ALIGN_PARAGRAPH.LEFT)
            _cell(cell, text, align=align)
    for column, width in zip(table.columns, widths, strict=False):
        for cell in column.cells:
            cell.width = Mm(width)


def _number(value: float | None, decimals: int = 2) -> str:
    return format_vn_number(value, decimals) if value is not None else ""


def indicator_table_rows(indicators: list[AggregatedIndicator]) -> list[tuple[str, ...]]:
    return [(str(i), item.indicator, item.unit or "", _number(item.target), _number(item.result),
             _number(item.cumulative), format_vn_percent(item.rate) if item.rate is not None else "",
             str(item.agencies))
            for i, item in enumerate(indicators, 1)]


def _indicators(doc: DocxDocument, report: CompiledReport) -> None:
    _para(doc, f"Bảng 1. Tổng hợp chỉ tiêu năm {report.year} và lũy kế (số liệu các đơn vị báo cáo)",
          bold=True, space_after=Pt(6))
    if not report.indicators:
        _para(doc, "(Chưa có bảng chỉ tiêu nào đọc được từ báo cáo của các đơn vị.)", italic=True,
              align=WD_ALIGN_PARAGRAPH.LEFT, space_after=Pt(6))
        return
    columns = tuple(c.format(year=report.year) for c in INDICATOR_COLUMNS)
    _grid(doc, columns, INDICATOR_WIDTHS_MM, indicator_table_rows(report.indicators), numeric_from=3)
    _para(doc, "Tỷ lệ hoàn thành = tổng lũy kế ÷ tổng chỉ tiêu × 100; chỉ tiêu cùng tên và đơn vị tính được cộng gộp.",
          italic=True, align=WD_ALIGN_PARAGRAPH.LEFT, size=Pt(12), space_after=Pt(6))


def annex_rows(rows: list[StatusRow], tz) -> list[tuple[str, ...]]:
    on_time = {True: "Đúng hạn", False: "Muộn", None: ""}
    return [(str(i), r.name, vn_day(r.received_at, tz), on_time[r.on_time], state_label(r.state, capital=True),
             str(r.versions)) for i, r in enumerate(rows, 1)]


def _annex(doc: DocxDocument, report: CompiledReport, tz) -> None:
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _para(doc, "PHỤ LỤC", bold=True)
    _para(doc, f"TÌNH HÌNH GỬI BÁO CÁO NĂM {report.year}", bold=True, space_after=Pt(12))
    _para(doc, f"1. Các đơn vị đã gửi báo cáo ({len(report.reported)} đơn vị)", bold=True,
          align=WD_ALIGN_PARAGRAPH.LEFT, space_after=Pt(6))
    _grid(doc, ANNEX_COLUMNS, ANNEX_WIDTHS_MM, annex_rows(report.reported, tz))
    _para(doc, f"2. Các đơn vị chưa gửi báo cáo ({len(report.missing)} đơn vị)", bold=True,
          align=WD_ALIGN_PARAGRAPH.LEFT, space_after=Pt(6)).paragraph_format.space_before = Pt(12)
    missing = [(str(i), r.name, state_label(r.state, capital=True)) for i, r in enumerate(report.missing, 1)]
    _grid(doc, MISSING_COLUMNS, MISSING_WIDTHS_MM, missing)
    if report.exempt:
        _para(doc, f"3. Các đơn vị được miễn báo cáo ({len(report.exempt)} đơn vị): "
              + ", ".join(r.name for r in report.exempt) + ".", align=WD_ALIGN_PARAGRAPH.JUSTIFY,
              space_after=Pt(6)).paragraph_format.space_before = Pt(12)
    if report.problems:
        _para(doc, "Ghi chú: " + "; ".join(report.problems) + ".", italic=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY,
              size=Pt(12), space_after=Pt(6)).paragraph_format.space_before = Pt(12)


def _indicator_anchor(codes: list[str]) -> str | None:
    """The table closes section I.2 ("results of the year and cumulative"), after its last subsection;
    an outline without I.2 gets it at the end."""
    inside = [c for c in codes if c == "I.2" or c.startswith("I.2.")]
    return inside[-1] if inside else (codes[-1] if codes else None)


# ---- entry point --------------------------------------------------------------------------------
def compiled_report_docx(report: CompiledReport, path: Path | str, *, tz,
                         issuer: str = "BỘ KHOA HỌC VÀ CÔNG NGHỆ", place: str = "Hà Nội",
                         extract_chars: int = EXTRACT_CHARS) -> Path:
    """Write the consolidated report to ``path`` (atomically) and return the path.

    Agencies' text is cleaned once here (control characters XML cannot hold):
    one bad report must not stop the national report.
    """
    report, issuer, place = xml_clean((report, issuer, place))
    doc = Document()
    _setup(doc)
    day = (report.generated_at or datetime.now(tz)).astimezone(tz)
    _national_header(doc, issuer, place, day)
    _title(doc, report, tz)
    codes = [s.code for s in report.sections]
    table_after = _indicator_anchor(codes)
    for section in report.sections:
        has_children = any(c.startswith(section.code + ".") for c in codes)
        _section(doc, section, has_children, extract_chars)
        if section.code == table_after:
            _indicators(doc, report)
    if table_after is None:
        _indicators(doc, report)
    _annex(doc, report, tz)
    return save_atomically(path, doc.save)
