"""Arrival time of a saved message that no server can vouch for (a loose .eml file).

The topmost Received header was written by the last server that took the
message in, so its date is the receiving side's clock; the sender's Date
header is only the fallback, and the file's own time the last resort.
"""
from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from intake.message.large_bodies import parse_header_block


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def arrival_from_headers(raw: bytes, fallback: datetime) -> tuple[datetime, str]:
    """(arrival time, where it came from: 'received' | 'date' | 'file')."""
    headers = parse_header_block(raw[:256 * 1024])
    received = headers.get_all("Received") or []
    if received:
        stamp = _parse(str(received[0]).rpartition(";")[2])
        if stamp is not None:
            return stamp.astimezone(UTC), "received"
    stamp = _parse(headers.get("Date"))
    if stamp is not None:
        return stamp.astimezone(UTC), "date"
    return fallback, "file"
