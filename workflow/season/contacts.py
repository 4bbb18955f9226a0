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
"""
from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.files import save_atomically
from notifier.labels import contact_source_label
from notifier.render import vn_filesize, vn_number
from notifier.safe_text import spreadsheet_original, spreadsheet_text
from reference.roster import FIRST_SANE_YEAR, LAST_SANE_YEAR, normalise_address
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

IMPORT_COLUMNS = ("agency", "email", "name", "role", "phone", "unit", "from_year")
EXPORT_COLUMNS = (*IMPORT_COLUMNS, "until_year", "source", "confirmed")
# Header spellings seen in coordinators' sheets (folded, punctuation as spaces).
_HEADERS = {
    "agency": {"agency", "slug", "don vi", "co quan", "tinh", "tinh bo", "tinh thanh pho", "bo nganh", "ten don vi"},
    "email": {"email", "e mail", "thu dien tu", "dia chi email", "dia chi thu", "mail"},
    "name": {"name", "ho ten", "ho va ten", "nguoi lien he", "can bo"},
    "role": {"role", "vai tro", "chuc vu", "chuc danh"},
    "phone": {"phone", "dien thoai", "so dien thoai", "sdt", "dt"},
    "unit": {"unit", "kinh gui", "don vi nhan", "co quan nhan"},
    "from_year": {"from year", "from", "tu nam"},
    "until_year": {"until year", "until", "den nam"},
    "source": {"source", "nguon"},
    "confirmed": {"confirmed", "da xac nhan"},
}
_PREFIXES = ("tinh ", "thanh pho ", "tp ", "t p ", "so khcn ", "so kh cn ", "so khoa hoc va cong nghe ")
_TRUE = {"1", "true", "yes", "x", "co", "da xac nhan"}
_FALSE = {"0", "false", "no", "khong", "chua", ""}


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


# -- reading a spreadsheet -------------------------------------------------------------------


@dataclass
class ContactLine:
    """One contact as a spreadsheet line gives it, checked."""

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


@dataclass
class ImportCheck:
    lines: list[ContactLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "dòng N: ..." in line order


@dataclass(frozen=True)
class ImportLimits:
    """How much one ``contacts import`` may read and how long it may take.

    A real sheet is a few hundred lines and a few hundred KB; these caps are
    ten times that and more, and stop a file (or an .xlsx that is a zip
    bomb) that would hold the command and the database for minutes.
    """

    max_bytes: int = 5 * 1024 * 1024  # the file on disk
    max_unpacked_bytes: int = 50 * 1024 * 1024  # what an .xlsx (a zip) unpacks to
    max_rows: int = 5_000
    max_columns: int = 50
    max_seconds: float = 30.0  # reading and checking together

    def deadline(self) -> float:
        return time.monotonic() + self.max_seconds


IMPORT_LIMITS = ImportLimits()
_SPLIT_ADVICE = "hãy chia thành nhiều tệp nhỏ hơn rồi nhập từng tệp"


def _too_slow(limits: ImportLimits, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise ContactError(f"đọc và kiểm tra danh bạ quá {vn_number(limits.max_seconds)} giây nên đã dừng, "
                           f"không nhập gì; {_SPLIT_ADVICE} (the import took too long)")


def _too_many_rows(path: Path, limits: ImportLimits) -> ContactError:
    return ContactError(f"{path.name}: có hơn {vn_number(limits.max_rows)} dòng, quá giới hạn cho một lần nhập "
                        f"danh bạ; {_SPLIT_ADVICE} (too many rows)")


def read_table(path: Path, limits: ImportLimits = IMPORT_LIMITS,
               deadline: float | None = None) -> list[tuple[int, list[str]]]:
    """(line number, cells) of a CSV (UTF-8, BOM or not, ';' or ',') or XLSX file; cells as text.

    Bounded by ``limits`` (file size, unpacked size, rows, columns, time):
    ContactError with the reason, in Vietnamese, when a cap is reached.
    Cells the bot's own export protected from spreadsheet formulas
    (``'+84 …``) are read back as they were.
    """
    deadline = limits.deadline() if deadline is None else deadline
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ContactError(f"{path.name}: tệp {vn_filesize(size)}, quá giới hạn {vn_filesize(limits.max_bytes)} "
                           f"cho một lần nhập danh bạ; {_SPLIT_ADVICE} (the file is too large)")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, limits, deadline)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContactError(f"{path.name}: tệp CSV không phải UTF-8 (byte {exc.start}); hãy lưu lại dạng "
                           f"'CSV UTF-8' (the CSV file is not UTF-8)") from exc
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ("\t" if first.count("\t") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    for cells in reader:
        if len(rows) >= limits.max_rows:
            raise _too_many_rows(path, limits)
        _too_slow(limits, deadline)
        rows.append((start, [spreadsheet_original(c).strip() for c in cells[:limits.max_columns]]))
        start = reader.line_num + 1
    return rows


def _read_xlsx(path: Path, limits: ImportLimits, deadline: float) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ContactError(f"{path.name}: không đọc được tệp Excel: {exc} (cannot read the workbook)") from exc
    if unpacked > limits.max_unpacked_bytes:
        raise ContactError(f"{path.name}: tệp Excel giải nén ra {vn_filesize(unpacked)}, quá giới hạn "
                           f"{vn_filesize(limits.max_unpacked_bytes)}; {_SPLIT_ADVICE} "
                           "(the workbook unpacks too large)")
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the same problem to the user
        raise ContactError(f"{path.name}: không đọc được tệp Excel: {exc} (cannot read the workbook)") from exc
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, values in enumerate(sheet.iter_rows(max_col=limits.max_columns, values_only=True), 1):
            if number > limits.max_rows:
                raise _too_many_rows(path, limits)
            _too_slow(limits, deadline)
            rows.append((number, [_cell(v) for v in values]))
        return rows
    finally:
        book.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(spreadsheet_original(str(value)).split())


def _header(rows: list[tuple[int, list[str]]]) -> tuple[int, dict[str, int]] | None:
    """The header row (the first with an agency and an email column among the first ten), as column -> index."""
    for index, (_, cells) in enumerate(rows[:10]):
        columns: dict[str, int] = {}
        for i, cell in enumerate(cells):
            key = words(cell)
            for column, spellings in _HEADERS.items():
                if key in spellings and column not in columns:
                    columns[column] = i
        if "agency" in columns and "email" in columns:
            return index, columns
    return None


def check_table(roster: Roster, rows: list[tuple[int, list[str]]], session: Session | None = None,
                limits: ImportLimits = IMPORT_LIMITS, deadline: float | None = None) -> ImportCheck:
    """Every line checked (address, agency found and unambiguous, duplicates); every problem listed.

    Within ``deadline`` (``limits.max_seconds`` from now by default): past it, ContactError.
    """
    deadline = limits.deadline() if deadline is None else deadline
    result = ImportCheck()
    header = _header(rows)
    if header is None:
        result.problems.append("dòng 1: không thấy dòng tiêu đề có cột 'agency' (đơn vị) và 'email' "
                               "(no header row with agency and email columns)")
        return result
    start, columns = header
    names = AgencyNames(roster)
    seen: dict[tuple[str, str], int] = {}
    owner: dict[str, tuple[str, int]] = {}
    taken = _owners(session) if session is not None else {}
    for number, cells in rows[start + 1:]:
        _too_slow(limits, deadline)

        def get(column: str, cells: list[str] = cells) -> str:
            i = columns.get(column)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        if not any(c.strip() for c in cells):
            continue
        problems: list[str] = []
        agency_text, email_text = get("agency"), get("email")
        slug = None
        if not agency_text:
            problems.append("thiếu tên đơn vị (agency is empty)")
        else:
            found = names.lookup(agency_text)
            if not found:
                problems.append(f"không tìm thấy đơn vị {agency_text!r} (unknown agency)")
            elif len(found) > 1:
                problems.append(f"tên {agency_text!r} không rõ là đơn vị nào: {', '.join(found)} (ambiguous agency)")
            else:
                slug = found[0]
        addresses = _addresses(email_text, problems)
        years = {}
        for column in ("from_year", "until_year"):
            raw = get(column)
            if raw:
                try:
                    value = int(raw)
                except ValueError:
                    value = 0
                if not FIRST_SANE_YEAR <= value <= LAST_SANE_YEAR:
                    problems.append(f"cột {column}: {raw!r} không phải là năm (not a year)")
                years[column] = value
        source, confirmed = models.CONTACT_IMPORTED, True
        if get("source") in models.CONTACT_SOURCES:
            source = get("source")
        if "confirmed" in columns:
            confirmed = words(get("confirmed")) not in _FALSE
        if slug is not None:
            for address in addresses:
                key = (slug, address)
                if key in seen:
                    problems.append(f"{address} trùng với dòng {seen[key]} (duplicate)")
                    continue
                other = owner.get(address)
                if other is not None and not merged(roster, other[0], slug):
                    problems.append(f"{address} đã ghi cho {other[0]} ở dòng {other[1]} (one address, two agencies)")
                    continue
                clash = sorted(s for s in taken.get(address, set()) if not merged(roster, s, slug))
                if clash:
                    problems.append(f"{address} đã là địa chỉ của {', '.join(clash)} trong danh bạ "
                                    f"(already a contact of another agency)")
                    continue
                seen[key] = number
                owner[address] = (slug, number)
        if problems:
            result.problems.extend(f"dòng {number}: {p}" for p in problems)
            continue
        assert slug is not None
        for address in addresses:
            result.lines.append(ContactLine(
                line=number, agency=slug, email=address, name=get("name"), role=normalise_role(get("role")),
                phone=get("phone"), unit=get("unit"), from_year=years.get("from_year"),
                until_year=years.get("until_year"), source=source, confirmed=confirmed,
            ))
    return result


def _addresses(text: str, problems: list[str]) -> list[str]:
    """One or more addresses in a cell ('a@x.vn; b@x.vn', 'Tên <a@x.vn>', 'mailto:a@x.vn')."""
    if not text.strip():
        problems.append("thiếu địa chỉ email (email is empty)")
        return []
    out = []
    for part in [p.strip() for p in text.replace(",", ";").replace("\n", ";").split(";")]:
        if not part:
            continue
        candidate = part[7:] if part.lower().startswith("mailto:") else part
        normal = normalise_address(candidate)
        if normal is None or " " in candidate.split("<")[-1].strip().strip(">"):
            problems.append(f"địa chỉ email không hợp lệ: {part!r} (invalid address)")
            continue
        out.append(normal)
    return list(dict.fromkeys(out))


def _owners(session: Session) -> dict[str, set[str]]:
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


# -- changing the book -------------------------------------------------------------------------


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


def import_lines(session: Session, lines: Iterable[ContactLine], *, actor: str, now: datetime,
                 dry_run: bool = False) -> list[Change]:
    changes = [upsert(session, line, actor=actor, now=now, dry_run=dry_run) for line in lines]
    session.flush()
    return changes


def add(session: Session, roster: Roster, agency: str, email: str, *, actor: str, now: datetime,
        name: str = "", role: str = "", phone: str = "", unit: str = "", from_year: int | None = None,
        source: str = models.CONTACT_COORDINATOR) -> Change:
    """A coordinator adds (or re-confirms) one contact."""
    slug = resolve(roster, agency)
    address = normalise_address(email)
    if address is None:
        raise ContactError(f"địa chỉ email không hợp lệ: {email!r} (invalid address)")
    clash = sorted(s for s in _owners(session).get(address, set()) if not merged(roster, s, slug))
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
    row = _existing(session, roster, agency, email)
    row.confirmed, row.until_year, row.updated_at = False, REMOVED_UNTIL, now
    learned = session.get(models.LearnedAddress, row.email)
    if learned is not None and learned.agency_slug == row.agency_slug:
        session.delete(learned)  # it would otherwise keep identifying the agency
    audit(session, action="contact_removed", actor=actor, agency_slug=row.agency_slug, at=now,
          reason=f"{row.email} ({row.source})")
    return Change("remove", row.agency_slug, row.email)


def learn(session: Session, agency: str, address: str, *, actor: str, now: datetime, why: str) -> Change | None:
    """A sender a coordinator vouched for (accepted or assigned report) becomes a confirmed ``learned`` contact."""
    normal = normalise_address(address)
    if normal is None:
        return None
    row = _get(session, agency, normal)
    if row is not None and row.confirmed and not is_removed(row):
        return None
    if row is not None and is_removed(row):
        return None  # a coordinator removed it: a later report does not bring it back
    line = ContactLine(line=0, agency=agency, email=normal, source=models.CONTACT_LEARNED, confirmed=True)
    change = upsert(session, line, actor=actor, now=now)
    audit(session, action="contact_learned", actor=actor, agency_slug=agency, at=now, reason=f"{normal}: {why}")
    return change


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
    """Address -> agency for every confirmed contact: what the roster's sender lookup trusts."""
    rows = session.execute(select(models.Contact.email, models.Contact.agency_slug).where(
        models.Contact.confirmed.is_(True)))
    return {email: slug for email, slug in rows}


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
    """Senders of recorded reports that nobody vouched for: shown to coordinators, never reminded."""
    known = {(c.agency_slug, c.email) for c in session.scalars(select(models.Contact))}
    query = (select(models.Message.agency_slug, models.Message.from_addr, models.Message.year)
             .where(models.Message.kind == "report", models.Message.status == "recorded",
                    models.Message.agency_slug.is_not(None)))
    if year is not None:
        query = query.where(models.Message.year == year)
    if agency is not None:
        query = query.where(models.Message.agency_slug == agency)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for slug, sender, msg_year in session.execute(query.distinct()):
        address = normalise_address(sender or "")
        if address is None or (slug, address) in known:
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


# -- writing a spreadsheet ---------------------------------------------------------------------


def export_rows(session: Session) -> list[dict[str, Any]]:
    rows = []
    for c in session.scalars(select(models.Contact).order_by(models.Contact.agency_slug, models.Contact.id)):
        if is_removed(c):
            continue
        rows.append({"agency": c.agency_slug, "email": c.email, "name": c.name, "role": c.role, "phone": c.phone,
                     "unit": c.unit, "from_year": c.from_year or "", "until_year": c.until_year or "",
                     "source": c.source, "confirmed": "1" if c.confirmed else "0"})
    return rows


def _export_cell(value: Any) -> Any:
    """Text through the exports' one rule (``spreadsheet_text``): a name or phone written as a formula is shown,
    never run, in CSV and XLSX alike (openpyxl would store "=…" as a formula). Numbers stay numbers."""
    return spreadsheet_text(value) if isinstance(value, str) else value


def write_table(rows: Sequence[Mapping[str, Any]], out: Path) -> None:
    """CSV (UTF-8 with BOM, so Excel shows the diacritics) or XLSX, by the file's suffix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None  # a new workbook has one sheet
        sheet.title = "Danh bạ"
        sheet.append(list(EXPORT_COLUMNS))
        for row in rows:
            sheet.append([_export_cell(row.get(c, "")) for c in EXPORT_COLUMNS])
        save_atomically(out, book.save)
        return
    if out.suffix.lower() != ".csv":
        raise ContactError(f"{out.name}: chỉ xuất được .csv hoặc .xlsx (export to .csv or .xlsx)")
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _export_cell(row.get(c, "")) for c in EXPORT_COLUMNS})
    data = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    save_atomically(out, lambda tmp: Path(tmp).write_bytes(data))


def _fold_roles(roles: Iterable[str]) -> set[str]:
    return {words(normalise_role(r)) for r in roles}


def split_recipients(contacts: list[models.Contact], extra: Iterable[str], to_roles: Iterable[str],
                     cc_others: bool) -> tuple[list[str], list[str], str]:
    """(To, Cc, unit): the focal points in To and the others in Cc (or all in To), and the unit to address.

    ``extra`` are addresses known without a contact row (the roster's, taught
    by ``assign``); they join the others. With no focal point everyone is in To.
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


__all__ = ["AgencyNames", "Change", "ContactError", "ContactLine", "ImportCheck", "ImportLimits", "add", "carry_over",
           "check_table", "confirm", "confirmed_addresses", "import_lines", "learn", "list_contacts",
           "read_table", "remove", "resolve", "split_recipients", "suggestions", "usable", "write_table"]
