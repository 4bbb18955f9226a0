"""Raw message bytes -> Envelope, tolerant of what real mailers send, within limits.

Vietnamese government mail arrives from Outlook, Zimbra, webmail portals and
old clients that write raw 8-bit headers or legacy windows-1258 bodies. The
parser must repair what it can (and say so in ``defects``), skip what is too
big, and reject only what it cannot understand at all, so the caller can
quarantine it with a reason instead of crashing.

Who does what:

* :mod:`intake.message.mime_parts` walks the standard library's MIME tree (bodies,
  attachments, forwards, status blocks of machine mail);
* :mod:`intake.message.headers` turns the header block into the Envelope's fields
  (decoded values, sender identity, recipients, date);
* :mod:`intake.message.charsets` turns header and body bytes into text;
* :mod:`intake.message.large_bodies` keeps large base64 bodies out of the stdlib
  parser's copies;
* :mod:`intake.message.header_repair` gives a header block the stdlib gave up on a
  tolerant second pass, here, before a message is called sender-less.
"""
from __future__ import annotations

from intake.limits import Limits
from intake.message.header_repair import repair_header_block, without_leading_blank_lines
from intake.message.large_bodies import parse_bytes
from intake.message.mime_parts import Walk, envelope
from intake.model import Envelope
from reference.numbers import vn_filesize


class MessageRejected(Exception):
    """A message the intake cannot take; ``reason`` is shown to coordinators."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LimitExceeded(MessageRejected):
    """The message is larger than the configured limits allow."""


class ParseError(MessageRejected):
    """The bytes cannot be understood as an email at all."""


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
    # Tolerant second pass: a broken header line may have hidden the From (intake.message.header_repair).
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
    state = Walk(limits)
    try:
        msg = parse_bytes(raw, state.bulk)
    except RecursionError as exc:
        raise ParseError("cấu trúc MIME lồng nhau quá sâu, không đọc được") from exc
    except Exception as exc:  # the stdlib parser is lenient; anything else is truly unreadable
        raise ParseError(f"không đọc được cấu trúc thư ({exc.__class__.__name__})") from exc
    if not msg.keys():
        raise ParseError("không tìm thấy phần tiêu đề thư (không phải định dạng email)")
    try:
        return envelope(msg, state, depth=0, in_forward=False, size=size, label="part 1")
    except RecursionError as exc:
        raise ParseError("cấu trúc MIME lồng nhau quá sâu, không đọc được") from exc
