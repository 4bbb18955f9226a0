"""Reading attachments: docx structure, PDFs (text and scanned), .doc, zip, limits, broken files."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest

from intake.documents import DocLimits, read_attachment, sniff_format
from intake.documents.containers import OLE2_MAGIC
from intake.documents.ocr import ocr_unavailable
from intake.limits import Limits
from reference.text import fold
from tests.fixtures.documents import (
    add_table,
    docx_bytes,
    docx_from_lines,
    scanned_pdf,
    text_pdf,
    zip_bytes,
)

REPORT_LINES = [
    "BÁO CÁO",
    "Kết quả triển khai Chương trình năng suất chất lượng năm 2024",
    "I. Kết quả triển khai",
    "1. Về công tác tham mưu",
    "Sở Khoa học và Công nghệ đã tham mưu ban hành kế hoạch năm 2024.",
    "2.1. Tăng cường công tác thông tin truyền thông",
    "a) Tổ chức hội nghị",
    "II. Đánh giá, nhận xét",
]


def _one(name, data, content_type="", limits=None):
    docs = read_attachment(name, content_type, data, limits)
    assert len(docs) == 1
    return docs[0]


# ---- docx ----

def test_docx_numbered_headings_get_levels_from_their_numbering():
    doc = _one("bc.docx", docx_from_lines(REPORT_LINES))
    assert doc.format == "docx"
    assert doc.text.split("\n") == REPORT_LINES
    assert doc.headings == [
        (1, "I. Kết quả triển khai"), (2, "1. Về công tác tham mưu"),
        (3, "2.1. Tăng cường công tác thông tin truyền thông"), (4, "a) Tổ chức hội nghị"),
        (1, "II. Đánh giá, nhận xét"),
    ]
    assert doc.notes == [] and doc.needs_review is None


def test_docx_heading_styles_are_headings_even_without_numbers():
    lines = ["Báo cáo tổng hợp", "Tình hình chung", "Nội dung thường.", "Kết quả cụ thể"]
    doc = _one("bc.docx", docx_from_lines(lines, heading_styles={1: 1, 3: 2}))
    assert doc.headings == [(1, "Tình hình chung"), (2, "Kết quả cụ thể")]


def test_docx_table_is_in_place_and_merged_cells_are_not_repeated():
    document = docx.Document()
    document.add_paragraph("Trước bảng")
    add_table(document, [
        ["STT", "Nội dung", "Kết quả", ""],
        ["", "", "Năm 2024", "Lũy kế"],
        ["1", "Doanh nghiệp được hỗ trợ", "12", "40"],
    ], merges=[(0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 0, 3)])
    document.add_paragraph("Sau bảng")
    doc = _one("bc.docx", docx_bytes(document))
    assert doc.tables == [[
        ["STT", "Nội dung", "Kết quả", ""],
        ["", "", "Năm 2024", "Lũy kế"],
        ["1", "Doanh nghiệp được hỗ trợ", "12", "40"],
    ]]
    lines = doc.text.split("\n")
    before, after = lines.index("Trước bảng"), lines.index("Sau bảng")
    table_lines = [line for line in lines[before + 1:after] if line]
    assert table_lines == ["STT | Nội dung | Kết quả | ", " |  | Năm 2024 | Lũy kế",
                           "1 | Doanh nghiệp được hỗ trợ | 12 | 40"]
    assert doc.text.count("Kết quả") == 1


def test_docx_hyperlink_text_is_kept():
    document = docx.Document()
    paragraph = document.add_paragraph("Cổng thông tin: ")
    link = paragraph._p.makeelement("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}hyperlink", {})
    run = paragraph.add_run("sokhcn.tayninh.gov.vn")._r
    link.append(run)
    paragraph._p.append(link)
    doc = _one("a.docx", docx_bytes(document))
    assert doc.text == "Cổng thông tin: sokhcn.tayninh.gov.vn"


def test_misnamed_docx_is_recognised_by_content():
    data = docx_from_lines(["Báo cáo năm 2024"])
    assert sniff_format("bao-cao.doc", "application/msword", data) == "docx"
    assert _one("bao-cao.doc", data).text == "Báo cáo năm 2024"


# ---- PDF ----

def test_text_pdf_with_vietnamese():
    doc = _one("bc.pdf", text_pdf(REPORT_LINES), "application/pdf")
    assert doc.format == "pdf"
    assert doc.text.split("\n") == REPORT_LINES
    assert (1, "I. Kết quả triển khai") in doc.headings
    assert doc.needs_review is None


def test_pdf_page_limit_reads_partially_with_a_note():
    lines = [f"Dòng số {i} của báo cáo năm 2024" for i in range(120)]  # 3 pages at 18 pt spacing
    doc = _one("bc.pdf", text_pdf(lines), limits=DocLimits(max_pages=1))
    assert "Dòng số 0 " in doc.text and "Dòng số 119" not in doc.text
    assert any(note.startswith("đã đọc một phần: chỉ đọc 1 trang đầu trên tổng số 3 trang") for note in doc.notes)


SCAN_LINES = ["BÁO CÁO", "Kết quả thực hiện năm 2024", "Sở Khoa học và Công nghệ tỉnh Tây Ninh"]


@pytest.mark.skipif(ocr_unavailable() is not None, reason="tesseract with the 'vie' language is not installed")
def test_scanned_pdf_is_read_through_ocr():
    doc = _one("scan.pdf", scanned_pdf(SCAN_LINES), "application/pdf")
    folded = fold(doc.text)
    for expected in ("bao cao", "nam 2024", "khoa hoc", "tay ninh"):
        assert expected in folded
    assert any("đã nhận dạng OCR" in note for note in doc.notes)
    assert doc.needs_review is None


def test_scanned_pdf_without_ocr_goes_to_review(monkeypatch):
    monkeypatch.setenv("TDC_TESSERACT", "/nonexistent/tesseract")
    doc = _one("scan.pdf", scanned_pdf(SCAN_LINES), "application/pdf")
    assert doc.text == ""
    assert doc.needs_review is not None
    assert "ảnh quét" in doc.needs_review and "tesseract-ocr-vie" in doc.needs_review


# ---- legacy .doc ----

def test_doc_without_any_converter_goes_to_review(monkeypatch):
    monkeypatch.setenv("TDC_ANTIWORD", "/nonexistent/antiword")
    monkeypatch.setenv("TDC_SOFFICE", "/nonexistent/soffice")
    doc = _one("bc.doc", OLE2_MAGIC + b"\x00" * 1000, "application/msword")
    assert doc.format == "doc"
    assert doc.needs_review == "Tệp Word cũ (.doc): máy chủ chưa cài antiword hoặc LibreOffice để đọc"


def test_broken_doc_gives_a_note_not_an_exception(monkeypatch):
    # No .doc writer is available to build a real one; a corrupt OLE2 file
    # exercises the converter's failure path honestly.
    monkeypatch.setenv("TDC_SOFFICE", "/nonexistent/soffice")
    from intake.documents.tools import find_tool
    if find_tool("antiword") is None:
        pytest.skip("antiword is not installed")
    doc = _one("bc.doc", OLE2_MAGIC + b"\x07" * 4000, "application/msword")
    assert any(note.startswith("không đọc được tệp: antiword lỗi") and "bc.doc" in note for note in doc.notes)
    assert "/tmp" not in " ".join(doc.notes)
    assert doc.needs_review is not None and ".doc" in doc.needs_review


def _antiword_or_skip() -> None:
    from intake.documents.tools import find_tool
    if find_tool("antiword") is None:
        pytest.skip("antiword is not installed")


def _doc_fixture(name: str) -> bytes:
    """A Word 97-2003 file of tests/fixtures/doc, written once from a .docx by LibreOffice
    (python -m tests.fixtures.make_doc_fixtures); reading it needs antiword only."""
    return (Path(__file__).parent / "fixtures" / "doc" / name).read_bytes()


def test_doc_with_typed_numbers_keeps_its_headings(monkeypatch):
    _antiword_or_skip()
    monkeypatch.setenv("TDC_SOFFICE", "/nonexistent/soffice")
    doc = _one("BC.doc", _doc_fixture("official-outline.doc"), "application/msword")
    assert doc.format == "doc" and doc.needs_review is None
    heading = ("2.3. Hỗ trợ doanh nghiệp áp dụng tiêu chuẩn, quy chuẩn kỹ thuật, hệ thống quản lý, công cụ cải "
               "tiến năng suất chất lượng, công cụ hỗ trợ cho sản xuất thông minh, dịch vụ thông minh")
    assert (3, heading) in doc.headings


def test_doc_headings_numbered_by_a_word_list_are_headings(monkeypatch):
    """antiword's text drops the numbers Word generates for "2.", "2.1." … "2.6.": the I.2 block
    of this report is such a list, and its headings arrive as plain lines. They are headings
    all the same, found from antiword's DocBook output."""
    _antiword_or_skip()
    monkeypatch.setenv("TDC_SOFFICE", "/nonexistent/soffice")
    doc = _one("BC.doc", _doc_fixture("official-outline-word-list.doc"), "application/msword")
    lines = doc.text.split("\n")
    assert "Hoàn thiện cơ chế, chính sách thúc đẩy hoạt động nâng cao NSCL" in lines  # no number in the text
    assert (2, "Hoàn thiện cơ chế, chính sách thúc đẩy hoạt động nâng cao NSCL") in doc.headings
    i2 = "Kết quả thực hiện các nhiệm vụ, giải pháp năm 2023 và lũy kế từ đầu Chương trình đến hết năm 2023"
    assert (2, i2) in doc.headings
    assert (1, "II. Đánh giá kết quả, hiệu quả đã đạt được trong năm 2023 và lũy kế từ đầu Chương trình đến hết "
               + "năm 2023") in doc.headings


