"""Reports with the annual report's title that are not the annual report.

Why: two kinds of report say "Báo cáo kết quả thực hiện Chương trình …" just
as a province's annual report does, and would be filed as one:

* a six-month, nine-month, quarterly or monthly report ("6 tháng đầu năm
  2025", "quý III"): kind "periodic", never the annual report;
* the report of a national task under the programme, carried out by a
  company or an institute ("Mã số: NSCL.2024.05", "Tổ chức chủ trì: Công ty
  CP …"), which names the provinces it worked in: not a province's report.

Only titles and a document's own particulars (the lines above its first
section) are read: an annual report citing its first half or a task among
its results stays the annual report.
"""
from __future__ import annotations

import re

from intake.classify.zones import excerpt
from intake.documents.numbering import parse_numbered
from reference.text import words

# Periods shorter than the year, folded: "6 thang dau nam", "quy iii nam", "bao cao 9 thang", "bc thang 10".
_PERIODIC = re.compile(
    r"\b(0?6|sau|0?9|chin) thang (dau |cuoi )?nam\b"
    r"|\b(bao cao|bc|ket qua|so ket|thuc hien|trong) (0?6|sau|0?9|chin) thang\b"
    r"|\b(quy|q) ?(i{1,3}|iv|[1-4])( nam| 20\d\d|$)|\bhang quy\b|\bnua (dau |cuoi )?nam\b"
    r"|\b(bao cao|bc) thang \d{1,2}\b"
)
# A national task's code and its host organisation, folded.
_TASK_CODE = re.compile(r"\bnscl ?\d{4} ?\d{1,3}\b|\bma so nhiem vu\b")
_TASK_HOST = re.compile(r"^(to chuc|don vi|co quan) chu tri( nhiem vu)?\b")
_PARTICULAR_LINES = 25


def periodic_phrase(text: str) -> str | None:
    """The shorter period a report title names ("6 thang dau nam", "quy iii nam"), or None for an annual one."""
    match = _PERIODIC.search(words(text))
    return match.group() if match else None


def _before_first_section(lines: list[str]) -> list[str]:
    """The lines above the first numbered section ("I.", "1.", "A."): the document's own particulars."""
    for index, line in enumerate(lines):
        if parse_numbered(line) is not None:
            return lines[:index]
    return lines


def national_task(title: str, body: str) -> str | None:
    """Why a report is a national task's (its code, its host organisation), or None."""
    head = _before_first_section(body.splitlines()[:_PARTICULAR_LINES])
    code = next((m.group() for text in [title, *head] if (m := _TASK_CODE.search(words(text)))), None)
    host = next((line.strip() for line in head if _TASK_HOST.match(words(line))), None)
    if code is None and host is None:
        return None
    found = [f"mã {code.upper()}" if code else "", excerpt(host, 80) if host else ""]
    return ("báo cáo của nhiệm vụ thuộc Chương trình (" + "; ".join(f for f in found if f)
            + "), không phải báo cáo năm của tỉnh/bộ")
