"""Vietnam's time: the one zone definition and the one way dates are written (invariant 6).

Why one module: deadlines are the end of a day in Asia/Ho_Chi_Minh and every
date a person reads is dd/mm/yyyy there; fourteen modules building their own
``ZoneInfo`` and two ``vn_date`` functions writing different shapes made it
easy to get one of them wrong. Standard library only (the command line's fast
lane imports it).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def zone(name: str) -> ZoneInfo:
    """A configured time zone by its IANA name (the schedule's); ValueError when this machine has no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"không có múi giờ {name!r}") from exc


def local(value: datetime) -> datetime:
    """``value`` in Vietnam's time; a naive value is refused (it would be read in the machine's zone)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
    return value.astimezone(VN)


def today(now: datetime) -> date:
    """The calendar day in Vietnam at ``now``."""
    return local(now).date()


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` in Vietnam: a deadline "on 30/11" is before this."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=VN)


def last_day(first_late: datetime) -> date:
    """The last day still on time when ``first_late`` is the first late instant (how deadlines are stored):
    the inverse of :func:`end_of_day`."""
    return today(first_late - timedelta(microseconds=1))


def vn_date(value: datetime | date | None) -> str:
    """dd/mm/yyyy, as Vietnamese officials write dates, in Vietnam's time zone."""
    if value is None:
        return ""
    return (local(value) if isinstance(value, datetime) else value).strftime("%d/%m/%Y")


def vn_datetime(value: datetime | None) -> str:
    """'HH:MM ngày dd/mm/yyyy', the way a Vietnamese dispatch states a moment."""
    return local(value).strftime("%H:%M ngày %d/%m/%Y") if value is not None else ""


def vn_timestamp(value: datetime | None) -> str:
    """'dd/mm/yyyy HH:MM' for tables (a dash when there is none)."""
    return local(value).strftime("%d/%m/%Y %H:%M") if value is not None else "—"
