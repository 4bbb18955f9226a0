"""Machine mail the header guards alone miss, and the bot's own mail coming back.

Why a module of its own: real mail carries returned acknowledgements in
formats nobody lists in advance (an MTA's own bounce layout, an ARF
complaint from a feedback loop, a read receipt, a challenge-response robot).
Answering one of them sends an acknowledgement to a bounce daemon or a
complaint loop, and reading the returned acknowledgement as a report (it
lists outline sections) makes a phantom submission. So this module looks for:

* the bot's own mail anywhere in a message: ``X-TDC-Bot``, a Message-ID of
  the form the bot writes (``<tdc.….@own-domain>``), the acknowledgement tag
  ``[TDC-YYYY-NNNNNN]``, in the message, its attached messages
  (``message/rfc822``), its returned headers (``text/rfc822-headers``) and
  its quoted text;
* machine reports by their MIME type: ARF feedback (RFC 5965), MDN
  (RFC 8098), DSN (RFC 3464) read by their ``Action`` (failed, delayed,
  delivered);
* senders and subjects robots use (``noreply``, challenge-response, bounce
  wordings in several languages);
* and, for bounce layouts none of that knows, GNU Mailman's maintained
  bounce parser ``flufl.bounce`` (about 40 MTA-specific detectors): a message
  in which it finds failed recipients is a bounce.

It only reads; :func:`intake.machine.guards.check` decides.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from intake.message.large_bodies import parse_bytes
from intake.model import Envelope
from reference.addresses import VERP_SEPARATOR, parse_mailbox, parse_mailboxes
from reference.text import clip, words

log = logging.getLogger(__name__)

ACK_TAG = re.compile(r"\[TDC-\d{4}-\d{6}\]")
_BOT_HEADER_LINE = re.compile(r"^[ >\t]*X-TDC-Bot\s*:", re.I | re.M)
_MSGID = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_ACTION = re.compile(r"^\s*Action\s*:\s*([a-z-]+)", re.I | re.M)

# Message kinds a guard may give, and what is stored as the message's kind: each is stored as what
# it is (a complaint is not a bounce, a read receipt not an out-of-office reply), never as a report.
STORED_KIND = {
    "bounce": "bounce", "feedback": "complaint",
    "auto_reply": "auto_reply", "delay": "auto_reply", "challenge": "auto_reply",
    "mdn": "receipt", "delivered": "receipt",
    "list": "list", "tracker": "notice", "noreply": "notice", "newsletter": "newsletter",
}
# Kinds that say a message the bot sent did not arrive or was refused (for address health).
RETURN_KINDS = frozenset({"bounce", "feedback"})

BOUNCE_SUBJECTS = (
    "undelivered mail returned to sender", "undelivered mail", "delivery status notification",
    "khong gui duoc thu", "khong the gui thu", "thu khong gui duoc", "khong chuyen duoc thu",
    "mail delivery failed", "mail delivery failure", "returned mail", "return mail", "undeliverable",
    "undeliverable mail", "delivery has failed", "failure notice", "delivery failure", "delivery failed",
    "delivery failure notification", "delivery notification", "mail could not be delivered",
    "message could not be delivered", "could not deliver", "nondeliverable mail", "non delivery",
    "nondelivery", "mail system error", "returned to sender", "rejected mail", "mail delivery system",
    "message not delivered", "delivery problem", "undeliverable message", "permanent error",
    "unzustellbar", "nicht zustellbar", "non recapitabile", "impossible de remettre", "non remis",
    "echec de distribution", "no se puede entregar", "nao foi possivel entregar", "onbestelbaar",
    "メールエラー通知", "配信エラー", "不達", "退信", "系统退信", "无法投递", "반송",
)
DELAY_SUBJECTS = ("delivery status notification delay", "delayed mail", "mail delivery warning",
                  "delivery delayed", "warning could not send message", "delivery notification delayed")
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
_NOREPLY_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|noreply[-_.].*|.*[-_.]no[-_.]?reply|"
    r"mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|bounces?|bounce[-+_.].*|.*[-+_.]bounces?)$"
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


def _envelopes(env: Envelope, depth: int = 0) -> Iterator[Envelope]:
    yield env
    if depth < 8:
        for fwd in env.forwarded:
            yield from _envelopes(fwd, depth + 1)


def _own_ids_in(text: str, own_domain: str) -> list[str]:
    suffix = "@" + own_domain
    return [m for m in _MSGID.findall(text) if m.lower().endswith(suffix) and m.lower().startswith("tdc.")]


def returned_own_message_ids(env: Envelope, own_domain: str | None, replies: bool = True) -> tuple[str, ...]:
    """Message-IDs of the bot's own mail that this message refers to or carries back.

    From In-Reply-To/References (unless ``replies`` is False), attached
    messages, returned headers (``text/rfc822-headers``, DSN/ARF blocks) and
    quoted ``Message-ID:`` lines; in order of first appearance, without
    duplicates, ``<…>`` form.
    """
    domain = (own_domain or "").strip().lower()
    if not domain:
        return ()
    found: list[str] = []
    texts: list[str] = []
    for e in _envelopes(env):
        if e is not env or replies:
            texts += [*e.headers.get("in-reply-to", []), *e.headers.get("references", [])]
        texts.append(e.message_id or "")
        if e is not env:
            texts.append(e.text_body[:200_000])
    texts += [text for _, text in env.machine_parts]
    texts.append(env.text_body[:200_000])
    for text in texts:
        for mid in _own_ids_in(text, domain):
            if f"<{mid}>" not in found:
                found.append(f"<{mid}>")
    if env.message_id and env.message_id in found and len(found) == 1 and not env.forwarded:
        return ()  # only our own Message-ID at the top: our own mail, not a return
    return tuple(found)


def carries_own_mail(env: Envelope, own_domain: str | None) -> list[str]:
    """Reasons to think the bot's own mail is inside this message (attached, returned or quoted)."""
    reasons: list[str] = []
    inner = list(_envelopes(env))[1:]
    if any(e.headers.get("x-tdc-bot") for e in inner):
        reasons.append("thư đính kèm mang tiêu đề X-TDC-Bot (thư của hệ thống bị gửi lại)")
    if any(_BOT_HEADER_LINE.search(text) for _, text in env.machine_parts):
        reasons.append("phần tiêu đề trả về mang X-TDC-Bot")
    if _BOT_HEADER_LINE.search(env.text_body[:200_000]):
        reasons.append("nội dung trích dẫn tiêu đề X-TDC-Bot")
    if any(ACK_TAG.search(e.subject or "") for e in inner):
        reasons.append("thư đính kèm là thư báo nhận của hệ thống")
    if ACK_TAG.search(env.subject or "") or ACK_TAG.search(env.text_body[:200_000]):
        reasons.append("có số tham chiếu thư báo nhận của hệ thống [TDC-…]")
    if returned_own_message_ids(env, own_domain, replies=False):  # a plain reply to the bot is a human's
        reasons.append("mang Message-ID thư của hệ thống (thư đính kèm, tiêu đề trả về hoặc trích dẫn)")
    return reasons


