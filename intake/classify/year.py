"""Which year a report is about.

The title says it ("kết quả ... năm 2022"); a title also carries plans for the
next year and the programme period 2021-2030, which are not the reported
year. Without a year in a title, a cited campaign dispatch tells the year,
then the document's own date, then the arrival date: a report arriving in
January to March is late for the previous year.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from intake.classify.zones import DOC_BODY, DOC_PLACE, DOC_TITLE, FILENAME, MAIL_BODY, SUBJECT, Zone
from reference.text import fold, words
from reference.time import VN

if TYPE_CHECKING:  # pragma: no cover
    from reference.campaigns import Campaign

FIRST_YEAR = 2021  # the programme runs 2021-2030

TITLE_WEIGHTS = {DOC_TITLE: 5.0, SUBJECT: 4.0, FILENAME: 3.0}
LEAD_WEIGHT = 2.0
_LEAD = re.compile(r"\b(bao cao ket qua|ket qua thuc hien|ket qua trien khai|tong ket)\b")

_RANGE = re.compile(r"(?:giai doan\s*)?20\d\d\s*(?:-|–|—|/|den nam|den)\s*20\d\d")
_DATE = re.compile(r"\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*20\d\d|thang\s*\d{1,2}\s*(?:,\s*)?nam\s*20\d\d")
_YEAR = re.compile(r"(?<![\d/])(20\d\d)(?![\d/])")
_PLAN = re.compile(
    r"(phuong huong|(?<!thuc hien )(?<!trien khai )ke hoach|du kien|dinh huong|de xuat|giai phap|"
    r"tu nam|bat dau|tiep theo|den nam|giai doan|muc tieu|nam toi|dang ky)"
)
_RESULT = re.compile(r"(ket qua|thuc hien|bao cao|tong ket|danh gia)")
_DOC_DATE = re.compile(r"thang\s*(\d{1,2})\s*(?:,\s*)?nam\s*(20\d\d)")
# A year as a copier's or a phone's OCR writes it: letter O for zero, l for one ("2O24", "2o2l").
_OCR_YEAR = re.compile(r"(?<![a-z\d])2[0o][0-9ol][0-9ol](?![a-z\d])")

C_TITLE = 1.0
C_LEAD = 0.9
C_DISPATCH = 0.9
C_DOC_DATE = 0.8
C_ARRIVAL = 0.7


@dataclass
class YearVerdict:
    year: int
    confidence: float
    reasons: list[str] = field(default_factory=list)


def local_arrival(arrived_at: datetime) -> datetime:
    """Arrival time in Vietnam; a naive time is taken as UTC (servers log UTC)."""
    if arrived_at.tzinfo is None:
        arrived_at = arrived_at.replace(tzinfo=UTC)
    return arrived_at.astimezone(VN)


def reported_years(text: str, latest: int) -> list[int]:
    """Years a title reports on, without periods, dates, document numbers or plans."""
    folded = _OCR_YEAR.sub(lambda m: m.group().replace("o", "0").replace("l", "1"), fold(text))
    cleaned = _DATE.sub(" ", _RANGE.sub(" ", folded))
    out: list[int] = []
    for m in _YEAR.finditer(cleaned):
        year = int(m.group(1))
        if not FIRST_YEAR <= year <= latest:
            continue
        before = words(re.split(r"[,;:(]| va ", cleaned[max(0, m.start() - 80):m.start()])[-1])
        plan = [p.end() for p in _PLAN.finditer(before)]
        result = [r.end() for r in _RESULT.finditer(before)]
        if plan and (not result or max(plan) > max(result)):
            continue
        out.append(year)
    return out


def _title_votes(zones: Iterable[Zone], latest: int) -> tuple[dict[int, float], dict[int, str], bool]:
    votes: dict[int, float] = {}
    why: dict[int, str] = {}
    strong = False
    for zone in zones:
        if zone.kind in TITLE_WEIGHTS:
            texts, weight = [zone.text], TITLE_WEIGHTS[zone.kind]
        elif zone.kind in (DOC_BODY, MAIL_BODY):
            texts = [ln for ln in zone.text.splitlines() if _LEAD.search(words(ln))]
            weight = LEAD_WEIGHT
        else:
            continue
        for text in texts:
            for year in set(reported_years(text, latest)):
                votes[year] = votes.get(year, 0.0) + weight
                if year not in why or weight > LEAD_WEIGHT:
                    names = {DOC_TITLE: "tiêu đề", SUBJECT: "tiêu đề", FILENAME: "tên tệp"}
                    label = names.get(zone.kind, "câu báo cáo")
                    why[year] = f"{label} ({zone.origin}): 'năm {year}'"
                strong = strong or zone.kind in (DOC_TITLE, SUBJECT)
    return votes, why, strong


def decide_year(zones: list[Zone], campaigns: dict[int, Campaign], arrived_at: datetime,
                dispatch_lookup: Callable[[dict[int, Campaign], str], Campaign | None] | None = None) -> YearVerdict:
    arrival = local_arrival(arrived_at)
    latest = arrival.year
    votes, why, strong = _title_votes(zones, latest)
    if votes:
        best = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]  # a tie: results come before plans
        reasons = [why[best]]
        others = sorted(y for y in votes if y != best)
        if others:
            reasons.append("các năm khác trong tiêu đề: " + ", ".join(map(str, others)))
        return YearVerdict(best, C_TITLE if strong else C_LEAD, reasons)

    if dispatch_lookup is not None and campaigns:
        text = "\n".join(z.text for z in zones if z.kind in (SUBJECT, DOC_TITLE, DOC_BODY, MAIL_BODY))
        try:
            campaign = dispatch_lookup(campaigns, text)
        except Exception:  # noqa: BLE001 - a lookup failure must not lose the message
            campaign = None
        if campaign is not None:
            return YearVerdict(campaign.year, C_DISPATCH,
                               [f"trích dẫn Công văn số {campaign.dispatch} → năm {campaign.year}"])

    for zone in zones:
        if zone.kind != DOC_PLACE:
            continue
        m = _DOC_DATE.search(fold(zone.text))
        if m:
            month, year = int(m.group(1)), int(m.group(2))
            reported = year - 1 if 1 <= month <= 3 else year
            if FIRST_YEAR <= reported <= latest:
                return YearVerdict(reported, C_DOC_DATE,
                                   [f"ngày của văn bản ({zone.origin}): tháng {month:02d}/{year} → năm {reported}"])

    reported = arrival.year - 1 if arrival.month <= 3 else arrival.year
    return YearVerdict(reported, C_ARRIVAL,
                       [f"theo ngày nhận {arrival:%d/%m/%Y} → năm {reported}"])