DOCBOOK = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE book PUBLIC "-//OASIS//DTD DocBook XML V4.1.2//EN"
	"http://www.oasis-open.org/docbook/xml/4.1.2/docbookx.dtd">
<book lang='en_US'>
 <chapter>
<title/>
  <para>
BÁO CÁO
  </para>
  <orderedlist numeration='upperroman'>
   <listitem>
    <para>
Tình hình triển khai
    </para>
   </listitem>
  </orderedlist>
  <itemizedlist>
   <listitem>
    <para>
Một gạch đầu dòng
    </para>
   </listitem>
  </itemizedlist>
  <orderedlist numeration='arabic'>
   <listitem>
    <para>
Hoàn thiện cơ chế,
chính sách
    </para>
   </listitem>
  </orderedlist>
 </chapter>
 <chapter>
<title>Đánh giá kết quả</title>
  <sect1>
<title>Những tồn tại</title>
  </sect1>
 </chapter>
</book>
"""


def test_docbook_structure_gives_word_lists_and_headings():
    from intake.documents.doc import Marked, docbook_structure
    assert docbook_structure(DOCBOOK) == [
        Marked("Tình hình triển khai", list_kind="roman"),
        Marked("Hoàn thiện cơ chế, chính sách", list_kind="arabic"),
        Marked("Đánh giá kết quả", heading_level=1),
        Marked("Những tồn tại", heading_level=2),
    ]


def test_docbook_structure_of_broken_or_hostile_xml_is_what_can_be_read():
    from intake.documents.doc import docbook_structure
    assert docbook_structure("") == []
    assert docbook_structure("không phải XML") == []
    entity = ('<?xml version="1.0"?><!DOCTYPE book [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
              "<book><chapter><title>&x;Mục</title></chapter></book>")
    assert [m.text for m in docbook_structure(entity)] == ["&x;Mục"]  # left as written, the file is never read


def test_doc_headings_level_word_list_items_like_typed_numbers():
    from intake.documents.doc import Marked, doc_headings
    lines = ["BÁO CÁO", "Tình hình triển khai", "nội dung", "2.1. Hoàn thiện cơ chế", "nội dung",
             "Tăng cường công tác thông tin", "Những tồn tại", "nội dung"]
    text = "\n".join(lines)
    marked = [Marked("Tình hình triển khai", list_kind="roman"),
              Marked("Tăng cường công tác thông tin", list_kind="arabic"),
              Marked("Những tồn tại", heading_level=2)]
    assert doc_headings(text, marked) == [(1, "Tình hình triển khai"), (3, "2.1. Hoàn thiện cơ chế"),
                                          (2, "Tăng cường công tác thông tin"), (2, "Những tồn tại")]


def test_doc_read_by_libreoffice_loses_no_first_heading_to_its_byte_order_mark(tmp_path, monkeypatch):
    """LibreOffice's text export starts with a BOM, which is not white space: a first line
    "\ufeffI. …" was no heading. A stand-in soffice writes what LibreOffice writes."""
    fake = tmp_path / "soffice"
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "--outdir" ]; do shift; done\nmkdir -p "$2"\n'
                    'printf \'\\357\\273\\277I. T\\303\\254nh h\\303\\254nh tri\\341\\273\\203n khai\\n\' '
                    '> "$2/input.txt"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("TDC_ANTIWORD", "/nonexistent/antiword")
    monkeypatch.setenv("TDC_SOFFICE", str(fake))
    doc = _one("BC.doc", OLE2_MAGIC + b"\x00" * 1000, "application/msword")
    assert doc.text == "I. Tình hình triển khai"
    assert doc.headings == [(1, "I. Tình hình triển khai")]


# ---- zip ----

def test_zip_of_docx_yields_one_document_per_member():
    data = zip_bytes({
        "Báo cáo 2024.docx": docx_from_lines(["Báo cáo kết quả năm 2024"]),
        "Phụ lục/bảng số liệu.txt": "Phụ lục số liệu".encode(),
        "__MACOSX/._Báo cáo 2024.docx": b"junk",
    })
    docs = read_attachment("ho-so.zip", "application/zip", data)
    assert [(d.filename, d.format, d.text) for d in docs] == [
        ("ho-so.zip/Báo cáo 2024.docx", "docx", "Báo cáo kết quả năm 2024"),
        ("ho-so.zip/Phụ lục/bảng số liệu.txt", "txt", "Phụ lục số liệu"),
    ]


def test_zip_inside_zip_is_read_to_depth_two_only():
    inner = zip_bytes({"bc.txt": "Báo cáo".encode()})
    middle = zip_bytes({"inner.zip": inner})
    docs = read_attachment("outer.zip", "", zip_bytes({"middle.zip": middle}))
    assert len(docs) == 1
    assert docs[0].filename == "outer.zip/middle.zip/inner.zip"
    assert docs[0].text == "" and "lồng quá 2 cấp" in docs[0].notes[0]
    docs = read_attachment("outer.zip", "", middle)
    assert [(d.filename, d.text) for d in docs] == [("outer.zip/inner.zip/bc.txt", "Báo cáo")]


def test_zip_bomb_is_not_opened():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.txt", b"0" * (3 * 1024 * 1024))
    tight = DocLimits(containers=Limits(zip_max_member_bytes=1024 * 1024))
    docs = read_attachment("bomb.zip", "application/zip", out.getvalue(), tight)
    assert len(docs) == 1 and docs[0].text == ""
    assert docs[0].needs_review == "Tệp nén bất thường (có thể là bom nén), không mở"
    assert docs[0].notes[0].startswith("tệp nén bất thường, không mở: ") and "big.txt" in docs[0].notes[0]


# ---- plain text, limits, broken and unsupported files ----

def test_txt_and_html_are_decoded():
    assert _one("a.txt", "Báo cáo năm 2024".encode("cp1258")).text == "Báo cáo năm 2024"
    html = "<html><head><style>p{}</style><script>x=1</script></head><body><p>Báo cáo</p><p>năm 2024</p></body></html>"
    doc = _one("a.html", html.encode(), "text/html")
    assert doc.text.split() == ["Báo", "cáo", "năm", "2024"]


def test_character_limit_reads_partially_with_a_note():
    lines = [f"Đoạn {i}: " + "nội dung báo cáo " * 10 for i in range(50)]
    doc = _one("bc.docx", docx_from_lines(lines), limits=DocLimits(max_chars=1000))
    assert len(doc.text) <= 1000 and doc.text.startswith("Đoạn 0:")
    assert "đã đọc một phần: văn bản dài quá 1.000 ký tự, phần sau bị bỏ qua" in doc.notes


@pytest.mark.parametrize("name, data", [
    ("bc.docx", b"PK\x03\x04 this is not really a zip"),
    ("bc.docx", zip_bytes({"word/document.xml": b"<not xml"})),
    ("bc.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage"),
    ("bc.pdf", b""),
])
def test_broken_files_give_notes_not_exceptions(name, data):
    docs = read_attachment(name, "", data)
    assert len(docs) == 1
    doc = docs[0]
    assert doc.text == ""
    assert doc.notes[0].startswith("không đọc được tệp: ")
    assert doc.needs_review == f"Không đọc được tệp {name[-4:].strip('.').upper()} (tệp hỏng hoặc sai định dạng)"


def test_unsupported_type_is_a_note_without_review():
    doc = _one("so-lieu.xlsx", zip_bytes({"xl/workbook.xml": b"<x/>", "[Content_Types].xml": b"<x/>"}))
    assert doc.format == "xlsx" and doc.text == ""
    assert doc.notes == ["bảng tính Excel (.xlsx) chưa được đọc tự động"]
    assert doc.needs_review is None
