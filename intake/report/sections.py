"""The text a report wrote under each section of the official outline.

The consolidated national report quotes, under every outline section, what
each agency said about it. Reports renumber and reword the annex, so a
heading is tied to a section by exactly the rules the outline check uses
(intake.report.outline: meaning, level and the enclosing "I./II./III." heading),
on the same heading spans (a wrapped heading's lines joined, the text
written after a heading in its own paragraph kept as that section's text);
the text then runs until the next heading at the same or a higher level.

A heading that matches no section is treated as part of the text of the
section it sits in when it is deeper ("a) Hội nghị..." under "2.1."), and
closes that section otherwise (its text then belongs to the enclosing
section, if any). Rendered table rows are left out (the indicator table is
aggregated on its own), and so is everything from the signature block or
"Nơi nhận" on.
"""
from __future__ import annotations

import re

from rapidfuzz import fuzz

from intake.documents.numbering import numbered_headings
from intake.model import DocumentText, OutlineSection
from intake.report.outline import HeadingSpan, clean_heading, heading_matches, heading_spans
from reference.text import words

_SIGNATURE = re.compile(
    r"^(?:noi nhan|(?:kt|tm|tl|ktl|q)\s+\S.*|(?:pho\s+)?(?:giam doc|chu tich|bo truong|thu truong|"
    r"chi cuc truong|vien truong|tong cuc truong)|nguoi ky|ky ten)$"
)


def _line(text: str) -> str:
    return " ".join(text.split())


def _table_lines(doc: DocumentText) -> set[str]:
    """Table rows as the docx reader rendered them into the text."""
    rows = set()
    for grid in doc.tables:
        for row in grid:
            if any(cell.strip() for cell in row):
                rows.add(_line(" | ".join(cell.replace("\n", " ") for cell in row)))
    return rows


def _is_signature(line: str) -> bool:
    folded = words(line)
    if folded.startswith("noi nhan"):
        return True
    return line.upper() == line and bool(_SIGNATURE.match(folded))


def _best(level: int, folded: str, found: list[OutlineSection]) -> OutlineSection | None:
    """Of the sections a heading may stand for, the one at its own level, then the
    closest title ("Nguyên nhân của những tồn tại" also names II.2's "tồn tại")."""
    if not found:
        return None
    return min(found, key=lambda s: (abs(level - (s.code.count(".") + 1)),
                                     -fuzz.token_sort_ratio(clean_heading(s.title), folded)))


class _Splitter:
    """Walks one source's lines, keeping a stack of the open (level, code) headings."""

    def __init__(self, sections: tuple[OutlineSection, ...], out: dict[str, list[str]]) -> None:
        self.sections = sections
        self.out = out
        self.stack: list[tuple[int, str | None]] = []
        self.enclosing: set[str] = set()
        self.titles = {sec.code: clean_heading(sec.title) for sec in sections}
        self.after_heading = 0  # body lines seen since the last heading (a wrapped heading's tail comes first)

    def current(self) -> str | None:
        return next((code for _, code in reversed(self.stack) if code), None)

    def continues_heading(self, line: str) -> bool:
        """Whether ``line`` is the wrapped second line of the heading just read (PDF, plain text).

        "III. Phương hướng, giải pháp … và những năm" / "tiếp theo": the tail is part of the
        section's official title, or, for a heading in the report's own words, a short line
        that starts in lower case and ends without a full stop.
        """
        if self.after_heading or not self.stack:
            return False
        folded = clean_heading(line)
        if not folded or len(line) > 90 or line.endswith((".", ":", ";")):
            return False
        code = self.stack[-1][1]
        if code is not None and len(folded) >= 6:
            title = self.titles.get(code, "")
            if f" {folded} " in f" {title} " or fuzz.partial_ratio(folded, title) >= 95:
                return True
        return line[:1].islower() and len(line) <= 60

    def heading(self, span: HeadingSpan, written: str) -> None:
        """Open the section ``span`` stands for; ``written`` is its whole paragraph, kept as
        text when the heading stands for no section."""
        level = span.level
        self.after_heading = 0
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        found = heading_matches(level, span.folded, self.sections, self.enclosing)
        if level == 1:
            self.enclosing = {s.code.split(".")[0] for s in found}
        section = _best(level, span.folded, found)
        if section is not None:
            self.stack.append((level, section.code))
            if span.rest:
                self.body(span.rest)  # "2.1. Hoàn thiện …: Chưa phát sinh." says that under I.2.1
            return
        self.stack.append((level, None))
        self.body(written)  # an unmatched sub-heading is part of what its section says

    def body(self, line: str) -> None:
        self.after_heading += 1
        code = self.current()
        if code is not None and line:
            self.out.setdefault(code, []).append(line)


def _split_source(text: str, headings: list[tuple[int, str]], skip: set[str],
                  sections: tuple[OutlineSection, ...], out: dict[str, list[str]]) -> None:
    splitter = _Splitter(sections, out)
    spans = {span.first: span for span in heading_spans(text, headings, sections) if span.first >= 0}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        span = spans.get(index)
        if span is not None:
            written = " ".join(_line(raw) for raw in lines[span.first:span.last + 1] if raw.strip())
            splitter.heading(span, written)
            index = span.last + 1
            continue
        line = _line(lines[index])
        index += 1
        if not line:
            continue
        if _is_signature(line):
            break
        if line in skip:
            continue
        if splitter.continues_heading(line):
            splitter.after_heading += 1  # the wrapped tail of the heading, not text under it
            continue
        splitter.body(line)


def split_sections(docs: list[DocumentText], sections: tuple[OutlineSection, ...],
                   body_text: str = "") -> dict[str, str]:
    """Section code -> the text written directly under it (children have their own entries).

    Several documents (a report and its annex) and the email body each
    contribute, in that order; a code appears only when some text was found
    for it. Never raises on odd input: an unreadable document simply adds nothing.
    """
    out: dict[str, list[str]] = {}
    for doc in docs:
        if not doc.text.strip():
            continue
        headings = list(doc.headings) if doc.headings else numbered_headings(doc.text)
        _split_source(doc.text, headings, _table_lines(doc), sections, out)
    if body_text and body_text.strip():
        _split_source(body_text, numbered_headings(body_text), set(), sections, out)
    order = [s.code for s in sections]
    return {code: "\n".join(out[code]) for code in order if code in out}
