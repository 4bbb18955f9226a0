"""Reading the rows of indicator tables, in the orientations and pieces reports use.

A table is read with its indicators as rows; failing that, transposed
(indicators as columns, "Kế hoạch / Thực hiện / Lũy kế / Tỷ lệ" as rows).
When a table runs over a page break its last part is often a second table
with no header row: a headerless table right after an indicator table, with
its width, continues it.

Tables come from senders: at most :data:`MAX_TABLE_ROWS` rows of
:data:`MAX_TABLE_COLUMNS` cells are looked at per table, and at most
:data:`MAX_ROWS` indicator rows are returned per call.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from intake.model import DocumentText
from intake.report.indicators.checks import (
    CUMULATIVE,
    EITHER,
    RESULT,
    RateClaim,
    cumulative_check,
    numerators,
    rate_check,
)
from intake.report.indicators.headers import Layout, header_bounds, layout, role
from intake.report.indicators.numbers import is_number, parse_vn_quantity
from intake.report.indicators.row import UNREADABLE_CELL, IndicatorRow

MAX_TABLE_ROWS = 500  # a real indicator table has tens
MAX_TABLE_COLUMNS = 64  # the docx reader's own cap on a merged cell's span
MAX_ROWS = 2_000  # per call, over all documents
_MAX_LABEL_CHARS = 60  # a row label of a transposed table ("Lũy kế đến hết năm 2024")
_LABELS = {"target": "chỉ tiêu", "result": "kết quả năm", "cumulative": "lũy kế", "rate": "tỷ lệ"}


def bounded(grid: list[list[str]]) -> list[list[str]]:
    """The part of a sender's table that is read, every row as wide as the widest."""
    rows = [list(row[:MAX_TABLE_COLUMNS]) for row in grid[:MAX_TABLE_ROWS]]
    width = max((len(row) for row in rows), default=0)
    return [row + [""] * (width - len(row)) for row in rows]


@dataclass(frozen=True)
class Reading:
    """How one table is read: its layout, its data rows (oriented as indicator rows), and its width."""

    layout: Layout
    body: list[list[str]]
    width: int


def _normal(grid: list[list[str]]) -> Reading | None:
    first, end = header_bounds(grid)
    if end == first:
        return None
    found = layout(grid[first:end])
    return Reading(found, grid[end:], len(grid[0])) if found.is_indicator_table else None


def _label_column(grid: list[list[str]]) -> int | None:
    """The column naming the rows of a transposed table: two or more of Kế hoạch / Thực hiện / Lũy kế / Tỷ lệ."""
    for col in range(min(2, len(grid[0]))):
        roles = {role(row[col]) for row in grid if len(row[col]) <= _MAX_LABEL_CHARS}
        if len(roles & {"target", "result", "cumulative", "rate"}) >= 2:
            return col
    return None


def _transposed(grid: list[list[str]]) -> Reading | None:
    """The table read with its columns as rows, from its label column on (a "TT" column before it is dropped)."""
    label = _label_column(grid)
    if label is None:
        return None
    turned = [[row[col] for row in grid] for col in range(label, len(grid[0]))]
    if len(turned) < 2 or any(is_number(cell) for cell in turned[0]):
        return None
    found = layout([turned[0]], indicator_column=0)
    # Two indicators at least: "Nội dung | Số lượng" over "Kế hoạch được ban hành | 2" is a list, not a table turned.
    if not found.is_indicator_table or sum(any(is_number(cell) for cell in row) for row in turned[1:]) < 2:
        return None
    return Reading(found, turned[1:], -1)  # width -1: a transposed table has no continuation


def reading(grid: list[list[str]]) -> Reading | None:
    """How to read a table as an indicator table, or None when it is not one."""
    grid = bounded(grid)
    if len(grid) < 2 or not grid[0]:
        return None
    return _normal(grid) or _transposed(grid)


# ---- rows ----

_COLUMN_NUMBERS = re.compile(r"^\(?\s*[\dA-Za-z]{1,2}\s*\)?(?:\s*[=*/x:+-]\s*\(?\s*[\dA-Za-z]{1,2}\s*\)?)*$")


def _is_column_numbering(row: list[str]) -> bool:
    """The "(1) (2) (3)=(2)/(1)" row many tables have under their header."""
    cells = [c.strip() for c in row if c.strip()]
    return (bool(cells) and all(len(c) <= 24 and _COLUMN_NUMBERS.match(c) for c in cells)
            and any("(" in c for c in cells))


def _cell(row: list[str], col: int | None) -> str:
    return row[col].strip() if col is not None and col < len(row) else ""


def _quiet(row: list[str], col: int | None) -> float | None:
    """A cell read only for a check: unreadable is simply absent."""
    try:
        return parse_vn_quantity(_cell(row, col))[0]
    except ValueError:
        return None


