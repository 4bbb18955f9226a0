"""Documents for the labelled corpus, built from code: report texts, .docx
(with the usual two-column header table, optionally in TCVN3/VNI fonts), a
text PDF and an image-only "scanned" PDF.

The report text follows the shape of a real submission (the Tây Ninh 2024
report in /work/shared/reference/002_*): issuer, number, place and date,
"BÁO CÁO", title with the year and the province, addressees, grounds,
numbered sections, "Nơi nhận", signer.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from anyascii import anyascii

PROGRAMME = ("Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng "
             "sản phẩm, hàng hóa giai đoạn 2021-2030")


@dataclass
class Report:
    """Parts of one report; ``lines()`` gives the text in document order."""

    issuer_top: str  # "UBND TỈNH TÂY NINH" or "BỘ Y TẾ"
    issuer_unit: str  # "SỞ KHOA HỌC VÀ CÔNG NGHỆ" or ""
    number: str  # "Số: 215/BC-SKHCN"
    place_date: str  # "Tây Ninh, ngày 20 tháng 11 năm 2024"
    title: str  # the line after "BÁO CÁO"
    addressees: list[str] = field(default_factory=lambda: ["Bộ Khoa học và Công nghệ"])
    grounds: list[str] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    closing: str = ""
    signer: list[str] = field(default_factory=lambda: ["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "Nguyễn Văn Hùng"])
    title_word: str = "BÁO CÁO"

    def header(self) -> tuple[list[str], list[str]]:
        left = [self.issuer_top] + ([self.issuer_unit] if self.issuer_unit else []) + [self.number]
        right = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", self.place_date]
        return left, right

    def body_lines(self) -> list[str]:
        out = [self.title_word, self.title, "Kính gửi:"]
        out += [f"- {a};" for a in self.addressees]
        out += self.grounds
        for heading, paragraphs in self.sections:
            out.append(heading)
            out += paragraphs
        if self.closing:
            out.append(self.closing)
        out += ["Nơi nhận:", "- Như trên;", "- Lưu: VT, Chi cục TĐC."] + self.signer
        return out

    def lines(self) -> list[str]:
        left, right = self.header()
        return left + right + self.body_lines()

    def text(self) -> str:
        return "\n".join(self.lines())


def standard_sections(year: int, area: str, extra: list[str] | None = None,
                      numbering: str = "official") -> list[tuple[str, list[str]]]:
    """The outline's sections with a few facts; ``numbering`` renumbers them
    the way real reports do ("official" I/1/2.1, "letters" A/B/C, "arabic" 1/2/3)."""
    facts = [
        f"Trong năm {year}, tổ chức 02 hội nghị giới thiệu chính sách hỗ trợ doanh nghiệp nâng cao "
        f"năng suất chất lượng {area} với 120 lượt người tham dự.",
        "Hỗ trợ 05 doanh nghiệp áp dụng hệ thống quản lý chất lượng ISO 9001 và công cụ 5S, Kaizen.",
    ] + (extra or [])
    titles = [
        ("Kết quả triển khai", facts),
        ("Đánh giá, nhận xét", [f"Hoàn thành các chỉ tiêu đề ra trong năm {year}; kinh phí còn hạn chế."]),
        (f"Phương hướng triển khai trong năm {year + 1}",
         [f"Tiếp tục triển khai các nhiệm vụ năm {year + 1} và giai đoạn 2026-2030."]),
        ("Đề xuất, kiến nghị", ["Đề nghị Bộ KH&CN tổ chức các lớp đào tạo chuyên sâu về năng suất."]),
    ]
    marks = {"official": ["I.", "II.", "III.", "IV."], "letters": ["A.", "B.", "C.", "D."],
             "arabic": ["1.", "2.", "3.", "4."]}[numbering]
    return [(f"{m} {t}", p) for m, (t, p) in zip(marks, titles, strict=False)]


def province_report(province: str, prefix: str, year: int, place: str | None = None,
                    date: str = "20 tháng 11", number: str = "Số: 215/BC-SKHCN",
                    extra: list[str] | None = None, numbering: str = "official",
                    title: str | None = None, closing_year: bool = True) -> Report:
    """A Sở KH&CN report for `prefix` ("tỉnh"/"thành phố") `province`."""
    area = f"trên địa bàn {prefix} {province}"
    return Report(
        issuer_top=f"UBND {prefix.upper()} {province.upper()}",
        issuer_unit="SỞ KHOA HỌC VÀ CÔNG NGHỆ",
        number=number,
        place_date=f"{place or province}, ngày {date} năm {year}",
        title=title or f"Kết quả triển khai nhiệm vụ của {PROGRAMME} năm {year} {area}",
        addressees=["Bộ Khoa học và Công nghệ", f"Ủy ban nhân dân {prefix} {province}"],
        grounds=[
            "Căn cứ Quyết định số 1322/QĐ-TTg ngày 31/8/2020 của Thủ tướng Chính phủ;",
            f"Căn cứ Kế hoạch số 1300/KH-UBND ngày 07/5/{year} của UBND {prefix} về triển khai "
            f"Chương trình năm {year}, Sở Khoa học và Công nghệ báo cáo như sau:",
        ],
        sections=standard_sections(year, area, extra, numbering),
        closing=(f"Trên đây là báo cáo kết quả triển khai Chương trình năm {year} {area}./."
                 if closing_year else "Trên đây là báo cáo của Sở Khoa học và Công nghệ./."),
    )


def ministry_report(ministry: str, year: int, unit: str = "VỤ KHOA HỌC VÀ CÔNG NGHỆ") -> Report:
    return Report(
        issuer_top=ministry.upper(),
        issuer_unit="",
        number="Số: 88/BC-" + "".join(w[0] for w in anyascii(ministry).split()).upper(),
        place_date=f"Hà Nội, ngày 25 tháng 11 năm {year}",
        title=f"Kết quả thực hiện nhiệm vụ năm {year} của {PROGRAMME} của {ministry}",
        grounds=[f"Thực hiện đề nghị của Bộ Khoa học và Công nghệ, {ministry} báo cáo như sau:"],
        sections=standard_sections(year, f"trong ngành do {ministry} quản lý"),
        closing=f"Trên đây là báo cáo kết quả năm {year} của {ministry}./.",
        signer=["KT. BỘ TRƯỞNG", "THỨ TRƯỞNG", "Trần Văn Minh"],
    )


def no_diacritics(text: str) -> str:
    return anyascii(text)


def _legacy_runs(text: str, legacy: str | None) -> list[tuple[str, str | None]]:
    """(encoded text, font) runs. TCVN3 capitals without a code of their own
    go in a '.VnTimeH' run, as typists do; VNI writes everything in one font."""
    if legacy is None:
        return [(text, None)]
    from intake.documents.legacy_vn import unicode_to_tcvn3, unicode_to_tcvn3_upper, unicode_to_vni

    if legacy == "vni":
        return [(unicode_to_vni(text), "VNI-Times")]
    runs: list[tuple[str, str | None]] = []
    for ch in text:
        try:
            piece, font = unicode_to_tcvn3(ch), ".VnTime"
        except ValueError:
            piece, font = unicode_to_tcvn3_upper(ch), ".VnTimeH"
        if runs and runs[-1][1] == font:
            runs[-1] = (runs[-1][0] + piece, font)
        else:
            runs.append((piece, font))
    return runs


def docx_bytes(report: Report, header_table: bool = True, legacy: str | None = None) -> bytes:
    """A .docx like a typed official report; ``legacy`` ("tcvn3"/"vni") writes
    the text in a legacy encoding with the matching fonts."""
    import docx
    from docx.oxml.ns import qn

    document = docx.Document()

    def write(paragraph, text: str) -> None:
        for piece, font in _legacy_runs(text, legacy):
            run = paragraph.add_run(piece)
            if font:
                run.font.name = font
                run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)

    left, right = report.header()
    if header_table:
        table = document.add_table(rows=len(left), cols=2)
        for i in range(len(left)):
            for col, lines in ((0, left), (1, right)):
                if i < len(lines):
                    write(table.cell(i, col).paragraphs[0], lines[i])
    else:
        for line in left + right:
            write(document.add_paragraph(), line)
    for line in report.body_lines():
        write(document.add_paragraph(), line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def plain_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def text_pdf(lines: list[str]) -> bytes:
    """A PDF with a text layer (reportlab); ASCII-only if no Unicode font is installed."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    font = "Helvetica"
    if _FONT.exists():
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("DejaVu", str(_FONT)))
        font = "DejaVu"
    else:
        lines = [anyascii(ln) for ln in lines]
    y = 800
    for line in lines:
        for chunk in [line[i:i + 90] for i in range(0, len(line), 90)] or [""]:
            if y < 60:
                pdf.showPage()
                y = 800
            pdf.setFont(font, 10)
            pdf.drawString(40, y, chunk)
            y -= 14
    pdf.save()
    return out.getvalue()


def scanned_pdf() -> bytes:
    """An image-only PDF, like a scanned signed report: grey text-like bars, no text layer."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (620, 877), 255)
    draw = ImageDraw.Draw(image)
    for i, y in enumerate(range(120, 820, 22)):
        draw.rectangle((60, y, 560 - (i * 37) % 200, y + 8), fill=150)
    draw.ellipse((400, 700, 520, 820), outline=90, width=4)  # the seal
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=72)
    return out.getvalue()
