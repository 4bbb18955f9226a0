"""Machine reports that are not bounces, robots' senders and subjects, and what each machine kind is stored as.

Why a module of its own: real mail carries machine reports in formats
nobody lists in advance (an ARF complaint from a feedback loop, a read
receipt with or without an MDN part, an Exchange receipt inside
winmail.dat, a challenge-response robot). Answering one of them sends an
acknowledgement to a complaint loop or a robot, and reading it as a report
makes a phantom submission. So this module looks for:

* reports by their MIME type: ARF feedback (RFC 5965), MDN (RFC 8098);
* their forms without those parts (Microsoft's JMRP complaints, Outlook's
  "Read: …" receipts, receipts inside winmail.dat);
* senders and subjects robots use (``noreply``, challenge-response, receipts).

Bounces, and the bot's own mail coming back, are decided in
:mod:`intake.machine.bounces`. It only reads; :func:`intake.machine.guards.check` decides.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from intake.model import Envelope
from reference.addresses import is_machine_address
from reference.text import clip, words

# Message kinds a guard may give, and what is stored as the message's kind: each is stored as what
# it is (a complaint is not a bounce, a read receipt not an out-of-office reply), never as a report.
STORED_KIND = {
    "bounce": "bounce", "feedback": "complaint",
    "auto_reply": "auto_reply", "delay": "auto_reply", "challenge": "auto_reply",
    "mdn": "receipt", "delivered": "receipt",
    "list": "list", "tracker": "notice", "noreply": "notice", "newsletter": "newsletter",
}
RECEIPT_SUBJECTS = ("delivery status notification success", "read report", "return receipt", "read receipt",
                    "read notification", "disposition notification", "thu da duoc doc")
# Outlook/Exchange read receipts without an MDN part: "Read: <subject>" with a line saying when it was read.
RECEIPT_PREFIXES = ("read:", "not read:", "gelesen:", "ungelesen:", "lu :", "lu:", "non lu :", "leído:", "letto:",
                    "gelezen:", "lido:", "đã đọc:", "chưa đọc:", "已读:", "已读：", "開封済み:")
_RECEIPT_TEXT = re.compile(r"\b(was read on|was deleted without being read|wurde am .{0,40} gelesen|"
                           r"a ete lu le|da duoc doc vao|da bi xoa ma chua doc|your message\b.{0,200}\bwas read)\b",
                           re.S)
# Microsoft's complaint loop (JMRP, Hotmail/Outlook.com) sends no ARF part: the complained-of message
# is enclosed with Hotmail's own stamp, under this subject.
COMPLAINT_SUBJECTS = ("complaint about message from", "email feedback report", "abuse report", "spam complaint",
                      "feedback loop", "fbl report", "spam report")
_JMRP_STAMPS = ("x-hmxmroriginalrecipient", "x-hmxmrorigrecipient")
CHALLENGE_SUBJECTS = (
    "please confirm your message", "please confirm your email", "confirm your message", "sender verification",
    "verify your email address to deliver", "your message is awaiting verification", "spam protection",
    "challenge response", "antispam verification", "please verify you are a human", "boxbe",
)


def subject_has(subject: str, phrases: tuple[str, ...]) -> str | None:
    """Phrase match on folded words (with and without diacritics), or on the raw text for CJK phrases."""
    padded = f" {words(subject)} "
    low = subject.lower()
    for phrase in phrases:
        if phrase.isascii():
            if f" {phrase} " in padded:
                return phrase
        elif phrase in low:
            return phrase
    return None


def report_kind(env: Envelope) -> tuple[str, str] | None:
    """(kind, reason) of a complaint (ARF) or a receipt (MDN) recognised by its MIME structure; DSNs are bounces'."""
    ctype = (env.header("content-type") or "").lower()
    parts = {ctype_ for ctype_, _ in env.machine_parts}
    if "feedback-report" in ctype or "message/feedback-report" in parts:
        return "feedback", "báo cáo khiếu nại (ARF feedback-report)"
    if "disposition-notification" in ctype or parts & {"message/disposition-notification",
                                                         "message/global-disposition-notification"}:
        return "mdn", "thông báo đã đọc (MDN)"
    return None


_MICROSOFT_FBL = re.compile(r"^staff@(hotmail|outlook|live|msn)\.com$")


def complaint_reason(env: Envelope) -> str | None:
    """Why ``env`` is a complaint report sent without an ARF part (Microsoft JMRP, Hotmail), or None."""
    senders = [env.from_addr, *(v.strip().strip("<>").lower() for v in env.headers.get("return-path", [])[:1])]
    if any(env.headers.get(stamp) for stamp in _JMRP_STAMPS) and any(_MICROSOFT_FBL.match(a) for a in senders):
        return "báo cáo khiếu nại của Microsoft (JMRP: thư bị khiếu nại gửi lại kèm dấu của Hotmail)"
    for inner in env.forwarded:
        for stamp in _JMRP_STAMPS:
            if inner.headers.get(stamp):
                return f"báo cáo khiếu nại của Microsoft (JMRP, {stamp})"
    if env.forwarded or any(a.content_type in ("message/rfc822", "text/rfc822-headers") for a in env.attachments):
        phrase = subject_has(env.subject or "", COMPLAINT_SUBJECTS)
        if phrase:
            return f"báo cáo khiếu nại (tiêu đề: {clip(env.subject or '', 80)})"
    return None


def receipt_reason(env: Envelope) -> str | None:
    """Why ``env`` is an Outlook-style read receipt without an MDN part ("Read: …, was read on …"), or None."""
    subject = (env.subject or "").strip().lower()
    body = env.text_body[:5000] or env.html_body[:20000]
    if subject.startswith(RECEIPT_PREFIXES) and _RECEIPT_TEXT.search(words(body)):
        return f"thông báo đã đọc (tiêu đề: {clip(env.subject or '', 80)})"
    return None


# Exchange receipt classes inside winmail.dat: read, not read (its delivery reports are bounces').
_TNEF_RECEIPTS = ((".IPNRN", "thông báo đã đọc"), (".IPNNRN", "thông báo chưa đọc"))


def tnef_report_classes(env: Envelope) -> Iterator[str]:
    """The message classes of the reports Exchange sent inside winmail.dat (``REPORT.…``), attachment by attachment."""
    from intake.documents import tnef

    for att in env.attachments:
        if att.from_forward or not tnef.is_tnef(att.content_type, att.filename):
            continue
        found = tnef.message_class(att.data)
        if found.upper().startswith("REPORT."):
            yield found


def tnef_receipt(message_class: str) -> tuple[str, str] | None:
    """(kind, reason) of a read or not-read receipt by its winmail.dat message class, or None."""
    upper = message_class.upper()
    for suffix, label in _TNEF_RECEIPTS:
        if upper.endswith(suffix):
            return "mdn", f"{label} trong winmail.dat ({message_class})"
    return None


def noreply_sender(env: Envelope) -> str | None:
    return env.from_addr if is_machine_address(env.from_addr) else None
