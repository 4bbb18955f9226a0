"""The arithmetic a coordinator checks by hand on each indicator row.

The programme's completion rate is cumulative ÷ target × 100 (the outline
of dispatch 4258/BKHCN-TĐC asks for results "lũy kế từ đầu Chương trình";
``workflow.reports.compile`` computes the national rate the same way).
A rate written against the year's plan ("So với KH năm", or any rate in a
table whose only target is "Kế hoạch năm 2024") is result ÷ that plan. A
rate whose header says neither is accepted as either, and the finding, if
any, is given for the cumulative as before. The cumulative since the
programme began includes the year, so it is never less than the year's
result. A failed check is a :class:`RowCheck`, never an exception.
"""
from __future__ import annotations

from dataclasses import dataclass

from intake.report.indicators.numbers import format_vn_number
from intake.report.indicators.row import CUMULATIVE_BELOW_RESULT, RATE_MISMATCH, ZERO_TARGET, RowCheck

RATE_TOLERANCE_POINTS = 0.6
RATE_TOLERANCE_RELATIVE = 0.01
CUMULATIVE = "cumulative"
RESULT = "result"
EITHER = "either"


@dataclass(frozen=True)
class RateClaim:
    """One written rate and what it should be the quotient of."""

    rate: float | None
    numerators: tuple[tuple[float | None, str], ...]  # (value, label) accepted in turn; the first names a finding
    target: float | None
    rate_label: str = "tỷ lệ hoàn thành"
    target_label: str = "chỉ tiêu"


def numerators(basis: str, result: float | None, cumulative: float | None) -> tuple[tuple[float | None, str], ...]:
    """What a rate of ``basis`` (CUMULATIVE, RESULT or EITHER) may be the quotient of, in the order tried."""
    year = (result, "kết quả năm")
    total = (cumulative, "lũy kế")
    if basis == RESULT:
        return (year,)
    if basis == CUMULATIVE:
        return (total,) if cumulative is not None else (year,)
    return (total, year) if cumulative is not None else (year,)


def _agrees(written: float, computed: float) -> bool:
    diff = abs(computed - written)
    return diff <= RATE_TOLERANCE_POINTS or diff <= RATE_TOLERANCE_RELATIVE * abs(written)


def rate_check(claim: RateClaim) -> RowCheck | None:
    """A finding when the written rate is none of its quotients (within half a point or 1 %)."""
    present = [(value, label) for value, label in claim.numerators if value is not None]
    if claim.rate is None or not present or claim.target is None:
        return None
    if claim.target == 0:
        return RowCheck(ZERO_TARGET, f"{claim.target_label} bằng 0, không tính được {claim.rate_label}")
    if any(_agrees(claim.rate, value / claim.target * 100) for value, _ in present):
        return None
    value, label = present[0]
    return RowCheck(RATE_MISMATCH, (
        f"{claim.rate_label} ghi {format_vn_number(claim.rate)}% nhưng {label} {format_vn_number(value)} ÷ "
        f"{claim.target_label} {format_vn_number(claim.target)} = {format_vn_number(value / claim.target * 100, 1)}%"))


def cumulative_check(result: float | None, cumulative: float | None) -> RowCheck | None:
    """A finding when the cumulative since the programme began is less than the year's result."""
    if result is None or cumulative is None or cumulative >= result:
        return None
    return RowCheck(CUMULATIVE_BELOW_RESULT, (
        f"lũy kế {format_vn_number(cumulative)} nhỏ hơn kết quả năm {format_vn_number(result)} "
        "(lũy kế từ đầu Chương trình phải gồm cả kết quả năm)"))
