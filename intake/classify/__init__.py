"""Reading a message: which agency, which reporting year, and is it a report.

``classify`` is a pure function of the parsed message, the documents read
from it, the roster and the campaigns: no I/O, deterministic, fast. Every
decision leaves a short Vietnamese reason so a coordinator can check it, and
the confidence is low enough to send doubtful cases to review.

The whole chain (store → parse → guards → documents → classify) is
``intake.pipeline.understand``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from intake.classify.addressing import copied_to, sub_unit_reason
from intake.classify.agency import AgencyVerdict, decide_agency, sender_addresses
from intake.classify.copier import copier_reason, copier_sender
from intake.classify.explain import what_was_read
from intake.classify.kind import C_OTHER_PROGRAMME, KindVerdict, decide_kind
from intake.classify.links import LazyLinks
from intake.classify.names import NameIndex
from intake.classify.several import readings_by_year
from intake.classify.sharing import shared_by
from intake.classify.year import YearVerdict, decide_year, local_arrival
from intake.classify.zones import Zone, message_zones
from intake.model import PHOTOS, Classification, DocumentText, Envelope, GuardVerdict
from reference.numbers import vn_decimal

if TYPE_CHECKING:  # pragma: no cover
    from reference.campaigns import Campaign
    from reference.roster import Roster

__all__ = ["classify"]

C_NO_AGENCY = 0.3  # a report nobody can attribute goes to review

_index_cache: dict[int, tuple[object, NameIndex]] = {}


def _index_for(roster: Roster) -> NameIndex:
    cached = _index_cache.get(id(roster))
    if cached is not None and cached[0] is roster:
        return cached[1]
    index = NameIndex(list(roster.all()))
    if len(_index_cache) > 8:
        _index_cache.clear()
    _index_cache[id(roster)] = (roster, index)
    return index


def _dispatch_lookup() -> Callable[[Mapping[int, Campaign], str], Campaign | None] | None:
    """campaign_for_dispatch if the campaigns module is there; classification
    must still work (on the other evidence) without it."""
    try:
        from reference.campaigns import campaign_for_dispatch
    except ImportError:
        return None
    return campaign_for_dispatch


def _address_only(env: Envelope, roster: Roster, year: int) -> AgencyVerdict:
    """Who sent a non-report: only what the address proves, no guessing from names."""
    for addr, forwarded in sender_addresses(env):
        agency = roster.by_address(addr, year)
        if agency is None:
            continue
        where = "người gửi gốc" if forwarded else "người gửi"
        return AgencyVerdict(agency.slug, 1.0, [f"{where} {addr} → {agency.slug}"])
    return AgencyVerdict(None, 0.0, [])


def _sender_notes(env: Envelope) -> list[str]:
    """Who really sent a mail a machine wrote: the official behind a share notice, the copier that scanned."""
    notes = []
    shared = shared_by(env)
    if shared is not None:
        who = f"{shared.name} <{shared.address}>" if shared.name else shared.address
        notes.append(f"thông báo chia sẻ của {shared.service} ({env.from_addr}) thay cho {who}: "
                     "người gửi là địa chỉ Reply-To")
    copier = copier_sender(env)
    if copier is not None:
        notes.append(copier_reason(copier))
    return notes


def _roster_year(arrived_at: datetime) -> int:
    arrival = local_arrival(arrived_at)
    return arrival.year - 1 if arrival.month <= 3 else arrival.year


def _not_a_report(env: Envelope, docs: list[DocumentText], zones: list[Zone], kind: KindVerdict,
                  roster: Roster, arrived_at: datetime, guard: GuardVerdict | None) -> Classification:
    """A non-report carries no year (deciding one would be wasted work); its sender only by address."""
    agency = _address_only(env, roster, _roster_year(arrived_at))
    reasons = kind.reasons + agency.reasons
    if agency.slug and kind.kind == "other" and not (guard is not None and guard.kind):
        reasons.append(what_was_read(env, docs, zones))  # a known agency's mail a coordinator will look at
    return Classification(kind.kind, agency.slug, None, round(kind.confidence, 3), reasons)


def classify(env: Envelope, docs: list[DocumentText], roster: Roster,
             campaigns: dict[int, Campaign], arrived_at: datetime,
             guard: GuardVerdict | None = None, threshold: float = 0.6,
             own_addresses: Iterable[str] = ()) -> Classification:
    """The reading of one message; ``own_addresses`` (this mailbox) tell a copy ("Cc") from a submission.

    Without a ``guard`` verdict (a caller that did not run the guards) the
    guards are asked here: machine mail is decided in one place
    (:mod:`intake.machine.guards`), never by a second, shorter list of signs.
    """
    own_addresses = frozenset(own_addresses)
    if guard is None:
        from intake.machine.guards import check

        guard = check(env, set(own_addresses))
    zones = message_zones(env, docs)
    links = LazyLinks(env)
    kind: KindVerdict = decide_kind(env, zones, docs, guard, links)
    if kind.kind not in ("report", "periodic", "other") or (guard is not None and guard.kind):
        return _not_a_report(env, docs, zones, kind, roster, arrived_at, guard)  # machine mail: nothing more
    copy_of = copied_to(env, own_addresses)
    if kind.kind == "report":
        result = _report_or_copy(env, docs, zones, kind, roster, campaigns, arrived_at, threshold, copy_of)
    else:
        result = _not_a_report(env, docs, zones, kind, roster, arrived_at, guard)
    result.reasons.extend(_sender_notes(env))
    result.links = links() if result.kind in ("report", "periodic") else links.found
    result.copied_to = copy_of
    return result


def _report_or_copy(env: Envelope, docs: list[DocumentText], zones: list[Zone], kind: KindVerdict,
                    roster: Roster, campaigns: dict[int, Campaign], arrived_at: datetime, threshold: float,
                    copy_of: str | None) -> Classification:
    """The report's reading, unless it is a sub-unit's report to its province that this mailbox was copied on."""
    result = _report(env, docs, zones, kind, roster, campaigns, arrived_at, threshold)
    why = sub_unit_reason(zones, copy_of, roster, result.year or _roster_year(arrived_at)) if copy_of else None
    if why is None:
        return result
    other = KindVerdict("other", C_OTHER_PROGRAMME, [why, *kind.reasons])
    return _not_a_report(env, docs, zones, other, roster, arrived_at, None)


def _report(env: Envelope, docs: list[DocumentText], zones: list[Zone], kind: KindVerdict, roster: Roster,
            campaigns: dict[int, Campaign], arrived_at: datetime, threshold: float) -> Classification:
    """The agency and year of a report; a mail with reports of several years gives one reading per year."""
    by_year = readings_by_year(zones, docs, campaigns, arrived_at)
    if by_year:
        main, *others = (_one_year(env, zones, kind, roster, r.year, threshold, r.why, r.documents)
                         for r in by_year)
        main.also = others
        main.reasons.append("thư có báo cáo của nhiều năm: " + "; ".join(
            f"năm {r.year.year}: {', '.join(r.documents)}" for r in by_year))
        return main
    year = decide_year(zones, campaigns, arrived_at, _dispatch_lookup())
    photos = [d.filename for d in docs if d.format == "image"] if kind.delivery == PHOTOS else []
    return _one_year(env, zones, kind, roster, year, threshold, documents=photos)


def _one_year(env: Envelope, zones: list[Zone], kind: KindVerdict, roster: Roster, year: YearVerdict,
              threshold: float, why: str | None = None, documents: list[str] | None = None) -> Classification:
    agency = decide_agency(env, zones, roster, year.year, _index_for(roster))
    agency_c = agency.confidence if agency.slug else C_NO_AGENCY
    confidence = round(kind.confidence * agency_c * year.confidence, 3)
    reasons = ([why] if why else kind.reasons) + agency.reasons + year.reasons
    if confidence < threshold:
        reasons.append(f"độ tin cậy {vn_decimal(confidence)} dưới ngưỡng {vn_decimal(threshold)}: cần cán bộ xem lại")
    return Classification("report", agency.slug, year.year, confidence, reasons, delivery=kind.delivery,
                          documents=list(documents or []))