def report_kind(env: Envelope) -> tuple[str, str] | None:
    """(kind, reason) of a machine report recognised by its MIME structure."""
    ctype = (env.header("content-type") or "").lower()
    parts = {ctype_ for ctype_, _ in env.machine_parts}
    if "feedback-report" in ctype or "message/feedback-report" in parts:
        return "feedback", "báo cáo khiếu nại (ARF feedback-report)"
    if "disposition-notification" in ctype or parts & {"message/disposition-notification",
                                                         "message/global-disposition-notification"}:
        return "mdn", "thông báo đã đọc (MDN)"
    dsn = [text for c, text in env.machine_parts if c in ("message/delivery-status", "message/global-delivery-status")]
    if dsn or (env.content_type == "multipart/report" and "delivery-status" in ctype):
        actions = {a.lower() for text in dsn for a in _ACTION.findall(text)}
        if actions and "failed" not in actions:
            if "delayed" in actions:
                return "delay", "thông báo chậm gửi (DSN Action: delayed)"
            return "delivered", f"thông báo gửi thành công (DSN Action: {', '.join(sorted(actions))})"
        return "bounce", "multipart/report (delivery-status)"
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


# Exchange report classes inside winmail.dat: read / not read (a receipt), non-delivery, delivery.
_TNEF_REPORTS = ((".IPNRN", "mdn", "thông báo đã đọc"), (".IPNNRN", "mdn", "thông báo chưa đọc"),
                 (".NDR", "bounce", "thư báo không gửi được"), (".DR", "delivered", "thông báo đã gửi đến"))


