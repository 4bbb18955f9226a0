"""The demo's contact book: a made-up coordinators' spreadsheet, imported the way a real one is.

Addresses are under ``example.org`` (RFC 2606: reserved, never delivered),
one focal point (đầu mối) and one clerk (văn thư) per agency owing the year,
so the demo season shows reminders reaching every late agency, To the focal
point and Cc the clerk, addressed to the Department of Science and Technology.
"""
from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from workflow.season import contact_sheet

if TYPE_CHECKING:
    from reference.roster import Agency
    from workflow.app import App

DEMO_DOMAIN = "example.org"
FILENAME = "danh-ba-dau-moi.csv"


def unit_of(agency: Agency) -> str:
    """'Tỉnh Tây Ninh' -> 'Sở Khoa học và Công nghệ tỉnh Tây Ninh'; a ministry is written to by its name."""
    if agency.kind != "province":
        return agency.name
    return f"Sở Khoa học và Công nghệ {agency.name[0].lower()}{agency.name[1:]}"


def write_spreadsheet(app: App, year: int, folder: Path) -> Path:
    """The sheet a coordinator would keep: Vietnamese headers, names as people write them, ';'-separated."""
    path = folder / FILENAME
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Đơn vị", "Họ và tên", "Vai trò", "Email", "Điện thoại", "Kính gửi"])
        for i, agency in enumerate(app.roster_base.owing(year), 1):
            key = agency.slug.replace("-", "")
            writer.writerow([agency.name, f"Cán bộ đầu mối {agency.short_name}", "Đầu mối",
                             f"daumoi.{key}@{DEMO_DOMAIN}", f"0200{i:06d}", unit_of(agency)])
            writer.writerow([agency.short_name, f"Văn thư {agency.short_name}", "văn thư",
                             f"vanthu.{key}@{DEMO_DOMAIN}", "", ""])
    return path


def seed_contacts(app: App, year: int, folder: Path, now: datetime) -> int:
    """Write the sheet and import it (all lines must be good, as for a real import); returns contacts imported."""
    rows = contact_sheet.read_table(write_spreadsheet(app, year, folder))
    with app.db.transaction() as session:
        checked = contact_sheet.check_table(app.roster_base, rows, session)
        if checked.problems:
            raise ValueError("demo contact sheet: " + "; ".join(checked.problems))
        changes = contact_sheet.import_lines(session, checked.lines, actor="demo", now=now)
    return sum(1 for c in changes if c.action == "add")
