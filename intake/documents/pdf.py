"""Reading PDF reports: the text layer with pypdf, scanned pages through OCR."""
from __future__ import annotations

import io
import logging

from pypdf import PdfReader

from intake.documents import legacy_vn
from intake.documents.budget import Budget, vn_int
from intake.documents.numbering import numbered_headings
from intake.documents.ocr import ocr_pdf_pages, ocr_unavailable
from intake.documents.tools import ToolError
from intake.model import DocumentText
from reference.text import nfc

log = logging.getLogger(__name__)
# A page with fewer letters and digits than this has no usable text layer
# (a scan, or a scan with only a stamp's text).
MIN_PAGE_CHARS = 25


def _meaningful(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def read_pdf(filename: str, data: bytes, budget: Budget) -> DocumentText:
    """Raises on a file pypdf cannot open; the caller turns that into a note."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs are common and expected
    reader = PdfReader(io.BytesIO(data), strict=False)
    doc = DocumentText(filename=filename, format="pdf")
    if reader.is_encrypted:
        try:
            opened: int = reader.decrypt("")  # a PasswordType, 0 when not decrypted
        except Exception:  # noqa: BLE001 - unsupported encryption is just "cannot open"
            opened = 0
        if not opened:
            doc.notes.append("tệp PDF có mật khẩu, không đọc được")
            doc.needs_review = "Tệp PDF có mật khẩu, không đọc được nội dung"
            return doc
    total = len(reader.pages)
    limit = min(total, budget.limits.max_pages)
    if total > limit:
        doc.notes.append(f"đã đọc một phần: chỉ đọc {vn_int(limit)} trang đầu trên tổng số {vn_int(total)} trang")
    pages: dict[int, str] = {}
    for index in range(limit):
        if budget.out_of_time():
            break
        try:
            pages[index] = nfc(reader.pages[index].extract_text() or "")
        except Exception as exc:  # noqa: BLE001 - one broken page must not lose the others
            log.info("pypdf could not extract page %d of %r: %s", index + 1, filename, exc)
            pages[index] = ""
            doc.notes.append(f"trang {index + 1}: không trích được chữ")
    _ocr_image_pages(data, pages, budget, doc)
    for index in sorted(pages):
        if pages[index].strip() and not budget.add(pages[index]):
            break
    text, encoding = legacy_vn.repair_text(budget.text())
    if encoding:
        doc.notes.append(f"đã chuyển mã {legacy_vn.encoding_label(encoding)} sang Unicode")
    doc.text = text
    doc.headings = numbered_headings(doc.text)
    doc.notes.extend(budget.notes)
    return doc


def _ocr_image_pages(data: bytes, pages: dict[int, str], budget: Budget, doc: DocumentText) -> None:
    """Replace pages without a text layer by their OCR text, within the OCR page limit."""
    image_pages = [i for i, text in sorted(pages.items()) if _meaningful(text) < MIN_PAGE_CHARS]
    if not image_pages:
        return
    all_images = len(image_pages) == len(pages)
    reason = ocr_unavailable()
    if reason is not None:
        if all_images:
            doc.needs_review = f"Tệp PDF dạng ảnh quét, {reason}"
        else:
            doc.notes.append(f"{len(image_pages)} trang dạng ảnh chưa đọc được: {reason}")
        return
    wanted = image_pages[: budget.limits.ocr_pages]
    try:
        texts, problems = ocr_pdf_pages(data, wanted, budget)
    except ToolError as exc:
        texts, problems = {}, [str(exc)]
    for index, text in texts.items():
        if _meaningful(text) > _meaningful(pages[index]):
            pages[index] = nfc(text)
    if texts:
        doc.notes.append(f"đã nhận dạng OCR {len(texts)} trang dạng ảnh quét (tesseract, tiếng Việt); chữ có thể sai")
    if len(image_pages) > len(wanted):
        doc.notes.append(
            f"đã đọc một phần: chỉ nhận dạng OCR {len(wanted)} trang đầu trên {len(image_pages)} trang dạng ảnh"
        )
    doc.notes.extend(f"OCR lỗi: {p}" for p in problems)
    if all_images and not any(_meaningful(t) >= MIN_PAGE_CHARS for t in texts.values()):
        doc.needs_review = "Tệp PDF dạng ảnh quét, nhận dạng OCR không ra chữ"
