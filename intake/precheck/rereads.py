"""Bytes that intake.message.parse hands to the parser again, inside the same message, walked like the message.

intake.message.parse does more than one parse per message, and each builds parts:

* a ``message/rfc822`` sent base64- or quoted-printable-encoded is decoded and
  parsed (``_decode_encoded_forward``): 44 MB of decoded parts hide in 58 MB
  of base64 that the first parse sees as one body;
* a multipart whose boundary is missing or never used is parsed again with a
  boundary guessed from its ``--`` lines (``_guess_boundary``,
  ``_reparse_with_boundary``);
* a message whose sender cannot be read is parsed again with its header block
  repaired (``intake.message.header_repair``), which can turn a Content-Type line the
  first parse saw as body into the header that makes it a multipart.

The first two add to the message's tally; the third is a parse of its own,
with a tally of its own (see :mod:`intake.precheck`).
"""
from __future__ import annotations

import binascii
import re
from email import policy
from email.message import Message

from intake.message.large_bodies import parse_bytes
from intake.precheck.budget import OverBudget, Tally, encoded_forward_reason, too_many_header_lines_reason
from intake.precheck.headers import all_headers, header_text
from intake.precheck.lines import Reader
from intake.precheck.structure import Reread, Walk

# intake.message.mime_parts._BOUNDARY_LINE on bytes: its str ``\s`` also matches \x1c-\x1f
# (non-ASCII bytes are surrogates there).
_EDGE = rb"[0-9A-Za-z'()+_,./:=?-]"
_TOKEN = _EDGE + rb"[0-9A-Za-z'()+_,./:=? -]{0,68}" + _EDGE
_TAIL = rb")[\s\x1c-\x1f]*$"
_FIRST_AT_START = re.compile(rb"--(" + _TOKEN + _TAIL, re.MULTILINE)
_EOL_AT_END = re.compile(r"(\r\n|\r|\n)\Z")  # feedparser.NLCRE_eol
_WRITE = policy.compat32.clone(mangle_from_=False)  # intake.message.parse's as_string policy
EXACT_FORWARD_BYTES = 4 * 1024 * 1024  # an encoded forward with parts before decoding is written out up to this size
_FIRST_AFTER_NEWLINE = re.compile(rb"\n--(" + _TOKEN + _TAIL, re.MULTILINE)  # a literal first byte: a fast search


def guessed_boundary(data: bytes, start: int, end: int) -> str | None:
    """``intake.message.mime_parts._guess_boundary`` on ``data[start:end]``, without listing every ``--`` line.

    It takes the first boundary-like line and wants one more that starts the
    same way; the search for that one is a single regular expression.
    """
    view = memoryview(data)[start:end]
    first = _FIRST_AT_START.match(view) or _FIRST_AFTER_NEWLINE.search(view)
    if first is None:
        return None
    token = first.group(1).removesuffix(b"--")
    again = re.compile(rb"\n--(?=" + re.escape(token) + rb")(" + _TOKEN + _TAIL, re.MULTILINE)
    if again.search(view, first.end()) is None:
        return None
    return token.decode("ascii")


def decoded_forward(reread: Reread) -> bytes | None:
    """The bytes ``intake.message.mime_parts._decode_encoded_forward`` parses, or None where it gives up.

    It decodes the enclosed message as the parser read it, written out again
    (``as_string``). When the parser found no part inside (the usual case: a
    base64 text has no header lines, a quoted-printable message's boundary
    reads ``3D...``), that text is its header block refolded, written here by
    the same code, and then the body as it is in the bytes (the generator
    writes a body's text as it was, its line endings aside, which neither
    decoding counts). Otherwise the enclosed message is parsed and written
    out by the standard library as intake.message.parse does, within
    :data:`EXACT_FORWARD_BYTES`; a larger one raises OverBudget.
    """
    reader, inner = reread.reader, reread.inner
    assert inner is not None and reader is not None
    source: bytes | memoryview
    if inner.parts > 1:
        written = _written_out(reader.text(inner.start, reread.end), reread.in_multipart)
        if written is None:
            return None
        source = written
    elif inner.block.lines == 0:
        source = reader.text(inner.start, reread.end)
    else:
        view = Message()
        for header in all_headers(reader, inner.block):
            view.set_raw(*header_text(reader.data, header))
        view.set_payload("")
        head = _as_string(view)
        if head is None:
            return None
        source = head + bytes(reader.text(inner.body_start, reread.end))
    if reread.encoding == "quoted-printable":
        return binascii.a2b_qp(source, header=False)  # quopri.decodestring's own call
    try:
        return binascii.a2b_base64(source, strict_mode=False)  # base64.b64decode's own call
    except (binascii.Error, ValueError):
        return None


def _written_out(text: bytes | memoryview, in_multipart: bool) -> bytes | None:
    """An encoded text the parser found parts in, parsed and written out again as intake.message.parse does.

    Only a crafted text has parts before decoding; what the generator makes
    of it cannot be told from the bytes, so the standard library is asked,
    on a bounded size (its parse holds several copies of the text).
    """
    if len(text) > EXACT_FORWARD_BYTES:
        raise OverBudget(encoded_forward_reason())
    parsed = parse_bytes(bytes(text))
    if in_multipart:
        _strip_last_line_end(parsed)
    return _as_string(parsed)


