"""Indicator tables: target, result of the year, cumulative, completion rate.

Reports carry a table of the programme's indicators (Chỉ tiêu / Kết quả năm /
Lũy kế / Tỷ lệ hoàn thành) in many wordings ("Nội dung thực hiện", "theo Kế
hoạch 05 năm", "Kết quả từ đầu Chương trình đến hết năm …"), often with a
two-row header whose top cells are merged, values that carry their unit in
the cell ("1.250 lượt doanh nghiệp", "112,5 %"), and, when the table runs
over a page break, a last part that is a second table without a header row. We find such tables by their header words
(folded, so with or without diacritics), read Vietnamese numbers ("10.000"
is ten thousand, "9,93" is nine point nine three), and check the arithmetic
a coordinator would check by hand: cumulative ÷ target × 100 ≈ rate. A
mismatch is a finding for the coordinator, never an error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from intake.model import DocumentText
from reference.text import words

RATE_TOLERANCE_POINTS = 0.6
RATE_TOLERANCE_RELATIVE = 0.01
MAX_HEADER_ROWS = 3


@dataclass
class IndicatorRow:
    indicator: str
    unit: str | None
    target: float | None
    result: float | None
    cumulative: float | None
    rate: float | None  # percent
    findings: list[str] = field(default_factory=list)


# ---- numbers ----

_EMPTY = {"", "-", "--", "–", "—", "x", "X", "...", "…", "/"}
# Tried in order; each gives (pattern, thousands separators to drop, decimal mark).
_FORMATS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"[1-9]\d{0,2}(?:[. ]\d{3})+(?:,\d+)?"), ". ", ","),  # 10.000 / 1.234,5 / 10 000
    (re.compile(r"\d+(?:,\d+)?"), "", ","),  # 12 / 9,93 (a single comma is the decimal mark)
    (re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?"), ",", "."),  # 1,234,567 / 1,234.5 (English)
    (re.compile(r"\d*\.\d+"), "", "."),  # 0.5 / 2.75 (a dot not followed by a group of three)
)


def parse_vn_number(text: str | None) -> float | None:
    """A number written the Vietnamese way, or None for an empty cell or a dash.

    "10.000" -> 10000, "1.234,5" -> 1234.5, "9,93 %" -> 9.93, "173,5%" -> 173.5.
    Raises ValueError for a cell that is neither empty nor a number.
    """
    cell = (text or "").replace("\u00a0", " ").replace("\u202f", " ").strip()
    cell = cell.rstrip("%").strip()
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


# A number followed by a unit written in words: "1.250 lượt doanh nghiệp", "8 phòng thử nghiệm".
_QUANTITY = re.compile(r"^\s*([+-]?[\d][\d., \u00a0\u202f]*?)\s*([^\W\d_][^\d]*?)?\s*$")


def parse_vn_quantity(text: str | None) -> tuple[float | None, str | None]:
    """A cell that may carry its unit: "1.250 lượt doanh nghiệp" -> (1250.0, "lượt doanh nghiệp").

    "0 %" -> (0.0, None): a percent sign is not a unit. A bare number or an
    empty cell has no unit. Raises ValueError like :func:`parse_vn_number`
    for anything else ("khoảng 5", "2021-2025").
    """
    try:
        return parse_vn_number(text), None
    except ValueError:
        pass
    cell = (text or "").replace("\u00a0", " ").replace("\u202f", " ").strip()
    match = _QUANTITY.match(cell)
    if not match or not match.group(2):
        raise ValueError(f"không phải số: {text!r}")
    unit = " ".join(match.group(2).split()).strip(" .;:")
    if unit.startswith("%"):
        unit = unit[1:].strip()
    if not unit or not any(ch.isalpha() for ch in unit) or len(unit) > 60:
        raise ValueError(f"không phải số: {text!r}")
    value = parse_vn_number(match.group(1))
    return value, unit


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


# ---- header recognition ----

_ROLE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Order matters: "Tỷ lệ hoàn thành so với kế hoạch" is a rate, not a target;
    # "Lũy kế thực hiện" is cumulative, not the year's result.
    ("skip", ("stt", "tt", "so tt", "ghi chu")),
    ("unit", ("don vi tinh", "dvt", "don vi")),
    ("rate", ("ty le", "muc do hoan thanh", "so voi ke hoach", "so voi kh", "so voi chi tieu", "so voi muc tieu")),
    # "Nội dung thực hiện" names the indicators, although it says "thực hiện".
    ("indicator", ("noi dung thuc hien", "noi dung cong viec", "ten chi tieu", "ten nhiem vu")),
    ("cumulative", ("luy ke", "cong don", "tu dau chuong trinh", "tu khi trien khai", "tu nam 2021",
                    "den nay", "tu dau giai doan")),
    ("result", ("ket qua", "thuc hien", "dat duoc", "uoc thuc hien")),
    ("target", ("muc tieu", "ke hoach", "chi tieu giai doan", "chi tieu nam", "chi tieu den nam",
                "chi tieu ke hoach", "duoc giao", "giai doan")),
    ("indicator", ("noi dung", "ten chi tieu", "nhiem vu", "hang muc", "danh muc", "chi tieu")),
)


def _role(header: str) -> str | None:
    folded = " " + words(header) + " "
    if " den het nam " in folded and (" ket qua " in folded or " thuc hien " in folded) \
            and not any(f" {p} " in folded for p in ("ty le", "noi dung thuc hien")):
        return "cumulative"  # "Kết quả từ … đến hết năm 2024", not a target "Chỉ tiêu đến hết năm 2025"
    for role, phrases in _ROLE_RULES:
        if any(f" {p} " in folded for p in phrases):
            return role
    return None


def _header_rows(grid: list[list[str]]) -> int:
    """Leading rows without any number: the header (merged two-row headers included)."""
    count = 0
    for row in grid[:MAX_HEADER_ROWS]:
        if any(_is_number(cell) for cell in row):
            break
        count += 1
    return count


def _is_number(cell: str) -> bool:
    try:
        return parse_vn_quantity(cell)[0] is not None
    except ValueError:
        return False


_COLUMN_NUMBERS = re.compile(r"^\(?\s*[\dA-Za-z]{1,2}\s*\)?(?:\s*[=*/x:+-]\s*\(?\s*[\dA-Za-z]{1,2}\s*\)?)*$")


def _is_column_numbering(row: list[str]) -> bool:
    """The "(1) (2) (3)=(2)/(1)" row many tables have under their header."""
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and all(_COLUMN_NUMBERS.match(c) for c in cells) and any("(" in c for c in cells)


def _column_roles(grid: list[list[str]], header_rows: int) -> dict[str, int]:
    width = max(len(row) for row in grid)
    headers = [" ".join(row[col] for row in grid[:header_rows] if col < len(row) and row[col].strip())
               for col in range(width)]
    if header_rows > 1:
        # Under a merged "Kết quả thực hiện" the sub-header says what the column is ("Kế hoạch năm 2024",
        # "Lũy kế"); only a sub-header that says nothing by itself ("Năm 2024") takes the joined wording.
        for col in range(width):
            below = [row[col] for row in grid[1:header_rows] if col < len(row) and row[col].strip()]
            if below and _role(below[-1]) not in (None, "skip") and words(below[-1]) != "chi tieu":
                headers[col] = below[-1]
    roles: dict[str, int] = {}
    bare_chi_tieu: list[int] = []
    for col, header in enumerate(headers):
        role = _role(header)
        if role == "indicator" and words(header) == "chi tieu":
            bare_chi_tieu.append(col)
            continue
        if role and role != "skip" and role not in roles:
            roles[role] = col
    # A bare "Chỉ tiêu" names the indicators unless another column already does,
    # in which case it is the target ("Nội dung | Chỉ tiêu | Thực hiện ...").
    for col in bare_chi_tieu:
        key = "indicator" if "indicator" not in roles else "target"
        roles.setdefault(key, col)
    return roles


def is_indicator_table(grid: list[list[str]]) -> bool:
    if len(grid) < 2:
        return False
    header_rows = _header_rows(grid)
    if header_rows == 0:
        return False
    roles = _column_roles(grid, header_rows)
    numeric = sum(1 for r in ("target", "result", "cumulative", "rate") if r in roles)
    return "indicator" in roles and numeric >= 2


# ---- rows ----

def _cell(row: list[str], col: int | None) -> str:
    return row[col].strip() if col is not None and col < len(row) else ""


def _rate_finding(row: IndicatorRow) -> str | None:
    numerator, label = (row.cumulative, "lũy kế") if row.cumulative is not None else (row.result, "kết quả năm")
    if row.rate is None or numerator is None or row.target is None:
        return None
    if row.target == 0:
        return "chỉ tiêu bằng 0, không tính được tỷ lệ hoàn thành"
    computed = numerator / row.target * 100
    diff = abs(computed - row.rate)
    if diff <= RATE_TOLERANCE_POINTS or diff <= RATE_TOLERANCE_RELATIVE * abs(row.rate):
        return None
    return (f"tỷ lệ hoàn thành ghi {format_vn_number(row.rate)}% nhưng {label} "
            f"{format_vn_number(numerator)} ÷ chỉ tiêu {format_vn_number(row.target)} = "
            f"{format_vn_number(computed, 1)}%")


def _read_row(row: list[str], roles: dict[str, int]) -> IndicatorRow | None:
    name = " ".join(_cell(row, roles.get("indicator")).split())
    values: dict[str, float | None] = {}
    findings: list[str] = []
    labels = {"target": "chỉ tiêu", "result": "kết quả năm", "cumulative": "lũy kế", "rate": "tỷ lệ"}
    cell_units: list[str] = []
    for role in ("target", "result", "cumulative", "rate"):
        raw = _cell(row, roles.get(role))
        try:
            values[role], cell_unit = parse_vn_quantity(raw)
            if cell_unit and role != "rate":
                cell_units.append(cell_unit)
        except ValueError:
            values[role] = None
            findings.append(f"ô {labels[role]} không đọc được thành số: “{raw}”")
    if not name or (all(v is None for v in values.values()) and not findings):
        return None  # group titles ("I. Nhóm chỉ tiêu...") and blank rows
    unit = " ".join(_cell(row, roles.get("unit")).split()) or (cell_units[0] if cell_units else None)
    item = IndicatorRow(indicator=name, unit=unit, target=values["target"], result=values["result"],
                        cumulative=values["cumulative"], rate=values["rate"], findings=findings)
    finding = _rate_finding(item)
    if finding:
        item.findings.append(finding)
    return item


def _width(grid: list[list[str]]) -> int:
    return max((len(row) for row in grid), default=0)


def rows_of_table(grid: list[list[str]]) -> list[IndicatorRow]:
    """Indicator rows of one table grid, or [] when it is not an indicator table."""
    if not is_indicator_table(grid):
        return []
    header_rows = _header_rows(grid)
    return _read_rows(grid[header_rows:], _column_roles(grid, header_rows))


def _is_continuation(grid: list[list[str]], width: int) -> bool:
    """The part of a table after a page break: same columns, no header row, some numbers."""
    if _width(grid) != width or not any(_is_number(cell) for row in grid for cell in row):
        return False
    first = next(row for row in grid if any(cell.strip() for cell in row))
    if any(_is_number(cell) for cell in first):
        return True
    return not any(len(cell) < 40 and _role(cell) in ("target", "result", "cumulative", "rate", "unit")
                   for cell in first)


def _read_rows(body: list[list[str]], roles: dict[str, int]) -> list[IndicatorRow]:
    rows = []
    for row in body:
        if _is_column_numbering(row):
            continue
        item = _read_row(row, roles)
        if item is not None:
            rows.append(item)
    return rows


def extract_indicators(docs: list[DocumentText]) -> list[IndicatorRow]:
    """Rows of every indicator table; a headerless table right after one continues it."""
    found: list[IndicatorRow] = []
    for doc in docs:
        roles: dict[str, int] | None = None  # of the indicator table just read, for its continuation
        width = 0
        for grid in doc.tables:
            if not grid or not any(row for row in grid):
                continue
            if is_indicator_table(grid):
                header_rows = _header_rows(grid)
                roles, width = _column_roles(grid, header_rows), _width(grid)
                found.extend(_read_rows(grid[header_rows:], roles))
            elif roles is not None and _is_continuation(grid, width):
                found.extend(_read_rows(grid, roles))
            else:
                roles = None
    return found
