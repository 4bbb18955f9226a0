"""The contact book: who at each agency the bot writes to, and which addresses speak for it.

Why a book and not the roster: the roster ships sender *domains* (public
facts, reviewed in git) but the people behind them change every year and
are known to the coordinators, in a spreadsheet. The book lives in the
database, every change is audited, and only *confirmed* contacts are
written to or trusted as the agency's address:

* ``imported`` (the coordinators' spreadsheet) and ``coordinator`` (added by
  hand) are confirmed;
* ``learned``: the sender of a report a coordinator accepted or assigned;
* ``carried over``: after the 2025 merger, the contacts of the provinces a
  unit absorbed, offered unconfirmed until a coordinator confirms or removes
  them.

Senders of reports nobody vouched for are *suggestions*: listed, never used.
A bounce marks a contact failing (with the reason); reminders skip it until
a coordinator confirms it again. A removed contact stays as a tombstone
(unconfirmed, ``until_year`` = 0) so that a carried
over address a coordinator declined is not offered again.

Reading the coordinators' spreadsheet into the book, and writing it out
again, is :mod:`workflow.season.contact_sheet`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.labels import contact_source_label
from reference.addresses import is_machine_address, normalise_address
from reference.text import words
from workflow.db import models
from workflow.season.audit import audit

if TYPE_CHECKING:
    from reference.roster import Roster

FOCAL = "đầu mối"
LEADER = "lãnh đạo"
CLERK = "văn thư"
_ROLES = {"dau moi": FOCAL, "focal": FOCAL, "focal point": FOCAL, "lanh dao": LEADER, "leader": LEADER,
          "van thu": CLERK, "clerk": CLERK}
SUGGESTED = "suggested"  # a source shown by `contacts list`, never stored
# A removed contact is kept as this many-years-ago tombstone: until_year = 0 never matches a year.
REMOVED_UNTIL = 0

_PREFIXES = ("tinh ", "thanh pho ", "tp ", "t p ", "so khcn ", "so kh cn ", "so khoa hoc va cong nghe ")


class ContactError(ValueError):
    """A request about the contact book that cannot be done; the text says why (Vietnamese first)."""


def normalise_role(value: str) -> str:
    """'Dau moi' / 'ĐẦU MỐI' -> 'đầu mối'; any other text is kept as written (free text is allowed)."""
    text = " ".join((value or "").split())
    return _ROLES.get(words(text), text)


def valid_in(contact: models.Contact, year: int | None) -> bool:
    if year is None:
        return contact.until_year != REMOVED_UNTIL
    return (contact.from_year is None or contact.from_year <= year) and \
        (contact.until_year is None or year <= contact.until_year)


def is_removed(contact: models.Contact) -> bool:
    return contact.until_year == REMOVED_UNTIL


# -- naming agencies ---------------------------------------------------------------------------


class AgencyNames:
    """Slug, official name, short name or alias, with or without diacritics -> slug(s).

    Every year's view counts ("Thừa Thiên Huế" and "Huế"), so a spreadsheet
    written for any season is understood. A name two agencies answer to is
    reported as ambiguous rather than guessed.
    """

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self._exact: dict[str, set[str]] = {}
        for agency in roster.all():
            for year in range(agency.from_year, (agency.until_year or max(agency.from_year, 2030)) + 1):
                view = roster.get(agency.slug, year)
                for name in (*view.names(), view.slug):
                    for key in self._keys(name):
                        self._exact.setdefault(key, set()).add(agency.slug)

    @staticmethod
    def _keys(text: str) -> set[str]:
        key = words(text)
        keys = {key}
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                keys.add(key[len(prefix):])
        return {k for k in keys if k}

    def lookup(self, text: str) -> list[str]:
        """The slugs ``text`` names: one is an answer, several are ambiguous, none is unknown."""
        found: set[str] = set()
        for key in self._keys(text):
            found |= self._exact.get(key, set())
        if found:
            return sorted(found)
        key = words(text)
        if len(key) < 4:
            return []
        padded = f" {key} "
        # "Sở KH&CN tỉnh Tây Ninh" holds a name; "Bộ Nông nghiệp" is held by two.
        inside = {s for k, slugs in self._exact.items() if len(k) >= 4 and f" {k} " in padded for s in slugs}
        holding = {s for k, slugs in self._exact.items() if f" {key} " in f" {k} " for s in slugs}
        return sorted(inside or holding)

    def name(self, slug: str) -> str:
        try:
            return self.roster.get(slug).name
        except KeyError:
            return slug


def resolve(roster: Roster, text: str) -> str:
    """One slug for ``text`` or a ContactError saying why not (unknown, ambiguous)."""
    names = AgencyNames(roster)
    found = names.lookup(text)
    if not found:
        raise ContactError(f"không tìm thấy đơn vị {text!r} trong danh sách (unknown agency)")
    if len(found) > 1:
        raise ContactError(f"tên {text!r} không rõ là đơn vị nào: {', '.join(found)} (ambiguous agency)")
    return found[0]


# -- changing the book -------------------------------------------------------------------------


@dataclass
class ContactLine:
    """One contact to add or update: as a checked spreadsheet line gives it, or a coordinator, or a learned sender."""

    line: int
    agency: str
    email: str
    name: str = ""
    role: str = ""
    phone: str = ""
    unit: str = ""
    from_year: int | None = None
    until_year: int | None = None
    source: str = models.CONTACT_IMPORTED
    confirmed: bool = True


def live_owners(session: Session) -> dict[str, set[str]]:
    """Address -> agencies of the live (not removed) contacts already in the book."""
    rows = session.execute(select(models.Contact.email, models.Contact.agency_slug, models.Contact.until_year))
    out: dict[str, set[str]] = {}
    for email, slug, until in rows:
        if until != REMOVED_UNTIL:
            out.setdefault(email, set()).add(slug)
    return out


def merged(roster: Roster, a: str, b: str) -> bool:
    """Whether one address may serve both agencies: the same one, or one absorbed the other (2025 merger)."""
    if a == b:
        return True
    try:
        return b in roster.get(a).absorbed or a in roster.get(b).absorbed
    except KeyError:
        return False


@dataclass
class Change:
    action: str  # add | update | same | confirm | remove | carry
    agency: str
    email: str
    fields: dict[str, Any] = field(default_factory=dict)  # what changed (new values)

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "agency": self.agency, "email": self.email, "fields": self.fields}

    def describe(self) -> str:
        """'thêm tay-ninh a@b.vn (họ tên: Văn thư, vai trò: văn thư)': the words a coordinator reads."""
        detail = ", ".join(f"{_FIELD_WORDS.get(k, k)}: {_value_words(v)}" for k, v in self.fields.items())
        return (f"{_ACTION_WORDS.get(self.action, self.action)} {self.agency} {self.email}"
                + (f" ({detail})" if detail else ""))


_ACTION_WORDS = {"add": "thêm", "update": "sửa", "same": "không đổi", "confirm": "xác nhận", "remove": "thôi dùng",
                 "carry": "chuyển sang"}
_FIELD_WORDS = {"name": "họ tên", "role": "vai trò", "phone": "điện thoại", "unit": "nơi nhận",
                "from_year": "từ năm", "until_year": "đến năm", "confirmed": "đã xác nhận", "failing": "bị trả lại",
                "source": "nguồn", "from": "từ"}


def _value_words(value: object) -> str:
    if isinstance(value, str) and value in models.CONTACT_SOURCES:
        return contact_source_label(value)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "có" if value else "không"
    return str(value)


_EDITABLE = ("name", "role", "phone", "unit", "from_year", "until_year")


def _get(session: Session, agency: str, email: str) -> models.Contact | None:
    return session.scalar(select(models.Contact).where(models.Contact.agency_slug == agency,
                                                       models.Contact.email == email))


def upsert(session: Session, line: ContactLine, *, actor: str, now: datetime, dry_run: bool = False) -> Change:
    """Add or update one contact from a checked line; audited; nothing written on a dry run."""
    row = _get(session, line.agency, line.email)
    wanted = {k: getattr(line, k) for k in _EDITABLE if getattr(line, k) not in ("", None)}
    if row is None:
        change = Change("add", line.agency, line.email, dict(wanted, source=line.source, confirmed=line.confirmed))
        if not dry_run:
            session.add(models.Contact(
                agency_slug=line.agency, email=line.email, name=line.name, role=line.role, phone=line.phone,
                unit=line.unit, from_year=line.from_year, until_year=line.until_year, source=line.source,
                confirmed=line.confirmed, failing=False, created_by=actor, created_at=now, updated_at=now))
            audit(session, action="contact_added", actor=actor, agency_slug=line.agency, at=now,
                  reason=f"{line.email} ({line.source}{', đã xác nhận' if line.confirmed else ', chưa xác nhận'})")
        return change
    diff = {k: v for k, v in wanted.items() if getattr(row, k) != v}
    if is_removed(row) and "until_year" not in wanted:
        diff["until_year"] = None
    if line.confirmed and not row.confirmed:
        diff["confirmed"] = True
    if not diff:
        return Change("same", line.agency, line.email)
    if not dry_run:
        for key, value in diff.items():
            setattr(row, key, value)
        row.updated_at = now
        audit(session, action="contact_updated", actor=actor, agency_slug=line.agency, at=now,
              reason=f"{line.email}: " + ", ".join(f"{k}={v!r}" for k, v in diff.items()))
    return Change("update", line.agency, line.email, diff)


def add(session: Session, roster: Roster, agency: str, email: str, *, actor: str, now: datetime,
        name: str = "", role: str = "", phone: str = "", unit: str = "", from_year: int | None = None,
        source: str = models.CONTACT_COORDINATOR) -> Change:
    """A coordinator adds (or re-confirms) one contact."""
    slug = resolve(roster, agency)
    address = normalise_address(email)
    if address is None:
        raise ContactError(f"địa chỉ email không hợp lệ: {email!r} (invalid address)")
    clash = sorted(s for s in live_owners(session).get(address, set()) if not merged(roster, s, slug))
    if clash:
        other = ", ".join(clash)
        raise ContactError(f"{address} đã là địa chỉ của {other}; hãy xoá ở đó trước")
    line = ContactLine(line=0, agency=slug, email=address, name=name, role=normalise_role(role), phone=phone,
                       unit=unit, from_year=from_year, source=source, confirmed=True)
    return upsert(session, line, actor=actor, now=now)


def _existing(session: Session, roster: Roster, agency: str, email: str,
              removed_too: bool = False) -> models.Contact:
    slug = resolve(roster, agency)
    address = normalise_address(email)
    row = _get(session, slug, address) if address else None
    if row is None or (is_removed(row) and not removed_too):
        raise ContactError(f"{slug} không có liên hệ {email!r} trong danh bạ")
    return row


def confirm(session: Session, roster: Roster, agency: str, email: str, *, actor: str, now: datetime) -> Change:
    """Confirm a contact (a carried-over one, one that bounced and was fixed, or one removed by mistake):
    reminders use it again."""
    row = _existing(session, roster, agency, email, removed_too=True)
    revived = is_removed(row)
    if row.confirmed and not row.failing and not revived:
        return Change("same", row.agency_slug, row.email)
    fields: dict[str, object] = {"confirmed": True, "failing": False}
    if revived:
        row.until_year = None  # the tombstone's year: the contact is valid again from its from_year on
        fields["until_year"] = None
    row.confirmed, row.failing, row.updated_at = True, False, now
    why = f"{row.email} ({row.source})"
    if revived:
        why += "; khôi phục liên hệ đã xoá"
    if row.bounce_reason:
        why += f"; trước đó bị trả lại: {row.bounce_reason}"
    audit(session, action="contact_confirmed", actor=actor, agency_slug=row.agency_slug, at=now, reason=why)
    return Change("confirm", row.agency_slug, row.email, fields)


def remove(session: Session, roster: Roster, agency: str, email: str, *, actor: str, now: datetime) -> Change:
    """Take a contact out of use. The row stays (a tombstone) so a carried-over address is not offered again."""
    return _retire(session, _existing(session, roster, agency, email), actor=actor, now=now)


def _retire(session: Session, row: models.Contact, *, actor: str, now: datetime, why: str = "") -> Change:
    row.confirmed, row.until_year, row.updated_at = False, REMOVED_UNTIL, now
    audit(session, action="contact_removed", actor=actor, agency_slug=row.agency_slug, at=now,
          reason=f"{row.email} ({row.source})" + (f": {why}" if why else ""))
    return Change("remove", row.agency_slug, row.email)


def learn(session: Session, agency: str, address: str, *, actor: str, now: datetime, why: str,
          revive: bool = False) -> Change | None:
    """A sender a coordinator vouched for (accepted or assigned report) becomes a confirmed ``learned`` contact.

    A contact a coordinator removed stays removed when a later report of it
    is accepted; ``revive`` is for a coordinator who ties this very sender to
    the agency (``assign``), which outweighs the earlier removal.
    """
    normal = normalise_address(address)
    if normal is None:
        return None
    row = _get(session, agency, normal)
    if row is not None and row.confirmed and not is_removed(row):
        return None
    if row is not None and is_removed(row) and not revive:
        return None  # a coordinator removed it: a later report does not bring it back
    line = ContactLine(line=0, agency=agency, email=normal, source=models.CONTACT_LEARNED, confirmed=True)
    change = upsert(session, line, actor=actor, now=now)
    audit(session, action="contact_learned", actor=actor, agency_slug=agency, at=now, reason=f"{normal}: {why}")
    return change


@dataclass
class Tie:
    """What tying a sender to an agency changed: its contact there, and the agencies it was learned for before."""

    change: Change | None
    untied_from: list[str] = field(default_factory=list)


def tie_sender(session: Session, roster: Roster, agency: str, address: str, *, actor: str, now: datetime,
               why: str) -> Tie:
    """A coordinator says this sender speaks for ``agency`` (``assign``): one confirmed contact says so.

    Why the other agencies' learned contacts go: a sender learned for one
    agency and then tied to another was misread the first time, and the
    roster must name one agency for an address. Contacts a coordinator
    imported or added stay (they are reminded); a merged unit keeps its
    absorbed provinces' addresses.
    """
    normal = normalise_address(address)
    if normal is None:
        return Tie(None)
    change = learn(session, agency, normal, actor=actor, now=now, why=why, revive=True)
    untied: list[str] = []
    others = session.scalars(select(models.Contact).where(
        models.Contact.email == normal, models.Contact.agency_slug != agency,
        models.Contact.source == models.CONTACT_LEARNED, models.Contact.confirmed.is_(True)))
    for row in others:
        if not is_removed(row) and not merged(roster, row.agency_slug, agency):
            _retire(session, row, actor=actor, now=now, why=f"gắn với {agency}: {why}")
            untied.append(row.agency_slug)
    return Tie(change, sorted(untied))


def carry_over(session: Session, roster: Roster, year: int, *, now: datetime, actor: str = "bot") -> list[Change]:
    """Offer the absorbed provinces' contacts to the unit that reports for them in ``year``, unconfirmed.

    Idempotent: an address the unit already has (in any state, a removed
    one included) is not offered again.
    """
    changes: list[Change] = []
    live = [c for c in session.scalars(select(models.Contact).order_by(models.Contact.id)) if not is_removed(c)]
    have = {(c.agency_slug, c.email) for c in session.scalars(select(models.Contact))}
    by_agency: dict[str, list[models.Contact]] = {}
    for contact in live:
        by_agency.setdefault(contact.agency_slug, []).append(contact)
    for agency in roster.owing(year):
        for old in agency.absorbed:
            try:
                if roster.get(old, year).owes(year):
                    continue
            except KeyError:
                continue
            for contact in by_agency.get(old, []):
                if not contact.confirmed or (agency.slug, contact.email) in have:
                    continue
                session.add(models.Contact(
                    agency_slug=agency.slug, email=contact.email, name=contact.name, role=contact.role,
                    phone=contact.phone, unit=contact.unit, from_year=year, until_year=None,
                    source=models.CONTACT_CARRIED_OVER, confirmed=False, carried_from=old, failing=False,
                    created_by=actor, created_at=now, updated_at=now))
                have.add((agency.slug, contact.email))
                audit(session, action="contact_carried_over", actor=actor, agency_slug=agency.slug, year=year,
                      at=now, reason=f"{contact.email} từ {old} (chưa xác nhận)")
                changes.append(Change("carry", agency.slug, contact.email, {"from": old}))
    session.flush()
    return changes


# -- reading the book --------------------------------------------------------------------------


def confirmed_addresses(session: Session) -> dict[str, str]:
    """Address -> agency for every confirmed contact: the addresses the roster's sender lookup trusts.

    The one place the roster learns addresses from (``App.roster``). When an
    address is a confirmed contact of several agencies (an imported one and
    a sender a coordinator tied elsewhere), a learned contact wins, then the
    newest: the coordinator's latest word on that sender, as the old
    ``learned_addresses`` table overrode the book.
    """
    rows = session.execute(select(models.Contact.email, models.Contact.agency_slug, models.Contact.source,
                                  models.Contact.created_at, models.Contact.id)
                           .where(models.Contact.confirmed.is_(True)))
    ranked = sorted(rows, key=lambda r: (r.source == models.CONTACT_LEARNED, r.created_at, r.id))
    return {row.email: row.agency_slug for row in ranked}


def usable(session: Session, slugs: Iterable[str], year: int) -> dict[str, list[models.Contact]]:
    """Confirmed, valid in ``year`` and not failing: the contacts a reminder goes to, per agency."""
    wanted = list(dict.fromkeys(slugs))
    out: dict[str, list[models.Contact]] = {slug: [] for slug in wanted}
    if not wanted:
        return out
    rows = session.scalars(select(models.Contact).where(
        models.Contact.agency_slug.in_(wanted), models.Contact.confirmed.is_(True),
        models.Contact.failing.is_(False)).order_by(models.Contact.id))
    for row in rows:
        if valid_in(row, year):
            out[row.agency_slug].append(row)
    return out


def failing_addresses(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(models.Contact.email).where(models.Contact.failing.is_(True))))


def contact_json(contact: models.Contact) -> dict[str, Any]:
    return {
        "agency": contact.agency_slug, "email": contact.email, "name": contact.name, "role": contact.role,
        "phone": contact.phone, "unit": contact.unit, "source": contact.source, "confirmed": contact.confirmed,
        "from_year": contact.from_year, "until_year": contact.until_year, "carried_from": contact.carried_from,
        "failing": contact.failing,
        "last_bounce_at": contact.last_bounce_at.isoformat() if contact.last_bounce_at else None,
        "bounce_reason": contact.bounce_reason,
    }


def suggestions(session: Session, roster: Roster, year: int | None = None,
                agency: str | None = None) -> list[dict[str, Any]]:
    """Senders of recorded reports that nobody vouched for: shown to coordinators, never reminded.

    The sender is whom the mail speaks for (a share notice's sharer); a device
    or a robot (the copier, an e-office system, a file service) is no one to suggest.
    """
    known = {(c.agency_slug, c.email) for c in session.scalars(select(models.Contact))}
    query = (select(models.Message.agency_slug, models.Message.from_addr, models.Message.year,
                    models.Message.speaker, models.Message.from_device)
             .where(models.Message.kind == "report", models.Message.status == "recorded",
                    models.Message.agency_slug.is_not(None)))
    if year is not None:
        query = query.where(models.Message.year == year)
    if agency is not None:
        query = query.where(models.Message.agency_slug == agency)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for slug, sender, msg_year, speaker, device in session.execute(query.distinct()):
        address = normalise_address(speaker or sender or "")  # speaker NULL: recorded before 0019
        if address is None or (slug, address) in known or device or is_machine_address(address):
            continue
        try:
            if address in roster.get(slug).addresses:
                continue
        except KeyError:
            continue
        out.setdefault((slug, address), {
            "agency": slug, "email": address, "name": "", "role": "", "phone": "", "unit": "",
            "source": SUGGESTED, "confirmed": False, "from_year": msg_year, "until_year": None,
            "carried_from": None, "failing": False, "last_bounce_at": None, "bounce_reason": None,
        })
    return [out[k] for k in sorted(out)]


def list_contacts(session: Session, roster: Roster, year: int | None = None, agency: str | None = None,
                  with_suggestions: bool = True) -> list[dict[str, Any]]:
    """The book (removed contacts left out), optionally for one year and one agency, then suggestions."""
    slug = resolve(roster, agency) if agency else None
    query = select(models.Contact).order_by(models.Contact.agency_slug, models.Contact.id)
    if slug:
        query = query.where(models.Contact.agency_slug == slug)
    rows = [contact_json(c) for c in session.scalars(query) if not is_removed(c) and valid_in(c, year)]
    if with_suggestions:
        rows += suggestions(session, roster, year, slug)
    return rows


def unconfirmed_units(session: Session, roster: Roster, year: int) -> list[dict[str, Any]]:
    """Units owing ``year`` with contacts waiting for a coordinator (carried over after a merger)."""
    owing = {a.slug: a.name for a in roster.owing(year)}
    waiting: dict[str, list[str]] = {}
    for c in session.scalars(select(models.Contact).where(models.Contact.confirmed.is_(False))
                             .order_by(models.Contact.id)):
        if c.agency_slug in owing and not is_removed(c) and valid_in(c, year):
            waiting.setdefault(c.agency_slug, []).append(c.email)
    return [{"agency": slug, "name": owing[slug], "emails": emails} for slug, emails in waiting.items()]


def bounced(session: Session, since: datetime) -> list[dict[str, Any]]:
    """Contacts marked failing by a bounce since ``since``, with the reason, for the digest."""
    rows = session.scalars(select(models.Contact).where(
        models.Contact.failing.is_(True), models.Contact.last_bounce_at >= since)
        .order_by(models.Contact.last_bounce_at, models.Contact.id))
    return [{"agency": c.agency_slug, "email": c.email, "reason": c.bounce_reason or "",
             "at": c.last_bounce_at} for c in rows]


def _fold_roles(roles: Iterable[str]) -> set[str]:
    return {words(normalise_role(r)) for r in roles}


def split_recipients(contacts: list[models.Contact], extra: Iterable[str], to_roles: Iterable[str],
                     cc_others: bool) -> tuple[list[str], list[str], str]:
    """(To, Cc, unit): the focal points in To and the others in Cc (or all in To), and the unit to address.

    ``extra`` are addresses known without a contact row (the roster's own);
    they join the others. With no focal point everyone is in To.
    """
    roles = _fold_roles(to_roles)
    focal = [c.email for c in contacts if words(c.role) in roles]
    others = [c.email for c in contacts if words(c.role) not in roles]
    others += [a for a in extra if a not in focal and a not in others]
    if not focal:
        focal, others = others, []
    if not cc_others:
        focal, others = focal + others, []
    unit = next((c.unit for c in contacts if c.unit and words(c.role) in roles), "") or \
        next((c.unit for c in contacts if c.unit), "")
    return list(dict.fromkeys(focal)), [a for a in dict.fromkeys(others) if a not in focal], unit


__all__ = ["AgencyNames", "Change", "ContactError", "ContactLine", "add", "carry_over", "confirm",
           "confirmed_addresses", "learn", "list_contacts", "remove", "resolve", "split_recipients", "suggestions",
           "tie_sender", "usable"]