def tnef_report(env: Envelope) -> tuple[str, str] | None:
    """(kind, reason) of a receipt or delivery report Exchange sent inside winmail.dat, or None."""
    from intake.documents import tnef

    for att in env.attachments:
        if att.from_forward or not tnef.is_tnef(att.content_type, att.filename):
            continue
        found = tnef.message_class(att.data)
        upper = found.upper()
        if not upper.startswith("REPORT."):
            continue
        for suffix, kind, label in _TNEF_REPORTS:
            if upper.endswith(suffix):
                return kind, f"{label} trong winmail.dat ({found})"
    return None


def noreply_sender(env: Envelope) -> str | None:
    local = env.from_addr.partition("@")[0]
    return env.from_addr if local and _NOREPLY_LOCAL.match(local) else None


# What every bounce layout carries and everyday mail rarely does: the returned message or its
# header lines, a DSN field, an SMTP reply or enhanced status code, or the words of failed delivery
# (in the languages of the MTAs in the corpus). Matched on lower-cased text: words by substring
# search and two small patterns, because one case-insensitive alternation of all of it cost more
# per message than the rest of the guards.
_TRACE_LINE = re.compile(r"^[ >\t]*(?:received|return-path|final-recipient|original-recipient|diagnostic-code|"
                         r"reporting-mta|remote-mta|x-failed-recipients|x-postfix-sender)[ \t]*:", re.M)
_STATUS_CODE = re.compile(r"\b[45]\.\d{1,3}\.\d{1,3}\b|\b[45]\d\d[ -]|#[45]\.\d|@[^\s>]*>?[:,]?[ \t]*\(?[45]\d\d\b")
_FAILURE_WORDS = ("deliver", "recipient", "mailbox", "returned mail", "permanent", "fatal error",
                  "not accepting mail", "quota", "unknown user", "no such user", "user unknown", "zustell",
                  "délivr", "delivr", "remis", "entreg", "consegn", "không gửi", "không thể gửi")


def may_be_bounce(env: Envelope) -> bool:
    """Whether ``flufl.bounce`` is worth running: an enclosed message, or bounce traces in the text.

    Why a gate: the detectors scan every body line with dozens of patterns,
    which cost half of all the work of understanding an ordinary message, and
    every bounce layout they know quotes the failed message, its headers, a
    DSN field, an SMTP status or says in words that delivery failed. Measured on the real-mail corpus
    (``tests/test_realmail.py``): every bounce flufl.bounce recognises passes this gate.
    """
    if env.forwarded or env.machine_parts or env.content_type.startswith(("multipart/report", "message/")):
        return True
    if any(a.content_type.startswith("message/") or a.content_type == "text/rfc822-headers" for a in env.attachments):
        return True
    text = env.text_body[:200_000].lower()
    return any(w in text for w in _FAILURE_WORDS) or bool(_TRACE_LINE.search(text) or _STATUS_CODE.search(text))


