"""Tables of an HTML mail body as grids, the shape the docx reader gives (``DocumentText.tables``).

Some agencies write the report in the body of the mail, its indicator table
an HTML ``<table>`` (Outlook, Gmail, webmail editors). Each table becomes a
list of rows of cell texts on its grid: ``colspan``/``rowspan`` are
expanded so every row is as wide as the table and a value stays under its
header; as the docx reader does with a merged cell, the text is written once,
in the span's top-left grid cell, and the other cells of the span are empty
(so a merged value is never counted twice when indicators are summed).
Paragraphs and ``<br>`` inside a cell become line breaks, as the docx reader
joins a cell's paragraphs. A table nested in a cell (layout tables around
the real one) is a table of its own, listed where it starts; its text is not
repeated in the outer cell.

The body is the sender's. It is parsed by libxml2's HTML parser through
lxml (already what the docx reader parses with): linear time on broken
markup, where the standard library's ``html.parser`` on Python 3.11 takes
minutes over a few hundred kB of unclosed tags ("<a<a<a…") and raises on
"<![". Every size is capped: the HTML read, tables, rows, columns, spans,
the characters of a cell.
"""
from __future__ import annotations

from lxml import etree

MAX_HTML_CHARS = 2_000_000
MAX_TABLES = 100
MAX_ROWS = 500
MAX_COLUMNS = 64
MAX_CELL_CHARS = 2_000
MAX_GRID_CELLS = 200_000  # over all tables, spans expanded
_MAX_SPAN_STEPS = 4 * MAX_ROWS * MAX_COLUMNS  # per table: overlapping spans may cover a grid cell again and again

_SKIP = {"script", "style", "head", "title", "template", "noscript", "table"}  # a nested table is read on its own
_LINE_BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}
_SECTIONS = {"thead", "tbody", "tfoot"}


def _span(value: str | None, cap: int) -> int:
    """A colspan/rowspan attribute as browsers read it: a positive integer, 1 when absent or malformed."""
    text = (value or "").strip()
    leading = len(text) - len(text.lstrip("0123456789"))  # "2", "2px" and "02" are 2; "x2" is 1
    return max(1, min(int(text[:min(leading, 6)]), cap)) if leading else 1


class _Text:
    """Pieces of a cell's text, stopped at MAX_CELL_CHARS."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str | None) -> None:
        if text and self.size < MAX_CELL_CHARS:
            self.parts.append(text)
            self.size += len(text)

    def lines(self) -> str:
        joined = "".join(self.parts)[:MAX_CELL_CHARS].replace("\u00a0", " ").replace("\r", " ")
        return "\n".join(" ".join(line.split()) for line in joined.split("\n") if line.strip())


def _cell_text(cell: etree._Element) -> str:
    """The text of a cell, one line per paragraph or <br>, without nested tables (an iterative walk: no
    recursion on a sender's nesting). Line breaks in the source are spaces, as a browser shows them."""
    out = _Text()
    out.add((cell.text or "").replace("\n", " "))
    stack: list[tuple[etree._Element, bool]] = [(child, True) for child in reversed(cell)]
    while stack and out.size < MAX_CELL_CHARS:
        node, opening = stack.pop()
        tag = node.tag if isinstance(node.tag, str) else ""
        if opening:
            stack.append((node, False))
            out.add("\n" if tag in _LINE_BREAKS or tag == "table" else "")
            if tag not in _SKIP:
                out.add((node.text or "").replace("\n", " "))
                stack.extend((child, True) for child in reversed(node))
        else:
            out.add("\n" if tag in _LINE_BREAKS or tag == "table" else "")
            out.add((node.tail or "").replace("\n", " "))
    return out.lines()


def _rows(table: etree._Element) -> list[list[etree._Element]]:
    """The table's own rows (not a nested table's), each its td/th cells, capped. Cells written straight
    into the table or a tbody, without a <tr>, make a row, as a browser shows them."""
    rows: list[list[etree._Element]] = []
    loose: list[etree._Element] | None = None
    for child in (c for top in table for c in (top if top.tag in _SECTIONS else [top])):
        if child.tag == "tr":
            loose = None
            rows.append([c for c in child if c.tag in ("td", "th")][:MAX_COLUMNS])
        elif child.tag in ("td", "th"):
            if loose is None:
                loose = []
                rows.append(loose)
            if len(loose) < MAX_COLUMNS:
                loose.append(child)
        if len(rows) > MAX_ROWS:
            break
    return rows[:MAX_ROWS]


def _grid(rows: list[list[etree._Element]]) -> list[list[str]]:
    """The rows on the table's grid, spans expanded (text in the top-left grid cell of each span)."""
    taken: dict[tuple[int, int], str] = {}
    steps = 0
    for r, row in enumerate(rows):
        col = 0
        for cell in row:
            while (r, col) in taken:
                col += 1
            if col >= MAX_COLUMNS or steps > _MAX_SPAN_STEPS:
                break
            rowspan, colspan = _span(cell.get("rowspan"), MAX_ROWS), _span(cell.get("colspan"), MAX_COLUMNS)
            taken[(r, col)] = _cell_text(cell)
            for dr in range(min(rowspan, len(rows) - r)):
                for dc in range(min(colspan, MAX_COLUMNS - col)):
                    taken.setdefault((r + dr, col + dc), "")
            steps += rowspan * colspan
            col += colspan
    width = max((c + 1 for (_, c) in taken), default=0)
    return [[taken.get((r, c), "") for c in range(width)] for r in range(len(rows))]


def html_tables(html: str) -> list[list[list[str]]]:
    """Every ``<table>`` of ``html`` as rows of cell texts, in the order the tables start; empty ones dropped."""
    if not html.strip():
        return []
    parser = etree.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True)
    root = etree.fromstring(html[:MAX_HTML_CHARS].encode("utf-8", "replace"), parser)
    if root is None:
        return []
    grids: list[list[list[str]]] = []
    cells = 0
    for table in root.iter("table"):
        if len(grids) >= MAX_TABLES:
            break
        grid = _grid(_rows(table))
        cells += sum(len(row) for row in grid)
        if cells > MAX_GRID_CELLS:
            break
        if any(cell for row in grid for cell in row):
            grids.append(grid)
    return grids
