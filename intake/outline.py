"""Does a report cover the sections of the official outline (the dispatch's annex)?

Reports renumber and reword the annex ("2.1. Tăng cường công tác thông tin
truyền thông" is the annex's I.2.2), so sections are matched by meaning:
the folded heading text against each section's title and keywords, with a
fuzzy matcher for typos, OCR errors and missing diacritics. Numbering still
helps in two ways: its depth gives a heading's level (a sub-heading must not
satisfy a top-level section), and a sub-heading belongs to the top-level
section its enclosing "I./II./III." heading matched.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from intake.documents.numbering import numbered_headings
from intake.model import DocumentText, OutlineSection
from reference.text import words

TITLE_SIMILARITY = 88  # token_sort_ratio of a whole heading against a section title
FUZZY_PHRASE = 92  # partial_ratio of a long keyword inside a heading (OCR, typos)
FUZZY_MIN_CHARS = 12  # shorter keywords must appear exactly: "dao tao" is too short to guess
_NUMBER_TOKEN = re.compile(r"\b\d+\b")
_LEADING_NUMBER = re.compile(r"^\s*(?:(?:phan|muc)\s+)?(?:[ivxlc]+|\d+(?:\s\d+)*|[a-z])\b\s*")


@dataclass
class OutlineResult:
    """Section codes present and missing, and which heading matched each code.

    ``missing`` lists every absent section in outline order; ``missing_required``
    only those the outline marks required (what makes a report incomplete).
    A parent section found only through its children has no ``matches`` entry.
    """

    present: list[str]
    missing: list[str]
    matches: dict[str, str] = field(default_factory=dict)
    missing_required: list[str] = field(default_factory=list)
    # The report has headings of its own but most required parts are not among them:
    # it is laid out differently, which is worth saying once instead of listing every section.
    different_layout: bool = False


LAYOUT_NOTE = "bố cục khác đề cương"
DIFFERENT_LAYOUT_MIN_HEADINGS = 3


@dataclass(frozen=True)
class _Candidate:
    level: int
    text: str  # the heading as written
    folded: str  # folded words, numbering and bare numbers removed


def clean_heading(text: str) -> str:
    """Folded heading words without numbering or bare numbers: what matching compares."""
    folded = words(text)
    folded = _LEADING_NUMBER.sub("", folded, count=1)
    folded = _NUMBER_TOKEN.sub(" ", folded)
    folded = re.sub(r"^ve\s+", "", folded.strip())  # "Về công tác tham mưu" = "Công tác tham mưu"
    return " ".join(folded.split())


_clean = clean_heading  # the former private name, kept for existing callers


def _candidates(docs: list[DocumentText], body_text: str) -> list[list[_Candidate]]:
    """Heading candidates per source (each document, then the email body), in order."""
    sources: list[list[tuple[int, str]]] = []
    for doc in docs:
        sources.append(list(doc.headings) if doc.headings else numbered_headings(doc.text))
    if body_text.strip():
        sources.append(numbered_headings(body_text))
    return [[_Candidate(level, text, _clean(text)) for level, text in source if _clean(text)]
            for source in sources]


def _depth(section: OutlineSection) -> int:
    return section.code.count(".") + 1


def _top(code: str) -> str:
    return code.split(".")[0]


def _phrase_in(phrase: str, heading: str) -> bool:
    if not phrase:
        return False
    if f" {phrase} " in f" {heading} ":
        return True
    return (len(phrase) >= FUZZY_MIN_CHARS and len(heading) >= len(phrase)
            and fuzz.partial_ratio(phrase, heading) >= FUZZY_PHRASE)


def section_matches(section: OutlineSection, heading: str) -> bool:
    """Whether one folded heading says what the section is about."""
    title = _clean(section.title)
    if title and fuzz.token_sort_ratio(title, heading) >= TITLE_SIMILARITY:
        return True
    phrases = [words(k) for k in section.keywords] or [title]
    return any(_phrase_in(phrase, heading) for phrase in phrases)


def heading_matches(level: int, folded: str, sections: tuple[OutlineSection, ...],
                    enclosing: set[str]) -> list[OutlineSection]:
    """Sections one heading (at ``level``, text already cleaned) may stand for.

    ``enclosing`` holds the top-level codes the current level-1 heading
    matched; public so that intake.sections splits text by the same rules.
    """
    found = []
    for section in sections:
        if abs(level - _depth(section)) > 1:
            continue
        if level >= 2 and enclosing and _top(section.code) not in enclosing:
            continue  # "2. Đánh giá..." under "I." is not section II
        if section_matches(section, folded):
            found.append(section)
    return found


def _match_source(candidates: list[_Candidate], sections: tuple[OutlineSection, ...],
                  matches: dict[str, tuple[int, str]]) -> None:
    """Record code -> (level distance, heading); a heading at the section's own
    level is the better witness than its parent's heading that also fits."""
    enclosing: set[str] = set()  # top-level codes the current level-1 heading matched
    for cand in candidates:
        found = heading_matches(cand.level, cand.folded, sections, enclosing)
        for section in found:
            distance = abs(cand.level - _depth(section))
            if section.code not in matches or distance < matches[section.code][0]:
                matches[section.code] = (distance, cand.text)
        if cand.level == 1:
            enclosing = {_top(s.code) for s in found}


def check_outline(docs: list[DocumentText], body_text: str,
                  sections: tuple[OutlineSection, ...]) -> OutlineResult:
    ranked: dict[str, tuple[int, str]] = {}
    headings = 0
    for candidates in _candidates(docs, body_text or ""):
        headings += len(candidates)
        _match_source(candidates, sections, ranked)
    matches = {code: ranked[code][1] for code in [s.code for s in sections] if code in ranked}
    present_codes = set(matches)
    for code in list(matches):  # a parent is present when any child is
        parts = code.split(".")
        present_codes.update(".".join(parts[:i]) for i in range(1, len(parts)))
    order = [s.code for s in sections]
    present = [c for c in order if c in present_codes]
    missing = [c for c in order if c not in present_codes]
    required = {s.code for s in sections if s.required}
    top_required = [s.code for s in sections if s.required and "." not in s.code]
    top_missing = [c for c in top_required if c not in present_codes]
    different = headings >= DIFFERENT_LAYOUT_MIN_HEADINGS and len(top_missing) >= max(2, len(top_required) // 2 + 1)
    return OutlineResult(present=present, missing=missing, matches=matches,
                         missing_required=[c for c in missing if c in required], different_layout=different)


def _short(title: str, limit: int = 60) -> str:
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[:limit].rsplit(" ", 1)[0].rstrip(",;: ")
    return cut + "…"


def format_missing(result: OutlineResult, sections: tuple[OutlineSection, ...]) -> str:
    """Vietnamese sentence for the acknowledgement; a missing parent stands for its children."""
    if result.different_layout:
        return "Báo cáo trình bày theo bố cục khác đề cương; cán bộ đầu mối sẽ đối chiếu nội dung."
    missing = set(result.missing)
    titles = {s.code: s.title for s in sections}
    listed = []
    for code in result.missing:
        parts = code.split(".")
        if any(".".join(parts[:i]) in missing for i in range(1, len(parts))):
            continue
        listed.append(f"{code} ({_short(titles.get(code, ''))})" if titles.get(code) else code)
    if not listed:
        return ""
    return "Báo cáo chưa có mục: " + ", ".join(listed)
