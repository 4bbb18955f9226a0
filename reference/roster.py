"""The roster: which agencies owe an annual report for which year, and how to recognise them.

The roster is data (config/roster/*.toml), never code, because it changes with
Vietnam's administrative map: 63 provinces up to 2024, 34 from the 1 July 2025
merger, and ministries that merged on 1 March 2025. The loader refuses a
roster it cannot trust (every error names the file, the agency and the reason)
so that a typo fails at start-up instead of silently misfiling reports.

Data format, one ``[[agency]]`` table per slug::

    [[agency]]
    slug = "tay-ninh"               # the slug rule, see expected_slug()
    name = "Tỉnh Tây Ninh"          # official name
    short_name = "Tây Ninh"
    kind = "province"               # or "ministry"
    code = "72"                     # statistical code, optional
    aliases = ["..."]               # abbreviations; unaccented forms are derived by folding
    addresses = ["x@y.gov.vn"]      # exact known sender addresses
    domains = ["tayninh.gov.vn", { name = "...", evidence = "A", source = "..." }]
    from = 2020                     # first reporting year owed
    until = 2024                    # last year owed (inclusive); absent = still owes
    absorbed = ["..."]              # old slugs this unit took over
    notes = "..."                   # shown to coordinators
    doubt = "..."                   # what is not verified; appended to notes

      [[agency.change]]             # amendments from a reporting year on
      from = 2025
      code = "80"                   # replaces: name, short_name, code, notes
      absorbed = ["long-an"]        # adds to: aliases, addresses, domains, absorbed

A file may also hold a top-level ``notes`` string (about the whole file).

Identity is the slug: a unit that keeps its name keeps its slug across the
merger (``tay-ninh`` in 2024 and in 2025, absorbing ``long-an``), and a year
picks the *view* of the record in force that year (its code, name, absorbed
units). ``from_year``/``until_year`` are the same in every view of a slug.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, overload

from reference.addresses import (
    GENERIC_MAIL_DOMAINS,
    SHARED_SUFFIXES,
    is_domain,
    normalise_address,
    parent_domains,
)
from reference.text import fold, slugify, words
from reference.toml_files import quoted, read_toml, shown

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEFAULT_ROSTER_DIR = CONFIG_DIR / "roster"

KINDS = ("province", "ministry")
FIRST_SANE_YEAR = 2000
LAST_SANE_YEAR = 2100

_CODE_RE = re.compile(r"^\d{1,3}$")
_PREFIX_RE = re.compile(r"^(?:tinh|thanh-pho)-")

_AGENCY_KEYS = {"slug", "name", "short_name", "kind", "code", "aliases", "addresses", "domains",
                "from", "until", "absorbed", "notes", "doubt", "change"}
_CHANGE_KEYS = {"from", "name", "short_name", "code", "aliases", "addresses", "domains",
                "absorbed", "notes", "doubt"}
_FILE_KEYS = {"agency", "notes"}


class RosterError(ValueError):
    """A roster file that cannot be trusted; the message names file, agency and reason."""


@dataclass(frozen=True)
class Agency:
    """One reporting agency as it stands in one reporting year."""

    slug: str
    name: str
    short_name: str
    kind: str  # "province" | "ministry"
    code: str | None
    aliases: tuple[str, ...]
    addresses: tuple[str, ...]
    domains: tuple[str, ...]
    from_year: int
    until_year: int | None
    absorbed: tuple[str, ...]
    notes: str = ""

    def owes(self, year: int) -> bool:
        return self.from_year <= year and (self.until_year is None or year <= self.until_year)

    def names(self) -> tuple[str, ...]:
        """Every name a sender might use; matchers fold them, so unaccented forms are implied."""
        return tuple(dict.fromkeys((self.name, self.short_name, *self.aliases)))

    def search_forms(self) -> tuple[str, ...]:
        """Every name and alias, and the slug, as folded words: what a search box's text is found in."""
        return tuple(dict.fromkeys(form for form in (words(n) for n in (*self.names(), self.slug)) if form))

    def short_forms(self) -> frozenset[str]:
        """What people type for the agency in a few letters: 'tphcm', 'hcm', 'brvt', 'hn'.

        Each name and alias run together ('TP. HCM' -> 'tphcm') and the
        initials of the official and short names ('Thành phố Hồ Chí Minh' ->
        'tphcm', 'Hà Nội' -> 'hn'). For finding an agency a person names
        (search, an agency typed on the command line), never for recognising
        one in a mail: two letters are no evidence, and 'hn' is Hà Nam too.
        """
        return frozenset({run_together(n) for n in (*self.names(), self.slug)}
                         | {initials(n) for n in (self.name, self.short_name)}) - {""}

    def named_by(self, query: str) -> bool:
        """``query`` (with or without diacritics) is part of one of its names, or one of its short forms."""
        wanted = words(query)
        return bool(wanted) and (any(wanted in form for form in self.search_forms())
                                 or run_together(query) in self.short_forms())


