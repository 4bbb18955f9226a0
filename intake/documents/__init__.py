"""Reading attachments into text: .docx, .pdf (text or scanned), .doc, .zip, winmail.dat, .txt, .html.

One entry point, :func:`read_attachment`, that never raises on bad input:
a file it cannot read comes back as a DocumentText with a note saying why,
and, when a person must look at it, a ``needs_review`` reason. Formats are
recognised by their content first (senders misname files: a ".doc" that is
really a .docx or an RTF is common), then by name and MIME type.
"""
from __future__ import annotations

import io
import logging
import zipfile
from pathlib import PurePosixPath

from intake.documents.budget import Budget, DocLimits
from intake.documents.containers import has_macros, is_ole2, is_zip
from intake.documents.doc import read_doc
from intake.documents.docx import read_docx
from intake.documents.ocr import ocr_image, ocr_unavailable
from intake.documents.pdf import read_pdf
from intake.documents.plain import read_plain
from intake.documents.tnef import is_tnef_stream, read_wrapped
from intake.documents.tools import ToolError
from intake.documents.zipped import container_problems, container_refusal, read_zip
from intake.model import DocumentText

__all__ = ["DocLimits", "read_attachment", "sniff_format"]

log = logging.getLogger(__name__)

_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": ".png",
    b"\xff\xd8\xff": ".jpg",
    b"II*\x00": ".tif",
    b"MM\x00*": ".tif",
}
_UNSUPPORTED = {
    "xlsx": "bảng tính Excel (.xlsx) chưa được đọc tự động",
    "xls": "bảng tính Excel (.xls) chưa được đọc tự động",
    "pptx": "tệp trình chiếu chưa được đọc tự động",
    "rtf": "tệp RTF chưa được đọc tự động",
    "rar": "tệp nén RAR/7z chưa được đọc tự động",
    "other": "định dạng tệp chưa được hỗ trợ",
}
# Formats whose failure means the report itself could not be read.
_REPORT_FORMATS = {"docx", "pdf", "doc", "zip", "rtf", "tnef"}


def sniff_format(name: str, content_type: str, data: bytes) -> str:
    """docx | pdf | doc | zip | tnef | txt | html | image | xlsx | xls | pptx | rtf | rar | other."""
    suffix = PurePosixPath(name.lower()).suffix
    ctype = (content_type or "").lower().split(";")[0].strip()
    head = data[:2048]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if is_tnef_stream(head):  # Outlook's winmail.dat, whatever it is called
        return "tnef"
    if is_zip(data):
        return _zip_kind(data, suffix)
    if is_ole2(data):  # also a password-protected .docx: read_doc reports the password
        if suffix in (".xls", ".xlt") or "excel" in ctype:
            return "xls"
        return "doc"
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith((b"Rar!", b"7z\xbc\xaf")):
        return "rar"
    for magic, _ in _IMAGE_MAGIC.items():
        if head.startswith(magic):
            return "image"
    if suffix in (".htm", ".html") or ctype == "text/html":
        return "html"
    if suffix in (".txt", ".csv", ".md") or ctype.startswith("text/"):
        return "txt"
    by_suffix = {".docx": "docx", ".pdf": "pdf", ".doc": "doc", ".zip": "zip", ".xlsx": "xlsx", ".xls": "xls"}
    return by_suffix.get(suffix, "other")


def _zip_kind(data: bytes, suffix: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return {".docx": "docx", ".xlsx": "xlsx"}.get(suffix, "zip")
    if "word/document.xml" in names:
        return "docx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    return "zip"


def read_attachment(name: str, content_type: str, data: bytes,
                    limits: DocLimits | None = None) -> list[DocumentText]:
    """Text and structure of one attachment; a zip yields one entry per member."""
    return _read(name, content_type, data, limits or DocLimits(), 0)


def _read(name: str, content_type: str, data: bytes, limits: DocLimits, depth: int) -> list[DocumentText]:
    kind = sniff_format(name, content_type, data)
    try:
        if kind == "zip":
            return read_zip(name, data, limits, depth, _read)
        if kind == "tnef":
            return read_wrapped(name, data, limits, depth, _read)
        return [_read_one(kind, name, data, limits)]
    except Exception as exc:  # noqa: BLE001 - a broken file is a note, never a crash of the caller
        log.info("could not read %r as %s: %s", name, kind, exc)
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return [DocumentText(
            filename=name, format=kind,
            notes=[f"không đọc được tệp: {detail}"],
            needs_review=f"Không đọc được tệp {kind.upper()} (tệp hỏng hoặc sai định dạng)"
            if kind in _REPORT_FORMATS else None,
        )]


def _read_one(kind: str, name: str, data: bytes, limits: DocLimits) -> DocumentText:
    budget = Budget(limits)
    if kind == "docx":
        return _read_docx_checked(name, data, limits, budget)
    if kind == "pdf":
        return read_pdf(name, data, budget)
    if kind == "doc":
        doc = read_doc(name, data, budget)
        if has_macros(name, data):
            doc.notes.append("tệp có macro (không chạy)")
        return doc
    if kind in ("txt", "html"):
        return read_plain(name, data, budget, html=kind == "html")
    if kind == "image":
        return _read_image(name, data, budget)
    doc = DocumentText(filename=name, format=kind, notes=[_UNSUPPORTED.get(kind, _UNSUPPORTED["other"])])
    if kind == "rtf":
        doc.needs_review = "Báo cáo gửi dạng RTF, cần người đọc"
    return doc


def _read_docx_checked(name: str, data: bytes, limits: DocLimits, budget: Budget) -> DocumentText:
    problems = container_problems(data, limits)
    if problems:
        return container_refusal(name, "docx", problems)
    doc = read_docx(name, data, budget)
    if has_macros(name, data):
        doc.notes.append("tệp có macro (không chạy)")
    return doc


def _read_image(name: str, data: bytes, budget: Budget) -> DocumentText:
    """Photos or scans of the report sent as images: OCR when available, else just a note."""
    doc = DocumentText(filename=name, format="image")
    reason = ocr_unavailable(need_renderer=False)
    if reason is not None:
        doc.notes.append(f"ảnh chưa được nhận dạng chữ: {reason}")
        return doc
    suffix = next((s for magic, s in _IMAGE_MAGIC.items() if data.startswith(magic)), ".png")
    try:
        text = ocr_image(data, suffix, budget)
    except ToolError as exc:
        doc.notes.append(f"không nhận dạng được chữ trong ảnh: {exc}")
        return doc
    budget.add(text.strip())
    doc.text = budget.text()
    doc.notes.append("đã nhận dạng OCR ảnh (tesseract, tiếng Việt); chữ có thể sai")
    doc.notes.extend(budget.notes)
    return doc
