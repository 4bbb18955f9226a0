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
from email.header import decode_header, make_header
from typing import TYPE_CHECKING, Iterable

from intake.text import nfc

if TYPE_CHECKING:
    from intake.model import Envelope

# RFC 5322 atext, plus any non-ASCII character (RFC 6532 internationalised addresses).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_QUOTED_LOCAL = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
_LABEL = re.compile(r"[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\-\u0080-\U0010ffff]{0,61}[A-Za-z0-9\u0080-\U0010ffff])?")
_MAX_ADDRESS = 320

# Verification outcomes stored with each message (``messages.sender_auth``).
UNCHECKED = "unchecked"  # no trusted_authserv_id configured: nothing was verified
PASS = "pass"            # an aligned pass from our own receiving server
FAIL = "fail"            # trusted server configured, no aligned pass for the From domain
UNVERIFIED_LABEL = "người gửi chưa được xác thực"


@dataclass(frozen=True)
class Mailbox:
    """One mailbox of an address header: the display name (for people) and the address (for identity)."""

    name: str
    address: str  # lower-case addr-spec


def _scan(value: str) -> list[tuple[str, str]] | None:
    """Split a header value into top-level tokens: ('text'|'quoted'|'angle'|'comma', text).

    Comments are dropped (RFC 5322 CFWS: they never carry meaning), quoted
    strings and domain literals are kept whole. Unbalanced syntax gives None.
    """
    tokens: list[tuple[str, str]] = []
    buf: list[str] = []
    i, n = 0, len(value)

    def flush() -> None:
        if buf:
            tokens.append(("text", "".join(buf)))
            buf.clear()

    while i < n:
        ch = value[i]
        if ch == "(":
            depth = 0
            while i < n:
                c = value[i]
                if c == "\\":
                    i += 2
                    continue
                depth += (c == "(") - (c == ")")
                i += 1
                if depth == 0:
                    break
            if depth:
                return None
            buf.append(" ")
            continue
        if ch == '"':
            match = _QUOTED_LOCAL.match(value, i)
            if match is None:
                return None
            flush()
            tokens.append(("quoted", match.group()))
            i = match.end()
            continue
        if ch == "<":
            end = value.find(">", i)
            if end < 0 or "<" in value[i + 1:end]:
                return None
            flush()
            tokens.append(("angle", value[i + 1:end]))
            i = end + 1
            continue
        if ch == ">":
            return None
        if ch == ",":
            flush()
            tokens.append(("comma", ","))
            i += 1
            continue
        if ch == "[":
            end = value.find("]", i)
            if end < 0:
                return None
            buf.append(value[i:end + 1])
            i = end + 1
            continue
        buf.append(ch)
        i += 1
    flush()
    return tokens


def addr_spec(text: str) -> str | None:
    """A lower-case addr-spec if ``text`` is exactly one (whitespace around it allowed), else None."""
    text = text.strip()
    if not text or len(text) > _MAX_ADDRESS or text.count("@") < 1:
        return None
    local, _, domain = text.rpartition("@")
    if not (_QUOTED_LOCAL.fullmatch(local) or _DOT_ATOM.fullmatch(local)):
        return None
    domain = domain.rstrip(".")
    if domain.startswith("[") and domain.endswith("]"):
        if not re.fullmatch(r"\[[0-9A-Fa-f:.]+\]", domain):  # IP literals only; no general domain-literal
            return None
    else:
        labels = domain.split(".")
        if not all(_LABEL.fullmatch(label) for label in labels):
            return None
    return f"{local}@{domain}".lower()


def _decode_phrase(parts: list[tuple[str, str]]) -> str:
    text = " ".join(t[1:-1].replace('\\"', '"').replace("\\\\", "\\") if kind == "quoted" else t
                    for kind, t in parts).strip()
    text = " ".join(text.split())
    try:
        text = str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001 - a broken encoded word stays as written
        pass
    return nfc(text)


def parse_mailboxes(value: str) -> list[Mailbox] | None:
    """Every mailbox of an address header, or None when any part of it is ambiguous or malformed."""
    tokens = _scan(value or "")
    if tokens is None:
        return None
    out: list[Mailbox] = []
    group: list[tuple[str, str]] = []
    for token in [*tokens, ("comma", ",")]:
        if token[0] != "comma":
            group.append(token)
            continue
        if not any(t.strip() for _, t in group):
            group = []
            continue  # empty list elements are allowed (obs-mbox-list)
        angles = [t for kind, t in group if kind == "angle"]
        if len(angles) > 1:
            return None
        if angles:
            address = addr_spec(angles[0])
            if address is None:
                return None
            at = next(i for i, (kind, _) in enumerate(group) if kind == "angle")
            phrase, after = group[:at], group[at + 1:]
            # The angle address wins even when the phrase looks like an address (the parser-differential
            # trap: "vanthu@agency (x) <evil@attacker>" is evil@attacker). Text after it is not RFC 5322.
            if any(t.strip() for _, t in after):
                return None
            out.append(Mailbox(_decode_phrase(phrase), address))
        else:
            joined = "".join(t for _, t in group)
            address = addr_spec(joined)
            if address is None:
                return None
            out.append(Mailbox("", address))
        group = []
    return out


def parse_mailbox(value: str) -> Mailbox | None:
    """The one mailbox of a From-like header value; None when there is not exactly one valid one."""
    found = parse_mailboxes(value)
    if not found or len(found) != 1:
        return None
    return found[0]


def identity(values: Iterable[str]) -> Mailbox | None:
    """The sender identity from every raw value of a header (a repeated From is ambiguous: None)."""
    values = [v for v in values if v is not None]
    if len(values) != 1:
        return None
    return parse_mailbox(values[0])


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".") if "@" in address else ""


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


def _results(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    parts = [p.strip() for p in _strip_comments(value).split(";")]
    authserv = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    results = []
    for part in parts[1:]:
        match = _RESINFO.match(part)
        if match:
            props = {f"{p.lower()}.{k.lower()}": v.strip('"').lower() for p, k, v in _PROP.findall(match.group(3))}
            results.append((match.group(1).lower(), match.group(2).lower(), props))
    return authserv, results


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
