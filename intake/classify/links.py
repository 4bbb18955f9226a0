"""Links to a report held elsewhere: file-sharing services and a province's e-office system.

Why: a report too large for mail comes as "download it here" with a OneDrive,
SharePoint, Google Drive or Dropbox link, or as the notice a province's
e-office system (quản lý văn bản và điều hành) sends for an outgoing document:
its number, its trích yếu, a link to the signed file. The link is what a
coordinator fetches; the bot records it as text and never follows it (a
stranger's URL is not opened, not even to look at it).

Only links that can hold a document count: a share of a file or folder on a
known service, or, in an e-office notice, a link on a government host. Logos,
tracking pixels, privacy pages and "unsubscribe" links of the same mail are
not the report.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from intake.model import Envelope
from reference.text import words

MAX_LINKS = 20
MAX_URL_CHARS = 2_000
_MAX_CANDIDATES = 500  # distinct URLs looked at in one mail (a newsletter has hundreds)
_WINDOW = 200_000  # characters of each body searched: a report link sits near the top

# Lower-case scheme only: the literal "http" lets the regex engine skip ahead (IGNORECASE costs 4x on long bodies).
_URL = re.compile(r"https?://[^\s<>\"'`{}|\\^\[\]]{4,2000}")
_TRAILING = ".,;:!?)’”»"

# (host suffix, path pattern) of shares that hold a document or a folder of them.
_SHARES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("drive.google.com", re.compile(r"^/(file/d/|drive/(u/\d+/)?folders/|open\b|uc\b|drive/(u/\d+/)?mobile/folders/)")),
    ("docs.google.com", re.compile(r"^/(document|spreadsheets|presentation)/(u/\d+/)?d/")),
    ("1drv.ms", re.compile(r"^/.")),
    ("onedrive.live.com", re.compile(r"^/.")),
    ("sharepoint.com", re.compile(r"^/(:[a-z]:/|personal/|sites/|teams/)", re.IGNORECASE)),
    ("dropbox.com", re.compile(r"^/(s|sh|scl|l|t)/")),
    ("dl.dropboxusercontent.com", re.compile(r"^/.")),
    ("wetransfer.com", re.compile(r"^/downloads/")),
    ("we.tl", re.compile(r"^/.")),
    ("mega.nz", re.compile(r"^/(file|folder)/")),
    ("fshare.vn", re.compile(r"^/(file|folder)/")),
    ("box.com", re.compile(r"^/s/")),
    ("icloud.com", re.compile(r"^/iclouddrive/")),
)
# An e-office notice: a document number ("Số: 1234/SKHCN-QLKH") and its summary ("Trích yếu").
_DOC_NUMBER = re.compile(r"\b\d{1,6}/[A-ZĐÐ][A-ZĐÐa-zđ0-9&\-.]{1,40}")
_EOFFICE_HOST = re.compile(r"(^|\.)(gov\.vn|ioffice\.vn|vnptioffice\.vn)$|qlvb|vanban|edoc|ioffice|egov|vpdt")
_NOT_DOCUMENTS = (".png", ".jpg", ".jpeg", ".gif", ".css", ".js", ".ico")


def _host(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), parts.path or "/"
    except ValueError:
        return "", ""


def _on(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def link_kind(url: str) -> str | None:
    """"share" (a file service's share of a file or folder), "eoffice" (a government host), or None."""
    host, path = _host(url)
    if not host:
        return None
    if any(_on(host, suffix) and pattern.search(path) for suffix, pattern in _SHARES):
        return "share"
    if _EOFFICE_HOST.search(host) and not path.lower().endswith(_NOT_DOCUMENTS):
        return "eoffice"
    return None


def is_eoffice_notice(text: str) -> bool:
    """A notice of an outgoing official document: its number and its trích yếu."""
    return "trich yeu" in words(text[:_WINDOW]) and bool(_DOC_NUMBER.search(text[:_WINDOW]))


def urls(text: str) -> list[str]:
    """Every http(s) URL written in ``text`` (plain or HTML source), unescaped, trailing punctuation dropped."""
    found = []
    for match in _URL.finditer(text[:_WINDOW]):
        url = html.unescape(match.group()).rstrip(_TRAILING)
        if len(url) <= MAX_URL_CHARS:
            found.append(url)
    return found


def _bodies(env: Envelope) -> list[str]:
    out = [env.text_body or "", env.html_body or ""]
    for inner in env.forwarded[:5]:
        out.extend(_bodies(inner))
    return out


def report_links(env: Envelope) -> list[str]:
    """Share links, and in an e-office notice its government links, in the order the mail gives them."""
    bodies = [b for b in _bodies(env) if b]
    kinds: dict[str, str | None] = {}  # url -> link_kind, first-seen order
    for body in bodies:
        for url in urls(body):
            if url not in kinds and len(kinds) < _MAX_CANDIDATES:
                kinds[url] = link_kind(url)
    eoffice = "eoffice" in kinds.values() and any(is_eoffice_notice(b) for b in bodies)
    return [url for url, kind in kinds.items() if kind == "share" or (eoffice and kind == "eoffice")][:MAX_LINKS]


class LazyLinks:
    """The report links of one mail, found on first use: most mail is decided without them."""

    def __init__(self, env: Envelope) -> None:
        self._env = env
        self._found: list[str] | None = None

    def __call__(self) -> list[str]:
        if self._found is None:
            self._found = report_links(self._env)
        return self._found

    @property
    def found(self) -> list[str]:
        """The links if they were looked for, else none (nothing is read to answer)."""
        return list(self._found or [])
