"""Recognising the numbered headings of Vietnamese administrative documents.

Official reports rarely use Word heading styles; their structure is in the
numbering typed at the start of a line: "I.", "II.", "1.", "2.1.", "a)".
The depth of that numbering is the heading level.

What makes a line a heading candidate is its numbering, not its length: a
report may write a section's text in the heading's own paragraph ("2.1. Hoàn
thiện cơ chế, chính sách …: Chưa phát sinh."), so the annex's 180-character
I.2.3 heading with a sentence after it ran past the former 220-character
limit and was no heading at all. :func:`split_heading` tells the heading's
words from the text after them; whether those words name a section is for
the outline check to say.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

_ROMAN = r"(?:X{0,3})(?:IX|IV|V?I{0,3})"
_ROMAN_HEAD = re.compile(rf"^(?:(?:PHẦN|Phần|MỤC|Mục)\s+)?({_ROMAN})\s*[.:)/–-]\s*(\S.*)$")
_ARABIC_HEAD = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\.|\))?\s+(\S.*)$")
_LETTER_HEAD = re.compile(r"^([a-zđ])\s*[).]\s+(\S.*)$")
# "A. KẾT QUẢ TRIỂN KHAI", "Phần B - Đánh giá": reports laid out A/B/C instead of I/II/III.
_CAPITAL_HEAD = re.compile(r"^(?:(?:PHẦN|Phần|MỤC|Mục)\s+)?([A-HĐ])\s*[.:)–-]\s+(\S.*)$")
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

    A heading starts with a letter after its number; "2024 là năm..." or
    "140.000.000 đồng" are not headings. Its length does not matter: the
    heading may carry its text in the same paragraph (see :func:`split_heading`).
    """
    line = line.strip()
    if not line:
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


# Where a heading's own words end inside its paragraph: a colon, or a full stop that ends a
# sentence (followed by a word that does not start in lower case: "NSCL. Trong năm", not "v.v. và").
_HEAD_END = re.compile(r":(?!\d)|\.(?=\s+\S)")  # "ISO 9001:2015" keeps its colon


@dataclass(frozen=True)
class HeadingText:
    """A heading paragraph cut in two: the heading's words and the text written after them."""

    head: str  # "Hoàn thiện cơ chế, chính sách thúc đẩy hoạt động nâng cao NSCL"
    rest: str  # "Chưa phát sinh."
    closed: bool  # a colon or full stop ended the heading: no wrapped line of it can follow


def split_heading(title: str) -> HeadingText:
    """Cut a heading's title (the text after its number) where its own words end.

    "Hoàn thiện cơ chế …: Chưa phát sinh." gives the heading and "Chưa phát sinh.";
    a heading ending with a full stop or a colon is the same heading, closed.
    """
    title = title.strip()
    for match in _HEAD_END.finditer(title):
        rest = title[match.end():].strip()
        if match.group() == "." and rest[:1].islower():
            continue  # an abbreviation inside the heading
        return HeadingText(title[:match.start()].rstrip(), rest, True)
    head = title.rstrip(" .:;")
    return HeadingText(head, "", head != title)


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


def align_lines(lines: Sequence[str], texts: Sequence[str]) -> list[int]:
    """Index in ``lines`` of each of ``texts`` (whitespace-normalised), in order; -1 when absent.

    Each text is looked for at or after the line where the previous one was found, so
    a heading is tied to its own line, not to an earlier line with the same words.
    """
    where: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        where.setdefault(line, []).append(index)
    found, position = [], 0
    for text in texts:
        indices = where.get(" ".join(text.split()), [])
        at = bisect_left(indices, position)
        index = indices[at] if at < len(indices) else -1
        found.append(index)
        if index >= 0:
            position = index + 1
    return found
