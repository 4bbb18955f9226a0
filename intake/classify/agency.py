"""Which agency a message speaks for.

The sender's address is the strongest evidence (the roster knows official
addresses and domains). Without it, names count by where they appear: the
title and issuing-body header of the report name its author, a province
cited in the body is only mentioned, so body mentions are capped. Through the
2025 merger an old province's name or address maps to the unit that owes
the report for that year.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from intake.classify.names import NameIndex, compact_names
from intake.classify.sharing import shared_by
from intake.classify.zones import (
    DOC_ADDRESSEE,
    DOC_BODY,
    DOC_HEADER,
    DOC_PLACE,
    DOC_SIGNATURE,
    DOC_TITLE,
    FILENAME,
    MAIL_BODY,
    MAIL_SIGNATURE,
    SUBJECT,
    Zone,
    place_of,
)
from intake.model import Envelope
from reference.numbers import vn_decimal

if TYPE_CHECKING:  # pragma: no cover
    from reference.roster import Agency, Roster

WEIGHTS: dict[str, float] = {
    DOC_TITLE: 6.0,
    DOC_HEADER: 5.0,
    SUBJECT: 4.0,
    MAIL_SIGNATURE: 4.0,
    DOC_PLACE: 3.0,
    DOC_SIGNATURE: 3.0,
    FILENAME: 3.0,
    DOC_ADDRESSEE: 0.5,
    DOC_BODY: 0.5,
    MAIL_BODY: 0.5,
}
_BODY_KINDS = {DOC_BODY, MAIL_BODY, DOC_ADDRESSEE}
BODY_CAP = 2.0  # a report citing other provinces five times is still its author's
ADDRESS_IN_NAME = 2.5  # "chicuctdc.longan@gmail.com"
_IMPROPER = 0.3  # "hòa bình" in lower case is usually peace, not the province

_ZONE_WORDS = {
    DOC_TITLE: "tiêu đề", DOC_HEADER: "cơ quan ban hành", DOC_PLACE: "địa danh ghi ngày",
    DOC_SIGNATURE: "phần ký/nơi nhận", DOC_ADDRESSEE: "kính gửi", DOC_BODY: "nội dung",
    SUBJECT: "tiêu đề thư", FILENAME: "tên tệp", MAIL_SIGNATURE: "chữ ký thư", MAIL_BODY: "nội dung thư",
}
_ADDR = re.compile(r"^[^@\s]+@([a-z0-9-]+\.)+[a-z0-9-]+$")

# Confidence in the agency, by kind of evidence.
C_ADDRESS = 1.0
C_ADDRESS_DISPUTED = 0.7  # the document names someone else
C_FORWARDED_ADDRESS = 0.9
C_NAMES_CLEAR = 0.55  # unknown sender: below the default review threshold on purpose
C_NAMES_WEAK = 0.4


@dataclass
class AgencyVerdict:
    slug: str | None
    confidence: float
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


def sender_addresses(env: Envelope) -> list[tuple[str, bool]]:
    """(address, forwarded?) in order of authority: the sender, then originals.

    The sender of a share notice is the official in Reply-To, not the service's robot (``sharing``).
    """
    from intake.classify.zones import body_text, split_inline_forward

    out: list[tuple[str, bool]] = []
    shared = shared_by(env)
    if shared is not None:
        out.append((shared.address, False))
    elif env.from_addr:
        out.append((env.from_addr.lower(), False))
    _, inline = split_inline_forward(body_text(env))
    if inline is not None and inline.from_addr:
        out.append((inline.from_addr, True))
    for inner in env.forwarded:
        out.extend((addr, True) for addr, _ in sender_addresses(inner))
    seen: set[str] = set()
    kept: list[tuple[str, bool]] = []
    for a, f in out:
        if _ADDR.match(a) and a not in seen:
            seen.add(a)
            kept.append((a, f))
    return kept


def agency_or_none(roster: Roster, slug: str, year: int | None = None) -> Agency | None:
    try:
        return roster.get(slug, year)
    except KeyError:
        return None


def owing_unit(roster: Roster, slug: str, year: int) -> str | None:
    """The unit that owes the report for `year` on behalf of `slug` (itself, or
    the province/ministry that absorbed it)."""
    agency = agency_or_none(roster, slug)
    if agency is None:
        return None
    if agency.owes(year):
        return slug
    try:
        return roster.successor(slug, year)
    except KeyError:
        return None


def merger_note(roster: Roster, old: str, new: str) -> str:
    old_a, new_a = agency_or_none(roster, old), agency_or_none(roster, new)
    old_name = old_a.short_name if old_a else old
    new_name = new_a.short_name if new_a else new
    if new_a is None:
        return f"{old_name} nay thuộc {new_name}"
    if new_a.kind == "ministry":
        return f"{old_name} đã hợp nhất vào {new_name} từ 01/03/2025"
    if new_a.from_year >= 2025 and tuple(new_a.absorbed) == (old,):
        return f"{old_name} nay là {new_name}"
    return f"{old_name} đã sáp nhập vào {new_name} từ 01/07/2025"


def _host_in(host: str, domains: Iterable[str]) -> str | None:
    for domain in sorted(domains, key=len, reverse=True):
        d = domain.lower()
        if host == d or host.endswith("." + d):
            return d
    return None


def _how_matched(address: str, agency: Agency) -> str:
    if address in {a.lower() for a in agency.addresses}:
        return f"địa chỉ gửi {address} có trong danh sách của {agency.short_name}"
    domain = _host_in(address.rsplit("@", 1)[-1], agency.domains)
    if domain:
        return f"địa chỉ gửi thuộc tên miền {domain}"
    return f"địa chỉ gửi {address} đã được ghi nhận cho {agency.short_name}"


def _absorbed_owner(roster: Roster, address: str, unit: Agency) -> str | None:
    """Which old unit an address belonged to, when the roster answered with its successor."""
    host = address.rsplit("@", 1)[-1]
    for old in unit.absorbed:
        old_a = agency_or_none(roster, old)
        if old_a and (address in old_a.addresses or _host_in(host, old_a.domains)):
            return old
    return None


def name_scores(zones: Iterable[Zone], index: NameIndex) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Weighted name evidence per slug, and where each name was seen."""
    scores: dict[str, float] = {}
    body: dict[str, float] = {}
    where: dict[str, list[str]] = {}
    for zone in zones:
        weight = WEIGHTS.get(zone.kind, 0.0)
        if not weight:
            continue
        text = (place_of(zone) or "") if zone.kind == DOC_PLACE else zone.text
        seen: dict[str, float] = {}
        for m in index.find(text):
            w = weight if m.proper else weight * _IMPROPER
            if zone.kind in _BODY_KINDS:
                body[m.slug] = body.get(m.slug, 0.0) + w
            else:
                seen[m.slug] = max(seen.get(m.slug, 0.0), w)
            if zone.kind not in _BODY_KINDS and w >= 1.0:
                label = f"{_ZONE_WORDS.get(zone.kind, zone.kind)} ({zone.origin}): '{m.written}'"
                if label not in where.setdefault(m.slug, []):
                    where[m.slug].append(label)
        for slug, w in seen.items():
            scores[slug] = scores.get(slug, 0.0) + w
    for slug, w in body.items():
        scores[slug] = scores.get(slug, 0.0) + min(w, BODY_CAP)
        where.setdefault(slug, []).append(f"nhắc đến trong nội dung ({vn_decimal(min(w, BODY_CAP), 1)} điểm)")
    return scores, where


