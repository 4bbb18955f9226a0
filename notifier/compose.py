"""Turn an outbox row into a MIME message ready for a transport.

Headers and why they are there:

* ``Message-ID`` is the row's own, fixed when the row was written, so a send
  repeated after a crash carries the same id and a mail client (or our own
  guards) can tell it is a duplicate.
* ``Auto-Submitted`` (RFC 3834): ``auto-replied`` for messages answering a
  message (acknowledgements, requests to resubmit), ``auto-generated`` for the
  rest (reminders, digests). Vacation responders (Sieve vacation, RFC 5230)
  must not answer such mail, which is what stops two robots talking forever.
* ``X-Auto-Response-Suppress: All``: the same request in Microsoft Exchange's
  dialect (many Vietnamese government mailboxes run Exchange).
* ``X-TDC-Bot: 1``: our intake guards recognise our own mail by it.
* No ``Precedence`` header: it was never standardised, RFC 3834 tells
  responders to rely on ``Auto-Submitted`` instead, and ``Precedence: bulk``
  makes some providers file the mail as bulk or spam, which would hide an
  acknowledgement or a deadline reminder from the official it is meant for.
"""
from __future__ import annotations

import mimetypes
import re
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from intake.store import sanitize_filename
from notifier.header_encoding import SMTP_EXACT
from notifier.render import VN_TZ, one_line
from reference.addresses import header_addresses

# 7bit: bodies go out as quoted-printable or base64, so a relay without 8BITMIME passes them intact.
# Subject and display names are written by notifier.header_encoding, which decodes back exactly.
POLICY = SMTP_EXACT
AUTO_REPLIED_KINDS = frozenset({"ack", "resubmission"})
_ATOM_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_LINE_BREAK = re.compile(r"[\r\n]")


class OutgoingEmail(Protocol):
    """What composing needs from an outbox row; the workflow's OutboxEmail model has it.

    A protocol rather than the model itself, so the notifier renders and sends
    what it is handed without depending on the database layer above it.
    """

    @property
    def kind(self) -> str: ...
    @property
    def recipients(self) -> Sequence[str] | None: ...
    @property
    def cc(self) -> Sequence[str] | None: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def body_text(self) -> str | None: ...
    @property
    def body_html(self) -> str | None: ...
    @property
    def message_id_header(self) -> str: ...
    @property
    def in_reply_to(self) -> str | None: ...
    @property
    def references(self) -> str | None: ...
    @property
    def attachments(self) -> Sequence[dict[str, Any]] | None: ...


class ComposeError(Exception):
    """The row cannot become an email (bad address, missing attachment file); retrying will not help."""


def new_message_id(domain: str, kind: str = "mail", ref: str | int | None = None) -> str:
    """A globally unique Message-ID such as ``<tdc.ack.123.1732200000.9f2c4e1a7b3d@example.vn>``.

    The workflow calls this once when it writes the outbox row and stores
    it; every (re)send then uses the stored value, which is what makes a
    repeated send recognisable. Kind and ref only help a human reading logs.
    """
    domain = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise ValueError(f"not a valid domain for a Message-ID: {domain!r}")
    parts = ["tdc", _ATOM_UNSAFE.sub("-", kind).strip("-") or "mail"]
    if ref is not None:
        safe_ref = _ATOM_UNSAFE.sub("-", str(ref)).strip("-")
        if safe_ref:
            parts.append(safe_ref[:60])
    parts += [str(int(time.time())), secrets.token_hex(8)]
    return f"<{'.'.join(parts)}@{domain}>"


def message_id_domain(from_header: str) -> str:
    """The domain to use in our Message-IDs: the one we send from."""
    address = header_addresses([from_header])[0]
    return address.rpartition("@")[2] or "localhost"


def auto_submitted_value(kind: str) -> str:
    return "auto-replied" if kind in AUTO_REPLIED_KINDS else "auto-generated"


