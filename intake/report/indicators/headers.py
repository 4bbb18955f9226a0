"""What each column of an indicator table holds, from its header.

Provinces word the header their own way ("Nội dung thực hiện", "Chỉ tiêu
theo Kế hoạch 05 năm", "Kết quả từ đầu Chương trình đến hết năm …", "% HT",
"(%)") and often write it on two rows: a merged parent ("Kết quả thực
hiện") over sub-columns ("Năm 2024 | Lũy kế", or bare years "2023 | 2024").
The docx reader writes a merged cell's text once, in its first grid column;
python-docx's own cell API repeats it across the span; both are read alike
here. All matching is on folded words, so with or without diacritics.

A table may give two targets (the year's plan and the five-year plan), two
rates, or results for several years. The row keeps the programme's own:
the five-year target, the reported (latest) year, the rate against the
five-year plan; the yearly ones are kept for the arithmetic check only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from intake.report.indicators.numbers import is_number, is_year
from reference.text import words

MAX_HEADER_ROWS = 3
MAX_HEADER_CHARS = 300  # a header is a few words; only its start is looked at
NUMERIC_ROLES = ("target", "result", "cumulative", "rate")

_ROLE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Order matters: "Tỷ lệ hoàn thành so với kế hoạch" is a rate, not a target;
    # "Lũy kế thực hiện" is cumulative, not the year's result.
    ("skip", ("stt", "tt", "so tt", "ghi chu")),
    ("unit", ("don vi tinh", "dvt", "don vi")),
    ("rate", ("ty le", "muc do hoan thanh", "so voi ke hoach", "so voi kh", "so voi chi tieu", "so voi muc tieu",
              "th kh", "so sanh")),
    # "Nội dung thực hiện" names the indicators, although it says "thực hiện".
    ("indicator", ("noi dung thuc hien", "noi dung cong viec", "ten chi tieu", "ten nhiem vu")),
    ("cumulative", ("luy ke", "cong don", "tu dau chuong trinh", "tu khi trien khai", "tu nam 2021",
                    "den nay", "tu dau giai doan")),
    ("result", ("ket qua", "thuc hien", "dat duoc", "uoc thuc hien")),
    ("target", ("muc tieu", "ke hoach", "chi tieu giai doan", "chi tieu nam", "chi tieu den nam",
                "chi tieu ke hoach", "duoc giao", "giai doan")),
    ("indicator", ("noi dung", "ten chi tieu", "nhiem vu", "hang muc", "danh muc", "chi tieu")),
)
# Abbreviations that open a header: "KH năm 2024", "TH 2024", "ƯTH năm 2024".
_LEADING_ABBREVIATIONS = {"kh": "target", "th": "result", "uth": "result"}
# Scope of a target or a rate: the programme's (five-year, cumulative) or the year's plan.
_PROGRAMME_WORDS = ("giai doan", "5 nam", "05 nam", "nam nam", "chuong trinh", "luy ke", "den nam",
                    "2021 2025", "2021 2030", "2026 2030")
_YEAR_WORDS = ("kh nam", "ke hoach nam", "chi tieu nam", "hang nam")
_YEAR_IN_WORDS = re.compile(r"\b(?:19|20|21)\d\d\b")


def role(header: str) -> str | None:
    """The role a header gives its column, or None when it says nothing by itself ("Năm 2024")."""
    folded = " " + words(header[:MAX_HEADER_CHARS]) + " "
    if " den het nam " in folded and (" ket qua " in folded or " thuc hien " in folded) \
            and not any(f" {p} " in folded for p in ("ty le", "noi dung thuc hien")):
        return "cumulative"  # "Kết quả từ … đến hết năm 2024", not a target "Chỉ tiêu đến hết năm 2025"
    found = next((r for r, phrases in _ROLE_RULES if any(f" {p} " in folded for p in phrases)), None)
    if found is None:
        found = _LEADING_ABBREVIATIONS.get(folded.split(" ", 2)[1] if folded.strip() else "")
    if "%" in header and found in (None, "rate"):
        return "rate"  # "%", "% HT", "(%)", "Đạt %": a percent sign and a word
    return found


def scope(header: str) -> str | None:
    """"programme" for a five-year or cumulative header, "year" for the year's plan, else None."""
    folded = " " + words(header[:MAX_HEADER_CHARS]) + " "
    if any(f" {p} " in folded for p in _PROGRAMME_WORDS):
        return "programme"
    if any(f" {p} " in folded for p in _YEAR_WORDS) or _YEAR_IN_WORDS.search(folded):
        return "year"
    return None