_UNIT_PREFIXES = ("skhcn", "sokhcn", "khcn", "tdc", "cctdc", "chicuctdc", "dost", "ubnd", "stc")


def _spells(part: str, key: str) -> bool:
    if part == key:
        return True
    return any(part in (p + key, key + p) for p in _UNIT_PREFIXES)


def _address_name_hint(addresses: list[tuple[str, bool]], compact: dict[str, str]) -> dict[str, str]:
    """Place names spelled inside an address the roster does not know."""
    hints: dict[str, str] = {}
    for addr, _ in addresses:
        for part in re.split(r"[@._\-\d]+", addr):
            for key, slug in compact.items():
                if _spells(part, key):
                    hints.setdefault(slug, addr)
    return hints


def decide_agency(env: Envelope, zones: list[Zone], roster: Roster, year: int,
                  index: NameIndex | None = None) -> AgencyVerdict:
    all_agencies = list(roster.all())
    index = index or NameIndex(all_agencies)
    addresses = sender_addresses(env)
    reasons: list[str] = []

    address_slug: str | None = None
    address_conf = 0.0
    for addr, forwarded in addresses:
        agency = roster.by_address(addr, year)
        if agency is None:
            continue
        old = _absorbed_owner(roster, addr, agency)
        old_agency = agency_or_none(roster, old) if old else None
        how = _how_matched(addr, old_agency or agency)
        if old_agency is not None:
            how = f"{how} ({old_agency.short_name})"
        if forwarded:
            how = f"người gửi gốc của thư chuyển tiếp: {how}"
        reasons.append(f"{how} → {agency.slug}")
        if old:
            reasons.append(merger_note(roster, old, agency.slug))
        address_slug, address_conf = agency.slug, (C_FORWARDED_ADDRESS if forwarded else C_ADDRESS)
        break

    raw_scores, where = name_scores(zones, index)
    for slug, addr in _address_name_hint(addresses, compact_names(all_agencies)).items():
        raw_scores[slug] = raw_scores.get(slug, 0.0) + ADDRESS_IN_NAME
        where.setdefault(slug, []).append(f"địa chỉ {addr} có tên địa phương")

    scores: dict[str, float] = {}
    notes: dict[str, str] = {}
    for slug, score in raw_scores.items():
        unit = owing_unit(roster, slug, year)
        if unit is None:
            continue
        scores[unit] = scores.get(unit, 0.0) + score
        if unit != slug:
            notes[unit] = merger_note(roster, slug, unit)
            where.setdefault(unit, []).extend(where.get(slug, []))
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    if address_slug is not None:
        if ranked and ranked[0][0] != address_slug and ranked[0][1] >= WEIGHTS[DOC_HEADER] \
                and ranked[0][1] > 2 * scores.get(address_slug, 0.0):
            other = agency_or_none(roster, ranked[0][0])
            reasons.append(f"nhưng văn bản ghi tên {other.short_name if other else ranked[0][0]}")
            address_conf = min(address_conf, C_ADDRESS_DISPUTED)
        return AgencyVerdict(address_slug, address_conf, reasons, scores)

    if not ranked:
        reasons.append("không xác định được cơ quan gửi (địa chỉ lạ, không có tên địa phương/bộ)")
        return AgencyVerdict(None, 0.0, reasons, scores)
    best, best_score = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    agency = agency_or_none(roster, best)
    name = agency.short_name if agency else best
    for label in where.get(best, [])[:3]:
        reasons.append(f"{label} → {best}")
    if best in notes:
        reasons.append(notes[best])
    sender = next((addr for addr, forwarded in addresses if not forwarded), env.from_addr)
    if sender:
        reasons.append(f"địa chỉ gửi {sender} không có trong danh sách cơ quan")
    if best_score >= 4.0 and best_score >= 2 * second:
        return AgencyVerdict(best, C_NAMES_CLEAR, reasons, scores)
    if second:
        runner = agency_or_none(roster, ranked[1][0])
        reasons.append(f"{name} chỉ hơn {runner.short_name if runner else ranked[1][0]} ít điểm")
    return AgencyVerdict(best, C_NAMES_WEAK, reasons, scores)
