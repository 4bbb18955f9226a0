"""Photos of the signed report pasted into the body: which inline images are worth reading.

Why: inline images are mostly logos, signatures and smileys, and reading an
image means OCR (seconds of tesseract each), so they are skipped. But some
officials photograph the signed pages and paste them into the body
(multipart/related, ``<img src="cid:…">``), with nothing attached: then the
pictures are the report. They are read, through the same budgeted reader as
any attachment, only when they may be the report: no document is attached,
the pictures are photo-sized, and the mail says it carries a report. Mail that
cannot be a report is never OCR'd.
"""
from __future__ import annotations

import re

from intake.model import AttachmentPart, Envelope
from reference.text import words

MIN_PHOTO_BYTES = 40 * 1024  # a phone photo of a page is hundreds of kB; logos and icons a few
_DOCUMENT_FORMATS = frozenset({"docx", "pdf", "doc", "zip", "tnef", "rtf", "image"})
_REPORT_WORDS = re.compile(r"\b(bao cao|bc|nscl|1322|nang suat (va )?chat luong)\b")
_WORD_WINDOW = 4_000


def _is_photo(att: AttachmentPart) -> bool:
    return att.inline and att.content_type.lower().startswith("image/") and len(att.data) >= MIN_PHOTO_BYTES


def _has_document(env: Envelope) -> bool:
    from intake.documents import sniff_format

    return any(not a.inline and sniff_format(a.filename, a.content_type, a.data) in _DOCUMENT_FORMATS
               for a in env.attachments)


def _says_report(env: Envelope) -> bool:
    text = " ".join((env.subject or "", env.text_body[:_WORD_WINDOW], env.html_body[:_WORD_WINDOW]))
    return bool(_REPORT_WORDS.search(words(text)))


def report_photos(env: Envelope, max_photos: int) -> list[AttachmentPart]:
    """The inline images to read as the report's pages (at most ``max_photos``), or none."""
    photos = [a for a in env.attachments if _is_photo(a)]
    if not photos or _has_document(env) or not _says_report(env):
        return []
    return photos[:max_photos]