def latest_year(header: str) -> int:
    """The latest year a header names ("Năm 2024" -> 2024), -1 when none."""
    return max((int(y) for y in _YEAR_IN_WORDS.findall(words(header[:MAX_HEADER_CHARS]))), default=-1)


# ---- the header rows ----

def _is_title_row(row: list[str], below: list[str] | None) -> bool:
    """A caption typed as the table's first row ("Bảng 1. Kết quả …"), one cell across the width."""
    texts = {cell.strip() for cell in row if cell.strip()}
    return len(row) >= 3 and len(texts) == 1 and below is not None and sum(1 for c in below if c.strip()) >= 2


def fill_spans(upper: list[str], lower: list[str]) -> list[str]:
    """``upper`` with a merged parent's text over every column of its span.

    The docx reader leaves the parent's other columns empty; a column is in
    the span when it is empty above, has a sub-header below, and its left
    neighbour is in the span too (or is the parent).
    """
    filled = list(upper)
    for col in range(1, len(filled)):
        below = lower[col].strip() if col < len(lower) else ""
        left_below = lower[col - 1].strip() if col - 1 < len(lower) else ""
        if not filled[col].strip() and below and left_below and filled[col - 1].strip():
            filled[col] = filled[col - 1]
    return filled


def _is_year_subheader(row: list[str], above: list[str]) -> bool:
    """Bare years under a merged parent ("Kết quả thực hiện" over "2023 | 2024"): a header row, not data."""
    years = [col for col, cell in enumerate(row) if is_number(cell)]
    if not years or not all(is_year(row[col]) for col in years):
        return False
    parents = fill_spans(above, row)
    for col in years:
        parent = parents[col].strip() if col < len(parents) else ""
        shared = any(0 <= n < len(parents) and parents[n].strip() == parent and row[n].strip()
                     for n in (col - 1, col + 1))
        if not parent or not shared:
            return False
    return True


def header_bounds(grid: list[list[str]]) -> tuple[int, int]:
    """(first, end) of the header rows: a caption row is skipped; rows without numbers, or bare years under a
    merged parent, are header. ``first == end`` when the table opens with data."""
    first = 1 if grid and _is_title_row(grid[0], grid[1] if len(grid) > 1 else None) else 0
    end = first
    while end < len(grid) and end - first < MAX_HEADER_ROWS:
        row = grid[end]
        if any(is_number(cell) for cell in row) and not (end > first and _is_year_subheader(row, grid[end - 1])):
            break
        end += 1
    return first, end


# ---- columns ----

@dataclass(frozen=True)
class Column:
    index: int
    text: str  # the column's header words, parents first
    role: str | None


def _combined_role(parent: str, own: str) -> str | None:
    """The role of a sub-column: its own header says what it is, unless it says nothing by itself."""
    mine = None if words(own) == "chi tieu" else role(own)
    theirs = role(parent)
    if "rate" in (mine, theirs):
        return "rate"  # "(%)" under "Kết quả", "So với KH năm" under "Tỷ lệ"
    if theirs == "cumulative" and mine in (None, "result"):
        return "cumulative"  # "Thực hiện" under "Lũy kế từ đầu Chương trình"
    return mine if mine not in (None, "skip") else theirs


