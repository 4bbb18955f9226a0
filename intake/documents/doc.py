"""Reading legacy Word 97-2003 (.doc) files with antiword, or LibreOffice when present.

Neither has a maintained pure-Python equivalent for the binary format, so
we call the converter on a copy in a private temporary folder, with a
timeout. Without a converter the report goes to a coordinator.

antiword's text leaves out the numbers Word generates for a numbered list
(its text mode prints a list number only for an indented item, and then only
that level's digit): a report whose "2. Kết quả…", "2.1.", … "2.6." are a Word
list arrives as unnumbered lines, and the outline check found no I.2 at all.
Its DocBook output keeps what the text lost: which paragraphs are items of a
numbered list, and which are Word headings (chapter/sect1…). The headings of a
.doc are read from there, the way the .docx reader reads numbering and styles;
the text itself stays antiword's text.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from intake.documents import legacy_vn
from intake.documents.budget import Budget
from intake.documents.containers import is_encrypted_office
from intake.documents.numbering import (
    LevelTracker,
    Numbered,
    align_lines,
    has_roman_headings,
    parse_numbered,
)
from intake.documents.plain import finish_text
from intake.documents.tools import ToolError, find_tool, run_tool
from intake.model import DocumentText
from reference.text import nfc

NO_DOC_TOOL = "Tệp Word cũ (.doc): máy chủ chưa cài antiword hoặc LibreOffice để đọc"
_MAX_SECONDS = 60.0


# DocBook numeration of a Word list -> the kind of numbering it stands for (numbering.Numbered.kind)
_LIST_KINDS = {"upperroman": "roman", "upperalpha": "capital", "arabic": "arabic",
               "loweralpha": "letter", "lowerroman": "letter"}
_SECTION_LEVELS = {"chapter": 1, **{f"sect{n}": n + 1 for n in range(1, 6)}}
_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True)


@dataclass(frozen=True)
class Marked:
    """A paragraph antiword's DocBook says more about than its text: a Word heading or a numbered-list item."""

    text: str
    heading_level: int | None = None  # Word heading style: 1 for "Heading 1" (chapter), 2 for sect1…
    list_kind: str | None = None  # numbering of a Word list item: roman, capital, arabic or letter


def _run_antiword(path: Path, budget: Budget, mode: list[str]) -> str:
    binary = find_tool("antiword")
    if binary is None:
        raise ToolError("chưa cài antiword")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(path.parent), "LC_ALL": "C.UTF-8"}
    out = run_tool([binary, *mode, str(path)], timeout=min(_MAX_SECONDS, budget.remaining_seconds()), env=env)
    return out.decode("utf-8", "replace")


def _antiword(path: Path, budget: Budget) -> str:
    return _run_antiword(path, budget, ["-m", "UTF-8.txt", "-w", "0"])


