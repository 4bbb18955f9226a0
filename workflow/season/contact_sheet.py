"""The coordinators' spreadsheet of contacts: read and checked into the book, and written out again.

A sheet is hostile the way mail is: whoever wrote it, it is read within
:class:`ImportLimits` (size, unpacked size, rows, columns, time), every line
is checked (address, agency named once and unambiguously, duplicates, an
address claimed by two agencies) and every problem listed before anything
is written. The export is the import's format, cells protected from
spreadsheet formulas, so ``contacts import`` reads it back to the same book.
The book's own rules (naming agencies, adding, confirming) live in
:mod:`workflow.season.contacts`.
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
from notifier.render import vn_filesize, vn_number
from notifier.safe_text import spreadsheet_original, spreadsheet_text
from reference.addresses import normalise_address
from reference.roster import FIRST_SANE_YEAR, LAST_SANE_YEAR
from reference.text import words
from workflow.db import models
from workflow.season.contacts import (
    AgencyNames,
    Change,
    ContactError,
    ContactLine,
    is_removed,
    live_owners,
    merged,
    normalise_role,
    upsert,
)

if TYPE_CHECKING:
    from reference.roster import Roster

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
_FALSE = {"0", "false", "no", "khong", "chua", ""}


# -- reading a spreadsheet -------------------------------------------------------------------


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
    taken = live_owners(session) if session is not None else {}
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


# -- into the book, and out again ----------------------------------------------------------------


def import_lines(session: Session, lines: Iterable[ContactLine], *, actor: str, now: datetime,
                 dry_run: bool = False) -> list[Change]:
    """The checked lines into the book, one audited change each (nothing written on a dry run)."""
    changes = [upsert(session, line, actor=actor, now=now, dry_run=dry_run) for line in lines]
    session.flush()
    return changes


def export_rows(session: Session) -> list[dict[str, Any]]:
    """The live book (removed contacts left out) in the import's columns."""
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
