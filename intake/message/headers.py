"""The header block of one parsed message -> the Envelope's header fields.

Header *values* are decoded with ``email.policy.default``'s header registry
(RFC 2047 with correct whitespace handling, and encoded-words mixed with
raw 8-bit text, where mail-parser's ``decode_header_part`` gives up and
returns the raw encoded-words), guarded because that parser recurses and
can raise on hostile input. Address headers are split before any decoding;
the sender's identity comes from the one strict parser (intake.sender.identity).
The Date header goes through mail-parser's ``parse_mail_date``, which is
stricter than ``email.utils`` about impossible dates and says why.
"""
from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.message import Message

from mailparser.dates import parse_mail_date
from mailparser.utils import decode_header_part, get_addresses

from intake.limits import Limits
from intake.message.charsets import decode_8bit
from intake.message.header_repair import tolerant_address
from intake.model import Envelope
from intake.sender.identity import identity, parse_mailboxes
from reference.text import nfc

_ADDR_SPEC = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}")


def unescape(raw: str) -> tuple[str, str | None]:
    """Header text read by ``large_bodies.parse_bytes`` carries 8-bit bytes as surrogate escapes."""
    try:
        raw.encode("utf-8")
        return raw, None
    except UnicodeEncodeError:
        return decode_8bit(raw.encode("ascii", "surrogateescape"))


def first_token(value: str) -> str:
    """The keyword a structured header value starts with, lower-cased: ``auto-replied`` of ``Auto-Replied; x``."""
    return re.split(r"[;\s(]", value.strip(), maxsplit=1)[0].lower()


def unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", "")


_ADJACENT_WORDS = re.compile(r"(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)[ \t]+(?==\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)")


def _join_encoded_words(text: str) -> str:
    """Whitespace between adjacent encoded words is not text (RFC 2047 §6.2): remove it.

    The address parser keeps it, so a display name split across words
    ("Phát tri" + "ển") would gain a space.
    """
    return _ADJACENT_WORDS.sub(r"\1", text) if "?=" in text else text


def decode_words(name: str, text: str) -> str:
    """RFC 2047 decoding by the standard library's modern policy, with a safe fallback."""
    if "=?" not in text:
        return text
    try:
        return str(policy.default.header_factory(name, text))
    except Exception:  # noqa: BLE001 - hostile nesting raises RecursionError and friends
        return decode_header_part(text) or text


def decode_header_value(name: str, raw: str, limits: Limits, defects: list[str]) -> str:
    """One header, from the raw (possibly 8-bit, possibly encoded-word) text to NFC."""
    text, note = unescape(raw)
    if note:
        defects.append(f"{name}: {note}")
    text = unfold(text)
    if len(text) > limits.max_header_chars:
        defects.append(f"{name}: header of {len(text)} characters cut to {limits.max_header_chars}")
        text = text[: limits.max_header_chars]
    return nfc(decode_words(name, text).strip())


