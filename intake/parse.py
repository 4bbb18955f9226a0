"""Raw message bytes -> Envelope, tolerant of what real mailers send, within limits.

Vietnamese government mail arrives from Outlook, Zimbra, webmail portals and
old clients that write raw 8-bit headers or legacy windows-1258 bodies. The
parser must repair what it can (and say so in ``defects``), skip what is too
big, and reject only what it cannot understand at all, so the caller can
quarantine it with a reason instead of crashing.

Which library does what, and why:

* The MIME tree is the standard library's (``compat32`` policy): it keeps the
  raw header text, never raises on malformed structured headers, and gives us
  ``message/rfc822`` parts as nested messages, which we need for forwards,
  nesting limits and per-part size limits (mail-parser flattens all parts and
  cannot tell a forwarded attachment from a direct one).
* Header *values* are decoded with ``email.policy.default``'s header registry
  (RFC 2047 with correct whitespace handling, and encoded-words mixed with
  raw 8-bit text, where mail-parser's ``decode_header_part`` gives up and
  returns the raw encoded-words), guarded because that parser recurses and
  can raise on hostile input.
* The Date header goes through mail-parser's ``parse_mail_date``, which is
  stricter than ``email.utils`` about impossible dates and says why.

Memory: the stdlib parser holds several copies of every body as text (the
whole message decoded, a read buffer, a list of lines, the joined payload,
then the bytes to decode), about 8x the message size. Large base64 bodies
are therefore cut out of the bytes it reads and decoded once, straight from
the raw bytes (see :class:`_BulkBodies`); what the parser sees, and so every
result, is the same as if it had read them.
"""
from __future__ import annotations

import binascii
import mimetypes
import re
import secrets
from binascii import a2b_base64
from datetime import datetime
from email import policy
from email.errors import MessageDefect
from email.message import Message
from email.parser import BytesParser

from charset_normalizer import from_bytes
from mailparser.dates import parse_mail_date
from mailparser.utils import decode_header_part, get_addresses

from intake.header_repair import repair_header_block, tolerant_address, without_leading_blank_lines
from intake.identity import identity, parse_mailboxes
from intake.limits import Limits
from intake.model import AttachmentPart, Envelope
from intake.store import sanitize_filename
from reference.numbers import vn_filesize
from reference.text import nfc

_LEGACY_FALLBACK = "cp1258"  # Vietnamese Windows code page: the usual legacy culprit
# Machine status blocks inside DSNs/MDNs: the guards read the top-level type, nobody reads these.
_STATUS_TYPES = {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers",
                 "message/global-delivery-status", "message/global-headers", "message/feedback-report",
                 "message/global-disposition-notification"}
_STATUS_TEXT_CHARS = 64 * 1024  # a status block is a few header lines; returned headers rarely more
_BOUNDARY_LINE = re.compile(r"^--([0-9A-Za-z'()+_,./:=?-][0-9A-Za-z'()+_,./:=? -]{0,68}[0-9A-Za-z'()+_,./:=?-])\s*$",
                            re.M)
_LATIN_DECLARED = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}
_MIME_HEADERS = ("content-type", "content-disposition")
_ADDR_SPEC = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}")
# Whole lines of base64 alphabet, from a line start to a line end (or the end of the data).
# Possessive repeats: a plain "+" on the group keeps a backtracking entry per line (~250 bytes each).
_BASE64_LINES = re.compile(rb"(?:^[A-Za-z0-9+/=]++(?:\r?\n|\Z))++", re.M)
# Messages below this size are parsed as they are: the copies cost little.
LEAN_MESSAGE_BYTES = 1024 * 1024
# A run of base64 lines at least this long is cut out of what the stdlib parser reads.
LEAN_RUN_BYTES = 64 * 1024
_BULK_TOKEN = re.compile(r"tdcbulk[0-9a-f]{16}n[0-9]{8}")


