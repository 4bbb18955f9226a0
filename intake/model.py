"""Plain data passed between intake stages and on to the workflow.

Kept free of any I/O so that every stage can be tested on its own and the
workflow can record the result without knowing how it was produced.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

# Re-exported (the ``name as name`` form): intake stages read outlines through their own model.
from reference.outline import OutlineSection as OutlineSection


@dataclass(frozen=True)
class RawMessage:
    """One message exactly as a source delivered it.

    ``arrived_at`` is the receiving server's time (IMAP INTERNALDATE, the
    Maildir delivery time), never the sender's Date header: on-time
    decisions must not depend on a clock the sender controls.
    """

    source_key: str  # unique and stable within its source, e.g. "imap:INBOX:1700000000:42"
    raw: bytes
    arrived_at: datetime  # timezone-aware
    mailbox: str  # e.g. "imap://host/INBOX" or "maildir:/path"
    uidvalidity: int | None = None
    uid: int | None = None


@dataclass
class AttachmentPart:
    """An attachment as found in the MIME tree (possibly inside a forward)."""

    filename: str  # decoded (RFC 2231 / 2047) and NFC-normalised, as the sender named it
    safe_name: str  # sanitised name used on disk
    content_type: str
    data: bytes
    from_forward: bool = False  # found inside a message/rfc822 part
    inline: bool = False


@dataclass
class Envelope:
    """What the parser understood of one message."""

    message_id: str | None
    subject: str
    from_addr: str  # lower-case address, "" when absent
    from_name: str
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    date_header: datetime | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-case name -> values
    header_order: list[tuple[str, int]] = field(default_factory=list)  # (name, index in headers[name]), top first
    content_type: str = "text/plain"
    text_body: str = ""
    html_body: str = ""
    attachments: list[AttachmentPart] = field(default_factory=list)
    forwarded: list[Envelope] = field(default_factory=list)  # nested message/rfc822 parts
    defects: list[str] = field(default_factory=list)  # what the parser had to repair or skip
    size: int = 0
    # Machine status blocks (DSN, MDN, ARF report, returned headers): (content type, text), for the guards.
    machine_parts: list[tuple[str, str]] = field(default_factory=list)
    # From names several addresses: a sender, but no single identity (recorded, never answered, never placed by it).
    from_ambiguous: bool = False
    # The body's readable text (the text part, else the HTML's visible text), worked out once by
    # intake.classify.zones.body_text: classification reads it, and the workflow records it (HTML is slow to read).
    readable_body: str | None = None

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        """Every value of one header field (lower-case ``name``), top first; empty when absent."""
        return self.headers.get(name.lower(), [])

    def fields(self) -> list[tuple[str, str]]:
        """Every header field as (lower-case name, value), in the order the message carries them."""
        if not self.header_order:  # built by hand (tests): the dict's order is all there is
            return [(name, value) for name, values in self.headers.items() for value in values]
        return [(name, self.headers[name][i]) for name, i in self.header_order]


@dataclass
class DocumentText:
    """Plain text and structure read from one attachment."""

    filename: str
    format: str  # docx, pdf, doc, txt, zip-member...
    text: str = ""
    headings: list[tuple[int, str]] = field(default_factory=list)  # (level, text)
    tables: list[list[list[str]]] = field(default_factory=list)  # table -> rows -> cells
    notes: list[str] = field(default_factory=list)  # partial read, OCR used, encoding converted...
    needs_review: str | None = None  # reason a coordinator must look (e.g. scanned PDF, no OCR)


@dataclass
class GuardVerdict:
    """Whether a message may be answered, and why not.

    action: "accept" (go on), "ignore" (record, never answer), or
    "quarantine" (record with a reason, never answer).
    """

    action: str
    kind: str | None = None  # auto_reply, bounce, list, own, loop, oversize...
    reasons: list[str] = field(default_factory=list)


class ClassificationRecord(TypedDict):
    """A Classification as plain JSON-ready data (``Classification.as_dict``), for the CLI and the corpus tests."""

    kind: str
    agency: str | None
    year: int | None
    confidence: float
    reasons: list[str]
    delivery: str
    links: list[str]
    also: list[ClassificationRecord]
    documents: list[str]
    copied_to: str | None


# How a report reached the mailbox (Classification.delivery).
FILE, LINK, BODY, PHOTOS = "file", "link", "body", "photos"


@dataclass
class Classification:
    """The bot's reading of a message, with the reasons a coordinator can check.

    ``kind``: report (the agency's annual report) | periodic (a six-month or
    quarterly report of the programme: never the annual one) | other |
    auto_reply | bounce | … (machine kinds, ``intake.machine.machine_mail.STORED_KIND``).

    The rest says how a report came and what else the same mail holds:
    ``delivery`` (a file, a link to fetch, written in the body, photos of the
    pages); ``links`` the share or e-office links it names (never followed);
    ``also`` further readings of the same mail (last year's overdue report in a
    second file: each file to its year); ``documents`` the file names this
    reading stands on (empty: the whole mail); ``copied_to`` the office the mail
    was addressed to when this mailbox was only copied (a district's report to
    its province: an input to that report, not a submission).
    """

    kind: str
    agency: str | None
    year: int | None
    confidence: float
    reasons: list[str] = field(default_factory=list)
    delivery: str = FILE
    links: list[str] = field(default_factory=list)
    also: list[Classification] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    copied_to: str | None = None

    def as_dict(self) -> ClassificationRecord:
        return {
            "kind": self.kind,
            "agency": self.agency,
            "year": self.year,
            "confidence": round(self.confidence, 3),
            "reasons": list(self.reasons),
            "delivery": self.delivery,
            "links": list(self.links),
            "also": [other.as_dict() for other in self.also],
            "documents": list(self.documents),
            "copied_to": self.copied_to,
        }