def _rate_basis(found: Layout) -> str:
    """What the row's rate is the quotient of: its header says, else a yearly-only target makes it the year's."""
    if found.rate_scope == "programme":
        return CUMULATIVE
    if found.rate_scope == "year" or found.target_scope == "year":
        return RESULT
    return EITHER


def _claims(item: IndicatorRow, row: list[str], found: Layout) -> list[RateClaim]:
    """The written rates of a row and the quotients they should equal."""
    basis = _rate_basis(found)
    if basis == RESULT and found.year_target is not None:  # "So với KH năm" beside a five-year target
        claims = [RateClaim(item.rate, numerators(basis, item.result, None), _quiet(row, found.year_target),
                            rate_label="tỷ lệ so với kế hoạch năm", target_label="kế hoạch năm")]
    else:
        claims = [RateClaim(item.rate, numerators(basis, item.result, item.cumulative), item.target)]
    if found.year_rate is not None:
        year_target = _quiet(row, found.year_target) if found.year_target is not None else item.target
        claims.append(RateClaim(_quiet(row, found.year_rate), numerators(RESULT, item.result, None), year_target,
                                rate_label="tỷ lệ so với kế hoạch năm", target_label="kế hoạch năm"))
    return claims


def read_row(row: list[str], found: Layout) -> IndicatorRow | None:
    """One indicator row with its checks, or None for a group title ("I. Nhóm chỉ tiêu …") or a blank row."""
    name = " ".join(_cell(row, found.indicator).split())
    values: dict[str, float | None] = {}
    unreadable: list[str] = []
    cell_units: list[str] = []
    for key in ("target", "result", "cumulative", "rate"):
        raw = _cell(row, getattr(found, key))
        try:
            values[key], cell_unit = parse_vn_quantity(raw)
        except ValueError:
            values[key], cell_unit = None, None
            unreadable.append(f"ô {_LABELS[key]} không đọc được thành số: “{raw[:80]}”")
        if cell_unit and key != "rate":
            cell_units.append(cell_unit)
    if not name or (all(v is None for v in values.values()) and not unreadable):
        return None
    unit = " ".join(_cell(row, found.unit).split()) or (cell_units[0] if cell_units else None)
    item = IndicatorRow(indicator=name, unit=unit, target=values["target"], result=values["result"],
                        cumulative=values["cumulative"], rate=values["rate"])
    for text in unreadable:
        item.note(UNREADABLE_CELL, text)
    for check in (*map(rate_check, _claims(item, row, found)), cumulative_check(item.result, item.cumulative)):
        if check is not None:
            item.note(check.code, check.text)
    return item


def read_rows(body: list[list[str]], found: Layout, limit: int = MAX_ROWS) -> list[IndicatorRow]:
    rows: list[IndicatorRow] = []
    for row in body:
        if len(rows) >= limit:
            break
        if _is_column_numbering(row):
            continue
        item = read_row(row, found)
        if item is not None:
            rows.append(item)
    return rows


# ---- tables and documents ----

def is_indicator_table(grid: list[list[str]]) -> bool:
    return reading(grid) is not None


def rows_of_table(grid: list[list[str]]) -> list[IndicatorRow]:
    """Indicator rows of one table grid, or [] when it is not an indicator table."""
    found = reading(grid)
    return read_rows(found.body, found.layout) if found else []


def _is_continuation(grid: list[list[str]], width: int) -> bool:
    """The part of a table after a page break: same columns, no header row, some numbers.

    A header names two columns at least ("Kế hoạch", "Thực hiện"); a group title opening the part
    ("II | Kết quả đào tạo nguồn nhân lực") names one thing, even when it says "kết quả".
    """
    if not grid or len(grid[0]) != width or not any(is_number(cell) for row in grid for cell in row):
        return False
    first = next(row for row in grid if any(cell.strip() for cell in row))
    if any(is_number(cell) for cell in first):
        return True
    headers = sum(1 for cell in first
                  if len(cell) < 40 and role(cell) in ("target", "result", "cumulative", "rate", "unit"))
    return headers < 2


def extract_indicators(docs: list[DocumentText]) -> list[IndicatorRow]:
    """Rows of every indicator table; a headerless table right after one continues it."""
    found: list[IndicatorRow] = []
    for doc in docs:
        previous: Reading | None = None  # the indicator table just read, for its continuation
        for raw in doc.tables:
            if len(found) >= MAX_ROWS:
                return found
            grid = bounded(raw)
            if not grid or not any(any(cell.strip() for cell in row) for row in grid):
                continue
            current = reading(grid)
            if current is not None:
                found.extend(read_rows(current.body, current.layout, MAX_ROWS - len(found)))
                previous = current
            elif previous is not None and _is_continuation(grid, previous.width):
                found.extend(read_rows(grid, previous.layout, MAX_ROWS - len(found)))
            else:
                previous = None
    return found
