"""False gaps and false presence of the outline check over labelled reports (issue 24's measure).

    python -m tests.outline_figures

For each set of reports, every outline section of every report is judged: a
false gap is a section reported missing that the report has, a false presence
a section reported present that it lacks. What a report has is known from how
it was built, not from the checker:

- corpus: the report messages of tests/corpus (tests.corpus.build), through the
  whole intake chain. Their reports have the four parts I-IV of
  tests.corpus.docs.standard_sections ("III. Phương hướng triển khai…" also
  names III.1, "Phương hướng"), two of them only I and II, the scan none;
- reference: the Tây Ninh 2024 report (tests/fixtures/reference/002_*), labelled
  by reading it, as .docx and as text without diacritics;
- layouts: the reports of tests/test_outline_layouts.py (the annex in I/1/2.1 and
  1/1.1/1.1.1 numbering, A/B/C, a different layout);
- official: the reports of tests/test_outline_official.py (the annex copied word
  for word in every form and variant, sections left out, prose mentions), the
  annex as the dispatch publishes it, the report as .docx whose I.2 headings a Word
  list numbers, and the two .doc files.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from anyascii import anyascii

from intake.documents import read_attachment
from intake.model import DocumentText, OutlineSection
from intake.report.outline import check_outline
from reference.campaigns import load_campaigns
from reference.roster import load_roster
from tests.fixtures.documents import docx_from_lines, reference_text
from tests.fixtures.official_outline import (
    Paragraph,
    official_report,
    present_codes,
    report_docx,
    report_text,
    word_list_docx,
    wrapped_pdf,
)
from tests.fixtures.outline_reports import annex_report_lines

ALL = frozenset(s.code for s in load_campaigns()[2023].outline)
STANDARD = frozenset({"I", "II", "III", "III.1", "IV"})  # tests.corpus.docs.standard_sections
CORPUS_TRUTH = {"ca-mau-dispatch-year": frozenset({"I", "II"}), "son-la-late-doc-date": frozenset({"I", "II"}),
                "quang-ninh-scanned": frozenset()}
TAY_NINH = frozenset({"I", "I.1", "I.2", "I.2.2", "I.2.3", "I.2.4", "II", "II.1", "II.2", "II.3", "III", "III.1"})
FORMS = ("docx-plain", "docx-bold", "docx-styled", "pdf", "pdf-narrow", "body")
VARIANTS = ({}, {"inline": True}, {"ending": "."}, {"ending": ":"}, {"diacritics": False},
            {"diacritics": False, "inline": True})
OMISSIONS = (("I.2.1", "I.2.5", "II.3"), ("I.2", "IV"), ("III",), ("I.1", "I.2.6"))


@dataclass(frozen=True)
class Judged:
    """One report: the sections it has, and the sections the check reported present."""

    name: str
    truth: frozenset[str]
    present: frozenset[str]


def _outline(year: int) -> tuple[OutlineSection, ...]:
    return load_campaigns()[year].outline


def _check(docs: list[DocumentText], body: str, year: int = 2023) -> frozenset[str]:
    return frozenset(check_outline(docs, body, _outline(year)).present)


def _sent(paragraphs: list[Paragraph], form: str) -> tuple[list[DocumentText], str]:
    if form.startswith("docx-"):
        return read_attachment("BC.docx", "", report_docx(paragraphs, form.removeprefix("docx-"))), ""
    if form in ("pdf", "pdf-narrow"):
        width = 16 if form == "pdf" else 10
        return read_attachment("BC.pdf", "application/pdf", wrapped_pdf(paragraphs, 13, width)), ""
    return [], report_text(paragraphs)


def corpus() -> Iterator[Judged]:
    roster, campaigns = load_roster(), load_campaigns()
    from tests.corpus.build import build, read_cases, reading_context

    with tempfile.TemporaryDirectory() as tmp:
        reports = [(path, label) for path, label in build(Path(tmp)) if label["kind"] == "report"]
        for path, _, understood in read_cases(reports, reading_context(roster, campaigns)):
            outline = understood.outline
            name = path.stem.split("-", 1)[1]
            yield Judged(name, CORPUS_TRUTH.get(name, STANDARD),
                         frozenset(outline.present) if outline is not None else frozenset())


def reference() -> Iterator[Judged]:
    text = reference_text()
    docx = read_attachment("a.docx", "", docx_from_lines(text.splitlines()))
    yield Judged("tay-ninh docx", TAY_NINH, _check(docx, ""))
    yield Judged("tay-ninh text without diacritics", TAY_NINH,
                 _check([DocumentText("a.pdf", "pdf", text=anyascii(text))], ""))


def layouts() -> Iterator[Judged]:
    for numbering in ("annex", "arabic"):
        for diacritics in (True, False):
            lines = annex_report_lines(numbering, diacritics)
            yield Judged(f"annex {numbering} diacritics={diacritics}", ALL,
                         _check(read_attachment("a.docx", "", docx_from_lines(lines)), ""))
    top = {"I.": "A.", "II.": "B.", "III.": "C.", "IV.": "D."}
    letters = [top.get(ln.split(" ", 1)[0], ln.split(" ", 1)[0]) + " " + ln.split(" ", 1)[1] if " " in ln else ln
               for ln in annex_report_lines("annex")]
    yield Judged("annex A/B/C", ALL, _check(read_attachment("a.docx", "", docx_from_lines(letters)), ""))
    other = ["BÁO CÁO", "1. Bối cảnh chung của tỉnh", "Tỉnh có 2.100 doanh nghiệp.", "2. Số liệu doanh nghiệp tham gia",
             "Có 12 doanh nghiệp.", "3. Kiến giải của Sở", "Cần thêm kinh phí."]
    yield Judged("different layout", frozenset(), _check(read_attachment("a.docx", "", docx_from_lines(other)), ""))


def official() -> Iterator[Judged]:
    for variant in VARIANTS:
        for form in FORMS:
            paragraphs = official_report(**variant)
            yield Judged(f"{variant} {form}", present_codes(paragraphs), _check(*_sent(paragraphs, form)))
    for omit in OMISSIONS:
        for form in FORMS:
            paragraphs = official_report(omit=omit)
            yield Judged(f"omit {omit} {form}", present_codes(paragraphs), _check(*_sent(paragraphs, form)))
    for form in ("docx-plain", "pdf", "pdf-narrow", "body"):
        paragraphs = official_report(omit=("I.2.6", "IV"))
        at = next(i for i, p in enumerate(paragraphs) if p.heading is not None and p.heading.code == "I.2.5")
        paragraphs[at + 1:at + 1] = [
            Paragraph("đẩy mạnh hợp tác quốc tế về năng suất chất lượng là việc Sở chưa làm được trong năm 2023."),
            Paragraph("Về đề xuất, kiến nghị: Sở sẽ có văn bản riêng gửi Bộ Khoa học và Công nghệ.")]
        yield Judged(f"prose mentions {form}", present_codes(paragraphs), _check(*_sent(paragraphs, form)))
    dispatch = reference_text("000_db258a1af6abeb36.txt")
    annex = DocumentText("phu-luc.pdf", "pdf", text=dispatch[dispatch.index("\nPHỤ LỤC"):])
    yield Judged("the annex as published", ALL, _check([annex], ""))
    paragraphs = official_report()
    yield Judged("docx numbered by a Word list", present_codes(paragraphs),
                 _check(read_attachment("BC.docx", "", word_list_docx(paragraphs)), ""))
    for name in ("official-outline.doc", "official-outline-word-list.doc"):
        data = (Path(__file__).parent / "fixtures" / "doc" / name).read_bytes()
        yield Judged(name, ALL, _check(read_attachment("BC.doc", "application/msword", data), ""))


SETS: dict[str, Callable[[], Iterator[Judged]]] = {
    "corpus": corpus, "reference": reference, "layouts": layouts, "official": official}


def main() -> None:
    print(f"{'set':10s} {'reports':>7s} {'sections':>8s} {'false gaps':>10s} {'false presence':>14s}")
    for label, judge in SETS.items():
        judged = list(judge())
        gaps = [(j.name, sorted(j.truth - j.present)) for j in judged if j.truth - j.present]
        presence = [(j.name, sorted(j.present - j.truth)) for j in judged if j.present - j.truth]
        print(f"{label:10s} {len(judged):7d} {len(judged) * len(ALL):8d} "
              f"{sum(len(g) for _, g in gaps):10d} {sum(len(p) for _, p in presence):14d}")
        for name, codes in gaps:
            print(f"    gap      {name}: {' '.join(codes)}")
        for name, codes in presence:
            print(f"    presence {name}: {' '.join(codes)}")


if __name__ == "__main__":
    main()
