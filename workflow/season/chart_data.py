"""The two series of the digest chart: cumulative reports against days to the deadline.

Why days to the deadline rather than dates: the deadline falls on different
weekdays and the campaign may open on different days; aligning both years on
their own deadline shows whether this season is ahead of or behind the last.
A report counts on the Vietnam calendar day its first version arrived
(Submission.first_received_at); reports after the deadline have negative days.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from reference.campaigns import Campaign
from reference.time import VN
from workflow.db import models

Series = list[tuple[int, int]]  # (days to the deadline, reports received so far), days decreasing


def days_to_deadline(received: date, deadline: date) -> int:
    """30/11 deadline: received 20/11 -> 10, on 30/11 -> 0, on 02/12 -> -2."""
    return (deadline - received).days


def submission_series(session: Session, year: int, deadline: date, tz: ZoneInfo = VN) -> Series:
    """One point per day on which the count grew, in time order (days decreasing)."""
    arrivals = session.scalars(select(models.Submission.first_received_at).where(
        models.Submission.year == year, models.Submission.first_received_at.is_not(None)))
    per_day = Counter(days_to_deadline(at.astimezone(tz).date(), deadline) for at in arrivals if at is not None)
    series: Series = []
    total = 0
    for days in sorted(per_day, reverse=True):
        total += per_day[days]
        series.append((days, total))
    return series


def chart_series(session: Session, campaigns: Mapping[int, Campaign], year: int) -> tuple[Series, Series]:
    """(this year, last year); a year without a campaign has an empty series."""
    def series(y: int) -> Series:
        campaign = campaigns.get(y)
        return submission_series(session, y, campaign.deadline) if campaign else []

    return series(year), series(year - 1)


def has_series(session: Session, campaigns: Mapping[int, Campaign], year: int) -> bool:
    """Whether ``year`` has a line on the chart (its campaign, and one report at least), without drawing it.

    Why: the board names the chart "compared with last year" or not; reading
    and counting every report of that year to learn only this was a third of the board's time.
    """
    if year not in campaigns:
        return False
    return session.scalar(_any_report(), {"year": year}) is not None


@lru_cache(maxsize=1)
def _any_report() -> Select[tuple[int]]:
    """Built once (per request, building the statement cost more than the indexed look-up)."""
    return select(models.Submission.id).where(models.Submission.year == bindparam("year"),
                                              models.Submission.first_received_at.is_not(None)).limit(1)