def _text_of(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def docbook_structure(xml: str) -> list[Marked]:
    """The Word headings and numbered-list items of antiword's DocBook output, in document order.

    Bullets and plain paragraphs are left out. Broken XML gives what could be
    recovered, possibly nothing; entities and the DTD are never fetched.
    """
    try:
        root = etree.fromstring(xml.encode("utf-8"), _XML)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    marked: list[Marked] = []
    for element in root.iter("title", "listitem"):
        parent = element.getparent()
        if element.tag == "title":
            level = _SECTION_LEVELS.get(parent.tag) if parent is not None and isinstance(parent.tag, str) else None
            if level is not None and _text_of(element):
                marked.append(Marked(_text_of(element), heading_level=level))
            continue
        kind = _LIST_KINDS.get(parent.get("numeration", "")) if parent is not None else None
        para = element.find("para")
        text = _text_of(para if para is not None else element)
        if parent is not None and parent.tag == "orderedlist" and kind is not None and text:
            marked.append(Marked(text, list_kind=kind))
    return marked


def doc_headings(text: str, marked: list[Marked]) -> list[tuple[int, str]]:
    """Heading candidates of a .doc's text: typed numbering, Word list items and Word headings.

    A list item counts as numbered like a typed heading of its kind. antiword cannot say
    how deep an arabic item is ("2." or "2.1."), so it is taken as a first arabic level,
    which the outline check allows to stand for a section one level deeper.
    """
    lines = [" ".join(line.split()) for line in text.splitlines()]
    found = align_lines(lines, [m.text for m in marked])
    marks = {index: m for index, m in zip(found, marked, strict=False) if index >= 0}
    roman = has_roman_headings(lines) or any(m.list_kind in ("roman", "capital") for m in marks.values())
    tracker = LevelTracker(roman)
    headings = []
    for index, line in enumerate(lines):
        if not line:
            continue
        mark = marks.get(index, Marked(line))
        numbered = parse_numbered(line)
        if numbered is None and mark.list_kind is not None:
            numbered = Numbered(mark.list_kind, "", 1, line)
        if numbered is not None:
            headings.append((mark.heading_level or tracker.level(numbered), line))
        elif mark.heading_level is not None:
            headings.append((mark.heading_level, line))
    return headings


def _structure(path: Path, budget: Budget, raw_text: str) -> list[Marked]:
    """The marked paragraphs, decoded as the text is (TCVN3/VNI repaired); none when antiword cannot say."""
    try:
        marked = docbook_structure(_run_antiword(path, budget, ["-x", "db"]))
    except ToolError:
        return []
    encoding = legacy_vn.detect_encoding(nfc(raw_text))
    if encoding is None:
        return [replace(m, text=nfc(m.text)) for m in marked]
    return [replace(m, text=legacy_vn.convert_line(nfc(m.text), encoding)) for m in marked]


def _soffice(path: Path, budget: Budget) -> str:
    binary = find_tool("soffice")
    if binary is None:
        raise ToolError("chưa cài LibreOffice")
    outdir = path.parent / "out"
    profile = path.parent / "profile"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(path.parent)}
    run_tool([binary, "--headless", "--norestore", "--nolockcheck", f"-env:UserInstallation={profile.as_uri()}",
              "--convert-to", "txt:Text (encoded):UTF8", "--outdir", str(outdir), str(path)],
             timeout=min(_MAX_SECONDS * 2, budget.remaining_seconds()), env=env)
    produced = outdir / (path.stem + ".txt")
    if not produced.exists():
        raise ToolError("LibreOffice không tạo ra văn bản")
    return produced.read_text("utf-8-sig", "replace")  # its text starts with a BOM, which is not a space


def read_doc(filename: str, data: bytes, budget: Budget) -> DocumentText:
    doc = DocumentText(filename=filename, format="doc")
    if is_encrypted_office(data):
        doc.needs_review = "Tệp Word có mật khẩu, không đọc được nội dung"
        return doc
    if find_tool("antiword") is None and find_tool("soffice") is None:
        doc.notes.append("chưa đọc được tệp .doc: máy chủ thiếu công cụ chuyển đổi")
        doc.needs_review = NO_DOC_TOOL
        return doc
    errors: list[str] = []
    text: str | None = None
    marked: list[Marked] = []
    with tempfile.TemporaryDirectory(prefix="tdc-doc-") as tmp:
        path = Path(tmp) / "input.doc"
        path.write_bytes(data)
        for converter in (_antiword, _soffice):
            try:
                text = converter(path, budget)
            except ToolError as exc:
                errors.append(str(exc).replace(str(path), filename))
                continue
            if converter is _antiword:
                marked = _structure(path, budget, text)  # LibreOffice's text keeps list numbers itself
            break
    if text is None:
        doc.notes.append("không đọc được tệp: " + "; ".join(errors))
        doc.needs_review = "Không đọc được tệp Word (.doc): tệp hỏng hoặc định dạng không đúng"
        return doc
    doc = finish_text(doc, text, budget)
    if marked:
        doc.headings = doc_headings(doc.text, marked)
    return doc