def _check_addresses(recipients: list[str]) -> list[str]:
    """Addresses must be bare and one per entry: anything else is a bug or an injection attempt."""
    clean = []
    for raw in recipients:
        if not isinstance(raw, str) or _LINE_BREAK.search(raw):
            raise ComposeError(f"địa chỉ người nhận không hợp lệ: {raw!r}")
        parsed = header_addresses([raw])
        if len(parsed) != 1 or "@" not in parsed[0]:
            raise ComposeError(f"địa chỉ người nhận không hợp lệ: {raw!r}")
        clean.append(raw.strip())
    if not clean:
        raise ComposeError("không có người nhận")
    return clean


REFERENCES_MAX = 10_000


def references_header(value: str, limit: int = REFERENCES_MAX) -> str:
    """The thread's first id and as many of its last ones as fit in ``limit`` characters.

    Why not cut the end: the last id is the message being answered, the one
    a mail program threads the reply under; a thread too long to carry whole
    loses its middle (as RFC 5322 §3.6.4's advice and common mail programs
    do), never its root or its parent. The ids come from incoming mail, so a
    hostile thread of thousands of ids still makes one bounded header.
    """
    ids = value.split()
    if len(" ".join(ids)) <= limit:
        return " ".join(ids)
    last = ids[-1]
    kept: list[str] = []
    size = len(ids[0]) + 1 + len(last)
    for ref in reversed(ids[1:-1]):
        if size + 1 + len(ref) > limit:
            break
        kept.append(ref)
        size += 1 + len(ref)
    chosen = [ids[0], *reversed(kept), last]
    return " ".join(chosen) if size <= limit else last[:limit]


def _header_value(name: str, value: str) -> str:
    if _LINE_BREAK.search(value):
        raise ComposeError(f"{name} có ký tự xuống dòng")
    return value.strip()


def _attach(msg: EmailMessage, attachment: dict[str, str]) -> None:
    path = Path(str(attachment.get("path", "")))
    if not path.is_file():
        raise ComposeError(f"không còn tệp đính kèm: {path.name or '(không có đường dẫn)'}")
    # The store's rule for a name a person saves: no bidi override or zero-width character in it, no path.
    filename = sanitize_filename(str(attachment.get("filename") or path.name))
    content_type = attachment.get("content_type") or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    maintype, _, subtype = content_type.partition("/")
    if not subtype:
        maintype, subtype = "application", "octet-stream"
    cid = attachment.get("inline_cid")
    html = msg.get_body(("html",)) if cid else None
    if html is not None:
        # Shown inside the HTML (<img src="cid:...">): a multipart/related sibling of the HTML part.
        html.add_related(path.read_bytes(), maintype=maintype, subtype=subtype, cid=f"<{cid}>",
                         disposition="inline", filename=filename)
        return
    msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=filename)


def compose(
    row: OutgoingEmail,
    from_header: str,
    reply_to: str | None = None,
    now: datetime | None = None,
    recipients: list[str] | None = None,
    cc: list[str] | None = None,
) -> EmailMessage:
    """Build the message for ``row``: text + HTML alternatives, attachments, loop-safe headers.

    ``recipients`` overrides ``row.recipients`` and ``cc`` ``row.cc`` (the
    outbox drops addresses that reached their daily cap). Raises ComposeError when the row itself
    is unusable, so the caller can mark it failed with that reason.
    """
    to = _check_addresses(list(recipients if recipients is not None else row.recipients or []))
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _header_value("From", from_header)
    msg["To"] = ", ".join(to)
    copies = [c for c in (cc if cc is not None else getattr(row, "cc", None) or []) if c not in to]
    if copies:
        msg["Cc"] = ", ".join(_check_addresses(copies))
    if reply_to:
        msg["Reply-To"] = _header_value("Reply-To", reply_to)
    msg["Subject"] = one_line(row.subject or "")
    msg["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(VN_TZ))
    msg["Message-ID"] = _header_value("Message-ID", row.message_id_header)
    if row.in_reply_to:
        msg["In-Reply-To"] = _header_value("In-Reply-To", row.in_reply_to)
    if row.references:
        msg["References"] = references_header(row.references)
    msg["Auto-Submitted"] = auto_submitted_value(row.kind)
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-TDC-Bot"] = "1"
    msg.set_content(row.body_text or "", subtype="plain", charset="utf-8")
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html", charset="utf-8")
    for attachment in row.attachments or []:
        _attach(msg, attachment)
    return msg
