"""Campaigns: one per reporting year, with its dispatch, deadline and report outline.

Kept in config/campaigns.toml (outlines in config/outlines/<key>.toml) so a
coordinator opens next year's campaign by editing a file, not the code.
Unknown facts (a dispatch number nobody has seen) stay empty with a note:
an invented number would make the bot match reports against a dispatch that
does not exist.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reference.addresses import normalise_address
from reference.outline import OutlineSection
from reference.roster import CONFIG_DIR
from reference.text import fold, words
from reference.time import end_of_day
from reference.toml_files import quoted, read_toml, shown

DEFAULT_CAMPAIGNS_FILE = CONFIG_DIR / "campaigns.toml"
DEFAULT_OUTLINE = "nscl-annual"
FIRST_SANE_YEAR = 2000
LAST_SANE_YEAR = 2100

_CAMPAIGN_KEYS = {"year", "dispatch", "dispatch_date", "deadline", "mailbox", "outline", "notes"}
_OUTLINE_KEYS = {"key", "title", "source", "section"}
_SECTION_KEYS = {"code", "title", "keywords", "required"}
_DISPATCH_RE = re.compile(r"^(\d{1,6})\s*/\s*(\S.*)$")
_SECTION_CODE_RE = re.compile(r"^(?:I|II|III|IV|V|VI|VII|VIII|IX|X)(?:\.\d{1,2})*$")
_OUTLINE_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class CampaignError(ValueError):
    """A campaign or outline file that cannot be trusted; the message names file, year and reason."""


# Builds the error for one reason, already prefixed with the file and the year or outline it concerns.
_Fail = Callable[[str], CampaignError]


@dataclass(frozen=True)
class Campaign:
    """What the Ministry asked for one reporting year."""

    year: int
    dispatch: str | None
    dispatch_date: date | None
    deadline: date
    mailbox: str | None
    outline: tuple[OutlineSection, ...]
    notes: str = ""

    def deadline_at(self) -> datetime:
        """The first instant that is late: the day after the deadline, 00:00 in Vietnam."""
        return end_of_day(self.deadline)

    def is_on_time(self, arrived_at: datetime) -> bool:
        """Whether a report that arrived at ``arrived_at`` (server time, aware) met the deadline."""
        if arrived_at.tzinfo is None or arrived_at.utcoffset() is None:
            raise ValueError("arrived_at must be timezone-aware (the receiving server's time)")
        return arrived_at < self.deadline_at()


def load_campaigns(path: Path | None = None) -> dict[int, Campaign]:
    """Load and validate every campaign, each with its outline filled in for its year."""
    file = Path(path) if path is not None else DEFAULT_CAMPAIGNS_FILE
    data = read_toml(file, CampaignError)
    unknown = set(data) - {"campaign"}
    if unknown:
        raise CampaignError(f"{file}: khóa không dùng được ở đầu tệp: {quoted(unknown)} (chỉ có [[campaign]])")
    tables = data.get("campaign", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise CampaignError(f"{file}: 'campaign' phải viết thành các bảng [[campaign]]")
    outlines_dir = file.parent / "outlines"
    campaigns: dict[int, Campaign] = {}
    dispatches: dict[str, int] = {}
    for index, table in enumerate(tables, start=1):
        campaign = _parse_campaign(file, index, table, outlines_dir)
        if campaign.year in campaigns:
            raise CampaignError(f"{file}: đợt báo cáo năm {campaign.year}: year = {campaign.year} đã có ở một bảng "
                                "[[campaign]] trước đó")
        if campaign.dispatch:
            key = _dispatch_key(campaign.dispatch)
            if key in dispatches:
                raise CampaignError(f"{file}: đợt báo cáo năm {campaign.year}: 'dispatch' = {campaign.dispatch!r} "
                                    f"đã là công văn của đợt báo cáo năm {dispatches[key]}")
            dispatches[key] = campaign.year
        campaigns[campaign.year] = campaign
    return dict(sorted(campaigns.items()))


def campaign_for_dispatch(campaigns: Mapping[int, Campaign], text: str) -> Campaign | None:
    """The campaign whose dispatch the text cites ("Công văn số 4258/BKHCN-TĐC"), if any.

    Matching is on folded text and tolerates the spacing and dashes people
    type ("số 4258 /BKHCN - TĐC", "4258/BKHCN–TDC"). When several are cited,
    the first citation in the text wins: a report names the dispatch it
    answers near the top.
    """
    folded = fold(text or "")
    best: tuple[int, Campaign] | None = None
    for campaign in campaigns.values():
        if not campaign.dispatch:
            continue
        match = _dispatch_pattern(campaign.dispatch).search(folded)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), campaign)
    return best[1] if best else None


def load_outline(key: str, year: int, outlines_dir: Path | None = None) -> tuple[OutlineSection, ...]:
    """An outline with its titles written for ``year`` ("{year}", "{next_year}" filled in)."""
    folder = Path(outlines_dir) if outlines_dir is not None else CONFIG_DIR / "outlines"
    return _fill_year(_read_outline(folder / f"{key}.toml", key), year)


# --- campaign parsing ---------------------------------------------------------------------
def _parse_campaign(file: Path, index: int, table: dict[str, Any], outlines_dir: Path) -> Campaign:
    year = table.get("year")
    known = isinstance(year, int) and not isinstance(year, bool)
    where = f"đợt báo cáo năm {year}" if known else f"bảng [[campaign]] thứ {index}"

    def fail(reason: str) -> CampaignError:
        return CampaignError(f"{file}: {where}: {reason}")

    unknown = set(table) - _CAMPAIGN_KEYS
    if unknown:
        raise fail(f"khóa không có trong [[campaign]]: {quoted(unknown)}")
    if year is None:
        raise fail("thiếu khóa 'year'")
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_SANE_YEAR <= year <= LAST_SANE_YEAR:
        raise fail(f"'year' phải là năm từ {FIRST_SANE_YEAR} đến {LAST_SANE_YEAR}, không phải {shown(year)}")
    dispatch = _optional_text(table, "dispatch", fail)
    if dispatch is not None and not _DISPATCH_RE.match(dispatch):
        raise fail(f"số công văn 'dispatch' = {dispatch!r} không đúng dạng số/ký hiệu, ví dụ '4258/BKHCN-TĐC'")
    dispatch_date = _optional_date(table, "dispatch_date", fail)
    if dispatch_date is not None and dispatch_date.year not in (year, year + 1):
        raise fail(f"'dispatch_date' ({dispatch_date:%d/%m/%Y}) không thuộc năm {year} hoặc năm {year + 1}")
    deadline = _optional_date(table, "deadline", fail) or date(year, 11, 30)
    if deadline.year not in (year, year + 1):
        raise fail(f"'deadline' ({deadline:%d/%m/%Y}) không thuộc năm {year} hoặc năm {year + 1}")
    mailbox = _optional_text(table, "mailbox", fail)
    if mailbox is not None:
        normal = normalise_address(mailbox)
        if "<" in mailbox:
            raise fail(f"'mailbox' = {mailbox!r}: chỉ ghi địa chỉ email, không kèm tên hay dấu < >")
        if normal is None:
            raise fail(f"'mailbox' = {mailbox!r} không giống địa chỉ email")
        mailbox = normal
    key = _optional_text(table, "outline", fail) or DEFAULT_OUTLINE
    if not _OUTLINE_KEY_RE.match(key):
        raise fail(f"tên đề cương 'outline' = {key!r} chỉ được gồm chữ thường không dấu, chữ số và dấu '-'")
    outline_file = outlines_dir / f"{key}.toml"
    if not outline_file.is_file():
        raise fail(f"không tìm thấy đề cương 'outline' = {key!r}: không có tệp {outline_file}")
    return Campaign(
        year=year,
        dispatch=dispatch,
        dispatch_date=dispatch_date,
        deadline=deadline,
        mailbox=mailbox,
        outline=_fill_year(_read_outline(outline_file, key), year),
        notes=_optional_text(table, "notes", fail) or "",
    )


def _optional_text(table: dict[str, Any], key: str, fail: _Fail) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(f"'{key}' phải là chuỗi ký tự (trong dấu nháy kép), không phải {shown(value)}")
    return value.strip() or None


def _optional_date(table: dict[str, Any], key: str, fail: _Fail) -> date | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise fail(f"'{key}' phải là ngày viết theo TOML, không có dấu nháy và không kèm giờ, ví dụ 2023-11-30; "
                   f"không phải {shown(value)}")
    return value


def _dispatch_key(dispatch: str) -> str:
    number, _, sign = dispatch.partition("/")
    return f"{int(number.strip())}/{words(sign).replace(' ', '')}"


def _dispatch_pattern(dispatch: str) -> re.Pattern[str]:
    """Number, slash, then the sign's letters with up to three separators between any two."""
    number, _, sign = dispatch.partition("/")
    letters = words(sign).replace(" ", "")
    sign_re = r"[^a-z0-9]{0,3}".join(re.escape(ch) for ch in letters)
    return re.compile(rf"(?<![0-9]){int(number.strip())}\s{{0,3}}/\s{{0,3}}{sign_re}(?![a-z0-9])")