def _addresses(name: str, values: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs from raw (undecoded) header text.

    The stdlib registry first; mail-parser's hardened scanner when hostile
    syntax makes the stdlib recurse; a plain pattern as the last resort.
    """
    joined = ", ".join(values)
    try:
        header = policy.default.header_factory(name, joined)
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:  # noqa: BLE001 - hostile syntax: any failure falls back to the next parser
        try:
            pairs = get_addresses(joined, decode_names=True)
        except Exception:  # noqa: BLE001
            pairs = [("", a) for a in _ADDR_SPEC.findall(joined)]
    return [(nfc(n or ""), a.strip().lower()) for n, a in pairs if a and "@" in a]


def _recipient_addresses(msg: Message, name: str, limits: Limits) -> list[str]:
    """To/Cc addresses: the strict parser (reference.addresses) first, the tolerant chain when it refuses.

    Why not the header registry for all: it cost a tenth of reading an ordinary message, and where
    both answer they agree, except that the strict parser takes the address in angle brackets when
    the display name also looks like one (``eve@example.com <frank@example.com>`` is frank), as
    identity does for From.
    """
    values = _raw_address_values(msg, name, limits)
    if not values:
        return []
    strict = parse_mailboxes(", ".join(values))
    if strict is None:
        return [a for _, a in _addresses(name, values)]
    return [a for a in (m.address.strip().lower() for m in strict) if "@" in a]


def _collect_headers(msg: Message, limits: Limits,
                     defects: list[str]) -> tuple[dict[str, list[str]], list[tuple[str, int]]]:
    """The decoded header fields by name, and their order in the message as (name, index among that name's values).

    The order matters for trust: only fields our receiving server wrote above its own Received line count.
    """
    headers: dict[str, list[str]] = {}
    order: list[tuple[str, int]] = []
    for name, raw in msg.raw_items():
        key = name.strip().lower()
        raw_text = raw if isinstance(raw, str) else str(raw)
        values = headers.setdefault(key, [])
        order.append((key, len(values)))
        values.append(decode_header_value(key, raw_text, limits, defects))
    return headers, order


def _raw_address_values(msg: Message, name: str, limits: Limits) -> list[str]:
    """Address headers are parsed before encoded-word decoding: a decoded
    display name may contain commas or brackets that would split it."""
    values = []
    for key, raw in msg.raw_items():
        if key.strip().lower() == name:
            text, _ = unescape(raw if isinstance(raw, str) else str(raw))
            values.append(_join_encoded_words(unfold(text)[: limits.max_header_chars]))
    return values


def _parse_date(msg: Message, defects: list[str]) -> datetime | None:
    raw = msg.get("date")
    if raw is None:
        return None
    result = parse_mail_date(unfold(str(raw)))
    for reason in result.reasons:
        defects.append(f"date: {reason}")
    # mail-parser ships no py.typed, so mypy sees Any; its DateResult declares ``value: datetime | None``.
    value: datetime | None = result.value
    return value


_ANGLE_ADDR = re.compile(r"<[^<>]*>")


def _plainly_one_mailbox(values: list[str]) -> bool:
    """One From header naming at most one angle address with nothing after it, or one bare address.

    The tolerant pass may repair syntax (brackets in a display name, obsolete
    spacing); it must never choose between addresses where the strict
    identity parser refused an ambiguous header (issue #10's spoofing cases).
    """
    if len(values) != 1:
        return False
    value = " ".join(values[0].split())
    angles = _ANGLE_ADDR.findall(value)
    if len(angles) > 1 or value.count("<") != len(angles) or value.count(">") != len(angles):
        return False
    if angles:
        return value.rstrip().endswith(angles[0])
    return len(re.findall(r"[^\s@<>,;()]+@[^\s@<>,;()]+", value)) == 1


def _several_addresses(values: list[str]) -> bool:
    """More than one address in the From header(s): mail from several people, not mail from no one."""
    found = {a.lower() for v in values for a in re.findall(r"[^\s@<>,;()\"]+@[^\s@<>,;()\"]+", v)}
    return len(found) > 1


def envelope_head(msg: Message, limits: Limits, size: int) -> Envelope:
    """The Envelope of ``msg`` as its headers give it; bodies, attachments and forwards are added by the walk."""
    defects: list[str] = []
    headers, order = _collect_headers(msg, limits, defects)
    def addrs(name: str) -> list[tuple[str, str]]:
        return _addresses(name, _raw_address_values(msg, name, limits))

    # Identity comes from the one strict parser (intake.sender.identity): the addr-spec in angle brackets,
    # never a comment.
    from_values = _raw_address_values(msg, "from", limits)
    sender = identity(from_values)
    from_name, from_addr = (sender.name, sender.address) if sender else ("", "")
    if sender is not None:
        # The display name as the header registry decodes it (encoded words joined, no space gained
        # at a split, undecodable bytes kept for the Unicode boundary), when it agrees on the address.
        pairs = addrs("from")
        if len(pairs) == 1 and pairs[0][1] == sender.address:
            from_name = pairs[0][0]
    if sender is None and _plainly_one_mailbox(from_values):
        # Brackets in the name, obsolete syntax: read it tolerantly, but never pick among several addresses.
        recovered = tolerant_address(from_values[0])
        if recovered is not None:
            # a name is unstructured text
            from_name, from_addr = nfc(decode_words("subject", recovered[0])), recovered[1]
            defects.append("from: address read by the tolerant second pass")
    from_ambiguous = bool(headers.get("from")) and not from_addr and _several_addresses(from_values)
    if from_ambiguous:
        defects.append("from: several addresses, no single sender identity")
    elif headers.get("from") and not from_addr:
        defects.append("from: no usable address")
    reply_to = parse_mailboxes(", ".join(_raw_address_values(msg, "reply-to", limits))) or []
    message_id = headers.get("message-id", [None])[0]
    return Envelope(
        message_id=message_id.strip() if message_id else None,
        subject=headers.get("subject", [""])[0],
        from_addr=from_addr,
        from_name=from_name,
        to=_recipient_addresses(msg, "to", limits),
        cc=_recipient_addresses(msg, "cc", limits),
        reply_to=[m.address for m in reply_to],
        date_header=_parse_date(msg, defects),
        headers=headers,
        header_order=order,
        content_type=msg.get_content_type(),
        defects=defects,
        size=size,
        from_ambiguous=from_ambiguous,
    )
