"""The consolidated national report, from a season run through the real pipeline.

Three agencies (a ministry and two provinces, one of them late) email .docx
reports with outline sections and indicator tables; the daemon (Maildir in,
file transport out) records them; `compile` must quote each agency under the
right heading, sum the indicators exactly, and list who reported and who did not.
"""
from __future__ import annotations

import io
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import docx
import pytest

from intake.documents import read_attachment
from intake.model import DocumentText
from intake.report.sections import split_sections
from intake.sources.maildir import deliver
from reference.campaigns import load_campaigns
from tests.cli_helpers import run_cli, write_config
from workflow.app import App
from workflow.db.models import IndicatorRow
from workflow.reports.compile import aggregate_indicators, compile_for_app
from workflow.reports.compile_docx import compiled_report_docx, heading_label, trim_extract
from workflow.runtime.daemon import Daemon

YEAR = 2024
OUTLINE = load_campaigns()[YEAR].outline
HEADER = ["STT", "Nội dung", "Đơn vị tính", "Mục tiêu đến năm 2025", f"Kết quả năm {YEAR}", "Lũy kế", "Tỷ lệ (%)"]
LONG_TEXT = " ".join(f"Tiếp tục hỗ trợ doanh nghiệp ngành công thương giai đoạn {i}." for i in range(60))

