"""Returned mail, decided once: is this a bounce, of which of our emails, for whom, and is it final.

Why one module: the signs of a bounce are many (a DSN's ``Action`` fields,
an Exchange report inside winmail.dat, a mailer-daemon sender, a subject in
one of a dozen languages, an empty return path, and for layouts none of
that knows, GNU Mailman's maintained bounce parser ``flufl.bounce``), and
what a bounce means for an address (which email of ours came back, which
recipients failed, for good or for now) must be read from the same
evidence that called it a bounce. So the signs are here, the guards
(:func:`intake.machine.guards.check`) ask them in their order among the
other machine mail, and :func:`verdict` gives the pipeline ONE
:class:`BounceVerdict`, which the workflow acts on without re-reading the
message (``workflow.season.reminder_mail``).

A complaint (ARF, Microsoft's JMRP: recognised by
:mod:`intake.machine.machine_mail`) returns our email too: its verdict says
which of our emails, and is never a bounce.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from intake.machine.machine_mail import subject_has
from intake.message.large_bodies import parse_bytes
from intake.model import Envelope, GuardVerdict
from reference.addresses import VERP_SEPARATOR, parse_mailbox, parse_mailboxes
from reference.text import clip

log = logging.getLogger(__name__)

BOUNCE = "bounce"  # the guard kind of a failed delivery
DELAY = "delay"  # a delivery still being retried: an answer to nothing, never a bounce
# Guard kinds that say a message the bot sent did not arrive or was refused: their verdict names
# which email of ours came back and for whom (address health).
RETURN_KINDS = frozenset({BOUNCE, "feedback"})

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
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon")
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_ACTION = re.compile(r"^\s*Action\s*:\s*([a-z-]+)", re.I | re.M)
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
ACK_TAG = re.compile(r"\[TDC-\d{4}-\d{6}\]")
_BOT_HEADER_LINE = re.compile(r"^[ >\t]*X-TDC-Bot\s*:", re.I | re.M)
_MSGID = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")


# ------------------------------------------------------------------ the verdict

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


@dataclass(frozen=True)
class BounceVerdict:
    """What a returned message says about mail the bot sent: the one reading the workflow acts on.

    ``kind`` is the guard kind: ``bounce`` (delivery failed), ``delay`` (still
    being retried), ``feedback`` (a complaint about our email), or None (no
    returned mail). ``own_message_ids`` and ``verp_tokens`` say which email of
    ours came back (its quoted Message-IDs, the per-email return path it was
    delivered to); ``recipients`` who the report names, with their status.
    """

    kind: str | None = None
    reasons: tuple[str, ...] = ()
    own_message_ids: tuple[str, ...] = ()  # ``<…>`` form, in order of first appearance
    recipients: tuple[ReturnedRecipient, ...] = ()
    verp_tokens: tuple[str, ...] = ()
    by_layout: bool = False  # only flufl.bounce knew it: the guards had let the message through

    @property
    def bounced(self) -> bool:
        """A delivery of ours failed: the address it failed for is unhealthy."""
        return self.kind == BOUNCE

    @property
    def permanent(self) -> bool:
        """Final, not a warning: a failed delivery is not retried; a delay or a complaint is no failure."""
        return self.bounced

    def failed_recipients(self) -> list[ReturnedRecipient]:
        """The recipients a bounce says failed (none for a delay or a complaint)."""
        return [r for r in self.recipients if r.failed] if self.bounced else []

    def applied_to(self, guard: GuardVerdict) -> GuardVerdict:
        """The guards' verdict, or "ignore as a bounce" when only the bounce layouts recognised the message."""
        return GuardVerdict("ignore", BOUNCE, list(self.reasons)) if self.by_layout else guard


NOT_RETURNED = BounceVerdict()


def verdict(env: Envelope, raw: bytes, guard: GuardVerdict, own_addresses: frozenset[str] | set[str],
            own_domain: str | None) -> BounceVerdict:
    """The bounce verdict on one message, after the guards: theirs, or the bounce layouts' as the last resort.

    flufl.bounce reads only what every guard let through (``guard`` accepts),
    and only behind :func:`may_be_bounce`: its detectors cost half of reading
    an ordinary message. Which email came back and for whom is read for
    :data:`RETURN_KINDS`; who a delay names, for a delay.
    """
    kind, reasons, failed, late = guard.kind, tuple(guard.reasons), [], False
    if guard.action == "accept" and may_be_bounce(env) and (failed := by_layout(raw)):
        kind, reasons, late = BOUNCE, ("thư báo lỗi gửi (flufl.bounce): " + ", ".join(failed),), True
    if kind in RETURN_KINDS:
        return BounceVerdict(kind, reasons, returned_own_message_ids(env, own_domain),
                             tuple(returned_recipients(env, failed)), tuple(verp_tokens(env, own_addresses)), late)
    if kind == DELAY:
        return BounceVerdict(kind, reasons, recipients=tuple(returned_recipients(env)))
    return NOT_RETURNED