class MessageRejected(Exception):
    """A message the intake cannot take; ``reason`` is shown to coordinators."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LimitExceeded(MessageRejected):
    """The message is larger than the configured limits allow."""


class ParseError(MessageRejected):
    """The bytes cannot be understood as an email at all."""


# ---------------------------------------------------------------- text decoding


def _decode_8bit(data: bytes) -> tuple[str, str | None]:
    """Raw 8-bit header bytes: UTF-8 if valid, else the Vietnamese legacy code page.

    Too short for statistical detection to be reliable, so the choice is made
    by what Vietnamese senders actually use.
    """
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return nfc(data.decode(_LEGACY_FALLBACK)), f"8-bit header decoded as {_LEGACY_FALLBACK}"
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), "8-bit header decoded as utf-8 with replacement characters"


def _unescape(raw: str) -> tuple[str, str | None]:
    """Header text from BytesParser carries 8-bit bytes as surrogate escapes."""
    try:
        raw.encode("utf-8")
        return raw, None
    except UnicodeEncodeError:
        return _decode_8bit(raw.encode("ascii", "surrogateescape"))


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", "")


_ADJACENT_WORDS = re.compile(r"(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)[ \t]+(?==\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)")


def _join_encoded_words(text: str) -> str:
    """Whitespace between adjacent encoded words is not text (RFC 2047 §6.2): remove it.

    The address parser keeps it, so a display name split across words
    ("Phát tri" + "ển") would gain a space.
    """
    return _ADJACENT_WORDS.sub(r"\1", text) if "?=" in text else text


def _decode_words(name: str, text: str) -> str:
    """RFC 2047 decoding by the standard library's modern policy, with a safe fallback."""
    if "=?" not in text:
        return text
    try:
        return str(policy.default.header_factory(name, text))
    except Exception:  # noqa: BLE001 - hostile nesting raises RecursionError and friends
        return decode_header_part(text) or text


def decode_header_value(name: str, raw: str, limits: Limits, defects: list[str]) -> str:
    """One header, from the raw (possibly 8-bit, possibly encoded-word) text to NFC."""
    text, note = _unescape(raw)
    if note:
        defects.append(f"{name}: {note}")
    text = _unfold(text)
    if len(text) > limits.max_header_chars:
        defects.append(f"{name}: header of {len(text)} characters cut to {limits.max_header_chars}")
        text = text[: limits.max_header_chars]
    return nfc(_decode_words(name, text).strip())


def _charset_ok(name: str | None) -> bool:
    if not name:
        return False
    try:
        "".encode(name)
        return True
    except (LookupError, ValueError):
        return False


def _looks_vietnamese(text: str) -> bool:
    """Every non-ASCII letter is a Latin letter Vietnamese uses (no CJK, no box drawing...)."""
    others = [ch for ch in text if ord(ch) > 127]
    return bool(others) and all("\u00c0" <= ch <= "\u01b0" or "\u1ea0" <= ch <= "\u1ef9" for ch in others)