# --- outlines -------------------------------------------------------------------------------
def _read_outline(file: Path, key: str) -> tuple[OutlineSection, ...]:
    data = read_toml(file, CampaignError)

    def fail(reason: str) -> CampaignError:
        return CampaignError(f"{file}: đề cương {key!r}: {reason}")

    unknown = set(data) - _OUTLINE_KEYS
    if unknown:
        raise fail(f"khóa không dùng được ở đầu tệp: {quoted(unknown)} (chỉ có key, title, source và [[section]])")
    if data.get("key", key) != key:
        raise fail(f"tệp ghi key = {shown(data.get('key'))}, không khớp tên đề cương {key!r}")
    tables = data.get("section")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise fail("cần ít nhất một bảng [[section]]")
    sections: list[OutlineSection] = []
    for table in tables:
        section = _parse_section(table, fail)
        codes = {s.code for s in sections}
        if section.code in codes:
            raise fail(f"mục {section.code}: 'code' = {section.code!r} đã có ở một bảng [[section]] trước đó")
        parent = section.code.rpartition(".")[0]
        if parent and parent not in codes:
            raise fail(f"mục {section.code}: mục cha {parent} phải đứng trước nó (thiếu bảng [[section]] có "
                       f"code = {parent!r} ở phía trên)")
        sections.append(section)
    return tuple(sections)