def run_together(text: str) -> str:
    """'TP. HCM', 'tp hcm', 'TPHCM' -> 'tphcm': a name as folded letters and digits only."""
    return words(text).replace(" ", "")


def initials(text: str) -> str:
    """'Bà Rịa - Vũng Tàu' -> 'brvt' (empty for a one-word name: one letter names nothing)."""
    parts = words(text).split()
    return "".join(part[0] for part in parts) if len(parts) >= 2 else ""


def expected_slug(name: str) -> str:
    """The slug rule that scripts rely on: official name minus "Tỉnh"/"Thành phố", slugified."""
    return _PREFIX_RE.sub("", slugify(name))


@dataclass(frozen=True)
class _Record:
    """All views of one slug: (first year of the view, the agency as it stands from then)."""

    views: tuple[tuple[int, Agency], ...]
    order: int  # load order, keeps ministries in the dispatch's order

    def at(self, year: int | None) -> Agency:
        if year is None:
            return self.views[-1][1]
        chosen = self.views[0][1]
        for start, view in self.views:
            if start <= year:
                chosen = view
        return chosen

    @property
    def latest(self) -> Agency:
        return self.views[-1][1]


class Roster:
    """Agencies by year, with lookups by slug and by sender address."""

    def __init__(self, records: dict[str, _Record], learned: dict[str, str] | None = None,
                 learned_problems: tuple[str, ...] = ()) -> None:
        self._records = records
        self._learned = dict(learned or {})
        self.learned_problems = learned_problems  # learned addresses that were ignored, and why
        self._absorbed_by: dict[str, tuple[str, int]] = {}
        self._addresses: dict[str, str] = {}
        self._domains: dict[str, str] = {}
        for slug, record in records.items():
            for start, view in record.views:
                for old in view.absorbed:
                    self._absorbed_by.setdefault(old, (slug, start))
            for address in record.latest.addresses:
                self._addresses[address] = slug
            for domain in record.latest.domains:
                self._domains[domain] = slug

    # --- by year -----------------------------------------------------------------
    def owing(self, year: int) -> list[Agency]:
        """Who owes a report for ``year``: ministries first, then provinces by statistical code."""
        views = [(r, r.at(year)) for r in self._records.values()]
        return [v for _, v in sorted(((r, v) for r, v in views if v.owes(year)), key=_sort_key)]

    def get(self, slug: str, year: int | None = None) -> Agency:
        """The agency as it stands in ``year`` (default: its latest form). KeyError if unknown."""
        return self._records[slug].at(year)

    def named(self, text: str, year: int | None = None) -> list[Agency]:
        """The agencies ``text`` names exactly, by a name, an alias or a short form ('tphcm', 'brvt', 'hn').

        A name or alias written in full wins over initials, so 'hcm' is Hồ Chí
        Minh alone; initials two agencies share ('hn': Hà Nội, Hà Nam) give both,
        for the person to choose. With ``year``, only agencies owing that year.
        """
        wanted = run_together(text)
        if not wanted:
            return []
        pool = self.owing(year) if year is not None else self.all()
        full = [a for a in pool if wanted in {run_together(n) for n in (*a.names(), a.slug)}]
        return full or [a for a in pool if wanted in a.short_forms()]

    def all(self) -> list[Agency]:
        """Every slug the roster has ever known, in its latest form."""
        return [v for _, v in sorted(((r, r.latest) for r in self._records.values()), key=_sort_key)]

    def successor(self, slug: str, year: int) -> str | None:
        """The unit that reports for ``year`` on behalf of ``slug``.

        Forward through mergers (long-an, 2025 -> tay-ninh), and backward for a
        unit that simply replaced a single predecessor (hue, 2024 ->
        thua-thien-hue) so a late report sent from the new name still lands on
        the agency that owed it. None when no one owes for it that year.
        KeyError for an unknown slug.
        """
        current = self._records[slug].at(year)
        seen: set[str] = set()
        while current.slug not in seen:
            seen.add(current.slug)
            if current.owes(year):
                return current.slug
            if current.until_year is not None and year > current.until_year:
                absorber = self._absorbed_by.get(current.slug)
                if absorber is None or absorber[1] > year:
                    return None
                current = self._records[absorber[0]].at(year)
            else:  # before the unit existed
                predecessors = self._records[current.slug].at(current.from_year).absorbed
                if len(predecessors) != 1:
                    return None
                current = self._records[predecessors[0]].at(year)
        return None

    # --- by sender -----------------------------------------------------------------
    def by_address(self, address: str, year: int) -> Agency | None:
        """The agency reporting for ``year`` that this sender speaks for, if the roster knows.

        An exact address (learned first, then configured) wins; otherwise the
        domain or a parent domain (skhcn.tayninh.gov.vn -> tayninh.gov.vn).
        Free-mail providers and shared suffixes (gov.vn, chinhphu.vn) never
        match by domain: anyone can hold an address there.
        """
        normal = normalise_address(address)
        if normal is None:
            return None
        slug = self._learned.get(normal) or self._addresses.get(normal)
        if slug is None:
            domain = normal.rpartition("@")[2]
            if domain in GENERIC_MAIL_DOMAINS:
                return None
            slug = next((self._domains[d] for d in parent_domains(domain) if d in self._domains), None)
        if slug is None:
            return None
        target = self.successor(slug, year)
        return self.get(target, year) if target else None

    def knows(self, address: str) -> bool:
        """The exact address is a configured, learned or confirmed-contact address of some agency.

        Stricter than ``by_address``: a domain match is not knowing a person
        (anyone can be forged at an agency's domain until our server verifies it).
        """
        normal = normalise_address(address or "")
        return normal is not None and (normal in self._learned or normal in self._addresses)

    def speaks_for(self, address: str, slug: str | None, year: int | None) -> bool:
        """THE check "is this a known address of this agency": every identity decision asks it.

        True when the address is one the roster knows for the agency (configured,
        learned from a coordinator's ``assign``, or — via ``with_learned`` — any
        other confirmed contact fed into the same lookup) or lies in the agency's
        own mail domain. A free-mail address or another agency's domain is not
        the agency's until a coordinator says so.
        """
        if not address or not slug or year is None:
            return False
        agency = self.by_address(address, year)
        if agency is None:
            return False
        try:
            wanted = self.successor(slug, year) or slug
        except KeyError:
            return False
        return agency.slug in (slug, wanted)

    def with_learned(self, learned: dict[str, str]) -> Roster:
        """A roster that also knows addresses coordinators tied to agencies.

        Entries that cannot be used (not an address, unknown slug) are skipped
        and listed in ``learned_problems`` rather than raised: they come from
        the database, and a stale row must not stop the daemon.
        """
        merged = dict(self._learned)
        problems = list(self.learned_problems)
        for address, slug in learned.items():
            normal = normalise_address(address)
            if normal is None:
                problems.append(f"địa chỉ đã học không hợp lệ: {address!r}")
            elif slug not in self._records:
                problems.append(f"địa chỉ {normal} gắn với đơn vị không có trong danh sách: {slug!r}")
            else:
                merged[normal] = slug
        return Roster(self._records, merged, tuple(problems))