def _guess_text(data: bytes) -> tuple[str, str]:
    """What Vietnamese mail really is first, then statistical detection.

    Short Vietnamese texts fool statistical detectors (windows-1258 bytes
    come out as big5 or cp932), so two cheap, specific checks go first:
    UTF-8 damaged in a few places (a cut quoted-printable line) stays UTF-8,
    and bytes that read as Vietnamese in windows-1258 are windows-1258.
    """
    try:
        legacy = nfc(data.decode(_LEGACY_FALLBACK))
    except UnicodeDecodeError:
        legacy = ""
    if _looks_vietnamese(legacy):
        return legacy, _LEGACY_FALLBACK
    lenient = data.decode("utf-8", "replace")
    broken = lenient.count("\ufffd")
    if broken and (broken <= 2 or broken * 10 <= sum(1 for ch in lenient if ord(ch) > 127)):
        return lenient, "utf-8 with replacement characters"
    matches = list(from_bytes(data))
    if not matches:
        return data.decode("utf-8", "replace"), "utf-8 with replacement characters"
    chosen = next((m for m in matches[:5] if m.encoding == _LEGACY_FALLBACK), matches[0])
    return str(chosen), chosen.encoding


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Body bytes to NFC text; the second value says what had to be repaired.

    Trusts the declared charset only when it decodes cleanly and is not the
    classic lie (Latin-1 declared, UTF-8 sent).
    """
    declared = (declared or "").strip().strip('"').lower() or None
    note: str | None = None
    if declared and _charset_ok(declared):
        try:
            text = data.decode(declared)
        except UnicodeDecodeError:
            text, guessed = _guess_text(data)
            note = f"declared charset {declared} does not fit; decoded as {guessed}"
        else:
            if declared in _LATIN_DECLARED and not data.isascii():
                try:
                    text = data.decode("utf-8")
                    note = f"declared charset {declared} but content is utf-8"
                except UnicodeDecodeError:
                    pass
        return nfc(text), note
    if data.isascii():
        return data.decode("ascii"), None if not declared else f"unknown charset {declared}; content is ASCII"
    try:
        text, guessed = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, guessed = _guess_text(data)
    what = f"unknown charset {declared}" if declared else "no charset declared"
    return nfc(text), f"{what}; decoded as {guessed}"


# ---------------------------------------------------------------- headers


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
            text, _ = _unescape(raw if isinstance(raw, str) else str(raw))
            values.append(_join_encoded_words(_unfold(text)[: limits.max_header_chars]))
    return values


def _parse_date(msg: Message, defects: list[str]) -> datetime | None:
    raw = msg.get("date")
    if raw is None:
        return None
    result = parse_mail_date(_unfold(str(raw)))
    for reason in result.reasons:
        defects.append(f"date: {reason}")
    return result.value


# ---------------------------------------------------------------- large bodies


class _BulkBodies:
    """Long runs of base64 lines, replaced by a one-line token before the stdlib parses.

    Why this is invisible to the parser: a run starts and ends on line
    breaks and holds only base64 letters, so none of its lines can be a MIME
    boundary (those start with ``--``), a header (needs ``:`` or leading
    space) or a blank line; the token is such a line too. Every place that
    reads a body goes through :meth:`decode` (the common case: a base64 part
    that is exactly one run, decoded once from the raw bytes) or
    :meth:`expand` (anything else: the original text is put back first).
    The token carries a random nonce, so a sender cannot forge one.
    """

    def __init__(self) -> None:
        self._prefix = ""  # drawn on the first large message: small ones never pay for it
        self._spans: dict[str, tuple[bytes, int, int]] = {}

    def cut(self, raw: bytes) -> bytes:
        """The bytes the stdlib parser reads: ``raw`` itself unless it is large."""
        if len(raw) < LEAN_MESSAGE_BYTES:
            return raw
        self._prefix = self._prefix or f"tdcbulk{secrets.token_hex(8)}n"
        pieces: list[bytes] = []
        last = 0
        for match in _BASE64_LINES.finditer(raw):
            start, end = match.span()
            if end - start < LEAN_RUN_BYTES:
                continue
            eol = b"\r\n" if raw.endswith(b"\r\n", start, end) else b"\n" if raw.endswith(b"\n", start, end) else b""
            token = f"{self._prefix}{len(self._spans):08d}"
            self._spans[token] = (raw, start, end - len(eol))
            pieces += [raw[last:start], token.encode("ascii"), eol]
            last = end
        if not pieces:
            return raw
        pieces.append(raw[last:])
        return b"".join(pieces)

    def _original(self, token: re.Match[str]) -> str:
        span = self._spans.get(token.group())
        if span is None:
            return token.group()
        data, start, end = span
        return data[start:end].decode("ascii")

    def restore(self, text: str) -> str:
        """``text`` with every token replaced by the run it stands for."""
        if not self._spans or self._prefix not in text:
            return text
        return _BULK_TOKEN.sub(self._original, text)

    def payload_len(self, part: Message) -> int:
        """The encoded size the part really has, without building it."""
        # the encoded size, read before decoding anything; typeshed leaves the private field out
        payload = part._payload  # type: ignore[attr-defined]  # noqa: SLF001
        if not isinstance(payload, (str, bytes)):
            return 0
        size = len(payload)
        if isinstance(payload, str) and self._spans and self._prefix in payload:
            for token in _BULK_TOKEN.finditer(payload):
                data, start, end = self._spans.get(token.group(), (b"", 0, len(token.group())))
                size += end - start - len(token.group())
        return size

    def decode(self, part: Message) -> bytes | None:
        """The decoded bytes of a base64 part that is one clean run, else None.

        Clean means the stdlib would decode it without a defect (whole quads,
        padding only at the very end), so the result is byte for byte the
        same; anything else goes the stdlib's way, defects included.
        """
        payload = part._payload  # type: ignore[attr-defined]  # noqa: SLF001 - private, see payload_len
        if not isinstance(payload, str) or not self._spans:
            return None
        span = self._spans.get(payload.strip("\r\n"))
        if span is None or str(part.get("content-transfer-encoding", "")).lower() != "base64":
            return None
        data, start, end = span
        if not _clean_base64(data, start, end):
            return None
        return a2b_base64(memoryview(data)[start:end])

    def expand(self, part: Message) -> None:
        """Put the original text back into a part's payload before the stdlib reads it."""
        payload = part._payload  # type: ignore[attr-defined]  # noqa: SLF001 - private, see payload_len
        if isinstance(payload, str) and self._spans and self._prefix in payload:
            part.set_payload(self.restore(payload))


