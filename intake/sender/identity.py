"""Who sent a message: one strict address parser and the receiving server's verdict.

Why a parser of our own: lenient parsers disagree on hostile input. For
``vanthu@skhcn.tayninh.gov.vn (So KHCN) <evil@attacker.example>`` the
standard library returns the first address while a mail server and DMARC
see the one in angle brackets, so the bot would file the attacker's mail
under Tây Ninh's address while DMARC vouched for attacker.example. Here the
RFC 5322 rules decide: an addr-spec in angle brackets wins, comments and
display names never supply an address, and anything ambiguous (two angle
addresses in one mailbox, a bare phrase with an @) gives no address at all.
The one value this returns feeds classification, address learning and the
acknowledgement.

Sender verification follows RFC 8601: only Authentication-Results fields
written by our own receiving server count — in its name (its authserv-id,
``[mailbox] trusted_authserv_id``) and above its own Received line
(:mod:`intake.sender.trusted_server`); anything below came with the message. A From
domain is verified when they report DMARC pass for that domain, or SPF pass
or a DKIM signature (``header.d``) for exactly that domain, with no result
contradicting it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

# Re-exported (the ``name as name`` form): intake's callers read a sender's identity from here, where the module
# docstring says why the parser is strict.
from reference.addresses import domain_of as domain_of
from reference.addresses import identity as identity
from reference.addresses import parse_mailbox as parse_mailbox
from reference.addresses import parse_mailboxes as parse_mailboxes

if TYPE_CHECKING:
    from intake.model import Envelope

# Verification outcomes stored with each message (``messages.sender_auth``).
UNCHECKED = "unchecked"  # no trusted_authserv_id configured: nothing was verified
PASS = "pass"  # noqa: S105 - a verdict, not a password; an aligned pass from our own receiving server
FAIL = "fail"            # trusted server configured, no aligned pass for the From domain
UNVERIFIED_LABEL = "người gửi chưa được xác thực"


# ------------------------------------------------------------------ verification

_FAILING = {"dmarc": {"fail"}, "spf": {"fail", "softfail"}, "dkim": {"fail"}}


@dataclass(frozen=True)
class AuthResult:
    """One method's result in an Authentication-Results field (RFC 8601 resinfo)."""

    method: str
    result: str
    props: dict[str, str]

    def text(self) -> str:
        shown = " ".join(f"{k}={v}" for k, v in self.props.items())
        return f"{self.method}={self.result}" + (f" {shown}" if shown else "")


def read_results(value: str) -> tuple[str, list[AuthResult]] | None:
    """(authserv-id, results) of one Authentication-Results value; None when it is not RFC 8601.

    Parsed by ``authres`` (maintained, the grammar of RFC 8601 with quoted
    strings, comments with escaped parentheses, folding and case). A value it
    cannot parse is not read by a looser rule: an MTA that echoes a hostile
    MAIL FROM into a comment is exactly what makes a value unparseable.
    """
    import authres

    try:
        header = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + " ".join(value.split()))
    except Exception:  # noqa: BLE001 - authres raises its own SyntaxError and more on hostile input
        return None
    results = [AuthResult(str(r.method).lower(), str(r.result).lower(),
                          {f"{p.type}.{p.name}".lower(): str(p.value).strip('"').lower() for p in r.properties})
               for r in header.results]
    return str(header.authserv_id or "").lower(), results


def _prop_domain(value: str | None) -> str:
    return domain_of(value) if value and "@" in value else (value or "").lower().lstrip("@").rstrip(".")


def aligned_pass(results: list[AuthResult], domain: str) -> str | None:
    """The method that vouches for ``domain``, or None.

    DMARC for the domain, SPF for exactly the domain, or a DKIM signature whose
    ``header.d`` is exactly the domain (``header.i`` alone never: the signer
    chooses it). Results that contradict each other for a method (a pass and a
    fail, or a DKIM "none" beside a pass) vouch for nothing: two answers to one
    question mean one of them was injected.
    """
    if not domain:
        return None
    by_method: dict[str, list[AuthResult]] = {}
    for r in results:
        by_method.setdefault(r.method, []).append(r)
    dmarc = by_method.get("dmarc", [])
    if dmarc and all(r.result == "pass" and _prop_domain(r.props.get("header.from")) == domain for r in dmarc):
        return "dmarc"
    spf = by_method.get("spf", [])
    if spf and all(r.result == "pass" and _prop_domain(r.props.get("smtp.mailfrom")) == domain for r in spf):
        return "spf"
    dkim = by_method.get("dkim", [])
    mine = [r for r in dkim if _prop_domain(r.props.get("header.d")) == domain]
    if (any(r.result == "pass" for r in mine) and all(r.result == "pass" for r in mine)
            and not any(r.result in ("none", "permerror") and not r.props.get("header.d") for r in dkim)):
        return "dkim"
    return None