def _parse_section(table: dict[str, Any], fail: _Fail) -> OutlineSection:
    code = table.get("code")
    if not isinstance(code, str) or not _SECTION_CODE_RE.match(code):
        if code is None:
            raise fail("một bảng [[section]] thiếu khóa 'code'")
        raise fail(f"mã mục 'code' = {shown(code)} phải có dạng 'I', 'I.2' hoặc 'I.2.3'")
    unknown = set(table) - _SECTION_KEYS
    if unknown:
        raise fail(f"mục {code}: khóa không có trong [[section]]: {quoted(unknown)}")
    title = table.get("title")
    if not isinstance(title, str) or not title.strip():
        raise fail(f"mục {code}: thiếu 'title' (tên mục, chuỗi ký tự không rỗng)")
    raw_keywords = table.get("keywords", [])
    if not isinstance(raw_keywords, list) or not all(isinstance(k, str) for k in raw_keywords):
        raise fail(f"mục {code}: 'keywords' phải là danh sách chuỗi ký tự, ví dụ [\"năng suất\", \"chất lượng\"]")
    keywords = tuple(dict.fromkeys(k for k in (words(k) for k in raw_keywords) if k))
    if not keywords:
        raise fail(f"mục {code}: 'keywords' cần ít nhất một cụm từ khóa")
    required = table.get("required", True)
    if not isinstance(required, bool):
        raise fail(f"mục {code}: 'required' phải là true hoặc false, không phải {shown(required)}")
    return OutlineSection(code=code, title=title.strip(), keywords=keywords, required=required)


def _fill_year(sections: tuple[OutlineSection, ...], year: int) -> tuple[OutlineSection, ...]:
    # str.replace, not str.format: a stray brace in a title must not break loading.
    def fill(title: str) -> str:
        return title.replace("{year}", str(year)).replace("{next_year}", str(year + 1))

    return tuple(OutlineSection(s.code, fill(s.title), s.keywords, s.required) for s in sections)


def no_campaign(year: int, campaigns: Mapping[int, Campaign]) -> str:
    """The one answer every view gives for a year no campaign opened: what is missing and which years exist."""
    known = ", ".join(str(y) for y in sorted(campaigns)) or "chưa có năm nào"
    return (f"Chưa có đợt báo cáo năm {year} trong tệp chiến dịch (config/campaigns.toml): chưa có công văn, "
            f"thời hạn và đề cương cho năm này. Các năm đã có: {known}.")
