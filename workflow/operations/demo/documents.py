"""Report documents for the demo season: .docx that follow (or renumber) the outline, and a few PDFs.

They are written like the real ones (see the Tây Ninh 2024 report in the
reference folder): an administrative header, a title naming the province
and the year, the addressee, sections, sometimes an indicator table, a
signature block. What varies between agencies is exactly what the bot must
cope with: official numbering or the agency's own, missing sections, a
table or none, Word or PDF.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH

from reference.outline import OutlineSection
from reference.roster import Agency
from reference.text import fold

TITLE = ("Kết quả thực hiện năm {year} của Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất "
         "lượng sản phẩm, hàng hóa giai đoạn 2021-2030 {where}")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
INDICATOR_HEADER = ("STT", "Nội dung", "Đơn vị tính", "Chỉ tiêu", "Kết quả năm", "Lũy kế", "Tỷ lệ hoàn thành (%)")
INDICATORS = (
    ("Doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý, công cụ cải tiến", "doanh nghiệp"),
    ("Lượt người được đào tạo về năng suất chất lượng", "lượt người"),
    ("Hội nghị, hội thảo tuyên truyền về năng suất chất lượng", "cuộc"),
    ("Sản phẩm, hàng hóa được hỗ trợ xây dựng tiêu chuẩn cơ sở", "sản phẩm"),
)
BODY = {
    "I": "Năm {year}, Chương trình được triển khai theo Kế hoạch của Ủy ban nhân dân {where_short}.",
    "I.1": "Sở Khoa học và Công nghệ đã tham mưu ban hành Kế hoạch thực hiện Chương trình năm {year}, "
           "giao nhiệm vụ cụ thể cho các sở, ngành liên quan.",
    "I.2": "Các nhiệm vụ, giải pháp năm {year} được thực hiện như sau.",
    "I.2.1": "Rà soát, đề xuất sửa đổi 02 văn bản về cơ chế hỗ trợ doanh nghiệp.",
    "I.2.2": "Đăng 14 tin, bài trên cổng thông tin điện tử; tổ chức {n} hội nghị tuyên truyền.",
    "I.2.3": "Hỗ trợ {n} doanh nghiệp áp dụng ISO 9001, 5S, Kaizen và công cụ cải tiến năng suất.",
    "I.2.4": "Tổ chức 02 khóa đào tạo với {m} lượt người tham dự.",
    "I.2.5": "Hỗ trợ xây dựng tiêu chuẩn cơ sở cho {n} sản phẩm.",
    "I.2.6": "Tham gia 01 đoàn học tập kinh nghiệm về năng suất tại Nhật Bản.",
    "II": "Nhìn chung, Chương trình đạt các mục tiêu đề ra cho năm {year}.",
    "II.1": "Nhận thức của doanh nghiệp về năng suất chất lượng được nâng lên rõ rệt.",
    "II.2": "Kinh phí còn hạn chế; một số doanh nghiệp nhỏ chưa mạnh dạn tham gia.",
    "III": "Tiếp tục hỗ trợ doanh nghiệp áp dụng công cụ cải tiến, mở rộng đào tạo chuyên gia.",
    "IV": "Đề nghị Bộ Khoa học và Công nghệ tăng cường tập huấn cho cán bộ địa phương.",
}
# A ministry has no People's Committee and no Sở: its S&T department advises the Minister,
# and the programme runs through the ministry's units and the enterprises of its sector.
MINISTRY_BODY = {
    "I": "Năm {year}, Chương trình được triển khai theo Kế hoạch của {agency_name} trong các lĩnh vực thuộc "
         "phạm vi quản lý của Bộ.",
    "I.1": "Vụ Khoa học và Công nghệ đã tham mưu Lãnh đạo Bộ ban hành Kế hoạch thực hiện Chương trình năm {year}, "
           "giao nhiệm vụ cụ thể cho các cục, vụ, viện và doanh nghiệp trong ngành.",
    "I.2.2": "Đăng 14 tin, bài trên cổng thông tin điện tử của Bộ; tổ chức {n} hội nghị phổ biến trong ngành.",
    "IV": "Đề nghị Bộ Khoa học và Công nghệ phối hợp tập huấn cho cán bộ của các bộ, ngành.",
}


def body(code: str, agency: Agency) -> str | None:
    """The demo text for one outline section, worded for the agency's kind."""
    if agency.kind == "ministry" and code in MINISTRY_BODY:
        return MINISTRY_BODY[code]
    return BODY.get(code)


@dataclass(frozen=True)
class ReportStyle:
    """How one agency writes its report."""

    renumbered: bool = False  # its own numbering and wording (Tây Ninh style)
    indicator_table: bool = False
    drop: tuple[str, ...] = ()  # outline codes left out
    pdf: bool = False


def where(agency: Agency) -> str:
    """'trên địa bàn tỉnh Tây Ninh' / 'của Bộ Y tế': how a report names its author."""
    if agency.kind == "ministry":
        return f"của {agency.name}"
    name = agency.name
    for prefix, lower in (("Tỉnh ", "tỉnh "), ("Thành phố ", "thành phố ")):
        if name.startswith(prefix):
            name = lower + name[len(prefix):]
    return f"trên địa bàn {name}"


def heading_label(code: str) -> str:
    """Outline code to the label a report prints: I → 'I.', I.2 → '2.', I.2.3 → '2.3.'."""
    parts = code.split(".")
    return f"{parts[0]}." if len(parts) == 1 else ".".join(parts[1:]) + "."


def _header(agency: Agency) -> tuple[str, str]:
    if agency.kind == "ministry":
        return agency.name.upper(), "VỤ KHOA HỌC VÀ CÔNG NGHỆ"
    return f"UBND {agency.name.upper()}", "SỞ KHOA HỌC VÀ CÔNG NGHỆ"


