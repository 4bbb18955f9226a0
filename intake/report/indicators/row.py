"""One indicator row as read, and what the arithmetic check found in it.

A finding is data: a :class:`RowCheck` with a code a caller can count
("how many rows whose rate does not add up") and the Vietnamese sentence a
coordinator reads. ``IndicatorRow.findings`` keeps the sentences alone, as
the database and every screen already show them; ``checks`` carries the
same findings, in the same order, with their codes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Codes of RowCheck, stable: callers count them and the database may store them.
UNREADABLE_CELL = "unreadable_cell"  # a value cell that is not a number ("khoảng 5")
RATE_MISMATCH = "rate_mismatch"  # the written rate is not numerator ÷ target × 100
ZERO_TARGET = "zero_target"  # a rate against a target of 0
CUMULATIVE_BELOW_RESULT = "cumulative_below_result"  # the cumulative is less than the year's result
CHECK_CODES = (UNREADABLE_CELL, RATE_MISMATCH, ZERO_TARGET, CUMULATIVE_BELOW_RESULT)


@dataclass(frozen=True)
class RowCheck:
    """One finding on a row: ``code`` (one of :data:`CHECK_CODES`) and ``text``, for coordinators."""

    code: str
    text: str


@dataclass
class IndicatorRow:
    """One indicator with its target, result of the year, cumulative and completion rate (percent).

    ``rate`` is the rate the report writes. Where the table gives the
    programme's completion rate it is that one (cumulative ÷ target); a
    table with only a rate against the year's plan gives that (result ÷
    target). Either way the check compares it with the matching quotient.
    """

    indicator: str
    unit: str | None
    target: float | None
    result: float | None
    cumulative: float | None
    rate: float | None  # percent
    findings: list[str] = field(default_factory=list)
    checks: list[RowCheck] = field(default_factory=list)

    def note(self, code: str, text: str) -> None:
        """Record a finding in both forms, so ``findings`` and ``checks`` never disagree."""
        self.checks.append(RowCheck(code, text))
        self.findings.append(text)
