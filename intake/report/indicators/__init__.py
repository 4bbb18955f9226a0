"""Indicator tables: target, result of the year, cumulative, completion rate.

Reports carry a table of the programme's indicators (Chỉ tiêu / Kết quả năm /
Lũy kế / Tỷ lệ hoàn thành) in many wordings and shapes: a rate column headed
only "%" or "(%)", a two-row header with merged parents over years, the
table transposed (indicators as columns), units and footnote marks in the
value cells, spaces between thousands, a table split over a page break, an
HTML table in the body of the mail (``intake.documents.html_tables`` turns
it into the same grid). We find such tables by their header words (folded,
so with or without diacritics), read Vietnamese numbers ("10.000" is ten
thousand, "9,93" is nine point nine three), and check the arithmetic a
coordinator would check by hand: rate ≈ cumulative (or the year's result) ÷
target × 100, cumulative ≥ result. A mismatch is a finding for the
coordinator, never an error.

Modules: ``numbers`` (cells to numbers), ``headers`` (what each column
holds), ``checks`` (the arithmetic), ``row`` (the row and its findings),
``table`` (orientation, continuation, the document walk).
"""
from __future__ import annotations

from intake.report.indicators.checks import RATE_TOLERANCE_POINTS, RATE_TOLERANCE_RELATIVE
from intake.report.indicators.headers import MAX_HEADER_ROWS
from intake.report.indicators.numbers import format_vn_number, format_vn_percent, parse_vn_number, parse_vn_quantity
from intake.report.indicators.row import (
    CHECK_CODES,
    CUMULATIVE_BELOW_RESULT,
    RATE_MISMATCH,
    UNREADABLE_CELL,
    ZERO_TARGET,
    IndicatorRow,
    RowCheck,
)
from intake.report.indicators.table import MAX_ROWS, extract_indicators, is_indicator_table, rows_of_table

__all__ = [
    "CHECK_CODES", "CUMULATIVE_BELOW_RESULT", "MAX_HEADER_ROWS", "MAX_ROWS", "RATE_MISMATCH",
    "RATE_TOLERANCE_POINTS", "RATE_TOLERANCE_RELATIVE", "UNREADABLE_CELL", "ZERO_TARGET", "IndicatorRow",
    "RowCheck", "extract_indicators", "format_vn_number", "format_vn_percent", "is_indicator_table",
    "parse_vn_number", "parse_vn_quantity", "rows_of_table",
]
