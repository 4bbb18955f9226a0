"""Reading .docx reports: body text in order, headings, tables, legacy fonts, list numbers.

python-docx gives the document model; we walk the body's XML children
ourselves so paragraphs and tables keep their order, merged cells are not
repeated, and each run's font decides whether its text is TCVN3/VNI. A
paragraph of a Word list gets the number Word draws in front of it
(intake.documents.word_lists): a heading numbered "2.1." by a list is a
numbered heading like a typed one.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from lxml import etree

from intake.documents import legacy_vn
from intake.documents.budget import Budget
from intake.documents.numbering import LevelTracker, has_roman_headings, parse_numbered
from intake.documents.word_lists import LEVELS, ListNumbers
from intake.model import DocumentText
from reference.text import fold, nfc

_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_HEADING_STYLE = re.compile(r"^(?:heading|tieu de|title)\s*(\d)?$")
_W_VAL = qn("w:val")
_MAX_STYLE_CHAIN = 32  # basedOn links followed; Word's own chains are a handful long


class _Styles:
    """Style names, fonts and outline levels by style id, following basedOn chains."""

    def __init__(self, document: docx.document.Document) -> None:
        self._by_id: dict[str, etree._Element] = {}
        self._numbering: dict[str | None, tuple[int | None, int | None]] = {}
        root = document.styles.element
        for style in root.iterfind(qn("w:style")):
            style_id = style.get(qn("w:styleId"))
            if style_id:
                self._by_id[style_id] = style
        self.default_font = _rfonts_name(root.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}"))
        self.default_paragraph = next(
            (sid for sid, el in self._by_id.items()
             if el.get(qn("w:type")) == "paragraph" and el.get(qn("w:default")) in ("1", "true")),
            None,
        )

    def _chain(self, style_id: str | None) -> Iterator[etree._Element]:
        seen: set[str] = set()
        while style_id and style_id in self._by_id and style_id not in seen and len(seen) < _MAX_STYLE_CHAIN:
            seen.add(style_id)
            style = self._by_id[style_id]
            yield style
            based = style.find(qn("w:basedOn"))
            style_id = based.get(_W_VAL) if based is not None else None

    def font(self, style_id: str | None) -> str | None:
        for style in self._chain(style_id):
            name = _rfonts_name(style.find(qn("w:rPr")))
            if name:
                return name
        return None

    def numbering(self, style_id: str | None) -> tuple[int | None, int | None]:
        """(numId, ilvl) of the list a paragraph style puts its paragraphs in; (None, None) for none.

        Heading styles linked to a multilevel list carry it this way: a "Heading 2"
        paragraph has no numPr of its own and still shows "2.1.".
        """
        if style_id not in self._numbering:
            found: tuple[int | None, int | None] = (None, None)
            for style in self._chain(style_id):
                num_pr = style.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
                if num_pr is not None and num_pr.find(qn("w:numId")) is not None:
                    found = _num_pr(num_pr)
                    break
            self._numbering[style_id] = found
        return self._numbering[style_id]

    def list_style_num(self, style_id: str) -> int | None:
        """The numId a list style (named by an abstractNum's numStyleLink) stands for."""
        return self.numbering(style_id)[0]

    def heading_level(self, style_id: str | None) -> int | None:
        for style in self._chain(style_id):
            name_el = style.find(qn("w:name"))
            name = fold(name_el.get(_W_VAL, "")) if name_el is not None else ""
            match = _HEADING_STYLE.match(name)
            if match:
                return int(match.group(1) or 1) if name.startswith(("heading", "tieu de")) else 1
            outline = style.find(f"{qn('w:pPr')}/{qn('w:outlineLvl')}")
            level = (outline.get(_W_VAL) or "") if outline is not None else ""
            if level.isdigit() and int(level) < 9:
                return int(level) + 1
        return None


def _num_pr(num_pr: etree._Element) -> tuple[int | None, int | None]:
    """(numId, ilvl) of a w:numPr, each None when absent or not a number."""
    values = []
    for tag in ("w:numId", "w:ilvl"):
        child = num_pr.find(qn(tag))
        value = (child.get(_W_VAL) or "").strip() if child is not None else ""
        values.append(int(value) if value.isdigit() and len(value) <= 9 else None)
    return values[0], values[1]


def _numbering_part(document: docx.document.Document) -> etree._Element | None:
    """word/numbering.xml as python-docx parsed it (without expanding entities); None when absent or not XML."""
    try:
        part = document.part.part_related_by(RT.NUMBERING)
    except (KeyError, ValueError):
        return None
    element = getattr(part, "element", None)
    return element if isinstance(element, etree._Element) else None


def _rfonts_name(rpr: etree._Element | None) -> str | None:
    """The font used for non-ASCII characters (hAnsi), else the ASCII font."""
    if rpr is None:
        return None
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        return None
    return fonts.get(qn("w:hAnsi")) or fonts.get(qn("w:ascii"))


class _Reader:
    def __init__(self, document: docx.document.Document, budget: Budget) -> None:
        self.styles = _Styles(document)
        self.lists = ListNumbers(_numbering_part(document), self.styles.list_style_num)
        self.budget = budget
        self.body = document.element.body
        self.converted: set[str] = set()
        self.fallback: str | None = None
        self.trust_fonts = True
        self.headings: list[tuple[int, str]] = []
        self.tables: list[list[list[str]]] = []

    # -- runs and paragraphs --

    def _runs(self, element: etree._Element) -> Iterator[etree._Element]:
        """Runs of a paragraph, including those in hyperlinks, fields and text
        boxes, without the duplicate Fallback copy of a text box."""
        for child in element:
            if child.tag == _MC_FALLBACK:
                continue
            if child.tag == qn("w:r"):
                yield child
            if len(child):
                yield from self._runs(child)

    def _run_font(self, run: etree._Element, paragraph_style: str | None) -> str | None:
        rpr = run.find(qn("w:rPr"))
        name = _rfonts_name(rpr)
        if name:
            return name
        if rpr is not None:
            rstyle = rpr.find(qn("w:rStyle"))
            if rstyle is not None:
                name = self.styles.font(rstyle.get(_W_VAL))
                if name:
                    return name
        return self.styles.font(paragraph_style) or self.styles.default_font

    @staticmethod
    def _run_text(run: etree._Element) -> str:
        parts = []
        for child in run:
            if child.tag == qn("w:t"):
                parts.append(child.text or "")
            elif child.tag == qn("w:tab"):
                parts.append("\t")
            elif child.tag in (qn("w:br"), qn("w:cr")):
                parts.append("\n")
            elif child.tag == qn("w:noBreakHyphen"):
                parts.append("-")
            elif child.tag == qn("w:softHyphen"):
                parts.append("\u00ad")  # TCVN3's "ư"; dropped later from Unicode text
        return "".join(parts)

    def paragraph_style(self, p: etree._Element) -> str | None:
        pstyle = p.find(f"{qn('w:pPr')}/{qn('w:pStyle')}")
        return pstyle.get(_W_VAL) if pstyle is not None else self.styles.default_paragraph

    def _decoded(self, text: str, font: str | None) -> str:
        """Text drawn in ``font`` as Unicode: TCVN3/VNI fonts decoded, unless the fonts are not trusted."""
        legacy = legacy_vn.font_encoding(font) if self.trust_fonts else None
        if legacy is not None and not text.isascii() and not legacy_vn.is_unicode_vietnamese(text):
            self.converted.add(legacy.encoding)
            return legacy_vn.to_unicode(text, legacy)
        if legacy is not None and legacy.upper:
            return text.upper()  # .VnTimeH draws plain letters as capitals too
        if legacy is None and self.fallback is not None and not text.isascii():
            return legacy_vn.convert_line(text, self.fallback)
        return text

    def list_number(self, p: etree._Element, style: str | None) -> str:
        """The number Word draws in front of the paragraph and the tab or space after it, or "".

        Counts the paragraph in its list: called once per paragraph, in document order.
        The paragraph's own numId and ilvl override its style's, each on its own;
        numId 0 takes it out of any list.
        """
        own = p.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
        num_id, ilvl = _num_pr(own) if own is not None else (None, None)
        style_num, style_ilvl = self.styles.numbering(style)
        if own is None or own.find(qn("w:numId")) is None:
            num_id = style_num
        if not num_id:
            return ""
        if ilvl is None:
            ilvl = style_ilvl if style_ilvl is not None else self.lists.level_of_style(num_id, style)
        if ilvl >= LEVELS:
            return ""
        label = self.lists.label(num_id, ilvl)
        if label is None:
            return ""
        font = label.font or self.styles.font(style) or self.styles.default_font
        return self._decoded(label.text, font) + label.suffix

    def paragraph_text(self, p: etree._Element) -> str:
        style = self.paragraph_style(p)
        parts = [self.list_number(p, style)]
        for run in self._runs(p):
            text = self._run_text(run)
            if text:
                parts.append(self._decoded(text, self._run_font(run, style)))
        return nfc("".join(parts).replace("\u00ad", ""))

    def detect_fallback(self) -> None:
        """Check the fonts against the text before trusting them.

        Legacy text saved without its font name (pasted between documents,
        fonts substituted) is recognised by statistics over the runs whose
        font says nothing, and decoded run by run. The reverse also happens:
        text converted to Unicode with a tool that kept the ".VnTime" font
        name; then the font names are stale and must not be applied.
        """
        plain: list[str] = []
        legacy: list[str] = []
        for p in self.body.iter(qn("w:p")):
            style = self.paragraph_style(p)
            for run in p.iterfind(qn("w:r")):
                font = legacy_vn.font_encoding(self._run_font(run, style))
                (plain if font is None else legacy).append(self._run_text(run))
        legacy_text = "".join(legacy)
        self.trust_fonts = not (legacy_vn.is_unicode_vietnamese(legacy_text)
                                and legacy_vn.detect_encoding(legacy_text) is None)
        if not self.trust_fonts:
            plain.extend(legacy)
        self.fallback = legacy_vn.detect_encoding("".join(plain))
        if self.fallback is not None:
            self.converted.add(self.fallback)

    # -- tables --

    def cell_text(self, tc: etree._Element) -> str:
        lines = []
        for child in tc:
            if child.tag == qn("w:p"):
                lines.append(self.paragraph_text(child))
            elif child.tag == qn("w:tbl"):
                lines.extend(" | ".join(row) for row in self.grid(child))
        return "\n".join(line for line in lines if line.strip()).strip()

    def grid(self, tbl: etree._Element) -> list[list[str]]:
        """Rows of cell texts on the table grid; a merged cell's text appears
        once (in its first grid cell) and its other grid cells are empty."""
        rows: list[list[str]] = []
        for tr in tbl.iterfind(qn("w:tr")):
            row: list[str] = []
            before = tr.find(f"{qn('w:trPr')}/{qn('w:gridBefore')}")
            skipped = (before.get(_W_VAL) or "") if before is not None else ""
            if skipped.isdigit():
                row.extend([""] * int(skipped))
            for tc in _cells(tr):
                tcpr = tc.find(qn("w:tcPr"))
                span = 1
                continued = False
                if tcpr is not None:
                    grid_span = tcpr.find(qn("w:gridSpan"))
                    spanned = (grid_span.get(_W_VAL) or "") if grid_span is not None else ""
                    if spanned.isdigit():
                        span = max(1, min(int(spanned), 64))
                    for merge_tag in (qn("w:vMerge"), qn("w:hMerge")):
                        merge = tcpr.find(merge_tag)
                        if merge is not None and merge.get(_W_VAL, "continue") != "restart":
                            continued = True
                row.append("" if continued else self.cell_text(tc))
                row.extend([""] * (span - 1))
            rows.append(row)
        return rows

    # -- body --

    def blocks(self, container: etree._Element) -> Iterator[tuple[str, etree._Element]]:
        for child in container:
            if child.tag == qn("w:p"):
                yield "p", child
            elif child.tag == qn("w:tbl"):
                yield "tbl", child
            elif child.tag == qn("w:sdt"):
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    yield from self.blocks(content)

    def read(self) -> None:
        self.detect_fallback()
        items: list[tuple[str, str | list[list[str]], str | None]] = []  # kind, text or grid, style
        for kind, element in self.blocks(self.body):
            if self.budget.out_of_time():
                break
            if kind == "p":
                items.append(("p", self.paragraph_text(element), self.paragraph_style(element)))
            else:
                items.append(("tbl", self.grid(element), None))
        tracker = LevelTracker(has_roman_headings([t for _, t, _ in items if isinstance(t, str)]))
        for _, content, style in items:
            if isinstance(content, str):  # a paragraph's text
                self._heading(content, style, tracker)
                if not self.budget.add(content):
                    break
            else:
                grid = content
                self.tables.append(grid)
                rendered = "\n".join(" | ".join(cell.replace("\n", " ") for cell in row) for row in grid
                                     if any(cell.strip() for cell in row))
                if not self.budget.add("\n" + rendered + "\n"):
                    break

    def _heading(self, text: str, style: str | None, tracker: LevelTracker) -> None:
        line = " ".join(text.split())
        if not line:
            return
        styled = self.styles.heading_level(style)
        numbered = parse_numbered(line)
        if numbered is not None:
            level = tracker.level(numbered)
            self.headings.append((styled or level, line))
        elif styled is not None:  # its length does not matter, as for a numbered one (see numbering.py)
            self.headings.append((styled, line))

def _cells(tr: etree._Element) -> Iterator[etree._Element]:
    for child in tr:
        if child.tag == qn("w:tc"):
            yield child
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from (c for c in content if c.tag == qn("w:tc"))


def read_docx(filename: str, data: bytes, budget: Budget) -> DocumentText:
    """Raises on a file python-docx cannot open; the caller turns that into a note."""
    document = docx.Document(io.BytesIO(data))
    reader = _Reader(document, budget)
    reader.read()
    notes = [f"đã chuyển mã {legacy_vn.encoding_label(e)} sang Unicode" for e in sorted(reader.converted)]
    return DocumentText(
        filename=filename, format="docx", text=budget.text(), headings=reader.headings,
        tables=reader.tables, notes=notes + budget.notes,
    )
