"""What ``tdc-bot status`` prints: a plain aligned table, the state counts, the outbox and the jobs.

Why plain text and not a Rich table like the other views: status is the
command coordinators type all day, and Rich's import and table layout cost
more than the rest of the command. The table is written once, here, for both
ways the command runs (the fast lane on SQLite, the full path otherwise).
Every cell goes through ``terminal_text``: outline numbers and job results
may carry text that came in a mail.
"""
from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import TextIO

from interfaces.cli.dates import vn_date
from notifier.labels import SHOWN_STATE_LABELS, job_line
from notifier.safe_text import terminal_text
from workflow.season.status_query import JobRunRow, StatusRow, shown_state

HEADERS = ("#", "mã đơn vị", "đơn vị", "trạng thái", "ngày nhận", "đúng hạn", "mục còn thiếu", "người gửi")
# Outbox states in words (the keys stay English in --json).
OUTBOX_WORDS = {"held": "giữ lại (giới hạn mỗi giờ)", "pending": "chờ gửi", "sending": "đang gửi", "sent": "đã gửi",
                "failed": "lỗi", "suppressed": "không gửi (giới hạn)"}
_ON_TIME = {True: "đúng hạn", False: "muộn", None: "—"}


def width(text: str) -> int:
    """Columns a string takes on a terminal: combining marks none, wide (CJK) characters two."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, a rule under the header; cells cleaned for the terminal."""
    cells = [[terminal_text(c).replace("\n", " ") for c in row] for row in (headers, *rows)]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=False)).rstrip()

    return [line(cells[0]), "  ".join("─" * w for w in widths), *(line(r) for r in cells[1:])]


def nobody_owes(year: int) -> str:
    """What status says (on stderr, exit 1) when the roster owes nothing for ``year``."""
    return f"Không có đơn vị nào phải báo cáo năm {year} trong danh sách. No agency owes a report for {year}."


def status_lines(year: int, rows: Sequence[StatusRow], outbox: dict[str, int], jobs: Sequence[JobRunRow],
                 review: int | None = None) -> list[str]:
    table = [(str(i), r.agency, r.name, SHOWN_STATE_LABELS.get(shown_state(r), r.state), vn_date(r.received_at),
              _ON_TIME[r.on_time], ", ".join(r.outline_missing) or "—", "chưa xác thực" if r.sender_note else "—")
             for i, r in enumerate(rows, 1)]
    lines = [f"Tình hình nộp báo cáo năm {year}", *plain_table(HEADERS, table)]
    counts: dict[str, int] = {}
    for r in rows:
        counts[shown_state(r)] = counts.get(shown_state(r), 0) + 1
    lines.append("  ".join(f"{SHOWN_STATE_LABELS.get(k, k)}: {v}" for k, v in sorted(counts.items())))
    if review is not None:
        lines.append(f"Chờ cán bộ đầu mối xem xét: {review} (tdc-bot review list)")
    unverified = [r.sender_note for r in rows if r.sender_note]
    if unverified:
        lines.append(f"{len(unverified)} báo cáo: {unverified[0]} (xem [mailbox] trusted_authserv_id)")
    lines.append("Thư chưa gửi: " + (", ".join(f"{OUTBOX_WORDS.get(k, k)} {v}" for k, v in outbox.items())
                                     or "không có"))
    lines += [job_line(j.name, vn_date(j.last_run_at), j.ok, j.result) for j in jobs]
    return [terminal_text(line) for line in lines]


def write_status(out: TextIO, year: int, rows: Sequence[StatusRow], outbox: dict[str, int],
                 jobs: Sequence[JobRunRow], as_json: bool, review: int | None = None) -> None:
    if as_json:
        out.write(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2, default=str) + "\n")
        return
    out.write("\n".join(status_lines(year, rows, outbox, jobs, review)) + "\n")
