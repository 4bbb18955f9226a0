"""Does a report cover the sections of the official outline (the dispatch's annex)?

Reports renumber and reword the annex ("2.1. Tăng cường công tác thông tin
truyền thông" is the annex's I.2.2), so sections are matched by meaning:
the folded heading text against each section's title and keywords, with a
fuzzy matcher for typos, OCR errors and missing diacritics. Numbering still
helps in two ways: its depth gives a heading's level (a sub-heading must not
satisfy a top-level section), and a sub-heading belongs to the top-level
section its enclosing "I./II./III." heading matched.

A heading is a line or paragraph that starts with numbering (or has a Word
heading style) and whose words match the outline; its length and its last
character do not matter. Its words are those before the text a report may
write in the same paragraph ("2.1. Hoàn thiện …: Chưa phát sinh."), with the
lines a page wrapped them over joined back when they carry on an official
title. A heading that fits a section at its own level speaks for that
section's branch only: the annex's II title also has I.2's words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

from intake.documents.numbering import (
    HeadingText,
    align_lines,
    numbered_headings,
    parse_numbered,
    split_heading,
)
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
class HeadingSpan:
    """One heading of a source, as the outline check and the section splitter both read it.

    A page wraps a long heading over several lines ("2.5. Tăng cường năng lực hoạt động" /
    "tiêu chuẩn hóa và đánh giá sự phù hợp …"), and a report may write a section's text in
    the heading's own paragraph ("2.1. Hoàn thiện …: Chưa phát sinh."): the span has the
    heading's words whole, and what follows them apart.
    """

    level: int
    text: str  # the heading as written: number and words, wrapped lines joined, without the text after it
    folded: str  # its cleaned words (see clean_heading): what matching compares
    rest: str  # text written after the heading in the same paragraph
    first: int  # index of its first line in the source text, -1 when it is not found there
    last: int  # index of its last line (the same unless the heading was wrapped)


MATCH_CHARS = 240  # of a heading's cleaned words, the part compared: the longest official title (I.2.3) is 170
FUZZY_SEAM_CHARS = 24  # a wrapped line is matched to a title with typos only when the seam is this long
MAX_WRAPPED_LINES = 6  # lines a wrapped heading may continue on (the annex's I.2.3 takes four on a 10 cm column)


def clean_heading(text: str) -> str:
    """Folded heading words without numbering or bare numbers: what matching compares."""
    folded = words(text)
    folded = _LEADING_NUMBER.sub("", folded, count=1)
    folded = _NUMBER_TOKEN.sub(" ", folded)
    folded = re.sub(r"^ve\s+", "", folded.strip())  # "Về công tác tham mưu" = "Công tác tham mưu"
    return " ".join(folded.split())


_clean = clean_heading  # the former private name, kept for existing callers


def _bounded(folded: str) -> str:
    """The first MATCH_CHARS of cleaned words, cut at a word: matching work stays bounded
    however long a paragraph that starts with a number is."""
    if len(folded) <= MATCH_CHARS:
        return folded
    return folded[:MATCH_CHARS].rsplit(" ", 1)[0]


def _tail_words(text: str) -> str:
    """Folded words of a wrapped heading's next line, bare numbers removed as in the titles."""
    return " ".join(_NUMBER_TOKEN.sub(" ", words(text)).split())


def _continues_title(head: str, line: str, titles: list[str]) -> bool:
    """Whether ``line`` carries on an official title that the heading so far (``head``, cleaned) began.

    The seam decides: the heading's last two words followed by the line's words must be
    a piece of one title ("chinh" + "sach thuc day …" in I.2.1's). Text under a heading
    that merely repeats a title's words does not continue the heading's own words.
    """
    tail = _tail_words(line)
    if not tail or not head:
        return False
    seam = " ".join(head.split()[-2:] + tail.split())
    if any(f" {seam} " in f" {title} " for title in titles):
        return True
    return len(seam) >= FUZZY_SEAM_CHARS and any(
        fuzz.partial_ratio(seam, title) >= FUZZY_PHRASE for title in titles if len(title) >= len(seam))


def _next_line(lines: list[str], after: int) -> int:
    """Index of the first non-empty line after ``after`` (PDF text can have an empty line
    between a heading's wrapped lines), or len(lines)."""
    index = after + 1
    while index < len(lines) and index - after <= 2 and not lines[index]:
        index += 1
    return index if index < len(lines) and lines[index] else len(lines)


def _cut(line: str) -> tuple[str, HeadingText]:
    """A heading line's numbering as written ("2.1. ", "" for a styled heading) and its words cut from its text."""
    numbered = parse_numbered(line)
    title = numbered.title if numbered is not None else line
    return line[: len(line) - len(title)], split_heading(title)


