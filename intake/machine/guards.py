"""Never answer a machine (RFC 3834), and notice mail that claims a false sender.

Every check here runs before the bot considers sending anything. A wrong
"accept" risks a mail loop with an out-of-office robot or a bounce storm;
a wrong "ignore" risks losing a report. So the checks read headers first
(set by software, reliable), subjects second (set by people and robots in
Vietnamese and English, matched with and without diacritics), and an
automatic-looking message that still carries a document is sent to a
coordinator (quarantine) instead of being dropped.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from intake.machine import bounces, bulk, machine_mail
from intake.message.headers import first_token
from intake.model import Envelope, GuardVerdict
from reference.text import clip, words

BOT_HEADER = "x-tdc-bot"

_AUTO_SUBJECTS = (
    "tra loi tu dong",
    "tu dong tra loi",
    "thu tra loi tu dong",
    "vang mat",
    "di cong tac",
    "out of office",
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto response",
    "autoresponse",
)
_AUTO_SUBJECT_PREFIXES = ("auto:",)
_SUPPRESS_VALUES = {"all", "oof", "autoreply"}
_PRECEDENCE_AUTO = {"auto_reply"}  # bulk and junk are list mail (intake.machine.bulk)
_DOCUMENT_TYPES = ("application/", "image/tiff")
_DOCUMENT_NAME = re.compile(r"\.(docx?|pdf|odt|rtf|xlsx?|zip|rar|7z)$", re.I)


def _subject_matches(subject: str, phrases: Iterable[str]) -> str | None:
    """Phrase match on folded words, so 'Trả lời tự động' and 'TRA LOI TU DONG' agree."""
    padded = f" {words(subject)} "
    return next((p for p in phrases if f" {p} " in padded), None)


def _auto_reply_reasons(env: Envelope) -> list[str]:
    reasons: list[str] = []
    for value in env.values("auto-submitted"):
        if first_token(value) not in ("", "no"):
            reasons.append(f"Auto-Submitted: {value.strip()}")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        for value in env.values(name):
            if value.strip().lower() not in ("no", "false", "0"):
                reasons.append(f"{name}: {value.strip() or '(có)'}")
    for value in env.values("x-auto-response-suppress"):
        tokens = {t.strip().lower() for t in value.split(",")}
        if tokens & _SUPPRESS_VALUES:
            reasons.append(f"X-Auto-Response-Suppress: {value.strip()}")
    for value in env.values("precedence"):
        if first_token(value) in _PRECEDENCE_AUTO:
            reasons.append(f"Precedence: {value.strip()}")
    for name in ("x-ms-exchange-inbox-rules-loop", "x-ms-exchange-generated-message-source"):
        for value in env.values(name):
            reasons.append(f"{name}: {value.strip()}")
    subject = env.subject or ""
    phrase = _subject_matches(subject, _AUTO_SUBJECTS)
    if phrase or subject.strip().lower().startswith(_AUTO_SUBJECT_PREFIXES):
        reasons.append(f"tiêu đề: {clip(subject, 80)}")
    return reasons


def _domain(value: str | None) -> str:
    if not value:
        return ""
    return value.strip().strip("<>").rpartition("@")[2].strip().strip(">").lower()


def _own_reasons(env: Envelope, own_addresses: set[str], own_domain: str | None) -> tuple[str | None, list[str]]:
    """('own' | 'loop' | None, reasons). Our header coming back from elsewhere is a loop."""
    own = {a.strip().lower() for a in own_addresses}
    if env.from_addr and env.from_addr in own:
        return "own", [f"người gửi là địa chỉ của hệ thống: {env.from_addr}"]
    if not env.values(BOT_HEADER):
        return None, []
    domain = (own_domain or "").lower().strip()
    ids = [env.message_id, *(env.values("in-reply-to"))]
    if domain and any(_domain(v) == domain for v in ids if v):
        return "own", [f"X-TDC-Bot và Message-ID thuộc {domain}"]
    return "loop", ["X-TDC-Bot: thư của hệ thống bị gửi lại"]


def _carries_document(env: Envelope) -> bool:
    """A direct (not forwarded, not inline) document attachment: maybe a real report."""
    return any(
        not a.from_forward and not a.inline
        and (a.content_type.startswith(_DOCUMENT_TYPES) or _DOCUMENT_NAME.search(a.filename or ""))
        for a in env.attachments
    )


def _robot_subject(env: Envelope) -> tuple[str, str] | None:
    """(kind, reason) of a delay warning, a receipt or a challenge-response robot, by its subject."""
    delay = bounces.delay_subject(env)
    if delay is not None:
        return bounces.DELAY, delay
    subject = env.subject or ""
    for kind, phrases in (("mdn", machine_mail.RECEIPT_SUBJECTS), ("challenge", machine_mail.CHALLENGE_SUBJECTS)):
        if machine_mail.subject_has(subject, phrases):
            return kind, f"tiêu đề: {clip(subject, 80)}"
    return None


def _machine_report(env: Envelope) -> GuardVerdict | None:
    """Reports machines send about mail: DSN, MDN, ARF by MIME type, and their forms without those parts."""
    report = machine_mail.report_kind(env) or bounces.delivery_status(env)
    if report is not None:
        extra = bounces.shape_reasons(env) if report[0] == bounces.BOUNCE else []
        return GuardVerdict("ignore", report[0], [report[1], *(r for r in extra if r != report[1])])
    complaint = machine_mail.complaint_reason(env)
    if complaint is not None:
        return GuardVerdict("ignore", "feedback", [complaint])
    for message_class in machine_mail.tnef_report_classes(env):
        wrapped = machine_mail.tnef_receipt(message_class) or bounces.tnef_delivery(message_class)
        if wrapped is not None:
            return GuardVerdict("ignore", wrapped[0], [wrapped[1]])
    receipt = machine_mail.receipt_reason(env)
    if receipt is not None:
        return GuardVerdict("ignore", "mdn", [receipt])
    return None


def _bulk(env: Envelope, about_programme: bool) -> GuardVerdict | None:
    """List mail, tracker notices, no-reply robots and newsletters: mail no person wrote to us.

    List and tracker headers are written by software and name it plainly; the
    no-reply and newsletter signs are heuristics, which a message about the
    programme overrides (an e-office notice or a shared-document notice carries them).
    """
    for kind, reasons in (("list", bulk.list_reasons(env)), ("tracker", bulk.tracker_reasons(env))):
        if reasons:
            return GuardVerdict("ignore", kind, reasons)
    if about_programme:
        return None
    noreply = machine_mail.noreply_sender(env)
    if noreply:
        reasons = [f"người gửi không nhận thư trả lời: {noreply}"]
        if _carries_document(env):
            return GuardVerdict("quarantine", "noreply",
                                reasons + ["thư tự động nhưng có tệp đính kèm: cần cán bộ kiểm tra"])
        return GuardVerdict("ignore", "noreply", reasons)
    reasons = bulk.newsletter_reasons(env)
    return GuardVerdict("ignore", "newsletter", reasons) if reasons else None


def check(env: Envelope, own_addresses: set[str], own_domain: str | None = None,
          from_agency: bool = False, about_programme: bool = False) -> GuardVerdict:
    """Decide whether the bot may answer this message at all.

    ``from_agency`` (the sender is an agency's address or domain) keeps list,
    tracker, no-reply and newsletter signs from setting the message aside, and
    ``about_programme`` (it names the programme) keeps the heuristic ones from
    it: an agency's e-office system or a shared-document notice carries them
    too. Machine reports (bounces, receipts, complaints) and auto-replies are
    set aside whoever sent them.
    """
    kind, reasons = _own_reasons(env, own_addresses, own_domain)
    if kind:
        return GuardVerdict("ignore", kind, reasons)
    machine = _machine_report(env)
    if machine is not None:
        return machine
    robot = _robot_subject(env)
    if robot is not None:
        return GuardVerdict("ignore", robot[0], [robot[1]])
    reasons = bounces.shape_reasons(env)
    if reasons:
        return GuardVerdict("ignore", bounces.BOUNCE, reasons)
    reasons = _auto_reply_reasons(env)
    if reasons:
        if _carries_document(env):
            return GuardVerdict("quarantine", "auto_reply",
                                reasons + ["thư tự động nhưng có tệp đính kèm: cần cán bộ kiểm tra"])
        return GuardVerdict("ignore", "auto_reply", reasons)
    reasons = bounces.null_return_path(env)
    if reasons:
        return GuardVerdict("ignore", bounces.BOUNCE, reasons)
    if not from_agency and (bulk := _bulk(env, about_programme)) is not None:
        return bulk
    reasons = bounces.carries_own_mail(env, own_domain)
    if reasons and not _carries_document(env):
        # A return of the bot's own mail in a format nobody knows, or a reply quoting an
        # acknowledgement with no new report: recorded for a coordinator, never answered.
        return GuardVerdict("ignore", "returned_own", reasons)
    if (not env.from_addr or "@" not in env.from_addr) and env.from_ambiguous:
        # Several people in From: recorded and read, but with no identity nobody is answered or placed by it.
        return GuardVerdict("accept", None, ["trường From có nhiều địa chỉ: không xác định được một người gửi"])
    if not env.from_addr or "@" not in env.from_addr:
        return GuardVerdict("quarantine", "no_sender", ["không có địa chỉ người gửi hợp lệ (From)"])
    return GuardVerdict("accept")