def flufl_bounce(raw: bytes, max_bytes: int = 1024 * 1024) -> list[str]:
    """Failed recipients that GNU Mailman's bounce detectors find in ``raw`` (empty: not a bounce).

    Only small messages are read (a bounce is small; a report with its
    attachments is not), and any failure of the detectors means "not known".
    """
    if len(raw) > max_bytes:
        return []
    try:
        from flufl.bounce import all_failures

        logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)  # it logs every detector's crash on odd mail
    except ImportError:  # pragma: no cover - a declared dependency; the header guards still work without it
        return []
    try:
        msg = parse_bytes(raw)
        temporary, permanent = all_failures(msg)
    except Exception:  # noqa: BLE001 - detectors are heuristics over hostile input
        log.debug("flufl.bounce failed", exc_info=True)
        return []
    found = sorted({text for a in (*permanent, *temporary)
                    if _ADDRESS.fullmatch(text := (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)))})
    return found[:10]  # only real addresses: some detectors return garbage from uuencoded bodies


# ------------------------------------------------------------------ who a returned message failed for

@dataclass(frozen=True)
class ReturnedRecipient:
    """One recipient block of a delivery status notification (RFC 3464 section 2.3)."""

    address: str
    action: str  # failed | delayed | delivered | relayed | expanded ("" when not said)
    status: str  # "5.1.1"
    diagnostic: str

    @property
    def failed(self) -> bool:
        return self.action == "failed" or (not self.action and self.status.startswith("5"))


_DSN_FIELD = re.compile(r"^([A-Za-z-]+)[ \t]*:[ \t]*(.*(?:\n[ \t]+.*)*)", re.M)


def _recipient_blocks(text: str) -> Iterator[dict[str, str]]:
    for block in re.split(r"\r?\n[ \t]*\r?\n", text.replace("\r\n", "\n")):
        fields = {name.lower(): " ".join(value.split()) for name, value in _DSN_FIELD.findall(block)}
        if "final-recipient" in fields or "original-recipient" in fields:
            yield fields


def returned_recipients(env: Envelope, failed_by_layout: list[str] | None = None) -> list[ReturnedRecipient]:
    """Who a bounce says the mail failed (or was delayed) for, with the status: what marks an address bouncing.

    From the DSN status parts, then ``X-Failed-Recipients`` (Exim), then the
    addresses flufl.bounce read from an unknown layout (``failed_by_layout``).
    Intake states these facts once; the workflow matches them against what it
    sent and never re-reads the message.
    """
    found: dict[str, ReturnedRecipient] = {}
    for ctype, text in env.machine_parts:
        if ctype not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        for fields in _recipient_blocks(text[:200_000]):
            raw = fields.get("final-recipient") or fields.get("original-recipient") or ""
            address = parse_mailbox(f"<{raw.rpartition(';')[2].strip().strip('<>')}>")
            if address is None:
                continue
            found.setdefault(address.address, ReturnedRecipient(
                address.address, fields.get("action", "").split()[0].lower() if fields.get("action") else "",
                (fields.get("status", "").split() or [""])[0], fields.get("diagnostic-code", "")[:300]))
    for value in env.headers.get("x-failed-recipients", [])[:5]:
        for mailbox in parse_mailboxes(value) or []:
            found.setdefault(mailbox.address, ReturnedRecipient(mailbox.address, "failed", "", "X-Failed-Recipients"))
    for failed in failed_by_layout or []:
        found.setdefault(failed.lower(), ReturnedRecipient(failed.lower(), "failed", "", "flufl.bounce"))
    return list(found.values())[:50]


_RETURN_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "original-recipient")


def verp_tokens(env: Envelope, own_addresses: frozenset[str] | set[str]) -> list[str]:
    """Tokens of the bot's return paths this message was delivered to: which email of ours came back."""
    patterns = []
    for own in own_addresses:
        local, _, domain = own.lower().rpartition("@")
        if local and domain:
            patterns.append(re.compile(rf"\b{re.escape(local)}{re.escape(VERP_SEPARATOR)}([0-9a-f]{{8,32}})@"
                                       rf"{re.escape(domain)}\b", re.I))
    found: list[str] = []
    for name in _RETURN_HEADERS:
        for value in env.headers.get(name, [])[:10]:
            for pattern in patterns:
                found += [t.lower() for t in pattern.findall(value[:2000]) if t.lower() not in found]
    return found[:10]