def columns(header: list[list[str]]) -> list[Column]:
    """Each column's header text and role, merged parents spread over their spans."""
    width = max((len(row) for row in header), default=0)
    rows = [row + [""] * (width - len(row)) for row in header]
    for level in range(len(rows) - 2, -1, -1):
        rows[level] = fill_spans(rows[level], rows[level + 1])
    out = []
    for col in range(width):
        levels: list[str] = []
        for row in rows:
            text = " ".join(row[col].split())
            if text and (not levels or levels[-1] != text):
                levels.append(text)
        if not levels:
            out.append(Column(col, "", None))
        elif len(levels) == 1:
            out.append(Column(col, levels[0], role(levels[0])))
        else:
            parent = " ".join(levels[:-1])
            out.append(Column(col, f"{parent} {levels[-1]}", _combined_role(parent, levels[-1])))
    return out


@dataclass(frozen=True)
class Layout:
    """Which column holds what; None where the table has no such column."""

    indicator: int | None = None
    unit: int | None = None
    target: int | None = None  # the programme's (five-year) target where there is one
    result: int | None = None  # the reported (latest) year
    cumulative: int | None = None
    rate: int | None = None  # the completion rate where there is one
    rate_scope: str | None = None  # scope() of the rate: "programme", "year" or None (the header does not say)
    target_scope: str | None = None
    year_target: int | None = None  # the year's plan beside a five-year target
    year_rate: int | None = None  # a rate against the year's plan beside the completion rate

    @property
    def is_indicator_table(self) -> bool:
        numeric = sum(1 for r in NUMERIC_ROLES if getattr(self, r) is not None)
        return self.indicator is not None and numeric >= 2


_SCOPE_ORDER = {"programme": 0, None: 1, "year": 2}


def _by_scope(candidates: list[Column]) -> tuple[Column | None, Column | None]:
    """(the programme's column, a yearly one beside it) among columns of one role."""
    if not candidates:
        return None, None
    ranked = sorted(candidates, key=lambda c: _SCOPE_ORDER[scope(c.text)])
    best = ranked[0]
    other = next((c for c in ranked[1:] if scope(c.text) == "year"), None)
    return best, other if scope(best.text) != "year" else None


def layout(header: list[list[str]], *, indicator_column: int | None = None) -> Layout:
    """The layout of a table from its header rows; ``indicator_column`` when the caller knows it."""
    cols = columns(header)
    by_role: dict[str, list[Column]] = {}
    bare_chi_tieu: list[Column] = []
    for col in cols:
        if col.role == "indicator" and words(col.text) == "chi tieu":
            bare_chi_tieu.append(col)
        elif col.role and col.role != "skip" and col.index != indicator_column:
            by_role.setdefault(col.role, []).append(col)
    # A bare "Chỉ tiêu" names the indicators unless another column already does,
    # in which case it is the target ("Nội dung | Chỉ tiêu | Thực hiện ...").
    for col in bare_chi_tieu:
        key = "indicator" if "indicator" not in by_role and indicator_column is None else "target"
        by_role.setdefault(key, [col])
    target, year_target = _by_scope(by_role.get("target", []))
    rate, year_rate = _by_scope(by_role.get("rate", []))
    results = by_role.get("result", [])
    result = max(results, key=lambda c: (latest_year(c.text), -c.index)) if results else None

    def first(name: str) -> int | None:
        return by_role[name][0].index if by_role.get(name) else None

    return Layout(
        indicator=indicator_column if indicator_column is not None else first("indicator"),
        unit=first("unit"),
        target=target.index if target else None,
        result=result.index if result else None,
        cumulative=first("cumulative"),
        rate=rate.index if rate else None,
        rate_scope=scope(rate.text) if rate else None,
        target_scope=scope(target.text) if target else None,
        year_target=year_target.index if year_target else None,
        year_rate=year_rate.index if year_rate else None,
    )
