"""Plain-text and HTML attachments: decoding bytes of unknown charset."""
from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from charset_normalizer import from_bytes

from intake.documents import legacy_vn
from intake.documents.budget import Budget
from intake.documents.numbering import numbered_headings
from intake.model import DocumentText
from reference.text import nfc

_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section", "article"}
_SKIP_TAGS = {"script", "style", "head", "title", "noscript", "template"}


def decode_bytes(data: bytes) -> str:
    """Decode text of unknown charset, as Vietnamese senders produce it.

    UTF-8 (with or without BOM) and UTF-16 first. Then Latin-1 when the
    bytes are TCVN3/VNI text (their codes are Latin-1 code points), then
    Windows-1258 (the Vietnamese Windows code page, which general detectors
    often mistake for an East Asian one on short texts), then detection.
    """
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    latin1 = data.decode("latin-1")
    if legacy_vn.detect_encoding(latin1) is not None:
        return latin1
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:2_000_000]).best()
    if best is not None and best.encoding:
        return data.decode(best.encoding, "replace")
    return data.decode("cp1258", "replace")


class _TextOfHtml(HTMLParser):
    """Text of an HTML body with one line per block, as a browser shows it.

    Line breaks in the HTML source are spaces (Outlook wraps a heading such as
    "I. Kết quả\ntriển khai" over two source lines); only block tags and
    ``<br>`` break lines, so numbered headings stay whole for the outline check.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag == "pre":
            self._pre += 1
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skipping:
            self._skipping -= 1
        elif tag == "pre" and self._pre:
            self._pre -= 1
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        data = data.replace("\u00a0", " ")
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def body_text(text_body: str, html_body: str) -> str:
    """The readable body of a mail: its text part, else the text of its HTML part."""
    if (text_body or "").strip():
        return text_body
    return html_to_text(html_body) if (html_body or "").strip() else ""


def read_plain(filename: str, data: bytes, budget: Budget, html: bool = False) -> DocumentText:
    text = decode_bytes(data)
    if html:
        text = html_to_text(text)
    return finish_text(DocumentText(filename=filename, format="html" if html else "txt"), text, budget)


def finish_text(doc: DocumentText, text: str, budget: Budget) -> DocumentText:
    """Common end of every plain-text reader: legacy encodings repaired, limits applied, headings found."""
    text, encoding = legacy_vn.repair_text(nfc(text))
    if encoding:
        doc.notes.append(f"đã chuyển mã {legacy_vn.encoding_label(encoding)} sang Unicode")
    budget.add(text)
    doc.text = budget.text()
    doc.headings = numbered_headings(doc.text)
    doc.notes.extend(budget.notes)
    return doc
