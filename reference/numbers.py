"""Numbers as Vietnamese readers write them: 1.234.567,5 and '37,2 KB' (a decimal comma, never "0.55").

One place for every number a person reads: reasons in review ("độ tin cậy 0,55"),
sizes in acknowledgements and on the board, scores, figures in documents.
"""
from __future__ import annotations

from decimal import Decimal


def vn_number(value: int | float | Decimal | None, decimals: int | None = None) -> str:
    """1.234.567,5: Vietnamese uses '.' for thousands and ',' for the decimal mark."""
    if value is None:
        return ""
    if isinstance(value, bool):  # bool is an int; showing True as 1 would only hide a bug
        raise ValueError("vn_number got a bool")
    auto = decimals is None
    if decimals is None:
        decimals = 0 if isinstance(value, int) or float(value).is_integer() else 2
    text = f"{value:,.{decimals}f}"
    if auto and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def vn_filesize(value: int | None) -> str:
    """A file size as people read it: '532 byte', '12,3 KB', '1,5 MB'."""
    if value is None:
        return ""
    if value < 1024:
        return f"{vn_number(int(value))} byte"
    kilobytes = value / 1024
    if kilobytes < 1024:
        return f"{vn_number(round(kilobytes, 1))} KB"
    return f"{vn_number(round(kilobytes / 1024, 1))} MB"


def vn_decimal(value: float | None, places: int = 2) -> str:
    """A score or ratio with a fixed number of places and a decimal comma: 0,55."""
    return "" if value is None else vn_number(round(float(value), places), places)
