"""Times as coordinators read them: dd/mm/yyyy HH:MM in Asia/Ho_Chi_Minh (standard library only)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn_date(value: datetime | None) -> str:
    return value.astimezone(VN).strftime("%d/%m/%Y %H:%M") if value else "—"
