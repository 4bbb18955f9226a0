"""Large base64 bodies, set aside before the standard library's parser reads a message.

Memory: the stdlib parser holds several copies of every body as text (the
whole message decoded, a read buffer, a list of lines, the joined payload,
then the bytes to decode), about 8x the message size. Large base64 bodies
are therefore cut out of the bytes it reads and decoded once, straight from
the raw bytes (see :class:`BulkBodies`); what the parser sees, and so every
result, is the same as if it had read them.

This is also the one place raw bytes become the standard library's
``Message`` (:func:`parse_bytes`, :func:`parse_header_block`): every reading
of raw mail in intake uses the same parser and policy.
"""
from __future__ import annotations

import re
import secrets
from binascii import a2b_base64
from email import policy
from email.message import Message
from email.parser import BytesParser

# Whole lines of base64 alphabet, from a line start to a line end (or the end of the data).
# Possessive repeats: a plain "+" on the group keeps a backtracking entry per line (~250 bytes each).
_BASE64_LINES = re.compile(rb"(?:^[A-Za-z0-9+/=]++(?:\r?\n|\Z))++", re.M)
# Messages below this size are parsed as they are: the copies cost little.
LEAN_MESSAGE_BYTES = 1024 * 1024
# A run of base64 lines at least this long is cut out of what the stdlib parser reads.
LEAN_RUN_BYTES = 64 * 1024
_BULK_TOKEN = re.compile(r"tdcbulk[0-9a-f]{16}n[0-9]{8}")


class BulkBodies:
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


def parse_bytes(data: bytes, bulk: BulkBodies | None = None) -> Message:
    """The stdlib's MIME tree of ``data`` (compat32, as every reading of raw mail in intake), large base64
    bodies cut out when ``bulk`` keeps them; RecursionError passes."""
    return BytesParser(policy=policy.compat32).parsebytes(bulk.cut(data) if bulk is not None else data)


def parse_header_block(data: bytes) -> Message:
    """The header block of ``data`` as :func:`parse_bytes` reads it, the body left unparsed: for facts that
    headers alone give (a loose file's arrival time)."""
    return BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
