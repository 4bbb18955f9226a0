"""One header block, as the feed parser reads it: which lines it holds, and what its MIME headers say.

The lines are collected and sorted the way ``FeedParser._parsegen`` and
``_parse_headers`` do it (continuations, a Unix ``From`` line, a ``From`` line
that ends the block and goes back to the body). What the headers *mean*
(content type, boundary) is then asked of the standard library itself, on a
``Message`` holding only those headers: RFC 2231 continuations and charsets,
quoted pairs, ``multipart/digest`` defaults and every other detail come out as
the parser will see them, because it is the same code.

That code is quadratic in one place: ``Message.get_param`` re-reads the rest of
the header for every ``;`` (200 KB of ``;`` inside quotes take over a second),
and the parser asks a multipart's Content-Type for its type once per child (a
50 MB Content-Type over 900 parts took 82 s). :func:`param_work` prices that
before anything is asked, so a budget can refuse it first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message

from intake.precheck.lines import CR, LF, Line, Reader

HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")  # feedparser.headerRE, on bytes
_WANTED = (b"content-type", b"content-transfer-encoding", b"content-disposition")
_WANTED_SIZES = frozenset(len(n) for n in _WANTED)
# Where lines end at \n: a MIME header's first line, and the continuation lines after it.
_MIME_NAME = rb"(content-(?:type|transfer-encoding|disposition)):"
_MIME_HEADER = re.compile(b"\n" + _MIME_NAME, re.IGNORECASE)  # a literal "\n" first: searched at C speed
_MIME_HEADER_FIRST = re.compile(_MIME_NAME, re.IGNORECASE)
_CONTINUATIONS = re.compile(rb"(?:[ \t][^\n]*+(?:\n|\Z))*+")


@dataclass
class Header:
    """One header: its name and the spans of its lines (the first one holds the colon)."""

    name: bytes
    lines: list[Line]


@dataclass
class Block:
    """What one header block holds."""

    lines: int = 0  # lines the parser collected for it (what the header-line budget counts)
    segments: list[Line] = field(default_factory=list)  # the block's lines as contiguous runs of the buffer
    pushed_back: Line | None = None  # a From line at the end of the block: the parser reads it as body
    firsts: dict[bytes, Header] = field(default_factory=dict)  # the first MIME header of each name
    headers: list[Header] | None = None  # every header _parse_headers keeps, in order (made when needed)

    def first(self, name: bytes) -> Header | None:
        """The header ``Message.get`` would answer with: the first of that name (a MIME one)."""
        return self.firsts.get(name)


def is_header_line(data: bytes, line: Line) -> bool:
    """``headerRE.match``: a field, a continuation, or a ``From `` line."""
    return HEADER_LINE.match(data, line[0], line[1]) is not None


def is_blank(data: bytes, line: Line) -> bool:
    """``NLCRE.match``: the line is only a line ending."""
    return line[1] > line[0] and data[line[0]] in (CR, LF)


def add_segment(segments: list[Line], span: Line) -> None:
    """Record lines of a block, joining them to the previous run when they follow it in the buffer."""
    if segments and segments[-1][1] == span[0]:
        segments[-1] = (segments[-1][0], span[1])
    else:
        segments.append(span)


def block_of(reader: Reader, segments: list[Line], lines: int, bare_cr: bool) -> Block:
    """The block made of these runs of lines: its MIME headers and what ``_parse_headers`` pushes back.

    When every line ends with ``\\n`` (``bare_cr`` false), a header is found
    by a regular expression over each run. Otherwise the runs are cut into
    lines the reader's way and sorted one by one (:func:`sort_lines`).
    """
    data = reader.data
    if bare_cr:
        return sort_lines(data, split_lines(reader, segments), segments)
    block = Block(lines=lines, segments=segments)
    if lines > 1:
        begin, stop = segments[-1]
        last = data.rfind(b"\n", begin, stop - 1) + 1 or begin
        if data.startswith(b"From ", last):
            block.pushed_back = (last, stop)
    for begin, stop in segments:
        at_start = _MIME_HEADER_FIRST.match(data, begin, stop)
        for found in ([at_start] if at_start else []) + list(_MIME_HEADER.finditer(data, begin, stop)):
            name = found.group(1).lower()
            if name not in block.firsts:
                line_end = data.find(b"\n", found.end(), stop) + 1 or stop
                more = _CONTINUATIONS.match(data, line_end, stop)
                assert more is not None
                block.firsts[name] = Header(found.group(1), [(found.start(1), more.end())])
        if len(block.firsts) == len(_WANTED):
            break
    return block


def split_lines(reader: Reader, segments: list[Line]) -> list[Line]:
    """The runs cut into the lines the reader (and the parser) sees."""
    lines = []
    for begin, stop in segments:
        at = begin
        while at < stop:
            line = reader.line_at(at)
            lines.append(line)
            at = line[1]
    return lines


def all_headers(reader: Reader, block: Block) -> list[Header]:
    """Every header of the block, in order (for the rare re-reading that needs them)."""
    if block.headers is None:
        block.headers = sort_lines(reader.data, split_lines(reader, block.segments), block.segments).headers
    return block.headers or []


def sort_lines(data: bytes, lines: list[Line], segments: list[Line]) -> Block:
    """``_parse_headers`` on line spans: which lines make which header, and what goes back to the body."""
    block = Block(lines=len(lines), segments=segments, headers=[])
    current: Header | None = None
    for number, (start, end) in enumerate(lines):
        if data[start] in b" \t":
            if current is not None:  # a continuation before any header is dropped (a defect)
                current.lines.append((start, end))
            continue
        current = None
        if data.startswith(b"From ", start):
            if number == len(lines) - 1 and number > 0:
                block.pushed_back = (start, end)  # probably the first body line: pushed back
                return block
            continue  # the Unix From line, or a misplaced one (a defect)
        colon = data.find(b":", start, end)
        if colon == start:
            continue  # "Missing header name." defect
        current = Header(data[start:colon], [(start, end)])
        assert block.headers is not None
        block.headers.append(current)
        if colon - start in _WANTED_SIZES and (name := current.name.lower()) in _WANTED:
            block.firsts.setdefault(name, current)
    return block


def header_text(data: bytes, header: Header) -> tuple[str, str]:
    """(name, value) exactly as ``compat32.header_source_parse`` hands them to ``Message.set_raw``."""
    lines = [data[s:e].decode("ascii", "surrogateescape") for s, e in header.lines]
    return policy.compat32.header_source_parse(lines)


def param_work(data: bytes, header: Header | None) -> int:
    """What ``get_param`` costs on this header: its length times its ``;`` (see the module docstring)."""
    if header is None:
        return 0
    size = sum(e - s for s, e in header.lines)
    semicolons = sum(data.count(b";", s, e) for s, e in header.lines)
    return size * (semicolons + 1)


def header_size(header: Header | None) -> int:
    """Characters of the header: what reading it once costs (``get_content_type`` per child)."""
    return 0 if header is None else sum(e - s for s, e in header.lines)


def mime_view(data: bytes, block: Block, digest_child: bool) -> Message:
    """A ``Message`` with the block's Content-Type and Content-Transfer-Encoding, to ask the stdlib what they mean."""
    view = Message()
    if digest_child:
        view.set_default_type("message/rfc822")
    for name in _WANTED[:2]:
        header = block.first(name)
        if header is not None:
            view.set_raw(*header_text(data, header))
    return view


def boundary_bytes(boundary: str) -> bytes | None:
    """The boundary as the raw bytes a delimiter line must hold, None when no line can.

    The parser compares it with lines decoded as ASCII with surrogate escapes;
    a character that decoding never makes (from an RFC 2231 charset) never
    matches, and a line break cannot be inside a line.
    """
    try:
        raw = boundary.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None
    return None if b"\r" in raw or b"\n" in raw else raw