# ------------------------------------------------------------------ the signs, asked by the guards in their order

def delivery_status(env: Envelope) -> tuple[str, str] | None:
    """(kind, reason) of a DSN (RFC 3464) read by its ``Action`` fields: bounce, delay or delivered."""
    ctype = (env.header("content-type") or "").lower()
    dsn = [text for c, text in env.machine_parts if c in _DSN_TYPES]
    if not (dsn or (env.content_type == "multipart/report" and "delivery-status" in ctype)):
        return None
    actions = {a.lower() for text in dsn for a in _ACTION.findall(text)}
    if actions and "failed" not in actions:
        if "delayed" in actions:
            return DELAY, "thông báo chậm gửi (DSN Action: delayed)"
        return "delivered", f"thông báo gửi thành công (DSN Action: {', '.join(sorted(actions))})"
    return BOUNCE, "multipart/report (delivery-status)"


# Exchange delivery report classes inside winmail.dat: non-delivery, delivery.
_TNEF_DELIVERY = ((".NDR", BOUNCE, "thư báo không gửi được"), (".DR", "delivered", "thông báo đã gửi đến"))


def tnef_delivery(message_class: str) -> tuple[str, str] | None:
    """(kind, reason) of an Exchange delivery report by its winmail.dat message class (``REPORT.….NDR``)."""
    upper = message_class.upper()
    for suffix, kind, label in _TNEF_DELIVERY:
        if upper.endswith(suffix):
            return kind, f"{label} trong winmail.dat ({message_class})"
    return None


def delay_subject(env: Envelope) -> str | None:
    """Why the subject reads as a delay warning, or None."""
    subject = env.subject or ""
    return f"tiêu đề: {clip(subject, 80)}" if subject_has(subject, DELAY_SUBJECTS) else None


def _report_type(env: Envelope) -> str | None:
    ctype = env.header("content-type") or ""
    match = re.search(r"report-type\s*=\s*\"?([\w-]+)", ctype, re.I)
    return match.group(1).lower() if match else None


def shape_reasons(env: Envelope) -> list[str]:
    """Why the message looks like a bounce without a readable DSN: its type, a mailer-daemon sender, its subject."""
    reasons: list[str] = []
    if env.content_type == "multipart/report" and _report_type(env) in (None, "delivery-status"):
        reasons.append("multipart/report (delivery-status)")
    local = env.from_addr.partition("@")[0]
    if local in _BOUNCE_SENDERS:
        reasons.append(f"người gửi: {env.from_addr}")
    if subject_has(env.subject or "", BOUNCE_SUBJECTS):
        reasons.append(f"tiêu đề: {clip(env.subject or '', 80)}")
    return reasons


def null_return_path(env: Envelope) -> list[str]:
    """An empty envelope sender marks a machine; alone it reads as a bounce."""
    values = env.values("return-path")
    return ["Return-Path: <>"] if any(v.strip().replace(" ", "") in ("<>", "") for v in values) else []


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


def by_layout(raw: bytes, max_bytes: int = 1024 * 1024) -> list[str]:
    """Failed recipients that GNU Mailman's bounce detectors (``flufl.bounce``) find in ``raw`` (empty: not a bounce).

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


# ------------------------------------------------------------------ which email of ours, and for whom

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
            texts += [*e.values("in-reply-to"), *e.values("references")]
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
    """Reasons to think the bot's own mail is inside this message (attached, returned or quoted).

    A return of our mail in a layout nobody knows (or a reply quoting an
    acknowledgement): the guards set it aside unless it carries a document.
    """
    reasons: list[str] = []
    inner = list(_envelopes(env))[1:]
    if any(e.values("x-tdc-bot") for e in inner):
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
    """
    found: dict[str, ReturnedRecipient] = {}
    for ctype, text in env.machine_parts:
        if ctype not in _DSN_TYPES:
            continue
        for fields in _recipient_blocks(text[:200_000]):
            raw = fields.get("final-recipient") or fields.get("original-recipient") or ""
            address = parse_mailbox(f"<{raw.rpartition(';')[2].strip().strip('<>')}>")
            if address is None:
                continue
            found.setdefault(address.address, ReturnedRecipient(
                address.address, fields.get("action", "").split()[0].lower() if fields.get("action") else "",
                (fields.get("status", "").split() or [""])[0], fields.get("diagnostic-code", "")[:300]))
    for value in env.values("x-failed-recipients")[:5]:
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
        for value in env.values(name)[:10]:
            for pattern in patterns:
                found += [t.lower() for t in pattern.findall(value[:2000]) if t.lower() not in found]
    return found[:10]