def _as_string(message: Message) -> bytes | None:
    """``as_string`` as intake.message.parse calls and encodes it; None where that raises (it does too)."""
    try:
        return message.as_string(maxheaderlen=0, policy=_WRITE).encode("ascii", "surrogateescape")
    except (UnicodeError, TypeError, ValueError, LookupError):
        return None


def _strip_last_line_end(message: Message) -> None:
    """What the enclosing multipart's parser does to the last message made inside a part (RFC 2046: the line
    ending before a delimiter belongs to it), which parsing the part alone does not."""
    last = list(message.walk())[-1]
    if last.get_content_maintype() == "multipart":
        if last.epilogue == "":
            last.epilogue = None
        elif last.epilogue is not None:
            last.epilogue = _EOL_AT_END.sub("", last.epilogue, count=1)
    elif isinstance(last._payload, str):  # type: ignore[attr-defined]  # private: typeshed leaves it out
        last._payload = _EOL_AT_END.sub("", last._payload, count=1)  # type: ignore[attr-defined]


def _guessed_walk(reread: Reread, boundary: str, tally: Tally) -> Walk:
    """The parse of ``_reparse_with_boundary``: a Content-Type line it writes, then the part's text.

    The text is walked where it lies, behind that one header line; a type
    with a line break in it (crafted: the parser keeps it) makes more than
    one line, and is then written out in front of a copy, as intake.message.parse does.
    """
    value = f'{reread.content_type}; boundary="{boundary}"'
    if "\r" in value or "\n" in value:
        head = f"Content-Type: {value}\r\n\r\n".encode("ascii")
        return Walk(Reader(head + reread.data[reread.start:reread.end]), tally, depth=reread.depth, guessed=True)
    return Walk(Reader(reread.data, reread.start, reread.end), tally, depth=reread.depth, preset=value)


def walk_rereads(pending: list[Reread], tally: Tally) -> None:
    """Walk every re-read, and what each of them re-reads in turn, charging the same tally."""
    while pending:
        reread = pending.pop()
        walk: Walk | None = None
        if reread.kind == "forward":
            decoded = decoded_forward(reread)
            if decoded is not None:
                walk = Walk(Reader(decoded), tally, depth=reread.depth + 1)
            else:
                pending.extend(reread.fallback)
        else:
            boundary = guessed_boundary(reread.data, reread.start, reread.end)
            if boundary and reread.content_type.isascii():  # an empty guess is no guess there either
                walk = _guessed_walk(reread, boundary, tally)
        del reread  # a decoded forward's source can go before its own parse
        if walk is not None:
            walk.run()
            pending.extend(walk.rereads)


# ---------------------------------------------------------------- the repaired second parse

_MBOX_FROM = re.compile(rb"From \S")  # intake.message.header_repair keeps it as the first line
# A line intake.message.header_repair changes or drops with a note: not a continuation, not "name:", not blank. Found by
# the line ending before it (a literal first byte is searched at C speed), the first line apart.
_UNCLEAN_LINE = rb"(?![ \t]|[\x21-\x39\x3b-\x7e]+:)[ \t\r\x0b\x0c]*[^ \t\r\n\x0b\x0c]"
_UNCLEAN_FIRST = re.compile(_UNCLEAN_LINE)
_UNCLEAN = re.compile(b"\n" + _UNCLEAN_LINE)
_HEAD_WINDOW = 64 * 1024


def head_end(raw: bytes) -> int:
    """Where ``intake.message.header_repair`` ends the header block: the first ``\\r?\\n\\r?\\n`` (the end if none).

    Searched window by window, so the usual few kilobytes of headers cost
    what they are, whichever line ending the message uses.
    """
    at = 0
    while at < len(raw):
        upto = min(len(raw), at + _HEAD_WINDOW + 2)
        hits = [i for i in (raw.find(b"\n\n", at, upto), raw.find(b"\n\r\n", at, upto)) if i >= 0]
        if hits:
            first = min(hits)
            return first - 1 if first > 0 and raw[first - 1] == 13 else first
        at += _HEAD_WINDOW
    return len(raw)


def repaired_message(raw: bytes, max_lines: int) -> bytes | None:
    """What intake.message.parse parses a second time when the first parse finds no sender; None if it would not.

    ``intake.message.header_repair.repair_header_block`` runs only when a line of the
    header block needs it, which a regular expression tells first. A header
    block over four times the header-line budget is not copied and repaired:
    the second parse would read it all as headers, so OverBudget is raised.
    """
    from intake.message.header_repair import repair_header_block

    end = head_end(raw)
    start = 0
    if _MBOX_FROM.match(raw, 0, end):
        start = raw.find(b"\n", 0, end) + 1 or end
    if _UNCLEAN_FIRST.match(raw, start, end) is None and _UNCLEAN.search(raw, start, end) is None:
        return None
    if raw.count(b"\n", 0, end) >= 4 * max_lines:
        raise OverBudget(too_many_header_lines_reason(max_lines))
    head, notes = repair_header_block(raw[:end])
    return b"".join((head, memoryview(raw)[end:])) if notes else None  # one copy of the message, not two
