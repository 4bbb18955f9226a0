"""Finding agency names in free text, on word boundaries.

The index is built from the roster (names, short names, aliases) plus the
abbreviations officials really type (TP.HCM, BYT, BCT...). Matching is
longest-first so "Thừa Thiên Huế" beats "Huế", and a few phrases that merely
contain a place name ("Thái Bình Dương", the Pacific) block the match.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from intake.classify.tokens import Token, same_word, strip_tones, tokenize
from reference.text import fold, words

# Phrases that contain a place name but are not about the place.
_BLOCKERS = ("Thái Bình Dương",)

# Abbreviations in daily use that a roster may not list. Keyed by slug and
# only used when that slug is in the roster.
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "ho-chi-minh": ("TP.HCM", "TPHCM", "TP HCM", "TP. Hồ Chí Minh", "Sài Gòn"),
    "ha-noi": ("TP. Hà Nội", "TP Hà Nội"),
    "ba-ria-vung-tau": ("BR-VT", "BRVT", "Bà Rịa Vũng Tàu"),
    "thua-thien-hue": ("TT-Huế", "TT Huế", "Thừa Thiên - Huế"),
    "dak-lak": ("Đắc Lắc", "Đăk Lăk", "Daklak"),
    "dak-nong": ("Đăk Nông", "Daknong"),
}

# Words that precede a place name when it *is* a place name.
_PLACE_PREFIXES = {"tinh", "pho", "tp", "ubnd"}

_DECLARING = {"tinh", "thanh", "tp", "bo"}
_STOP_IN_ACRONYM = {"va", "và", "&"}


class AgencyLike(Protocol):
    """What the index reads of an agency (reference.roster.Agency, a frozen dataclass, has it)."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def short_name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def aliases(self) -> Sequence[str]: ...

    def names(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class Entry:
    slug: str | None  # None: a blocker phrase
    label: str  # the name as the roster writes it, for reasons
    toneless: tuple[str, ...]
    folded: tuple[str, ...]
    upper_only: bool = False  # acronyms: only when written in capitals


@dataclass(frozen=True)
class NameMatch:
    slug: str
    label: str
    start: int  # character offsets in the searched text
    end: int
    written: str  # the text as the sender wrote it
    proper: bool  # capitalised, all-caps line, or preceded by "tỉnh"/"thành phố"/"TP"


def ministry_acronym(name: str) -> str | None:
    """'Bộ Nông nghiệp và Phát triển nông thôn' -> 'BNNPTNT' (how ministries sign)."""
    parts = [w for w in words(name).split() if w not in _STOP_IN_ACRONYM]
    if len(parts) < 2 or parts[0] != "bo":
        return None
    return "".join(p[0] for p in parts).upper()


def _entry(slug: str | None, label: str, phrase: str, upper_only: bool = False) -> Entry | None:
    toks = tokenize(phrase)
    if not toks:
        return None
    return Entry(slug, label, tuple(t.toneless for t in toks), tuple(t.folded for t in toks), upper_only)


def _agency_phrases(agency: AgencyLike) -> list[tuple[str, bool]]:
    """(phrase, upper_only) pairs; ministry names that do not start with 'Bộ'
    ("Công Thương", "Y tế") are common words and would match "Sở Công Thương"."""
    phrases: list[str] = []
    for value in [agency.name, agency.short_name, *list(agency.names()), *agency.aliases,
                  *_EXTRA_ALIASES.get(agency.slug, ())]:
        if value and value not in phrases:
            phrases.append(value)
    out: list[tuple[str, bool]] = []
    for phrase in phrases:
        compact = phrase.replace(" ", "")
        is_acronym = compact.isupper() and compact.isalpha() and len(compact) <= 8
        if agency.kind == "ministry" and not is_acronym and not words(phrase).startswith("bo "):
            continue
        if len(words(phrase)) < 3 and not is_acronym:
            continue  # "Huế" is a name; two letters are not
        out.append((phrase, is_acronym))
    if agency.kind == "ministry":
        acro = ministry_acronym(agency.name)  # from the official name only: "Bộ CT" would give "BC"
        if acro and len(acro) >= 3 and (acro, True) not in out:
            out.append((acro, True))
    return out


class NameIndex:
    """All agency names of a roster, ready for repeated searches."""

    def __init__(self, agencies: Iterable[AgencyLike]) -> None:
        self._by_first: dict[str, list[Entry]] = {}
        for agency in agencies:
            for phrase, upper_only in _agency_phrases(agency):
                self._add(_entry(agency.slug, agency.short_name or agency.name, phrase, upper_only))
        for phrase in _BLOCKERS:
            self._add(_entry(None, phrase, phrase))
        for entries in self._by_first.values():
            entries.sort(key=lambda e: len(e.folded), reverse=True)

    def _add(self, entry: Entry | None) -> None:
        if entry is None:
            return
        # index under the folded first word: both spellings share it
        self._by_first.setdefault(entry.folded[0], []).append(entry)

    def find(self, text: str) -> list[NameMatch]:
        toks = tokenize(text)
        found: list[NameMatch] = []
        i = 0
        while i < len(toks):
            entry = self._longest_at(toks, i)
            if entry is None:
                i += 1
                continue
            n = len(entry.folded)
            if entry.slug is not None:
                span = toks[i:i + n]
                found.append(NameMatch(
                    slug=entry.slug,
                    label=entry.label,
                    start=span[0].start,
                    end=span[-1].end,
                    written=text[span[0].start:span[-1].end] if text else "",
                    proper=_is_proper(toks, i, n, text),
                ))
            i += n
        return found

    def _longest_at(self, toks: list[Token], i: int) -> Entry | None:
        for entry in self._by_first.get(toks[i].folded, ()):
            n = len(entry.folded)
            if i + n > len(toks):
                continue
            span = toks[i:i + n]
            if all(same_word(t, tl, fd) for t, tl, fd in zip(span, entry.toneless, entry.folded, strict=False)):
                if entry.upper_only and not all(t.is_upper for t in span):
                    continue
                return entry
        return None


def _is_proper(toks: list[Token], i: int, n: int, text: str) -> bool:
    """A place name is written capitalised; "hòa bình" in lower case is peace."""
    span = toks[i:i + n]
    if all(t.is_capitalised for t in span) or (n > 1 and span[0].folded in _DECLARING):
        return True  # "tỉnh Quảng Ngãi", "bộ Y tế": the leading word says it is a place or a body
    if i > 0 and toks[i - 1].folded in _PLACE_PREFIXES:
        return True
    line_start = text.rfind("\n", 0, span[0].start) + 1
    line_end = text.find("\n", span[-1].end)
    line = text[line_start:line_end if line_end >= 0 else len(text)]
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def compact_names(agencies: Iterable[AgencyLike]) -> dict[str, str]:
    """'tayninh' -> 'tay-ninh': how place names appear inside mail addresses."""
    out: dict[str, str] = {}
    for agency in agencies:
        if agency.kind != "province":
            continue
        for phrase in {agency.short_name, *agency.aliases}:
            if not phrase:
                continue
            key = re.sub(r"[^a-z0-9]", "", fold(phrase))
            if len(key) >= 5:
                out.setdefault(key, agency.slug)
    return out


__all__ = ["NameIndex", "NameMatch", "compact_names", "ministry_acronym", "strip_tones"]