def _span(level: int, first: int, lines: list[str], stops: set[int], titles: list[str]) -> HeadingSpan:
    """The heading at ``lines[first]`` with the lines its wrapped words continue on."""
    number, cut = _cut(lines[first])
    head, last, wrapped = cut.head, first, 0
    while not cut.closed and wrapped < MAX_WRAPPED_LINES:
        index = _next_line(lines, last)
        if index == len(lines) or index in stops or parse_numbered(lines[index]) is not None:
            break
        following = split_heading(lines[index])
        if not _continues_title(clean_heading(head), following.head, titles):
            break
        head, cut, last, wrapped = f"{head} {following.head}", following, index, wrapped + 1
    return HeadingSpan(level, (number + head).strip(), _bounded(clean_heading(head)), cut.rest, first, last)


def heading_spans(text: str, headings: list[tuple[int, str]],
                  sections: tuple[OutlineSection, ...]) -> list[HeadingSpan]:
    """The headings of one source with their wrapped lines joined and their inline text apart.

    ``headings`` are the reader's (level, line) candidates; a heading not found among the
    lines of ``text`` is still a heading, on its own line's words.
    """
    lines = [" ".join(line.split()) for line in text.splitlines()]
    titles = [_terms(s)[0] for s in sections]
    firsts = align_lines(lines, [heading for _, heading in headings])
    stops = {i for i in firsts if i >= 0}
    spans = []
    for (level, heading), first in zip(headings, firsts, strict=False):
        if first >= 0:
            spans.append(_span(level, first, lines, stops, titles))
            continue
        number, cut = _cut(" ".join(heading.split()))
        spans.append(HeadingSpan(level, (number + cut.head).strip(), _bounded(clean_heading(cut.head)), cut.rest,
                                 -1, -1))
    return spans


def _sources(docs: list[DocumentText], body_text: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """Each document, then the email body, with its heading candidates."""
    sources = [(doc.text, list(doc.headings) if doc.headings else numbered_headings(doc.text)) for doc in docs]
    if body_text.strip():
        sources.append((body_text, numbered_headings(body_text)))
    return sources


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


@lru_cache(maxsize=512)
def _terms(section: OutlineSection) -> tuple[str, tuple[str, ...]]:
    """A section's cleaned title and folded keyword phrases, worked out once, not once per heading."""
    title = clean_heading(section.title)
    return title, tuple(words(k) for k in section.keywords) or (title,)


def section_matches(section: OutlineSection, heading: str) -> bool:
    """Whether one folded heading says what the section is about."""
    title, phrases = _terms(section)
    if title and fuzz.token_sort_ratio(title, heading) >= TITLE_SIMILARITY:
        return True
    return any(_phrase_in(phrase, heading) for phrase in phrases)


def heading_matches(level: int, folded: str, sections: tuple[OutlineSection, ...],
                    enclosing: set[str]) -> list[OutlineSection]:
    """Sections one heading (at ``level``, text already cleaned) may stand for.

    ``enclosing`` holds the top-level codes the current level-1 heading
    matched; public so that intake.report.sections splits text by the same rules.
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


def _related(code: str, other: str) -> bool:
    """Whether two codes lie on one branch of the outline (the same, or one under the other)."""
    return code == other or code.startswith(other + ".") or other.startswith(code + ".")


def _own_branch(level: int, found: list[OutlineSection]) -> list[OutlineSection]:
    """Of the sections a heading fits, those on the branch of the ones at its own level.

    The annex's II heading ("Đánh giá kết quả … lũy kế từ đầu Chương trình …") has I.2's
    words too; at its own level it is II, so it says nothing about I.2. A heading that fits
    no section at its own level keeps all it fits (a report's "I. Kết quả thực hiện các
    nhiệm vụ" stands for I and I.2).
    """
    own = [s for s in found if _depth(s) == level]
    if not own:
        return found
    return [s for s in found if any(_related(s.code, o.code) for o in own)]


def _match_source(candidates: list[HeadingSpan], sections: tuple[OutlineSection, ...],
                  matches: dict[str, tuple[int, str]]) -> None:
    """Record code -> (level distance, heading); a heading at the section's own
    level is the better witness than its parent's heading that also fits."""
    enclosing: set[str] = set()  # top-level codes the current level-1 heading matched
    for cand in candidates:
        found = _own_branch(cand.level, heading_matches(cand.level, cand.folded, sections, enclosing))
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
    for text, source_headings in _sources(docs, body_text or ""):
        candidates = [span for span in heading_spans(text, source_headings, sections) if span.folded]
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