def failures(results: list[AuthResult]) -> list[str]:
    """DMARC/SPF/DKIM failures worth telling a coordinator (a DKIM failure beside a passing signature is not)."""
    dkim_passed = any(r.method == "dkim" and r.result == "pass" for r in results)
    found: list[str] = []
    for r in results:
        if r.result in _FAILING.get(r.method, set()) and not (r.method == "dkim" and dkim_passed):
            if r.text() not in found:
                found.append(r.text())
    return found


@dataclass(frozen=True)
class SenderCheck:
    """The verdict on the From address: ``status`` is UNCHECKED, PASS or FAIL; ``reason`` for a FAIL.

    ``failures`` are the failing results a coordinator should see; ``forgery_signs``
    what the message carried that only a forger writes (a verdict in our server's
    name below its Received line, an unreadable one above it).
    """

    status: str
    method: str | None = None
    reason: str | None = None
    failures: tuple[str, ...] = ()
    forgery_signs: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        return self.status == PASS


def _believed(env: Envelope, trusted: frozenset[str], hosts: frozenset[str]) -> tuple[list[AuthResult], list[str]]:
    """Results our server wrote (above its Received line, in its name), and the forgery signs seen."""
    from intake.sender.trusted_server import names_server, server_stamps

    stamps = server_stamps(env, hosts or trusted)
    results: list[AuthResult] = []
    signs: list[str] = list(stamps.notes)
    for value in stamps.values("authentication-results"):
        read = read_results(value)
        if read is None:
            if names_server(value, trusted):
                signs.append("Authentication-Results mang tên máy chủ nhận thư nhưng sai cú pháp RFC 8601: bỏ qua")
            continue
        if read[0] in trusted:
            results.extend(read[1])
    below = [v for name, v in stamps.below if name == "authentication-results" and names_server(v, trusted)]
    if below:
        signs.append(f"thư tự mang {len(below)} tiêu đề Authentication-Results nhân danh máy chủ nhận thư "
                     "(nằm dưới dòng Received của máy chủ): dấu hiệu giả mạo, bỏ qua")
    return results, signs


def check_sender(env: Envelope, trusted: frozenset[str] | None,
                 hosts: frozenset[str] | None = None) -> SenderCheck:
    """Whether our own receiving server vouched for the From domain (see the module docstring).

    With no trusted server configured nothing is verified, and the failures of
    every Authentication-Results field are listed: that can only add a reason
    for a coordinator to look, never vouch for anyone.
    """
    if not trusted:
        every = [r for _, v in env.fields() if _ == "authentication-results" and (read := read_results(v))
                 for r in read[1]]
        return SenderCheck(UNCHECKED, failures=tuple(failures(every)))
    results, signs = _believed(env, trusted, hosts or frozenset())
    domain = domain_of(env.from_addr)
    method = aligned_pass(results, domain)
    if method:
        return SenderCheck(PASS, method, failures=tuple(failures(results)), forgery_signs=tuple(signs))
    servers = ", ".join(sorted(trusted))
    reason = (f"{UNVERIFIED_LABEL}: máy chủ nhận thư ({servers}) không xác nhận DMARC, SPF hoặc DKIM đạt cho tên miền "
              f"{domain or '(trống)'} của địa chỉ gửi")
    return SenderCheck(FAIL, None, reason, tuple(failures(results)), tuple(signs))


# ------------------------------------------------------------------ duplicates

def _enclosed_pieces(env: Envelope, depth: int = 0) -> list[str]:
    """What enclosed (forwarded, message/rfc822) messages say: two mails that differ only there are two mails."""
    pieces: list[str] = []
    for fwd in env.forwarded if depth < 10 else []:
        pieces += ["\x00enclosed", fwd.message_id or "", fwd.from_addr, fwd.subject, fwd.text_body, fwd.html_body,
                   *_enclosed_pieces(fwd, depth + 1)]
    return pieces


def content_fingerprint(env: Envelope, attachment_hashes: Iterable[str]) -> str | None:
    """Message-ID + sender + body + attachments, blind to transport headers; None without a Message-ID.

    Two deliveries of one message differ in Received, Delivered-To, X-* lines
    and so in their raw hash; they are still one message.
    """
    if not env.message_id or not env.from_addr:
        return None
    digest = hashlib.sha256()
    for piece in (env.message_id.strip(), env.from_addr, env.subject, env.text_body, env.html_body,
                  *_enclosed_pieces(env), *attachment_hashes):
        data = (piece or "").encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


