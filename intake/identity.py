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

Sender verification follows RFC 8601: only Authentication-Results headers
written by our own receiving server (its authserv-id, configured as
``[mailbox] trusted_authserv_id``) count, and only those above any other
Authentication-Results header (a server prepends its own; anything below
may have come with the message). A From domain is verified when one of them
reports DMARC pass for that domain, or SPF/DKIM pass for that exact domain.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from reference.addresses import (  # noqa: F401  (re-exported: intake's callers read identity from here)
    Mailbox,
    _ATEXT,
    _DOT_ATOM,
    _LABEL,
    _MAX_ADDRESS,
    _QUOTED_LOCAL,
    _decode_phrase,
    _scan,
    addr_spec,
    domain_of,
    identity,
    parse_mailbox,
    parse_mailboxes,
)

if TYPE_CHECKING:
    from intake.model import Envelope

# Verification outcomes stored with each message (``messages.sender_auth``).
UNCHECKED = "unchecked"  # no trusted_authserv_id configured: nothing was verified
PASS = "pass"            # an aligned pass from our own receiving server
FAIL = "fail"            # trusted server configured, no aligned pass for the From domain
UNVERIFIED_LABEL = "người gửi chưa được xác thực"


# ------------------------------------------------------------------ verification

_COMMENT = re.compile(r"\([^()]*\)")
_RESINFO = re.compile(r"^\s*([a-z0-9_.-]+)\s*(?:/\s*\d+\s*)?=\s*([a-z]+)(.*)$", re.I | re.S)
_PROP = re.compile(r"([a-z]+)\.([a-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.I)


def _strip_comments(value: str) -> str:
    for _ in range(10):
        stripped = _COMMENT.sub(" ", value)
        if stripped == value:
            break
        value = stripped
    return value


def split_results(value: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(authserv-id, [(method, result, the rest of the resinfo)]) of one Authentication-Results value.

    RFC 8601 syntax with comments removed; the one reader of these headers for
    sender verification here and for failure reasons in intake.guards.
    """
    parts = [p.strip() for p in _strip_comments(value).split(";")]
    authserv = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    results = []
    for part in parts[1:]:
        match = _RESINFO.match(part)
        if match:
            results.append((match.group(1).lower(), match.group(2).lower(), match.group(3)))
    return authserv, results


def _results(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    authserv, results = split_results(value)
    return authserv, [(method, result, {f"{p.lower()}.{k.lower()}": v.strip('"').lower() for p, k, v in _PROP.findall(rest)})
                      for method, result, rest in results]


def trusted_results(env: "Envelope", trusted: frozenset[str]) -> list[tuple[str, str, dict[str, str]]]:
    """Results from the leading run of Authentication-Results headers written by a trusted server."""
    out: list[tuple[str, str, dict[str, str]]] = []
    for value in env.headers.get("authentication-results", []):
        authserv, results = _results(value)
        if authserv not in trusted:
            break  # anything below a foreign header may have come with the message
        out.extend(results)
    return out


def _prop_domain(value: str | None) -> str:
    return domain_of(value) if value and "@" in value else (value or "").lower().rstrip(".")


def aligned_pass(results: list[tuple[str, str, dict[str, str]]], domain: str) -> str | None:
    """The method that vouches for ``domain`` (DMARC for it, or SPF/DKIM for exactly it), or None."""
    if not domain:
        return None
    for method, result, props in results:
        if result != "pass":
            continue
        if method == "dmarc" and _prop_domain(props.get("header.from")) == domain:
            return "dmarc"
        if method == "spf" and _prop_domain(props.get("smtp.mailfrom")) == domain:
            return "spf"
        if method == "dkim" and (_prop_domain(props.get("header.d")) == domain
                                 or _prop_domain(props.get("header.i")) == domain):
            return "dkim"
    return None


@dataclass(frozen=True)
class SenderCheck:
    """The verdict on the From address: ``status`` is UNCHECKED, PASS or FAIL; ``reason`` for a FAIL."""

    status: str
    method: str | None = None
    reason: str | None = None

    @property
    def verified(self) -> bool:
        return self.status == PASS


def check_sender(env: "Envelope", trusted: frozenset[str] | None) -> SenderCheck:
    """Whether our own receiving server vouched for the From domain (see the module docstring)."""
    if not trusted:
        return SenderCheck(UNCHECKED)
    domain = domain_of(env.from_addr)
    method = aligned_pass(trusted_results(env, trusted), domain)
    if method:
        return SenderCheck(PASS, method)
    servers = ", ".join(sorted(trusted))
    return SenderCheck(FAIL, None, f"{UNVERIFIED_LABEL}: máy chủ nhận thư ({servers}) không xác nhận DMARC, SPF hoặc "
                                   f"DKIM đạt cho tên miền {domain or '(trống)'} của địa chỉ gửi")


# ------------------------------------------------------------------ duplicates

def _enclosed_pieces(env: "Envelope", depth: int = 0) -> list[str]:
    """What enclosed (forwarded, message/rfc822) messages say: two mails that differ only there are two mails."""
    pieces: list[str] = []
    for fwd in env.forwarded if depth < 10 else []:
        pieces += ["\x00enclosed", fwd.message_id or "", fwd.from_addr, fwd.subject, fwd.text_body, fwd.html_body,
                   *_enclosed_pieces(fwd, depth + 1)]
    return pieces


def content_fingerprint(env: "Envelope", attachment_hashes: Iterable[str]) -> str | None:
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