def _clean_base64(data: bytes, start: int, end: int) -> bool:
    """Base64 lines that decode without padding or character defects."""
    letters = end - start - data.count(b"\n", start, end) - data.count(b"\r", start, end)
    if letters % 4:
        return False
    pad = data.find(b"=", start, end)
    if pad < 0:
        return True
    tail = data[pad:end].replace(b"\r", b"").replace(b"\n", b"")
    return len(tail) <= 2 and tail.strip(b"=") == b""


def _parse_bytes(data: bytes, bulk: _BulkBodies) -> Message:
    """The stdlib's MIME tree of ``data``, large base64 bodies cut out; RecursionError passes."""
    return BytesParser(policy=policy.compat32).parsebytes(bulk.cut(data))


# ---------------------------------------------------------------- parts


class _Walk:
    """State shared while walking one top-level message and its forwards."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.top: Envelope | None = None  # forwarded attachments are also listed here
        self.count = 0
        self.bulk = _BulkBodies()


def _part_defects(part: Message, label: str, defects: list[str]) -> None:
    for d in part.defects:
        name = d.__class__.__name__ if isinstance(d, MessageDefect) else str(d)
        defects.append(f"{label}: {name}")


def _mime_view(part: Message, defects: list[str]) -> Message:
    """A header-only copy of the part's MIME headers with 8-bit values decoded,
    so that parameter parsing (RFC 2231, quoted names) sees real text."""
    view = Message()
    for name, raw in part.raw_items():
        if name.lower() in _MIME_HEADERS:
            text, note = _unescape(str(raw))
            if note:
                defects.append(f"{name.lower()}: {note}")
            view[name] = _unfold(text)
    return view


def _filename(part: Message, defects: list[str]) -> str | None:
    view = _mime_view(part, defects)
    try:
        name = view.get_filename()
    except Exception:  # noqa: BLE001 - a hostile filename parameter is no filename
        name = None
    if not name:
        return None
    return nfc(_decode_words("subject", _unfold(str(name))).strip()) or None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # noqa: BLE001 - a hostile Content-Disposition is none
        return None


def _payload_bytes(part: Message, label: str, defects: list[str], bulk: _BulkBodies) -> bytes:
    """Decoded bytes; broken base64/QP is decoded as far as possible, never raised."""
    fast = bulk.decode(part)
    if fast is not None:
        return fast
    bulk.expand(part)
    seen = len(part.defects)
    try:
        data = part.get_payload(decode=True)
        for d in part.defects[seen:]:  # decoders report broken base64/QP here
            defects.append(f"{label}: {d.__class__.__name__}")
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - stdlib decoders are lenient
        defects.append(f"{label}: payload not decodable ({exc.__class__.__name__})")
        payload = part.get_payload()
        data = payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""
    return data if isinstance(data, bytes) else b""  # None for a multipart


def _default_name(ctype: str, index: int) -> str:
    ext = mimetypes.guess_extension(ctype) or ".bin"
    return f"attachment-{index}{ext}"


def _is_body(ctype: str, disposition: str | None, filename: str | None) -> bool:
    return ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename


def _guess_boundary(body: str) -> str | None:
    """Mailers that forget or mangle the boundary still write ``--boundary`` lines."""
    found = _BOUNDARY_LINE.findall(body)
    if not found:
        return None
    first = found[0].removesuffix("--")
    return first if sum(1 for f in found if f.startswith(first)) >= 2 else None


def _reparse_with_boundary(part: Message, boundary: str, bulk: _BulkBodies) -> Message | None:
    payload = part.get_payload()
    if not isinstance(payload, str):
        return None
    head = f'Content-Type: {part.get_content_type()}; boundary="{boundary}"\r\n\r\n'
    try:
        body = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        body = payload.encode("utf-8", "surrogateescape")
    data = head.encode("ascii") + body
    try:
        fixed = _parse_bytes(data, bulk)
    except RecursionError:
        return None
    return fixed if fixed.is_multipart() else None


def _walk(part: Message, env: Envelope, state: _Walk, depth: int, in_forward: bool, label: str) -> None:
    limits = state.limits
    _part_defects(part, label, env.defects)
    if depth > limits.max_nesting_depth:
        env.defects.append(f"{label}: nesting deeper than {limits.max_nesting_depth}; not read further")
        return
    ctype = part.get_content_type()
    if ctype in _STATUS_TYPES:
        _status_text(part, ctype, env, state)
        return
    if ctype == "message/rfc822" or (ctype in ("message/global",) and part.is_multipart()):
        _forward(part, env, state, depth, label)
        return
    if part.is_multipart():
        for i, sub in enumerate(part.get_payload()):
            if isinstance(sub, Message):
                _walk(sub, env, state, depth + 1, in_forward, f"{label}.{i + 1}")
        return
    if ctype.startswith("multipart/"):
        state.bulk.expand(part)
        payload = part.get_payload()
        boundary = _guess_boundary(payload if isinstance(payload, str) else "")
        fixed = _reparse_with_boundary(part, boundary, state.bulk) if boundary else None
        if fixed is not None:
            env.defects.append(f"{label}: multipart boundary missing or wrong; recovered as {boundary!r}")
            _walk(fixed, env, state, depth, in_forward, label)
        else:
            env.defects.append(f"{label}: multipart without usable boundary; read as plain text")
            _body_text(part, "text/plain", env, state, label)
        return
    _leaf(part, ctype, env, state, in_forward, label)


def _status_text(part: Message, ctype: str, env: Envelope, state: _Walk) -> None:
    """Keep a DSN/MDN/ARF status block or returned headers as text: the guards read them."""
    try:
        payload = part.get_payload()
        if isinstance(payload, list):  # message/delivery-status: the stdlib parses header blocks
            text = "\n\n".join(p.as_string() if isinstance(p, Message) else str(p) for p in payload)
        else:
            data = _payload_bytes(part, ctype, [], state.bulk)[: _STATUS_TEXT_CHARS * 2]
            text = data.decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - a status block is a hint, never a reason to fail
        return
    env.machine_parts.append((ctype, text[:_STATUS_TEXT_CHARS]))


def _body_text(part: Message, ctype: str, env: Envelope, state: _Walk, label: str) -> None:
    data = _payload_bytes(part, label, env.defects, state.bulk)
    text, note = decode_text(data, part.get_content_charset(None))
    if note:
        env.defects.append(f"{label}: {note}")
    if ctype == "text/html":
        env.html_body = f"{env.html_body}\n{text}" if env.html_body else text
    else:
        env.text_body = f"{env.text_body}\n{text}" if env.text_body else text


def _too_big(part: Message, state: _Walk) -> bool:
    """Judged on the encoded size (base64 inflates by 4/3) before decoding anything."""
    return state.bulk.payload_len(part) > state.limits.max_part_bytes * 4 // 3 + 4096


def _leaf(part: Message, ctype: str, env: Envelope, state: _Walk, in_forward: bool, label: str) -> None:
    limits = state.limits
    disposition = _disposition(part)
    filename = _filename(part, env.defects)
    what = filename or ctype
    if _is_body(ctype, disposition, filename):
        if _too_big(part, state):
            env.defects.append(f"{label}: {ctype} body over {limits.max_part_bytes} bytes skipped")
        else:
            _body_text(part, ctype, env, state, label)
        return
    if state.count >= limits.max_attachments:
        env.defects.append(f"{label}: more than {limits.max_attachments} attachments; {what} skipped")
        return
    oversize = f"{label}: attachment {what} over {limits.max_part_bytes} bytes skipped"
    if _too_big(part, state):
        env.defects.append(oversize)
        return
    data = _payload_bytes(part, label, env.defects, state.bulk)
    if len(data) > limits.max_part_bytes:
        env.defects.append(oversize)
        return
    state.count += 1
    name = filename or _default_name(ctype, state.count)
    att = AttachmentPart(
        filename=name,
        safe_name=sanitize_filename(name),
        content_type=ctype,
        data=data,
        from_forward=in_forward,
        inline=disposition == "inline" or (disposition is None and bool(part.get("content-id"))),
    )
    env.attachments.append(att)
    if state.top is not None and state.top is not env:
        state.top.attachments.append(att)


def _transfer_encoding(part: Message) -> str:
    return str(part.get("content-transfer-encoding", "")).strip().lower()


def _decode_encoded_forward(part: Message, parsed: Message, label: str, defects: list[str],
                            bulk: _BulkBodies) -> Message | None:
    """Re-read a base64/QP-encoded message/rfc822 from its decoded bytes."""
    import base64
    import quopri

    text = bulk.restore(parsed.as_string(maxheaderlen=0, policy=policy.compat32.clone(mangle_from_=False)))
    encoded = text.encode("ascii", "surrogateescape")
    try:
        data = base64.b64decode(encoded) if _transfer_encoding(part) == "base64" else quopri.decodestring(encoded)
    except (binascii.Error, ValueError):
        defects.append(f"{label}: encoded forwarded message not decodable")
        return parsed
    defects.append(f"{label}: forwarded message was {_transfer_encoding(part)}-encoded; decoded")
    try:
        return _parse_bytes(data, bulk)
    except RecursionError:
        defects.append(f"{label}: forwarded message nested too deeply")
        return None


def _forward(part: Message, env: Envelope, state: _Walk, depth: int, label: str) -> None:
    """A message/rfc822 part becomes its own Envelope; its files also count as ours."""
    payload = part.get_payload()
    inner: Message | None = None
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        if _transfer_encoding(part) in ("base64", "quoted-printable"):
            # RFC 2046 forbids it, but some mailers encode forwards; the stdlib
            # then parses the *encoded* text as a message and the forward is lost.
            inner = _decode_encoded_forward(part, inner, label, env.defects, state.bulk)
    else:  # a base64/QP-encoded forward is not parsed by the stdlib: do it here
        data = _payload_bytes(part, label, env.defects, state.bulk)
        if data:
            try:
                inner = _parse_bytes(data, state.bulk)
            except RecursionError:
                env.defects.append(f"{label}: forwarded message nested too deeply")
                return
    if inner is None:
        env.defects.append(f"{label}: empty forwarded message")
        return
    fwd = _envelope(inner, state, depth + 1, in_forward=True, size=0, label=f"{label}.fwd")
    env.forwarded.append(fwd)
    env.defects.extend(f"forward: {d}" for d in fwd.defects)


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


def _envelope(msg: Message, state: _Walk, depth: int, in_forward: bool, size: int, label: str) -> Envelope:
    defects: list[str] = []
    headers, order = _collect_headers(msg, state.limits, defects)
    def addrs(name: str) -> list[tuple[str, str]]:
        return _addresses(name, _raw_address_values(msg, name, state.limits))

    # Identity comes from the one strict parser (intake.identity): the addr-spec in angle brackets, never a comment.
    from_values = _raw_address_values(msg, "from", state.limits)
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
            from_name, from_addr = nfc(_decode_words("subject", recovered[0])), recovered[1]
            defects.append("from: address read by the tolerant second pass")
    from_ambiguous = bool(headers.get("from")) and not from_addr and _several_addresses(from_values)
    if from_ambiguous:
        defects.append("from: several addresses, no single sender identity")
    elif headers.get("from") and not from_addr:
        defects.append("from: no usable address")
    reply_to = parse_mailboxes(", ".join(_raw_address_values(msg, "reply-to", state.limits))) or []
    message_id = headers.get("message-id", [None])[0]
    env = Envelope(
        message_id=message_id.strip() if message_id else None,
        subject=headers.get("subject", [""])[0],
        from_addr=from_addr,
        from_name=from_name,
        to=_recipient_addresses(msg, "to", state.limits),
        cc=_recipient_addresses(msg, "cc", state.limits),
        reply_to=[m.address for m in reply_to],
        date_header=_parse_date(msg, defects),
        headers=headers,
        header_order=order,
        content_type=msg.get_content_type(),
        defects=defects,
        size=size,
        from_ambiguous=from_ambiguous,
    )
    if state.top is None:
        state.top = env
    _walk(msg, env, state, depth, in_forward, label)
    return env


def parse(raw: bytes, limits: Limits | None = None) -> Envelope:
    """Understand one raw message, or raise MessageRejected with a reason for quarantine."""
    limits = limits or Limits()
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ParseError("dữ liệu thư không phải dạng bytes")
    raw = bytes(raw)
    if len(raw) > limits.max_message_bytes:
        raise LimitExceeded(
            f"thư quá lớn: {vn_filesize(len(raw))} (giới hạn {vn_filesize(limits.max_message_bytes)})"
        )
    if not raw or raw.isspace():  # not raw.strip(): that copies the whole message
        raise ParseError("thư rỗng")
    raw = without_leading_blank_lines(raw)
    try:
        env = _parse_envelope(raw, limits, len(raw))
    except ParseError as exc:
        env, first_error = None, exc
    if env is not None and env.from_addr:
        return env
    # Tolerant second pass: a broken header line may have hidden the From (intake.header_repair).
    repaired, notes = repair_header_block(raw)
    if notes:
        try:
            second = _parse_envelope(repaired, limits, len(raw))
        except ParseError:
            second = None
        if second is not None and (second.from_addr or env is None):
            second.defects[:0] = notes
            return second
    if env is None:
        raise first_error
    return env


def _parse_envelope(raw: bytes, limits: Limits, size: int) -> Envelope:
    state = _Walk(limits)
    try:
        msg = _parse_bytes(raw, state.bulk)
    except RecursionError as exc:
        raise ParseError("cấu trúc MIME lồng nhau quá sâu, không đọc được") from exc
    except Exception as exc:  # the stdlib parser is lenient; anything else is truly unreadable
        raise ParseError(f"không đọc được cấu trúc thư ({exc.__class__.__name__})") from exc
    if not msg.keys():
        raise ParseError("không tìm thấy phần tiêu đề thư (không phải định dạng email)")
    try:
        return _envelope(msg, state, depth=0, in_forward=False, size=size, label="part 1")
    except RecursionError as exc:
        raise ParseError("cấu trúc MIME lồng nhau quá sâu, không đọc được") from exc
