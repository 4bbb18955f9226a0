"""The outline check on what agencies really send: HTML-only bodies, A/B/C layouts, scans, other layouts.

Messages go through the real intake chain (parse → guards → documents →
classify → outline) with `understand`; the same report text sent as .docx
and as an HTML-only body must give the same outline result.
"""
from __future__ import annotations

import html
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from intake.documents.ocr import ocr_unavailable
from intake.documents.plain import html_to_text
from intake.model import RawMessage
from intake.pipeline import understand
from intake.report.outline import LAYOUT_NOTE, check_outline, format_missing
from notifier.render import render_email
from tests.corpus.build import reading_context
from tests.fixtures.documents import docx_from_lines, scanned_pdf
from tests.fixtures.outline_reports import annex_report_lines
from tests.test_notifier_render import ack_context

BOT = "baocao@tdc.example.vn"
WHEN = datetime(2023, 11, 27, 3, 0, tzinfo=UTC)
HEAD = ["UBND TỈNH TÂY NINH", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "Tây Ninh, ngày 25 tháng 11 năm 2023"]
_TOP = {"I.": "A.", "II.": "B.", "III.": "C.", "IV.": "D."}


def report_lines(layout: str = "annex") -> list[str]:
    """The Tây Ninh header and a report following the annex; ``layout="letters"`` puts A/B/C on top."""
    lines = annex_report_lines("annex")
    if layout == "letters":
        lines = [(_TOP[ln.split(" ", 1)[0]] + " " + ln.split(" ", 1)[1]) if ln.split(" ", 1)[0] in _TOP else ln
                 for ln in lines]
    return HEAD + lines + ["Nơi nhận:", "- Như trên;", "GIÁM ĐỐC"]


def outlook_html(lines: list[str]) -> str:
    """HTML as Outlook writes it: MsoNormal paragraphs, spans, &nbsp; and source lines wrapped mid-heading."""
    out = []
    for line in lines:
        words = html.escape(line).split(" ")
        half = max(1, len(words) // 2)
        wrapped = " ".join(words[:half]) + "\r\n" + "&nbsp;".join(words[half:half + 2]) + " " \
            + " ".join(words[half + 2:])
        out.append(f'<p class=MsoNormal><span style="font-size:13.0pt">{wrapped}<o:p></o:p></span></p>')
    return "<html><body>\r\n" + "\r\n".join(out) + "\r\n</body></html>"


def message(*, body: str = "", html_body: str | None = None, attachments=()) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Sở KH&CN Tây Ninh <skhcn@tayninh.gov.vn>"
    msg["To"] = BOT
    msg["Subject"] = "Báo cáo kết quả thực hiện Chương trình NSCL năm 2023"
    msg["Message-ID"] = "<outline-layout@tayninh.gov.vn>"
    if html_body is not None:
        msg.set_content(html_body, subtype="html")
    else:
        msg.set_content(body or "Kính gửi Ủy ban TĐC, Sở gửi báo cáo (đính kèm).")
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


@pytest.fixture
def read(roster, campaigns):
    def run(raw: bytes):
        ctx = reading_context(roster, campaigns, own_addresses=frozenset({BOT}))
        result = understand(RawMessage("file:x.eml", raw, WHEN, "INBOX"), ctx, store=None)
        assert result.classification is not None and result.classification.kind == "report", result.reasons
        return result
    return run


def test_html_to_text_keeps_wrapped_headings_whole():
    text = html_to_text(outlook_html(["I. Tình hình triển khai và kết quả thực hiện Chương trình"]))
    assert text == "I. Tình hình triển khai và kết quả thực hiện Chương trình"


def test_html_only_body_passes_like_the_same_text_as_docx(read):
    lines = report_lines()
    as_docx = read(message(attachments=[("BC.docx", "application/vnd.openxmlformats-officedocument."
                                         "wordprocessingml.document", docx_from_lines(lines))]))
    as_html = read(message(html_body=outlook_html(lines)))
    assert as_docx.outline.missing == [] and as_docx.outline.missing_required == []
    assert as_html.outline.missing == as_docx.outline.missing
    assert as_html.outline.present == as_docx.outline.present
    assert not [r for r in as_html.review_reasons if "đề cương" in r]


def test_a_b_c_layout_is_found_by_meaning(read, campaigns):
    lines = report_lines("letters")
    result = read(message(attachments=[("BC.docx", "application/vnd.openxmlformats-officedocument."
                                        "wordprocessingml.document", docx_from_lines(lines))]))
    assert result.outline.missing_required == [] and not result.outline.different_layout
    assert {"I", "I.2", "II", "III", "IV"} <= set(result.outline.present)


@pytest.mark.skipif(ocr_unavailable() is not None, reason="tesseract with the 'vie' language is not installed")
def test_scanned_a_b_c_report_is_read_by_ocr_and_its_headings_found(read):
    lines = report_lines("letters")
    result = read(message(attachments=[("BC-scan.pdf", "application/pdf", scanned_pdf(lines))]))
    assert result.outline.missing_required == [], result.outline
    assert not result.outline.different_layout


def test_ocr_misread_roman_numerals_still_count(campaigns):
    outline = campaigns[2023].outline
    text = "\n".join(["l. Tình hình triển khai và kết quả thực hiện Chương trình", "nội dung",
                      "Il. Đánh giá kết quả, hiệu quả đã đạt được", "nội dung",
                      "IIl. Phương hướng, giải pháp thực hiện Chương trình năm 2024", "nội dung"])
    result = check_outline([], text, outline)
    assert {"I", "II", "III"} <= set(result.present)


def test_a_different_layout_is_said_once_not_section_by_section(read, campaigns):
    lines = HEAD + ["BÁO CÁO", "Kết quả thực hiện năm 2023 của Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao "
                    "năng suất và chất lượng sản phẩm, hàng hóa",
                    "1. Bối cảnh chung của tỉnh", "Tỉnh có 2.100 doanh nghiệp đang hoạt động.",
                    "2. Số liệu doanh nghiệp tham gia", "Có 12 doanh nghiệp tham gia năm 2023.",
                    "3. Kiến giải của Sở", "Cần thêm kinh phí.", "Nơi nhận:", "GIÁM ĐỐC"]
    result = read(message(attachments=[("BC.docx", "application/vnd.openxmlformats-officedocument."
                                        "wordprocessingml.document", docx_from_lines(lines))]))
    assert result.outline.different_layout
    assert format_missing(result.outline, campaigns[2023].outline) == (
        "Báo cáo trình bày theo bố cục khác đề cương; cán bộ đầu mối sẽ đối chiếu nội dung.")
    assert LAYOUT_NOTE in result.notes
    assert [r for r in result.review_reasons if "đề cương" in r] == [f"{LAYOUT_NOTE}: cần đối chiếu nội dung với đề "
                                                                     "cương"]
    rendered = render_email("ack", **ack_context(outline_missing=[], different_layout=True))
    assert "bố cục khác đề cương" in rendered.text and "Báo cáo chưa có mục" not in rendered.text
