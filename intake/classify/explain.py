"""What the bot looked at in mail from a known agency that it did not read as a report.

Why: a coordinator reviews every message from a roster agency that ended up
"other" (it may be a report the rules missed). The kind's reason says which
rule decided; this says what the mail held, so the coordinator can judge
without opening it: the subject, each file and the title read in it, or that
it could not be read.
"""
from __future__ import annotations

from intake.classify.kind import MIN_DOC
from intake.classify.zones import DOC_TITLE, Zone, clean_subject, excerpt
from intake.model import DocumentText, Envelope

MAX_FILES = 5


def _file_note(doc: DocumentText, zones: list[Zone]) -> str:
    origin = f"tệp đính kèm '{doc.filename}'"
    if len((doc.text or "").strip()) < MIN_DOC:
        why = doc.needs_review or (doc.notes[0] if doc.notes else "không có chữ")
        return f"tệp '{doc.filename}' không đọc được nội dung ({excerpt(why, 80)})"
    title = next((z.text for z in zones if z.kind == DOC_TITLE and z.origin == origin), None)
    if title:
        return f"tệp '{doc.filename}': '{excerpt(title, 90)}'"
    return f"tệp '{doc.filename}' không có tiêu đề văn bản"


def what_was_read(env: Envelope, docs: list[DocumentText], zones: list[Zone]) -> str:
    """One line: the subject, each file (its title, or why it could not be read), or that there was none."""
    subject = clean_subject(env.subject)
    parts = [f"tiêu đề thư '{excerpt(subject, 90)}'" if subject else "thư không có tiêu đề"]
    parts += [_file_note(doc, zones) for doc in docs[:MAX_FILES]]
    if len(docs) > MAX_FILES:
        parts.append(f"và {len(docs) - MAX_FILES} tệp khác")
    if not docs:
        parts.append("không có tệp đính kèm")
    return "thư của đơn vị trong danh sách, không được đọc là báo cáo năm; đã xem: " + "; ".join(parts)
