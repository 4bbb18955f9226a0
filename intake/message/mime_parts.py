"""Walking the MIME tree of one message: bodies, attachments, forwards and machine status blocks.

The tree is the standard library's (``compat32`` policy): it keeps the raw
header text, never raises on malformed structured headers, and gives us
``message/rfc822`` parts as nested messages, which we need for forwards,
nesting limits and per-part size limits (mail-parser flattens all parts and
cannot tell a forwarded attachment from a direct one). Broken structure is
repaired where a mailer left enough to go on (a guessed boundary, an encoded
forward) and said in the envelope's defects; what is over a limit is skipped
with a defect, never fatal.
"""
from __future__ import annotations

import binascii
import mimetypes
import re
from email import policy
from email.errors import MessageDefect
from email.message import Message

from intake.limits import Limits
from intake.message.charsets import decode_text
from intake.message.headers import decode_words, envelope_head, unescape, unfold
from intake.message.large_bodies import BulkBodies, parse_bytes
from intake.model import AttachmentPart, Envelope
from intake.store import sanitize_filename
from reference.text import nfc

# Machine status blocks inside DSNs/MDNs: the guards read the top-level type, nobody reads these.
_STATUS_TYPES = {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers",
                 "message/global-delivery-status", "message/global-headers", "message/feedback-report",
                 "message/global-disposition-notification"}
_STATUS_TEXT_CHARS = 64 * 1024  # a status block is a few header lines; returned headers rarely more
_BOUNDARY_LINE = re.compile(r"^--([0-9A-Za-z'()+_,./:=?-][0-9A-Za-z'()+_,./:=? -]{0,68}[0-9A-Za-z'()+_,./:=?-])\s*$",
                            re.M)
_MIME_HEADERS = ("content-type", "content-disposition")


class Walk:
    """State shared while walking one top-level message and its forwards."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.top: Envelope | None = None  # forwarded attachments are also listed here
        self.count = 0
        self.bulk = BulkBodies()


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
            text, note = unescape(str(raw))
            if note:
                defects.append(f"{name.lower()}: {note}")
            view[name] = unfold(text)
    return view


def _filename(part: Message, defects: list[str]) -> str | None:
    view = _mime_view(part, defects)
    try:
        name = view.get_filename()
    except Exception:  # noqa: BLE001 - a hostile filename parameter is no filename
        name = None
    if not name:
        return None
    return nfc(decode_words("subject", unfold(str(name))).strip()) or None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # noqa: BLE001 - a hostile Content-Disposition is none
        return None


def _payload_bytes(part: Message, label: str, defects: list[str], bulk: BulkBodies) -> bytes:
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


def _reparse_with_boundary(part: Message, boundary: str, bulk: BulkBodies) -> Message | None:
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
        fixed = parse_bytes(data, bulk)
    except RecursionError:
        return None
    return fixed if fixed.is_multipart() else None


def _walk(part: Message, env: Envelope, state: Walk, depth: int, in_forward: bool, label: str) -> None:
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


def _status_text(part: Message, ctype: str, env: Envelope, state: Walk) -> None:
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


def _body_text(part: Message, ctype: str, env: Envelope, state: Walk, label: str) -> None:
    data = _payload_bytes(part, label, env.defects, state.bulk)
    text, note = decode_text(data, part.get_content_charset(None))
    if note:
        env.defects.append(f"{label}: {note}")
    if ctype == "text/html":
        env.html_body = f"{env.html_body}\n{text}" if env.html_body else text
    else:
        env.text_body = f"{env.text_body}\n{text}" if env.text_body else text


def _too_big(part: Message, state: Walk) -> bool:
    """Judged on the encoded size (base64 inflates by 4/3) before decoding anything."""
    return state.bulk.payload_len(part) > state.limits.max_part_bytes * 4 // 3 + 4096


def _leaf(part: Message, ctype: str, env: Envelope, state: Walk, in_forward: bool, label: str) -> None:
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
                            bulk: BulkBodies) -> Message | None:
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
        return parse_bytes(data, bulk)
    except RecursionError:
        defects.append(f"{label}: forwarded message nested too deeply")
        return None


def _forward(part: Message, env: Envelope, state: Walk, depth: int, label: str) -> None:
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
                inner = parse_bytes(data, state.bulk)
            except RecursionError:
                env.defects.append(f"{label}: forwarded message nested too deeply")
                return
    if inner is None:
        env.defects.append(f"{label}: empty forwarded message")
        return
    fwd = envelope(inner, state, depth + 1, in_forward=True, size=0, label=f"{label}.fwd")
    env.forwarded.append(fwd)
    env.defects.extend(f"forward: {d}" for d in fwd.defects)


def envelope(msg: Message, state: Walk, depth: int, in_forward: bool, size: int, label: str) -> Envelope:
    """The whole Envelope of ``msg`` (the top message, or a forward inside it): its headers, then its parts."""
    env = envelope_head(msg, state.limits, size)
    if state.top is None:
        state.top = env
    _walk(msg, env, state, depth, in_forward, label)
    return env