def _sort_key(item: tuple[_Record, Agency]) -> tuple[int, int, int, str]:
    record, view = item
    if view.kind == "ministry":
        return (0, record.order, 0, view.slug)
    code = int(view.code) if view.code else 10_000
    return (1, code, record.order, view.slug)


# --- loading -------------------------------------------------------------------------
def load_roster(path: Path | None = None) -> Roster:
    """Load and validate the roster from a directory of *.toml files (or one file)."""
    path = Path(path) if path is not None else DEFAULT_ROSTER_DIR
    if path.is_dir():
        files = sorted(path.glob("*.toml"))
        if not files:
            raise RosterError(f"{path}: thư mục danh sách đơn vị không có tệp .toml nào")
    elif path.is_file():
        files = [path]
    else:
        raise RosterError(f"{path}: không tìm thấy thư mục hay tệp danh sách đơn vị này")
    records: dict[str, _Record] = {}
    sources: dict[str, Path] = {}
    for file in files:
        for raw in _read_file(file):
            record = _parse_agency(file, raw, order=len(records))
            slug = record.latest.slug
            if slug in records:
                raise RosterError(f"{file}: đơn vị {slug!r}: slug bị trùng, đã có trong {sources[slug]}")
            records[slug] = record
            sources[slug] = file
    _check_cross_references(records, sources)
    return Roster(records)