_KEPT_FIELDS = (b"message-id", b"from", b"date", b"subject", b"to", b"cc", b"in-reply-to", b"references",
                b"content-type", b"mime-version", b"content-transfer-encoding")
_FIELD_LINE = None  # compiled on first use
_TRACE_RUN = None  # the trace fields an MTA puts on top of a message it delivers (RFC 5321 §4.4), compiled on first use
_HEAD_WINDOW = 512 * 1024
_HEAD_RAW = 2 * _HEAD_WINDOW + 2  # enough raw bytes for _HEAD_WINDOW of them once CRLF is LF
_PIECE = 1024 * 1024  # the body is hashed piece by piece: a 70 MB message is not copied to be hashed


def raw_fingerprint(raw: bytes) -> str:
    """The header fields a transport leaves alone, and the body bytes: one value however the mail travelled.

    Computed on the raw bytes before any parsing, so a message delivered again
    (other Received, Delivered-To, Return-Path, X-* lines; CRLF or LF) is known
    by one indexed lookup and costs a hash instead of a reading. Two messages
    that differ in their sender, date, subject, recipients or any byte of
    their body differ here; a message with no Message-ID is still one message.
    The trace lines a delivery puts on top are left out first, so that a text
    with no proper header block (hashed whole) is known again too; for a
    message whose header block holds a kept field that changes nothing.

    Only the header window is copied (with CRLF made LF); the body is hashed in
    pieces, so a 50 MB attachment costs no copy of the message (three copies
    of it were the daemon's peak memory).
    """
    import re

    global _FIELD_LINE, _TRACE_RUN
    if _FIELD_LINE is None or _TRACE_RUN is None:
        _FIELD_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*(?:\n[ \t].*)*)", re.M)
        _TRACE_RUN = re.compile(rb"(?:(?:received|delivered-to|return-path|x-original-to)[ \t]*:[^\n]*\n"
                                rb"(?:[ \t][^\n]*\n)*)+", re.I)
    data = raw[:_HEAD_RAW].replace(b"\r\n", b"\n")
    trace = _TRACE_RUN.match(data, 0, _HEAD_WINDOW)
    start = trace.end() if trace is not None else 0
    end = data.find(b"\n\n", start, _HEAD_WINDOW)
    if end < 0 and len(raw) > _HEAD_RAW:  # no header block in a long text: all of it is the "head"
        data = raw.replace(b"\r\n", b"\n")
    head = data[start:] if end < 0 else data[start:end + 1]
    kept: dict[bytes, list[bytes]] = {}
    for match in _FIELD_LINE.finditer(head):
        name = match.group(1).lower()
        if name in _KEPT_FIELDS:
            kept.setdefault(name, []).append(b" ".join(match.group(2).split()))
    digest = hashlib.sha256()
    for name in _KEPT_FIELDS:
        for value in kept.get(name, []):
            digest.update(name + b":" + value + b"\n")
    if not kept or end < 0:  # no header we know, or no header block at all: the whole text is the message
        digest.update(b"\x00head\n" + head.rstrip())
    digest.update(b"\n")
    if end >= 0:
        for piece in _lf_pieces(raw, _after_newlines(raw, data.count(b"\n", 0, end + 2))):
            digest.update(piece)
    return digest.hexdigest()


def _after_newlines(raw: bytes, count: int) -> int:
    """The raw offset just after the ``count``-th LF: CRLF→LF keeps every LF, so this is where the body starts."""
    head = raw[:_HEAD_RAW]
    return len(head) - len(head.split(b"\n", count)[-1]) if count else 0


def _lf_pieces(raw: bytes, start: int) -> Iterator[bytes]:
    """``raw[start:]`` with trailing white space cut and CRLF made LF, in pieces (the same bytes, never all at once)."""
    stop = len(raw)
    while stop > start:  # rstrip, from the end, a piece at a time
        low = max(start, stop - _PIECE)
        kept = len(raw[low:stop].rstrip())
        if kept:
            stop = low + kept
            break
        stop = low
    while start < stop:
        cut = min(start + _PIECE, stop)
        if cut < stop and raw[cut - 1] == 0x0D:  # a CR at the cut stays with the LF that may follow it
            cut -= 1
        yield raw[start:cut].replace(b"\r\n", b"\n")
        start = cut