# Each agency: sender, arrival (UTC), the sections it writes (heading, text), its indicator rows.
AGENCIES = {
    "bo-cong-thuong": dict(
        name="Bộ Công Thương", sender="vanthu@moit.gov.vn", arrived=datetime(2024, 11, 18, 2, 0, tzinfo=UTC),
        sections=[
            ("I. Tình hình triển khai và kết quả thực hiện Chương trình", "BCT mở đầu phần I."),
            ("1. Công tác lãnh đạo, chỉ đạo triển khai thực hiện", "BCT ban hành Quyết định 123 về kế hoạch."),
            ("2.3. Hỗ trợ doanh nghiệp áp dụng tiêu chuẩn, hệ thống quản lý", "BCT hỗ trợ 20 doanh nghiệp."),
            ("II. Đánh giá kết quả, hiệu quả đã đạt được", ""),
            ("2. Những tồn tại và vướng mắc", "BCT thiếu kinh phí."),
            (f"III. Phương hướng, giải pháp thực hiện Chương trình năm {YEAR + 1}", LONG_TEXT),
        ],
        rows=[["1", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Doanh nghiệp", "100", "20", "60", "60"],
              ["2", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Lượt", "10", "5", "5", "50"]],
    ),
    "tay-ninh": dict(
        name="Tỉnh Tây Ninh", sender="vanthu@skhcn.tayninh.gov.vn", arrived=datetime(2024, 11, 20, 3, 0, tzinfo=UTC),
        sections=[
            ("I. Kết quả triển khai", ""),
            ("1. Về công tác tham mưu", "Tây Ninh tham mưu UBND tỉnh ban hành kế hoạch năm 2024."),
            ("2.1. Tăng cường công tác thông tin truyền thông về năng suất, chất lượng",
             "Tây Ninh tổ chức 01 hội nghị với 48 người tham dự."),
            ("2.2. Đào tạo nguồn nhân lực cho hoạt động nâng cao năng suất chất lượng",
             "Tây Ninh tổ chức 01 khóa đào tạo với 82 người tham dự."),
            ("II. Đánh giá, nhận xét", ""),
            ("1. Mặt làm được", "Tây Ninh hoàn thành kế hoạch."),
            ("III. Phương hướng triển khai trong năm 2025", "Tây Ninh tiếp tục hỗ trợ doanh nghiệp."),
        ],
        rows=[["1", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Doanh nghiệp", "50", "12", "30", "60"],
              ["2", "Số người được đào tạo về năng suất chất lượng", "Người", "1.000", "82", "400", "40"]],
    ),
    "can-tho": dict(
        name="Thành phố Cần Thơ", sender="vanphong@skhcn.cantho.gov.vn",
        arrived=datetime(2024, 12, 3, 2, 0, tzinfo=UTC),  # 03/12: late
        sections=[
            ("I. Tình hình triển khai và kết quả thực hiện Chương trình", ""),
            ("1. Công tác lãnh đạo, chỉ đạo", "Cần Thơ ban hành kế hoạch số 45."),
            ("2.2. Công tác thông tin, tuyên truyền", "Cần Thơ phát sóng 5 phóng sự."),
            ("II. Đánh giá kết quả", ""),
            ("2. Tồn tại, hạn chế", "Cần Thơ còn ít doanh nghiệp tham gia."),
            ("III. Phương hướng, giải pháp năm 2025", "Cần Thơ mở rộng hỗ trợ."),
        ],
        # The same indicators written without diacritics and with another unit case: grouped by folding.
        rows=[["1", "So doanh nghiep duoc ho tro ap dung he thong quan ly", "doanh nghiep", "40", "8", "10", "25"],
              ["2", "Số người được đào tạo về năng suất chất lượng", "người", "500", "48", "250", "50"]],
    ),
}


def report_docx(name: str, sections: list[tuple[str, str]], rows: list[list[str]]) -> bytes:
    doc = docx.Document()
    doc.add_paragraph("SỞ KHOA HỌC VÀ CÔNG NGHỆ" if not name.startswith("Bộ") else name.upper())
    doc.add_paragraph("BÁO CÁO")
    doc.add_paragraph(f"Kết quả thực hiện năm {YEAR} Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất "
                      f"và chất lượng sản phẩm, hàng hóa của {name}")
    doc.add_paragraph("Kính gửi: Bộ Khoa học và Công nghệ")
    for heading, text in sections:
        doc.add_paragraph(heading)
        if text:
            doc.add_paragraph(text)
        if heading.startswith("2.") and rows:  # the indicator table sits inside section I
            table = doc.add_table(rows=0, cols=len(HEADER))
            for values in [HEADER, *rows]:
                for cell, value in zip(table.add_row().cells, values, strict=False):
                    cell.text = value
            rows = []
    doc.add_paragraph("Nơi nhận:")
    doc.add_paragraph("- Như trên;")
    doc.add_paragraph("GIÁM ĐỐC")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def report_email(slug: str) -> bytes:
    spec = AGENCIES[slug]
    msg = EmailMessage()
    msg["From"] = f"{spec['name']} <{spec['sender']}>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = f"Báo cáo kết quả thực hiện Chương trình 1322 năm {YEAR} của {spec['name']}"
    msg["Date"] = format_datetime(spec["arrived"])
    msg["Message-ID"] = make_msgid(domain=spec["sender"].split("@")[1])
    msg.set_content(f"Kính gửi Bộ Khoa học và Công nghệ,\n\n{spec['name']} xin gửi báo cáo kết quả triển khai "
                    f"Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng năm {YEAR} "
                    "(tệp đính kèm).\n\nTrân trọng.\n")
    msg.add_attachment(report_docx(spec["name"], spec["sections"], spec["rows"]), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename=f"Báo cáo NSCL {YEAR}.docx")
    return msg.as_bytes()


def build_season(tmp_path: Path) -> tuple[App, Path]:
    """Deliver the three reports into a Maildir and run one daemon cycle (file transport)."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    for slug, spec in AGENCIES.items():
        deliver(tmp_path / "mail", report_email(slug), when=spec["arrived"])
    app = App.load(str(config))
    Daemon(app).run_once()
    return app, config


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("season")
    app, config = build_season(tmp_path)
    yield app, config, tmp_path
    app.close()


@pytest.fixture(scope="module")
def compiled(season):
    app, _, tmp_path = season
    seen: list[tuple[int, int, str]] = []
    report = compile_for_app(app, YEAR, progress=lambda d, t, n: seen.append((d, t, n)),
                             now=datetime(2024, 12, 5, 2, 0, tzinfo=UTC))
    path = compiled_report_docx(report, tmp_path / "out" / "tong-hop.docx", tz=app.tz)
    return report, docx.Document(str(path)), seen


def _under_headings(document) -> dict[str, list[str]]:
    """Heading text -> the body paragraphs that follow it (until the next heading or the annex)."""
    out: dict[str, list[str]] = {}
    current = None
    for para in document.paragraphs:
        if para.style.name.startswith("Heading"):
            current = para.text
            out[current] = []
        elif para.text == "PHỤ LỤC":
            current = None
        elif current is not None and para.text.strip():
            out[current].append(para.text)
    return out


def _heading_for(code: str) -> str:
    title = next(s.title for s in OUTLINE if s.code == code)
    return f"{heading_label(code)} {title}"


# ---- the pipeline recorded what the test relies on ------------------------------------------
def test_season_was_recorded_through_the_pipeline(compiled):
    report, _, seen = compiled
    assert [r.agency for r in report.reported] == ["bo-cong-thuong", "tay-ninh", "can-tho"]  # roster order
    assert [(d, t) for d, t, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert report.problems == []


# ---- headings ------------------------------------------------------------------------------------
def test_all_outline_headings_in_order_with_official_numbering(compiled):
    _, document, _ = compiled
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [_heading_for(s.code) for s in OUTLINE]
    assert headings[0].startswith("I. Tình hình triển khai")
    assert "2.1. Hoàn thiện cơ chế" in headings[3]
    assert f"năm {YEAR} và lũy kế" in headings[2]  # the year is filled in
    levels = {p.text: p.style.name for p in document.paragraphs if p.style.name.startswith("Heading")}
    assert levels[_heading_for("I")] == "Heading 1"
    assert levels[_heading_for("I.2")] == "Heading 2"
    assert levels[_heading_for("I.2.4")] == "Heading 3"


# ---- extracts -----------------------------------------------------------------------------------
def test_extracts_are_attributed_to_the_right_agencies(compiled):
    _, document, _ = compiled
    under = _under_headings(document)
    assert under[_heading_for("I.1")] == [
        "Bộ Công Thương: BCT ban hành Quyết định 123 về kế hoạch.",
        "Tỉnh Tây Ninh: Tây Ninh tham mưu UBND tỉnh ban hành kế hoạch năm 2024.",
        "Thành phố Cần Thơ: Cần Thơ ban hành kế hoạch số 45.",
    ]
    assert under[_heading_for("I.2.2")] == [
        "Tỉnh Tây Ninh: Tây Ninh tổ chức 01 hội nghị với 48 người tham dự.",
        "Thành phố Cần Thơ: Cần Thơ phát sóng 5 phóng sự.",
    ]
    # Only Tây Ninh wrote about training; only the ministry about management systems.
    assert under[_heading_for("I.2.4")] == ["Tỉnh Tây Ninh: Tây Ninh tổ chức 01 khóa đào tạo với 82 người tham dự."]
    assert under[_heading_for("I.2.3")] == ["Bộ Công Thương: BCT hỗ trợ 20 doanh nghiệp."]
    assert under[_heading_for("II.1")] == ["Tỉnh Tây Ninh: Tây Ninh hoàn thành kế hoạch."]
    assert under[_heading_for("II.2")] == ["Bộ Công Thương: BCT thiếu kinh phí.",
                                           "Thành phố Cần Thơ: Cần Thơ còn ít doanh nghiệp tham gia."]
    assert under[_heading_for("I")] == ["Bộ Công Thương: BCT mở đầu phần I."]
    # Nobody wrote about international cooperation: a note, and no agency listed.
    # (The indicator table and its caption follow I.2.6, closing section I.2.)
    assert under[_heading_for("I.2.6")][0] == "(Chưa có đơn vị nào báo cáo nội dung này.)"
    # Signature blocks and "Nơi nhận" are not quoted; the tables are not pasted as text.
    text = "\n".join(p.text for p in document.paragraphs)
    assert "GIÁM ĐỐC" not in text and "Như trên" not in text and "Doanh nghiệp | " not in text


def test_long_extracts_are_trimmed_with_an_ellipsis(compiled):
    _, document, _ = compiled
    [extract] = _under_headings(document)[_heading_for("III")][:1]
    assert extract.startswith("Bộ Công Thương: Tiếp tục hỗ trợ")
    assert extract.endswith("…") and len(extract) < len(LONG_TEXT)
    assert len(extract) <= len("Bộ Công Thương: ") + 901


# ---- indicator table -----------------------------------------------------------------------------
def _table_with(document, header_cell: str):
    return next(t for t in document.tables if any(c.text == header_cell for c in t.rows[0].cells))


def test_indicator_table_sums_are_exact(compiled):
    report, document, _ = compiled
    table = _table_with(document, "Tỷ lệ hoàn thành (%)")
    header = [c.text for c in table.rows[0].cells]
    assert header == ["STT", "Chỉ tiêu", "Đơn vị tính", "Chỉ tiêu (kế hoạch)", f"Kết quả năm {YEAR}", "Lũy kế",
                      "Tỷ lệ hoàn thành (%)", "Số đơn vị báo cáo"]
    rows = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert rows == [
        # 100 + 50 + 40; 20 + 12 + 8; 60 + 30 + 10; 100 / 190 = 52,63 %
        ["1", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Doanh nghiệp", "190", "40", "100", "52,6", "3"],
        # the ministry's "Lượt" row is another unit: not added to enterprises
        ["2", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý", "Lượt", "10", "5", "5", "50,0", "1"],
        # 1.000 + 500; 82 + 48; 400 + 250; 650 / 1.500 = 43,33 %
        ["3", "Số người được đào tạo về năng suất chất lượng", "Người", "1.500", "130", "650", "43,3", "2"],
    ]
    first = report.indicators[0]
    assert (first.target, first.result, first.cumulative, first.agencies) == (190, 40, 100, 3)
    assert first.rate == pytest.approx(100 / 190 * 100)


def test_indicator_table_closes_section_i2(compiled):
    """After I.2's last subsection, before section II."""
    _, document, _ = compiled
    blocks = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[1]
        if tag == "p":
            blocks.append(("p", "".join(t.text or "" for t in child.iter() if t.tag.endswith("}t"))))
        elif tag == "tbl":
            blocks.append(("tbl", "".join(t.text or "" for t in child.iter() if t.tag.endswith("}t"))))
    index = {text: i for i, (kind, text) in enumerate(blocks) if kind == "p"}
    table_at = next(i for i, (kind, text) in enumerate(blocks) if kind == "tbl" and "Số đơn vị báo cáo" in text)
    assert index[_heading_for("I.2.6")] < table_at < index[_heading_for("II")]


def test_aggregate_without_values_keeps_none_and_no_rate():
    rows = [IndicatorRow(message_id=1, position=0, indicator="Chỉ tiêu A", unit="%", target=None, result=3.0,
                         cumulative=None, rate=None, findings=[])]
    [item] = aggregate_indicators([("x", rows), ("y", [])])
    assert (item.target, item.result, item.cumulative, item.rate, item.agencies) == (None, 3.0, None, None, 1)


# ---- annex ---------------------------------------------------------------------------------------
def test_annex_lists_reporters_with_dates_and_timeliness(compiled):
    _, document, _ = compiled
    table = _table_with(document, "Ngày nhận")
    rows = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert [r[:4] for r in rows] == [
        ["1", "Bộ Công Thương", "18/11/2024", "Đúng hạn"],
        ["2", "Tỉnh Tây Ninh", "20/11/2024", "Đúng hạn"],
        ["3", "Thành phố Cần Thơ", "03/12/2024", "Muộn"],
    ]
    assert all(r[5] == "1" for r in rows)


def test_annex_lists_missing_agencies(compiled, season):
    app, _, _ = season
    _, document, _ = compiled
    table = _table_with(document, "Ghi chú")
    names = [row.cells[1].text for row in table.rows[1:]]
    owing = [a.name for a in app.roster.owing(YEAR)]
    assert names == [n for n in owing if n not in ("Bộ Công Thương", "Tỉnh Tây Ninh", "Thành phố Cần Thơ")]
    assert "Thành phố Hà Nội" in names and len(names) == len(owing) - 3
    texts = [p.text for p in document.paragraphs]
    assert f"2. Các đơn vị chưa gửi báo cáo ({len(owing) - 3} đơn vị)" in texts


# ---- official formatting -------------------------------------------------------------------------
def test_official_formatting(compiled):
    report, document, _ = compiled
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert round(section.top_margin.mm) == 20 and round(section.bottom_margin.mm) == 20
    assert round(section.left_margin.mm) == 30 and 15 <= round(section.right_margin.mm) <= 20
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size.pt in (13, 14)
    rfonts = normal.element.rPr.rFonts
    assert rfonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "Times New Roman"
    footer_xml = section.footer._element.xml
    assert "PAGE" in footer_xml and "fldChar" in footer_xml
    header_cells = [c.text for c in document.tables[0].rows[0].cells]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in header_cells[1]
    assert "Độc lập - Tự do - Hạnh phúc" in header_cells[1]
    assert "Hà Nội, ngày 05 tháng 12 năm 2024" in header_cells[1]
    texts = [p.text for p in document.paragraphs]
    assert f"BÁO CÁO TỔNG HỢP KẾT QUẢ THỰC HIỆN NĂM {YEAR}" in texts


# ---- the command ---------------------------------------------------------------------------------
def test_compile_command_writes_the_document_with_plain_progress(season, tmp_path):
    _, config, _ = season
    out = tmp_path / "bao-cao.docx"
    proc = run_cli("compile", "--year", str(YEAR), "--out", str(out), config=config)
    assert out.is_file()
    assert "[1/3] Bộ Công Thương" in proc.stderr and "[3/3] Thành phố Cần Thơ" in proc.stderr
    assert "3 đơn vị đã báo cáo" in proc.stdout
    headings = [p.text for p in docx.Document(str(out)).paragraphs if p.style.name.startswith("Heading")]
    assert len(headings) == len(OUTLINE)


def test_compile_command_refuses_a_year_without_campaign(season, tmp_path):
    _, config, _ = season
    proc = run_cli("compile", "--year", "1999", "--out", str(tmp_path / "x.docx"), config=config, check=False)
    assert proc.returncode == 1 and "Chưa có đợt báo cáo năm 1999" in proc.stderr
    assert not (tmp_path / "x.docx").exists()


# ---- split_sections on its own -------------------------------------------------------------------
def test_split_sections_follows_renumbered_headings_and_skips_tables():
    data = report_docx("Tỉnh Tây Ninh", AGENCIES["tay-ninh"]["sections"], AGENCIES["tay-ninh"]["rows"])
    docs = read_attachment("r.docx", "application/octet-stream", data)
    parts = split_sections(docs, OUTLINE)
    assert list(parts) == ["I.1", "I.2.2", "I.2.4", "II.1", "III"]
    assert parts["I.2.2"] == "Tây Ninh tổ chức 01 hội nghị với 48 người tham dự."


def test_split_sections_without_diacritics_and_unmatched_subheadings():
    text = "\n".join([
        "II. Danh gia ket qua", "1. Ton tai va vuong mac", "a) Kinh phi", "Thieu kinh phi.",
        "3. Nguyen nhan cua nhung ton tai, vuong mac", "Do dich benh.",
    ])
    parts = split_sections([DocumentText("r.txt", "txt", text=text)], OUTLINE)
    assert parts == {"II.2": "a) Kinh phi\nThieu kinh phi.", "II.3": "Do dich benh."}


def test_split_sections_of_nothing_is_empty():
    assert split_sections([DocumentText("x.pdf", "pdf")], OUTLINE, body_text="") == {}


def test_trim_extract_cuts_at_a_word():
    assert trim_extract("một hai ba", 100) == "một hai ba"
    assert trim_extract("một hai ba bốn năm", 10) == "một hai…"



def test_piped_progress_is_a_few_summary_lines_not_one_per_agency():
    """Issue 22: progress is a bar on a terminal and a few lines when piped (63 agencies: 6 lines, not 63)."""
    import io

    from rich.console import Console

    from interfaces.cli.commands_reports import _progress_reporter

    out = io.StringIO()
    _bar, report = _progress_reporter(Console(file=out, force_terminal=False))
    for done in range(1, 64):
        report(done, 63, f"Đơn vị {done}")
    lines = out.getvalue().splitlines()
    assert 3 <= len(lines) <= 6 and lines[-1] == "[63/63] Đơn vị 63", lines