def _read_file(file: Path) -> list[dict[str, Any]]:
    data = read_toml(file, RosterError)
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise RosterError(f"{file}: khóa không dùng được ở đầu tệp: {quoted(unknown)} (chỉ có [[agency]] và notes)")
    agencies = data.get("agency", [])
    if not isinstance(agencies, list) or not all(isinstance(a, dict) for a in agencies):
        raise RosterError(f"{file}: 'agency' phải viết thành các bảng [[agency]]")
    return agencies


class _Fields:
    """Typed access to one TOML table that names file and agency in every complaint.

    ``where`` is the agency as the reader finds it: "đơn vị 'tay-ninh'", or
    "bảng [[agency]] thứ 3" before a slug is known.
    """

    def __init__(self, file: Path, where: str, table: dict[str, Any]) -> None:
        self.file, self.where, self.table = file, where, table

    def fail(self, reason: str) -> RosterError:
        return RosterError(f"{self.file}: {self.where}: {reason}")

    @overload
    def text(self, key: str, required: Literal[True]) -> str: ...
    @overload
    def text(self, key: str, required: bool = False) -> str | None: ...

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                raise self.fail(f"thiếu khóa '{key}'")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"'{key}' phải là chuỗi ký tự không rỗng (trong dấu nháy kép), không phải {shown(value)}")
        return value.strip()

    @overload
    def year(self, key: str, required: Literal[True]) -> int: ...
    @overload
    def year(self, key: str, required: bool = False) -> int | None: ...

    def year(self, key: str, required: bool = False) -> int | None:
        value = self.table.get(key)
        if value is None:
            if required:
                raise self.fail(f"thiếu khóa '{key}'")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not FIRST_SANE_YEAR <= value <= LAST_SANE_YEAR:
            raise self.fail(f"'{key}' phải là năm từ {FIRST_SANE_YEAR} đến {LAST_SANE_YEAR}, không phải {shown(value)}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"'{key}' phải là danh sách chuỗi ký tự không rỗng, ví dụ [\"a\", \"b\"]")
        return tuple(v.strip() for v in value)

    def addresses(self) -> tuple[str, ...]:
        out = []
        for value in self.strings("addresses"):
            normal = normalise_address(value)
            if "<" in value:
                raise self.fail(f"địa chỉ {value!r} trong 'addresses': chỉ ghi địa chỉ email, không kèm tên hay "
                                "dấu < >")
            if normal is None:
                raise self.fail(f"địa chỉ {value!r} trong 'addresses' không giống địa chỉ email")
            out.append(normal)
        return tuple(out)

    def domains(self) -> tuple[str, ...]:
        value = self.table.get("domains", [])
        if not isinstance(value, list):
            raise self.fail(f"'domains' phải là danh sách, ví dụ [\"tayninh.gov.vn\"], không phải {shown(value)}")
        out = []
        for item in value:
            if isinstance(item, dict):
                unknown = set(item) - {"name", "evidence", "source", "note"}
                if unknown:
                    raise self.fail(f"tên miền {shown(item.get('name'))} trong 'domains': khóa không dùng được: "
                                    f"{quoted(unknown)} (chỉ có name, evidence, source, note)")
                if item.get("evidence") not in (None, "A", "B"):
                    raise self.fail(f"tên miền {shown(item.get('name'))} trong 'domains': 'evidence' phải là 'A' "
                                    f"hoặc 'B', không phải {shown(item.get('evidence'))}")
                item = item.get("name")
            if not isinstance(item, str):
                raise self.fail(f"tên miền {shown(item)} trong 'domains' phải là chuỗi ký tự hoặc bảng có khóa "
                                "'name'")
            domain = item.strip().lower().rstrip(".")
            if not is_domain(domain):
                raise self.fail(f"{item!r} trong 'domains' không giống tên miền")
            if domain in GENERIC_MAIL_DOMAINS or domain in SHARED_SUFFIXES:
                raise self.fail(f"tên miền {domain!r} trong 'domains' dùng chung cho nhiều người gửi nên không "
                                "xác định được đơn vị")
            out.append(domain)
        return tuple(out)


def _parse_agency(file: Path, raw: dict[str, Any], order: int) -> _Record:
    where = f"đơn vị {raw['slug']!r}" if isinstance(raw.get("slug"), str) else f"bảng [[agency]] thứ {order + 1}"
    f = _Fields(file, where, raw)
    unknown = set(raw) - _AGENCY_KEYS
    if unknown:
        raise f.fail(f"khóa không có trong [[agency]]: {quoted(unknown)}")
    slug = f.text("slug", required=True)
    kind = f.text("kind", required=True)
    if kind not in KINDS:
        raise f.fail(f"'kind' phải là 'province' (tỉnh, thành phố) hoặc 'ministry' (bộ, ngành), không phải {kind!r}")
    from_year = f.year("from", required=True)
    until_year = f.year("until")
    if until_year is not None and until_year < from_year:
        raise f.fail(f"'until' ({until_year}) sớm hơn 'from' ({from_year})")
    base = Agency(
        slug=slug,
        name=f.text("name", required=True),
        short_name=f.text("short_name", required=True),
        kind=kind,
        code=_code(f),
        aliases=f.strings("aliases"),
        addresses=f.addresses(),
        domains=f.domains(),
        from_year=from_year,
        until_year=until_year,
        absorbed=f.strings("absorbed"),
        notes=_notes(f),
    )
    _check_view(f, base)
    views = [(from_year, base)]
    changes = raw.get("change", [])
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise f.fail("'change' phải viết thành các bảng [[agency.change]]")
    for number, change in enumerate(changes, start=1):
        views.append(_apply_change(file, f"{where}, bảng [[agency.change]] thứ {number}", views[-1], change,
                                   until_year))
    return _Record(views=tuple(views), order=order)


def _apply_change(file: Path, where: str, previous: tuple[int, Agency], change: dict[str, Any],
                  until_year: int | None) -> tuple[int, Agency]:
    """The view from a change's year on: replaced fields replace, list fields add up."""
    f = _Fields(file, where, change)
    unknown = set(change) - _CHANGE_KEYS
    if unknown:
        raise f.fail(f"khóa không có trong [[agency.change]]: {quoted(unknown)}")
    start, before = previous
    year = f.year("from", required=True)
    if year <= start or (until_year is not None and year > until_year):
        last = f" và không quá năm cuối đơn vị phải báo cáo ('until' = {until_year})" if until_year is not None else ""
        raise f.fail(f"'from' = {year} phải sau năm {start}{last}")
    name = f.text("name") or before.name
    short_name = f.text("short_name") or before.short_name
    retired = tuple(n for n in (before.name, before.short_name) if n not in (name, short_name))
    view = replace(
        before,
        name=name,
        short_name=short_name,
        code=_code(f) if "code" in change else before.code,
        aliases=_union(before.aliases, retired, f.strings("aliases")),
        addresses=_union(before.addresses, f.addresses()),
        domains=_union(before.domains, f.domains()),
        absorbed=_union(before.absorbed, f.strings("absorbed")),
        notes=_notes(f) if ("notes" in change or "doubt" in change) else before.notes,
    )
    _check_view(f, view)
    return year, view


def _code(f: _Fields) -> str | None:
    code = f.text("code")
    if code is not None and not _CODE_RE.match(code):
        raise f.fail(f"mã thống kê 'code' = {code!r} phải gồm 1 đến 3 chữ số, viết trong dấu nháy kép như \"72\"")
    return code


def _notes(f: _Fields) -> str:
    notes, doubt = f.text("notes"), f.text("doubt")
    parts = [notes] if notes else []
    if doubt:
        parts.append(f"Chưa chắc chắn: {doubt}")
    return " ".join(parts)


def _union(*groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _check_view(f: _Fields, view: Agency) -> None:
    expected = expected_slug(view.name)
    if view.slug != expected:
        raise f.fail(f"'slug' = {view.slug!r} không đúng quy tắc: với tên {view.name!r}, slug phải là "
                     f"{expected!r}")
    folded = fold(view.name)
    if view.kind == "province" and not folded.startswith(("tinh ", "thanh pho ")):
        raise f.fail(f"'name' của một tỉnh, thành phố (kind = 'province') phải bắt đầu bằng 'Tỉnh' hoặc "
                     f"'Thành phố', không phải {view.name!r}")
    if view.kind == "ministry" and not folded.startswith("bo "):
        raise f.fail(f"'name' của một bộ (kind = 'ministry') phải bắt đầu bằng 'Bộ', không phải {view.name!r}")
    if view.slug in view.absorbed:
        raise f.fail(f"đơn vị không thể tự sáp nhập chính mình: 'absorbed' có slug {view.slug!r} của nó")


def _check_cross_references(records: dict[str, _Record], sources: dict[str, Path]) -> None:
    """What no single record can check: absorbed slugs, unique senders, unambiguous names and codes."""
    absorbed_by: dict[str, str] = {}
    for slug, record in records.items():
        for start, view in record.views:
            for old in view.absorbed:
                where = f"{sources[slug]}: đơn vị {slug!r}"
                if old not in records:
                    raise RosterError(f"{where}: slug {old!r} trong 'absorbed' không có trong danh sách đơn vị")
                if absorbed_by.setdefault(old, slug) != slug:
                    raise RosterError(f"{where}: {old!r} trong 'absorbed' đã được sáp nhập vào đơn vị "
                                      f"{absorbed_by[old]!r}")
                if records[old].latest.owes(start):
                    raise RosterError(f"{where}: sáp nhập {old!r} ('absorbed') từ năm {start}, nhưng {old!r} vẫn "
                                      f"phải báo cáo năm {start} (đặt until = {start - 1} cho {old!r})")
    _check_unique(records, sources, lambda v: v.addresses, "địa chỉ", "addresses")
    _check_unique(records, sources, lambda v: v.domains, "tên miền", "domains")
    _check_same_year(records, sources)


def _check_unique(records: dict[str, _Record], sources: dict[str, Path], values: Callable[[Agency], Iterable[str]],
                  what: str, key: str) -> None:
    owner: dict[str, str] = {}
    for slug, record in records.items():
        for value in values(record.latest):
            if owner.setdefault(value, slug) != slug:
                raise RosterError(f"{sources[slug]}: đơn vị {slug!r}: {what} {value!r} trong '{key}' đã khai báo "
                                  f"cho đơn vị {owner[value]!r}")


def _check_same_year(records: dict[str, _Record], sources: dict[str, Path]) -> None:
    """Two agencies owing the same year may not share a name or a statistical code."""
    years = sorted({start for r in records.values() for start, _ in r.views}
                   | {v.until_year + 1 for r in records.values() for _, v in r.views if v.until_year})
    for year in years:
        names: dict[str, str] = {}
        codes: dict[str, str] = {}
        for slug, record in records.items():
            view = record.at(year)
            if not view.owes(year):
                continue
            where = f"{sources[slug]}: đơn vị {slug!r}"
            for name in view.names():
                key = fold(name)
                if names.setdefault(key, slug) != slug:
                    raise RosterError(f"{where}: tên {name!r} trong '{_name_key(view, name)}' trùng với đơn vị "
                                      f"{names[key]!r} trong năm {year}")
            if view.code and codes.setdefault(view.code, slug) != slug:
                raise RosterError(f"{where}: mã thống kê 'code' = {view.code!r} trùng với đơn vị {codes[view.code]!r} "
                                  f"trong năm {year}")


def _name_key(view: Agency, name: str) -> str:
    """Which key of the file holds ``name``: where the coordinator will look for it."""
    return "name" if name == view.name else "short_name" if name == view.short_name else "aliases"
