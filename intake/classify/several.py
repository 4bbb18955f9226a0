"""One mail, reports of several years: each file to its year.

Why: an agency that missed last year's deadline sends its overdue report
with this year's, often the older one attached first. Reading the mail as a
whole would give it the first (or the most cited) year; each file says its
own year in its title, so each is read on its own: the newest year is this
season's report, the others are further readings of the same mail.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from intake.classify.kind import report_verdict
from intake.classify.year import C_DOC_DATE, YearVerdict, decide_year
from intake.classify.zones import Zone
from intake.model import DocumentText

if TYPE_CHECKING:  # pragma: no cover
    from reference.campaigns import Campaign


@dataclass
class YearReading:
    """The report files of one year in a mail, with why they are that year's report."""

    year: YearVerdict
    documents: list[str]
    why: str  # the report title seen, and in which file


def _origin(doc: DocumentText) -> str:
    return f"tệp đính kèm '{doc.filename}'"


def readings_by_year(zones: list[Zone], docs: list[DocumentText], campaigns: dict[int, Campaign],
                     arrived_at: datetime) -> list[YearReading]:
    """One reading per year when the mail's report files say two years or more, newest first; else empty.

    A file counts when its own title reads as the programme's report and its
    own text gives the year (title, a report sentence or its date line): the
    arrival date cannot tell two files apart.
    """
    by_year: dict[int, YearReading] = {}
    for doc in docs:
        own = [z for z in zones if z.origin == _origin(doc)]
        verdict, why = report_verdict(own)
        if verdict != "report":
            continue
        year = decide_year(own, campaigns, arrived_at)
        if year.confidence < C_DOC_DATE:
            continue
        reading = by_year.setdefault(year.year, YearReading(year, [], f"{why} ({_origin(doc)})"))
        if doc.filename not in reading.documents:
            reading.documents.append(doc.filename)
    if len(by_year) < 2:
        return []
    return [by_year[y] for y in sorted(by_year, reverse=True)]
