"""The mail body read as the report's document, when the report is written in it.

Why: some agencies type the report into the mail (Outlook, webmail), its
sections as paragraphs and its indicator table as an HTML ``<table>``. The
outline check and the indicator extraction read documents, so the body is
given to them as one: its text (the text part, else the HTML's visible text),
its numbered headings, and the grids of its HTML tables
(:func:`intake.documents.html_tables.html_tables`, bounded and linear on
broken markup). Built only for a report delivered in the body.
"""
from __future__ import annotations

from intake.documents.budget import Budget, DocLimits
from intake.documents.html_tables import MAX_HTML_CHARS, html_tables
from intake.documents.plain import body_text, finish_text
from intake.model import DocumentText

BODY_NAME = "(nội dung thư)"


def body_document(text_body: str, html_body: str, limits: DocLimits | None = None) -> DocumentText:
    """The body as a DocumentText (format "html" when it has an HTML part), within the document limits."""
    limits = limits or DocLimits()
    html = (html_body or "")[:MAX_HTML_CHARS]
    doc = DocumentText(filename=BODY_NAME, format="html" if html.strip() else "txt")
    text = body_text((text_body or "")[:limits.max_chars + 1], html)[:limits.max_chars + 1]  # +1: the cut is noted
    finish_text(doc, text, Budget(limits))
    try:
        doc.tables = html_tables(html) if html.strip() else []
    except Exception as exc:  # noqa: BLE001 - a body whose tables cannot be read still has its text
        doc.notes.append(f"không đọc được bảng trong nội dung thư ({type(exc).__name__})")
    return doc