def _indicator_rows(rng: random.Random) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for i, (name, unit) in enumerate(INDICATORS, 1):
        target = rng.choice([10, 20, 40, 50, 100, 200])
        cumulative = round(target * rng.uniform(0.4, 1.3))
        year_result = max(1, round(cumulative * rng.uniform(0.2, 0.5)))
        rate = f"{cumulative / target * 100:.1f}".replace(".", ",")
        rows.append((str(i), name, unit, str(target), str(year_result), str(cumulative), rate))
    return rows


def report_lines(agency: Agency, year: int, outline: tuple[OutlineSection, ...], style: ReportStyle,
                 rng: random.Random, day: int = 20, month: int = 11) -> list[tuple[str, str]]:
    """The report as (kind, text) lines: kind is 'center', 'heading', 'para' or 'table'."""
    top, unit = _header(agency)
    place = agency.short_name or agency.name
    short = where(agency).replace("trên địa bàn ", "")
    fill = {"year": year, "where_short": short, "agency_name": agency.name, "n": rng.randint(3, 25),
            "m": rng.randint(40, 180)}

    def para(code: str) -> tuple[str, str]:
        """A section that has demo text (the fixed layout below uses only those)."""
        text = body(code, agency)
        assert text is not None, code
        return "para", text.format(**fill)

    lines: list[tuple[str, str]] = [
        ("center", top), ("center", unit),
        ("center", f"Số: {rng.randint(100, 999)}/BC-{'KHCN' if agency.kind == 'ministry' else 'SKHCN'}"),
        ("center", f"{place}, ngày {day:02d} tháng {month:02d} năm {year}"), ("center", "BÁO CÁO"),
        ("center", TITLE.format(year=year, where=where(agency))), ("center", "Kính gửi: Bộ Khoa học và Công nghệ"),
    ]
    if style.renumbered:
        lines += [
            ("heading", "I. KẾT QUẢ TRIỂN KHAI"),
            ("heading", "1. Về công tác tham mưu"), para("I.1"),
            ("heading", "2.1. Tăng cường công tác thông tin truyền thông về năng suất, chất lượng"),
            para("I.2.2"),
            ("heading", "2.2. Đào tạo nguồn nhân lực cho hoạt động nâng cao năng suất chất lượng"),
            para("I.2.4"),
        ]
        if style.indicator_table:
            lines.append(("table", ""))
        lines += [
            ("heading", "II. ĐÁNH GIÁ, NHẬN XÉT"),
            ("heading", "1. Mặt làm được"), para("II.1"),
            ("heading", "2. Mặt tồn tại, hạn chế, nguyên nhân"), para("II.2"),
            ("heading", f"III. PHƯƠNG HƯỚNG TRIỂN KHAI TRONG NĂM {year + 1}"),
            para("III"),
        ]
    else:
        for section in outline:
            if section.code in style.drop or any(section.code.startswith(d + ".") for d in style.drop):
                continue
            lines.append(("heading", f"{heading_label(section.code)} {section.title}"))
            text = body(section.code, agency)
            if text:
                lines.append(("para", text.format(**fill)))
            if section.code == "I.2" and style.indicator_table:
                lines.append(("table", ""))
    lines += [("center", "GIÁM ĐỐC"), ("center", rng.choice(["Nguyễn Văn An", "Trần Thị Bình", "Lê Minh Châu",
                                                             "Phạm Quốc Dũng", "Hoàng Thị Hạnh"]))]
    return lines


def report_docx(lines: list[tuple[str, str]], rng: random.Random) -> bytes:
    doc = Document()
    for kind, text in lines:
        if kind == "table":
            rows = _indicator_rows(rng)
            table = doc.add_table(rows=1 + len(rows), cols=len(INDICATOR_HEADER))
            table.style = "Table Grid"
            for cell, value in zip(table.rows[0].cells, INDICATOR_HEADER, strict=False):
                cell.text = value
            for row, values in zip(table.rows[1:], rows, strict=False):
                for cell, value in zip(row.cells, values, strict=False):
                    cell.text = value
            continue
        paragraph = doc.add_paragraph()
        run = paragraph.add_run(text)
        run.bold = kind in ("heading", "center") and text.isupper()
        if kind == "center":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def pdf_available() -> bool:
    return DEJAVU.is_file()


def report_pdf(lines: list[tuple[str, str]], rng: random.Random) -> bytes:
    """A text PDF (fpdf2 with DejaVu Sans for the Vietnamese letters), as an office's "Save as PDF" gives."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 15, 15)
    pdf.add_font("DejaVu", "", str(DEJAVU))
    pdf.add_font("DejaVu", "B", str(DEJAVU_BOLD if DEJAVU_BOLD.is_file() else DEJAVU))
    pdf.add_page()
    for kind, text in lines:
        if kind == "table":
            pdf.set_font("DejaVu", "", 8)
            with pdf.table(col_widths=(8, 50, 18, 14, 16, 14, 18)) as table:
                for values in (INDICATOR_HEADER, *_indicator_rows(rng)):
                    row = table.row()
                    for value in values:
                        row.cell(value)
            continue
        pdf.set_font("DejaVu", "B" if kind == "heading" else "", 11)
        pdf.multi_cell(0, 6, text, align="C" if kind == "center" else "L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def file_name(agency: Agency, year: int, ext: str) -> str:
    """Names as agencies send them: short, sometimes without diacritics."""
    short = agency.short_name or agency.name
    if len(short) < 20:
        return f"BC NSCL {year} - {short}.{ext}"
    return f"BC_NSCL_{year}_{fold(short).replace(' ', '_')}.{ext}"
