"""Numbers in indicator cells, written the Vietnamese way and typed by hand.

"10.000" is ten thousand, "9,93" nine point nine three. Cells also carry
what a person adds around a number: a space (ordinary, no-break U+00A0,
thin U+2009, narrow no-break U+202F, figure U+2007) between thousands, a
footnote mark glued to the number ("1.250(1)", "310*", "1.000¹",
"45,5%²"), a percent sign, the unit ("1.250 lượt doanh nghiệp"). The
marks are dropped, the unit is returned apart; anything else is not a
number and the caller records it as a finding.

Cells come from senders: a cell longer than :data:`MAX_NUMBER_CHARS` is
never a number, so no pattern here runs over long text.
"""
from __future__ import annotations

import re

# A number with its unit and a footnote mark fits easily ("1.234.567,5 lượt doanh nghiệp (1)" is 33).
MAX_NUMBER_CHARS = 80

_EMPTY = {"", "-", "--", "–", "—", "x", "X", "...", "…", "/"}
# Spaces people (and Word) put between groups of thousands.
_SPACES = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ", "\u200a": " "})
# A footnote mark glued to what it marks: "(1)", "[2]", "*", "**", superscript digits.
_FOOTNOTE = re.compile(r"(?<=\S)(?:\(\d{1,2}\)|\[\d{1,2}\]|\*{1,3}|[\u00b9\u00b2\u00b3\u2070\u2074-\u2079]{1,3})$")
# Tried in order; each gives (pattern, thousands separators to drop, decimal mark).
_FORMATS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"[1-9]\d{0,2}(?:[. ]\d{3})+(?:,\d+)?"), ". ", ","),  # 10.000 / 1.234,5 / 10 000
    (re.compile(r"\d+(?:,\d+)?"), "", ","),  # 12 / 9,93 (a single comma is the decimal mark)
    (re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?"), ",", "."),  # 1,234,567 / 1,234.5 (English)
    (re.compile(r"\d*\.\d+"), "", "."),  # 0.5 / 2.75 (a dot not followed by a group of three)
)
# A number followed by a unit written in words: "1.250 lượt doanh nghiệp", "8 phòng thử nghiệm".
_QUANTITY = re.compile(r"^\s*([+-]?[\d][\d., ]*?)\s*([^\W\d_][^\d]*?)?\s*$")


def clean_cell(text: str | None) -> str:
    """The cell with its spaces made plain and a footnote mark glued to its end dropped ("45,5%²" -> "45,5%")."""
    cell = " ".join((text or "").translate(_SPACES).split())
    return _FOOTNOTE.sub("", cell).strip()


def parse_vn_number(text: str | None) -> float | None:
    """A number written the Vietnamese way, or None for an empty cell or a dash.

    "10.000" -> 10000, "1.234,5" -> 1234.5, "9,93 %" -> 9.93, "173,5%" -> 173.5,
    "12 000" -> 12000, "1.250(1)" -> 1250, "45,5%²" -> 45.5.
    Raises ValueError for a cell that is neither empty nor a number.
    """
    if text is not None and len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"không phải số: {text[:MAX_NUMBER_CHARS]!r}…")
    cell = clean_cell(text).rstrip("%").strip()
    if cell in _EMPTY:
        return None
    sign = -1.0 if cell.startswith("-") else 1.0
    digits = cell.lstrip("+-").strip()
    for pattern, thousands, decimal in _FORMATS:
        if pattern.fullmatch(digits):
            for mark in thousands:
                digits = digits.replace(mark, "")
            return sign * float(digits.replace(decimal, "."))
    raise ValueError(f"không phải số: {text!r}")


def parse_vn_quantity(text: str | None) -> tuple[float | None, str | None]:
    """A cell that may carry its unit: "1.250 lượt doanh nghiệp" -> (1250.0, "lượt doanh nghiệp").

    "0 %" -> (0.0, None): a percent sign is not a unit. A bare number or an
    empty cell has no unit. Raises ValueError like :func:`parse_vn_number`
    for anything else ("khoảng 5", "2021-2025").
    """
    try:
        return parse_vn_number(text), None
    except ValueError:
        if text is not None and len(text) > MAX_NUMBER_CHARS:
            raise
    match = _QUANTITY.match(clean_cell(text))
    if not match or not match.group(2):
        raise ValueError(f"không phải số: {text!r}")
    unit = " ".join(match.group(2).split()).strip(" .;:")
    if unit.startswith("%"):
        unit = unit[1:].strip()
    if not unit or not any(ch.isalpha() for ch in unit) or len(unit) > 60:
        raise ValueError(f"không phải số: {text!r}")
    return parse_vn_number(match.group(1)), unit


def is_number(cell: str) -> bool:
    """A cell holding a number (with or without its unit), not empty and not a dash."""
    try:
        return parse_vn_quantity(cell)[0] is not None
    except ValueError:
        return False


def is_year(cell: str) -> bool:
    """A bare year as a sub-header writes it ("2024"), not a count typed as "2.024"."""
    text = cell.strip()
    return len(text) == 4 and text.isascii() and text.isdigit() and 1990 <= int(text) <= 2100


def format_vn_number(value: float, decimals: int = 2) -> str:
    """1234.5 -> '1.234,5'; 80.0 -> '80' (for Vietnamese findings)."""
    text = f"{value:,.{decimals}f}".rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_vn_percent(value: float) -> str:
    """The one rule for a rate in a document: one decimal, Vietnamese comma (87 -> '87,0', 81.63 -> '81,6').

    A column of rates then reads alike ("87,0" beside "81,6", never "87" beside "81,6").
    """
    text = f"{value:,.1f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
