"""Recognising the numbered headings of Vietnamese administrative documents.

Official reports rarely use Word heading styles; their structure is in the
numbering typed at the start of a line: "I.", "II.", "1.", "2.1.", "a)".
The depth of that numbering is the heading level.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_ROMAN = r"(?:X{0,3})(?:IX|IV|V?I{0,3})"
_ROMAN_HEAD = re.compile(rf"^(?:(?:PHẦN|Phần|MỤC|Mục)\s+)?({_ROMAN})\s*[.:)/–-]\s*(\S.*)$")
_ARABIC_HEAD = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\.|\))?\s+(\S.*)$")
_LETTER_HEAD = re.compile(r"^([a-zđ])\s*[).]\s+(\S.*)$")
# "A. KẾT QUẢ TRIỂN KHAI", "Phần B - Đánh giá": reports laid out A/B/C instead of I/II/III.
_CAPITAL_HEAD = re.compile(r"^(?:(?:PHẦN|Phần|MỤC|Mục)\s+)?([A-HĐ])\s*[.:)–-]\s+(\S.*)$")
MAX_HEADING_CHARS = 220
# OCR reads the roman "I" of a scanned heading as "l" or "|": "Il. Đánh giá" is "II. Đánh giá".
_OCR_ROMAN = re.compile(r"^([Il|]{1,3}|[Il|]?V[Il|]{0,3})(\s*[.:)]\s+[A-ZĐÀ-Ỹ])")


@dataclass(frozen=True)
class Numbered:
    """A line that starts with heading numbering."""

    kind: str  # roman | capital | arabic | letter
    number: str  # "II", "B", "2.1", "a"
    depth: int  # roman and capital 1; arabic: number of parts; letter: 1
    title: str  # the text after the number


def parse_numbered(line: str) -> Numbered | None:
    """The numbering of a heading-like line, or None for body text.

    A heading is short and starts with a letter after its number; "2024 là
    năm..." or "140.000.000 đồng" are not headings.
    """
    line = line.strip()
    if not line or len(line) > MAX_HEADING_CHARS:
        return None
    ocr = _OCR_ROMAN.match(line)
    if ocr and ("l" in ocr.group(1) or "|" in ocr.group(1)):
        line = ocr.group(1).replace("l", "I").replace("|", "I") + line[ocr.end(1):]
    match = _ROMAN_HEAD.match(line)
    if match and match.group(1):
        return _checked(Numbered("roman", match.group(1), 1, match.group(2).strip()))
    match = _CAPITAL_HEAD.match(line)
    if match and match.group(2)[:1].isupper():  # "A. Kết quả", not "A. là ..." in a sentence
        return _checked(Numbered("capital", match.group(1), 1, match.group(2).strip()))
    match = _ARABIC_HEAD.match(line)
    if match:
        number, closer, title = match.groups()
        if "." not in number and not closer:
            return None  # "12 doanh nghiệp..." is a sentence, "12." is a heading
        return _checked(Numbered("arabic", number, number.count(".") + 1, title.strip()))
    match = _LETTER_HEAD.match(line)
    if match:
        return _checked(Numbered("letter", match.group(1), 1, match.group(2).strip()))
    return None


def _checked(item: Numbered) -> Numbered | None:
    return item if item.title[:1].isalpha() else None


class LevelTracker:
    """Turns numbering into heading levels across one document.

    Roman numerals are level 1 and arabic numbering goes below them; when a
    document has no roman level its "1." is level 1. Letters sit one level
    under the last numbered heading.
    """

    def __init__(self, has_roman: bool = True) -> None:
        self.has_roman = has_roman
        self._last = 1

    def level(self, item: Numbered) -> int:
        if item.kind in ("roman", "capital"):
            level = 1
        elif item.kind == "arabic":
            level = item.depth + (1 if self.has_roman else 0)
        else:
            return self._last + 1
        self._last = level
        return level


def has_roman_headings(lines: list[str]) -> bool:
    """Whether a top level (I/II/III, or A/B/C) sits above the arabic numbering."""
    return any((n := parse_numbered(line)) is not None and n.kind in ("roman", "capital") for line in lines)


def numbered_headings(text: str) -> list[tuple[int, str]]:
    """Heading candidates of a plain text (PDF, .doc, .txt): its numbered lines."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    tracker = LevelTracker(has_roman_headings(lines))
    found = []
    for line in lines:
        item = parse_numbered(line)
        if item is not None:
            found.append((tracker.level(item), line))
    return found
