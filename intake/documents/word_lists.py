"""The numbers Word draws in front of the paragraphs of its automatic lists.

A paragraph of a Word list holds only its words: the "2.1." in front of it is
counted by Word over the document from word/numbering.xml (ECMA-376 part 1,
17.9). Province reports that number their headings "I.", "1.", "2.1." with a
list reached the outline check without their numbers, and whole sections were
reported missing. python-docx parses the part but counts nothing (its issue
#471 is open); docx2python counts a level's own "1)" only, without the level
text ("%1.%2."), start values, overrides or style-linked lists. So the count is
kept here, the way Word keeps it:

- a paragraph's list is a ``w:num``, which names a ``w:abstractNum`` (possibly
  through a list style's ``w:numStyleLink``) and may override a level's start or
  definition; all nums of one abstractNum count together, and a num that
  overrides a start restarts those levels where it is first used;
- each use of a level counts it up and restarts the levels below it, unless a
  level's ``w:lvlRestart`` says otherwise;
- the label is the level's ``w:lvlText`` with ``%1``…``%9`` replaced by the
  counters of those levels in each level's format (decimal, roman, letters;
  all decimal under ``w:isLgl``); bullets and "none" give no number.

numbering.xml is the sender's: what is read of it is bounded (definitions,
levels, start values, text lengths, link hops), a reference that goes nowhere
gives no number, and nothing in it can make reading fail.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from docx.oxml.ns import qn
from lxml import etree

MAX_DEFINITIONS = 2000  # w:abstractNum and w:num elements read, each; Word's own files have a few dozen
LEVELS = 9  # w:ilvl 0-8
MAX_START = 32767  # Word's largest start value
MAX_LEVEL_TEXT = 64  # characters of a w:lvlText read
MAX_LABEL = 64  # characters of a rendered number
MAX_LINK_HOPS = 4  # numStyleLink -> list style -> num -> abstractNum, a few times at most

_W_VAL = qn("w:val")
_MAX_ID = 10**9
_ID = re.compile(r"^-?\d{1,9}$")
_PLACEHOLDER = re.compile(r"%([1-9])")
_SUFFIXES = {"tab": "\t", "space": " ", "nothing": ""}
_NO_NUMBER = frozenset({"bullet", "none"})


@dataclass(frozen=True)
class Level:
    """One level of a list definition (a ``w:lvl``), its values already bounded."""

    start: int
    fmt: str  # w:numFmt: decimal, upperRoman, lowerLetter, bullet, none…
    text: str  # w:lvlText, "" when absent
    restart: int | None  # w:lvlRestart: restarts after a use of levels 0..restart-1; 0 never; None after any above
    legal: bool  # w:isLgl: the levels this text shows are drawn in decimal
    suffix: str  # what Word puts between the number and the text: tab, space or nothing
    style: str | None  # w:pStyle: the paragraph style this level is linked to
    font: str | None  # the number's font (w:rPr/w:rFonts), for legacy Vietnamese encodings


@dataclass(frozen=True)
class ListLabel:
    """The number Word shows in front of one paragraph."""

    text: str  # "2.1."
    suffix: str  # "\t", " " or ""
    font: str | None  # its font, when the level names one


@dataclass(frozen=True)
class _List:
    """A ``w:num`` resolved: the counters it shares, its levels, the starts it overrides."""

    key: int  # the abstractNum whose counters it uses
    levels: tuple[Level | None, ...]  # by ilvl, LEVELS entries
    overrides: frozenset[int]  # levels restarted where this num is first used


def _int(value: str | None, low: int, high: int) -> int | None:
    if value is None or not _ID.match(value.strip()):
        return None
    return max(low, min(int(value.strip()), high))


def _val(element: etree._Element, tag: str) -> str | None:
    child = element.find(qn(tag))
    return child.get(_W_VAL) if child is not None else None


def _on(element: etree._Element, tag: str) -> bool:
    """A WordprocessingML on/off property: present and not "0"/"false"/"off"."""
    child = element.find(qn(tag))
    return child is not None and child.get(_W_VAL, "true").lower() not in ("0", "false", "off")


def _font(lvl: etree._Element) -> str | None:
    fonts = lvl.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
    if fonts is None:
        return None
    return fonts.get(qn("w:hAnsi")) or fonts.get(qn("w:ascii"))


def _level(lvl: etree._Element) -> Level:
    start = _int(_val(lvl, "w:start"), 0, MAX_START)
    restart = _int(_val(lvl, "w:lvlRestart"), 0, LEVELS)
    text_el = lvl.find(qn("w:lvlText"))
    text = ""
    if text_el is not None and (text_el.get(qn("w:null")) or "").lower() not in ("1", "true", "on"):
        text = (text_el.get(_W_VAL) or "")[:MAX_LEVEL_TEXT]
        text = text.removesuffix("%")  # no placeholder cut in half
    style = _val(lvl, "w:pStyle")
    return Level(
        start=start if start is not None else 0,  # the schema's default, 17.9.25
        fmt=(_val(lvl, "w:numFmt") or "decimal")[:40],
        text=text,
        restart=restart,
        legal=_on(lvl, "w:isLgl"),
        suffix=_SUFFIXES.get(_val(lvl, "w:suff") or "tab", "\t"),
        style=style[:255] if style else None,
        font=_font(lvl),
    )


def _levels(element: etree._Element) -> dict[int, Level]:
    """The levels of an abstractNum (or of a lvlOverride), the first of each ilvl, within bounds."""
    found: dict[int, Level] = {}
    for read, lvl in enumerate(element.iterfind(qn("w:lvl"))):
        if read >= 4 * LEVELS:
            break
        ilvl = _int(lvl.get(qn("w:ilvl")), -1, LEVELS)
        if ilvl is not None and 0 <= ilvl < LEVELS and ilvl not in found:
            found[ilvl] = _level(lvl)
    return found


def _roman(n: int) -> str:
    if n <= 0:
        return ""
    out = []
    for value, numeral in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                           (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, n = divmod(n, value)
        out.append(numeral * count)
    return "".join(out)


def _letter(n: int) -> str:
    """Word's letters: A…Z, then AA…ZZ, AAA… (the letter repeated, not a base-26 count)."""
    if n <= 0:
        return ""
    return chr(ord("A") + (n - 1) % 26) * min((n - 1) // 26 + 1, MAX_LABEL)


def format_number(n: int, fmt: str) -> str:
    """A counter drawn in a level's format; formats without a Latin form are drawn in decimal."""
    if fmt in _NO_NUMBER:
        return ""
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "lowerRoman":
        return _roman(n).lower()
    if fmt == "upperLetter":
        return _letter(n)
    if fmt == "lowerLetter":
        return _letter(n).lower()
    if fmt == "decimalZero" and 0 <= n < 10:
        return f"0{n}"
    if fmt == "decimalEnclosedParen":
        return f"({n})"
    return str(n)


class ListNumbers:
    """Counts Word's lists over one document; :meth:`label` is asked once per paragraph, in document order.

    ``style_num`` gives the ``w:numId`` a numbering style (``w:type="numbering"``) points at,
    for lists defined through ``w:numStyleLink``.
    """

    def __init__(self, numbering: etree._Element | None, style_num: Callable[[str], int | None]) -> None:
        self._abstract: dict[int, etree._Element] = {}
        self._nums: dict[int, etree._Element] = {}
        self._style_num = style_num
        if numbering is not None:
            self._index(numbering)
        self._lists: dict[int, _List | None] = {}
        self._counters: dict[int, dict[int, int]] = {}  # abstractNum -> level -> last number drawn
        self._used: set[int] = set()  # nums whose overrides have been applied

    def _index(self, numbering: etree._Element) -> None:
        for tag, ids, by_id in ((qn("w:abstractNum"), qn("w:abstractNumId"), self._abstract),
                                (qn("w:num"), qn("w:numId"), self._nums)):
            for read, element in enumerate(numbering.iterfind(tag)):
                if read >= MAX_DEFINITIONS:
                    break
                key = _int(element.get(ids), -_MAX_ID, _MAX_ID)
                if key is not None and key not in by_id:
                    by_id[key] = element

    def _abstract_of(self, num: etree._Element) -> tuple[int, etree._Element] | None:
        """The abstractNum a num counts with, following list-style links a bounded number of times."""
        for _ in range(MAX_LINK_HOPS + 1):
            key = _int(_val(num, "w:abstractNumId"), -_MAX_ID, _MAX_ID)
            if key is None or key not in self._abstract:
                return None
            abstract = self._abstract[key]
            link = _val(abstract, "w:numStyleLink")
            if not link:
                return key, abstract
            num_id = self._style_num(link)
            linked = self._nums.get(num_id) if num_id is not None else None
            if linked is None or linked is num:
                return None
            num = linked
        return None

    def _list(self, num_id: int) -> _List | None:
        if num_id in self._lists:
            return self._lists[num_id]
        resolved: _List | None = None
        num = self._nums.get(num_id)
        found = self._abstract_of(num) if num is not None else None
        if num is not None and found is not None:
            key, abstract = found
            levels = _levels(abstract)
            overrides = set()
            for read, override in enumerate(num.iterfind(qn("w:lvlOverride"))):
                ilvl = _int(override.get(qn("w:ilvl")), -1, LEVELS)
                if read >= LEVELS or ilvl is None or not 0 <= ilvl < LEVELS:
                    continue
                replaced = _levels(override).get(ilvl)
                if replaced is not None:
                    levels[ilvl] = replaced
                    overrides.add(ilvl)
                start = _int(_val(override, "w:startOverride"), 0, MAX_START)
                if start is not None and ilvl in levels:
                    levels[ilvl] = replace(levels[ilvl], start=start)
                    overrides.add(ilvl)
            resolved = _List(key, tuple(levels.get(i) for i in range(LEVELS)), frozenset(overrides))
        self._lists[num_id] = resolved
        return resolved

    def level_of_style(self, num_id: int, style: str | None) -> int:
        """The level a paragraph style is linked to in a list (``w:lvl/w:pStyle``), else 0."""
        resolved = self._list(num_id)
        if resolved is not None and style:
            for ilvl, level in enumerate(resolved.levels):
                if level is not None and level.style == style:
                    return ilvl
        return 0

    def label(self, num_id: int, ilvl: int) -> ListLabel | None:
        """Count one paragraph of list ``num_id`` at level ``ilvl``; its number, or None when it shows none.

        A bulleted or unnumbered paragraph still counts, as in Word; a list or level that
        does not exist counts nothing.
        """
        resolved = self._list(num_id)
        level = resolved.levels[ilvl] if resolved is not None and 0 <= ilvl < LEVELS else None
        if resolved is None or level is None:
            return None
        counters = self._counters.setdefault(resolved.key, {})
        if num_id not in self._used:
            self._used.add(num_id)
            for restarted in resolved.overrides:
                counters.pop(restarted, None)
        for deeper in range(ilvl + 1, LEVELS):
            below = resolved.levels[deeper]
            if below is not None and _restarts(below, deeper, ilvl):
                counters.pop(deeper, None)
        counters[ilvl] = min(counters.get(ilvl, level.start - 1) + 1, 10 * MAX_START)
        if level.fmt in _NO_NUMBER or not level.text:
            return None
        text = _PLACEHOLDER.sub(lambda m: self._drawn(resolved, counters, int(m.group(1)) - 1, level.legal),
                                level.text)
        text = text.strip()[:MAX_LABEL]
        if not any(ch.isalnum() for ch in text):
            return None
        return ListLabel(text, level.suffix, level.font)

    @staticmethod
    def _drawn(resolved: _List, counters: dict[int, int], ilvl: int, legal: bool) -> str:
        level = resolved.levels[ilvl]
        if level is None:
            return ""
        value = counters.get(ilvl, level.start)
        if legal and level.fmt not in _NO_NUMBER:
            return str(value)
        return format_number(value, level.fmt)


def _restarts(level: Level, ilvl: int, used: int) -> bool:
    """Whether a use of level ``used`` restarts level ``ilvl`` (below it), by its w:lvlRestart."""
    if level.restart is None or level.restart - 1 >= ilvl:
        return True  # the default: any level above restarts it (a restart level not above it is ignored)
    if level.restart == 0:
        return False
    return used <= level.restart - 1
