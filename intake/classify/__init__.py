"""Reading a message: which agency, which reporting year, and is it a report.

``classify`` is a pure function of the parsed message, the documents read
from it, the roster and the campaigns: no I/O, deterministic, fast. Every
decision leaves a short Vietnamese reason so a coordinator can check it, and
the confidence is low enough to send doubtful cases to review.

The whole chain (store → parse → guards → documents → classify) is
``intake.pipeline.understand``.
"""
from __future__ import annotations

from reference.numbers import vn_decimal

from datetime import datetime
from typing import TYPE_CHECKING

from intake.classify.agency import AgencyVerdict, decide_agency, sender_addresses
from intake.classify.kind import KindVerdict, decide_kind
from intake.classify.names import NameIndex
from intake.classify.year import YearVerdict, decide_year, local_arrival
from intake.classify.zones import message_zones
from intake.model import Classification, DocumentText, Envelope, GuardVerdict

if TYPE_CHECKING:  # pragma: no cover
    from reference.campaigns import Campaign
    from reference.roster import Roster

__all__ = ["classify"]

C_NO_AGENCY = 0.3  # a report nobody can attribute goes to review

_index_cache: dict[int, tuple[object, NameIndex]] = {}


def _index_for(roster: "Roster") -> NameIndex:
    cached = _index_cache.get(id(roster))
    if cached is not None and cached[0] is roster:
        return cached[1]
    index = NameIndex(list(roster.all()))
    if len(_index_cache) > 8:
        _index_cache.clear()
    _index_cache[id(roster)] = (roster, index)
    return index


def _dispatch_lookup():
    """campaign_for_dispatch if the campaigns module is there; classification
    must still work (on the other evidence) without it."""
    try:
        from reference.campaigns import campaign_for_dispatch
    except ImportError:
        return None
    return campaign_for_dispatch


def _address_only(env: Envelope, roster: "Roster", year: int) -> AgencyVerdict:
    """Who sent a non-report: only what the address proves, no guessing from names."""
    for addr, forwarded in sender_addresses(env):
        agency = roster.by_address(addr, year)
        if agency is None:
            continue
        where = "người gửi gốc" if forwarded else "người gửi"
        return AgencyVerdict(agency.slug, 1.0, [f"{where} {addr} → {agency.slug}"])
    return AgencyVerdict(None, 0.0, [])


def classify(env: Envelope, docs: list[DocumentText], roster: "Roster",
             campaigns: dict[int, "Campaign"], arrived_at: datetime,
             guard: GuardVerdict | None = None, threshold: float = 0.6) -> Classification:
    zones = message_zones(env, docs)
    kind: KindVerdict = decide_kind(env, zones, docs, guard)
    if kind.kind != "report":  # a non-report carries no year: deciding one would be wasted work
        arrival = local_arrival(arrived_at)
        roster_year = arrival.year - 1 if arrival.month <= 3 else arrival.year
        agency = _address_only(env, roster, roster_year)
        return Classification(kind.kind, agency.slug, None, round(kind.confidence, 3),
                              kind.reasons + agency.reasons)

    year: YearVerdict = decide_year(zones, campaigns, arrived_at, _dispatch_lookup())
    agency = decide_agency(env, zones, roster, year.year, _index_for(roster))
    agency_c = agency.confidence if agency.slug else C_NO_AGENCY
    confidence = round(kind.confidence * agency_c * year.confidence, 3)
    reasons = kind.reasons + agency.reasons + year.reasons
    if confidence < threshold:
        reasons.append(f"độ tin cậy {vn_decimal(confidence)} dưới ngưỡng {vn_decimal(threshold)}: cần cán bộ xem lại")
    return Classification("report", agency.slug, year.year, confidence, reasons)
