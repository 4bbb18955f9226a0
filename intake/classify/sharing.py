"""Share notifications a file service sends on an official's behalf.

Why: when an official shares the report from Google Drive (or SharePoint,
Dropbox), the mail comes From the service's no-reply robot
(``drive-shares-dm-noreply@google.com``), its display name "Nguyễn Văn A (via
Google Drive)", and Reply-To the official. The robot's address says nothing
about the agency; the person in Reply-To is the sender, so the agency is read
from that address (and the acknowledgement is addressed there by the workflow).

Reply-To is the sender's word, but these robots only send for the account
that shared: a forged notice fails the service's DMARC (google.com rejects),
which the sender check (``intake.sender.identity``) reports like any other forgery.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from intake.model import Envelope

# The service's robot address -> the service's name as a coordinator reads it.
_ROBOTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^drive-shares(-dm)?-noreply@google\.com$"), "Google Drive"),
    (re.compile(r"^(comments|drive)-noreply@(docs\.)?google\.com$"), "Google Drive"),
    (re.compile(r"^no-?reply@(sharepointonline\.com|onedrive\.com|[a-z0-9-]+\.sharepoint\.com)$"),
     "OneDrive/SharePoint"),
    (re.compile(r"^no-?reply@(dropbox\.com|dropboxmail\.com)$"), "Dropbox"),
)
_VIA = re.compile(r"\s*\((via|qua|thông qua|thong qua) [^()]{1,60}\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SharedBy:
    """Who shared: the service, and the official's address (Reply-To) and name (the display name, "via …" cut)."""

    service: str
    address: str
    name: str


def shared_by(env: Envelope) -> SharedBy | None:
    """The official behind a share notification, or None when the mail is not one (or names nobody)."""
    service = next((name for pattern, name in _ROBOTS if pattern.match(env.from_addr or "")), None)
    if service is None:
        return None
    person = next((addr for addr in env.reply_to if addr and addr != env.from_addr), None)
    if person is None:
        return None
    return SharedBy(service, person, _VIA.sub("", env.from_name or "").strip())
