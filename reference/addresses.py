"""Email address syntax (RFC 5322, RFC 6532): one strict parser for every address the bot trusts.

Used for the roster's and contacts' addresses as much as for a message's
From (intake.sender.identity explains why the parser is strict: an addr-spec in
angle brackets wins, comments and display names never supply an address,
anything ambiguous gives no address). Here, below intake, so that the
reference data parses its addresses with the same rules as intake does.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr

from reference.text import nfc

# RFC 5322 atext, plus any non-ASCII character (RFC 6532 internationalised addresses).
# The classes are written as "every character but these ASCII ones": the same sets as
# [A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff], [A-Za-z0-9\u0080-\U0010ffff] and that with "-", but a
# range up to U+10FFFF made re build a charset of the whole of Unicode at every start
# (~25 ms, more than the rest of `tdc-bot status`). tests/test_addresses.py checks every code point.
_ATEXT = r"[^\x00-\x20\"(),.:;<>@\[\\\]\x7f]"
# A domain label's characters: letters, digits, "_" and non-ASCII. The underscore is not a hostname
# character (RFC 952/1123), but it is RFC 5322 atext, DNS allows it, and real mail carries it
# ("mail_server.example.com"); refusing it made human mail sender-less.
_LET_DIG = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # letter, digit or "_", or non-ASCII
_LET_DIG_HYP = r"[^\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # the same and "-"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_QUOTED_LOCAL = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
_LABEL = re.compile(rf"{_LET_DIG}(?:{_LET_DIG_HYP}{{0,61}}{_LET_DIG})?")
_MAX_ADDRESS = 320

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
    except Exception:  # noqa: BLE001, S110 - a broken encoded word stays as written
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
    """The sender identity from every raw value of a header.

    A repeated From naming the same one address (some MUAs and list software
    write the line twice) is that sender; From lines naming different
    addresses are ambiguous: None.
    """
    found = [parse_mailbox(v) for v in values if v is not None]
    if not found or any(m is None for m in found):
        return None
    first = found[0]
    assert first is not None
    return first if all(m is not None and m.address == first.address for m in found) else None


# Providers that deliver "first.last" and "firstlast" to one inbox (and googlemail.com is gmail.com).
_DOTS_IGNORED = frozenset({"gmail.com"})
_SAME_PROVIDER = {"googlemail.com": "gmail.com"}


def inbox_key(address: str) -> str:
    """One key per inbox, for caps that count mail to a person.

    Case, a ``+tag`` sub-address and, where the provider ignores them, dots
    in the local part all reach the same inbox: counting them apart would
    let one person receive the cap many times over.
    """
    normal = address.strip().strip("<>").lower()
    local, at, domain = normal.rpartition("@")
    if not at:
        return normal
    domain = _SAME_PROVIDER.get(domain.rstrip("."), domain.rstrip("."))
    if not local.startswith('"'):
        local = local.split("+", 1)[0]
        if domain in _DOTS_IGNORED:
            local = local.replace(".", "")
    return f"{local}@{domain}"


VERP_SEPARATOR = "+b-"


def verp_address(address: str, token: str | None) -> str:
    """The per-email return path ``local+b-<token>@domain`` (Mailman's VERP): a bounce names the email it returns.

    The receiving server delivers ``local+anything`` to ``local`` (Postfix's
    ``recipient_delimiter = +``, the default of most hosted mail).
    """
    local, at, domain = address.rpartition("@")
    return f"{local}{VERP_SEPARATOR}{token}@{domain}" if token and at else address


def header_address(value: str) -> str:
    """The address in a header value the bot writes or is configured with ("Name <a@b>" or "a@b"); "" if none.

    The standard library's lenient reading, for the bot's own values (its From, Reply-To, the
    coordinators, the recipients its outbox stored); a sender's claim from outside goes through
    :func:`parse_mailbox`, the strict identity parser, instead.
    """
    return parseaddr(value)[1]


def header_addresses(values: Iterable[str]) -> list[str]:
    """Every address in these header values, in order ("" for an entry that names none)."""
    return [address for _, address in getaddresses(list(values))]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".") if "@" in address else ""


# Local parts no person reads: no-reply robots, mailer daemons, bounce handlers.
_MACHINE_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|noreply[-_.].*|.*[-_.]no[-_.]?reply|"
    r"mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|bounces?|bounce[-+_.].*|.*[-+_.]bounces?)$"
)


def is_machine_address(address: str) -> bool:
    """An address no person reads (by its local part, before any +tag).

    One rule for both ends: intake tells a robot's mail by it (an e-office
    system's notice is answered to the agency's people), and the workflow
    never writes to such an address. Two lists (a regular expression in
    intake, an exact set of names in the workflow) let a robot named
    "noreply.qlvb" be a sender intake knew for a robot but the workflow wrote to.
    """
    local = (address.rpartition("@")[0] if "@" in address else address).lower().split("+", 1)[0]
    return bool(local) and _MACHINE_LOCAL.match(local) is not None


# Mailbox providers anyone can use: a domain here never identifies an agency
# (only an exact, known or learned address can).
GENERIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.com.vn", "ymail.com", "rocketmail.com",
    "outlook.com", "outlook.com.vn", "hotmail.com", "hotmail.com.vn", "live.com", "msn.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com", "zoho.com",
    "gmx.com", "gmx.net", "yandex.com", "yandex.ru", "mail.ru", "qq.com", "163.com",
    "vnn.vn", "fpt.vn", "fpt.com.vn", "viettel.vn", "vnpt.vn",
})
# Shared parents that hold every agency's domain: matching them would match everyone.
SHARED_SUFFIXES = frozenset({
    "vn", "gov.vn", "chinhphu.vn", "com.vn", "net.vn", "org.vn", "edu.vn", "ac.vn", "info.vn",
    "com", "net", "org", "gov", "edu", "info",
})

_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


def is_domain(text: str) -> bool:
    """A lower-case domain name of at least two labels (what a roster may list for an agency)."""
    return _DOMAIN_RE.match(text) is not None


def normalise_address(address: str) -> str | None:
    """'Sở KH&CN <SKHCN@TayNinh.gov.vn>' -> 'skhcn@tayninh.gov.vn'; None if it is not one."""
    mailbox = parse_mailbox(address or "")  # the strict identity parser: a comment never supplies the address
    addr = (mailbox.address if mailbox else "").strip().strip(".").lower()
    local, at, domain = addr.rpartition("@")
    domain = domain.rstrip(".")
    if not at or not _LOCAL_RE.match(local) or not _DOMAIN_RE.match(domain):
        return None
    return f"{local}@{domain}"


def parent_domains(domain: str) -> Iterable[str]:
    """'skhcn.tayninh.gov.vn' -> itself, 'tayninh.gov.vn', ... never a shared suffix like 'gov.vn'."""
    labels = domain.lower().strip(".").split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in SHARED_SUFFIXES:
            return
        yield candidate
