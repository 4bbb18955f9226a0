"""The feed parser's walk over one buffer, on the bytes: every part and header line it will make, counted.

``email.feedparser.FeedParser._parsegen`` is followed branch for branch
(headers, ``message/delivery-status`` blocks, ``message/*``, ``multipart/*``
with its preamble, repeated delimiters and missing close, leaf bodies), each
entity as a generator that yields when the parser would recurse. A small
trampoline runs them, so nesting costs a list entry rather than a Python
stack frame. Nothing is kept per line or per body: header lines are counted
as they are read, bodies are skipped by :class:`~intake.precheck.lines.Reader`.

What :mod:`intake.message.parse` reads again inside a message (a forward it decodes,
a multipart whose boundary it guesses) is noted as a :class:`Reread` for
:mod:`intake.precheck.rereads`; the walk notes where ``intake.message.mime_parts._walk``
reaches (its ``depth``, status parts it does not enter) to know which.
"""
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from email.message import Message

from intake.precheck.budget import OverBudget, Tally, header_work_reason
from intake.precheck.headers import (
    Block,
    add_segment,
    block_of,
    boundary_bytes,
    header_size,
    is_blank,
    is_header_line,
    mime_view,
    param_work,
)
from intake.precheck.lines import BLANK, CR, Line, Position, Reader, delimiter_kind

# intake.message.mime_parts._STATUS_TYPES: it keeps these as text and walks nothing inside them.
STATUS_TYPES = frozenset({
    "message/delivery-status", "message/disposition-notification", "text/rfc822-headers",
    "message/global-delivery-status", "message/global-headers", "message/feedback-report",
    "message/global-disposition-notification",
})
FORWARD_TYPES = ("message/rfc822", "message/global")  # what intake.message.mime_parts._forward opens
COMPILE_WORK = 2_500  # re.compile of a multipart's delimiter pattern, per boundary character, in header-work units
MIME_HEADERS = (b"content-type", b"content-transfer-encoding", b"content-disposition")
# Longer than this, a MIME header is refused unread: none in real mail comes near, the parser copies it and reads
# it again for every part and parameter, and asking the stdlib what it means would copy it here too.
MAX_MIME_HEADER_BYTES = 1024 * 1024


class ParserStops(Exception):
    """The standard library raises on this header (an RFC 2231 section number too long for ``int``...):
    the real parse ends here too, and intake.message.parse quarantines the message as unreadable."""


@dataclass
class Node:
    """One entity the parser makes, as far as its children need to know."""

    content_type: str
    depth: int  # intake.message.mime_parts._walk's depth
    # whether intake.message.mime_parts._walk reads it (not inside a status part, not past max_nesting_depth)
    walked: bool
    content_type_size: int  # characters of its Content-Type: the parser reads it again for every child


@dataclass
class Entity:
    """What a finished entity hands back to its parent."""

    start: Position  # where its first line is
    body_start: Position  # where its first body line is
    block: Block
    parts: int = 1  # itself and every entity inside it


@dataclass
class Reread:
    """Bytes intake.message.parse hands to the parser again, inside the same message."""

    kind: str  # "forward" (an encoded message/rfc822 it decodes) or "guess" (a multipart without usable boundary)
    data: bytes
    start: int  # "guess": where the text starts ("forward": see ``inner``)
    end: int
    depth: int
    content_type: str = ""  # "guess": the part's type, written in the header it adds
    encoding: str = ""  # "forward": base64 or quoted-printable
    inner: Entity | None = None  # "forward": the enclosed message as the parser read it, still encoded
    reader: Reader | None = None  # "forward": the reader it was read with (its text may be in pieces)
    fallback: list[Reread] = field(default_factory=list)  # "forward": what is read again in that one if not decoded
    in_multipart: bool = False  # "forward": the part is inside a multipart (which trims its last line ending)


@dataclass
class Walk:
    """One parse of one buffer (a message, or bytes intake.message.parse reads again inside it)."""

    reader: Reader
    tally: Tally
    depth: int = 0
    walked: bool = True
    preset: str | None = None  # a Content-Type intake.message.parse writes in front of the bytes (a guessed boundary)
    guessed: bool = False  # the top entity is one intake.message.parse made with a guessed boundary: not guessed again
    rereads: list[Reread] = field(default_factory=list)

    def run(self) -> Entity:
        """Walk the whole buffer; raises OverBudget as soon as a limit is passed."""
        self.reader.on_lines = self.tally.body_lines
        stack: list[Generator[Node, Entity, Entity]] = [self._entity(None)]
        sent: Entity | None = None
        result: Entity | None = None
        while stack:
            try:
                parent = stack[-1].send(sent) if sent is not None else next(stack[-1])
            except StopIteration as done:
                stack.pop()
                sent = result = done.value
                continue
            sent = None
            stack.append(self._entity(parent))
        assert result is not None
        return result

    # ------------------------------------------------------------------ one entity

    def _entity(self, parent: Node | None) -> Generator[Node, Entity, Entity]:
        reader, data, tally = self.reader, self.reader.data, self.tally
        tally.part()
        if parent is None:
            depth, walked = self.depth, self.walked and self.depth <= tally.limits.max_nesting_depth
        else:
            depth = parent.depth + 1
            walked = (parent.walked and parent.content_type not in STATUS_TYPES
                      and depth <= tally.limits.max_nesting_depth)
            tally.header_work(parent.content_type_size)  # _new_message asks the parent's type
        start = reader.here()
        if parent is None and self.preset is not None:
            block, view = self._preset_block()
        else:
            block = self._header_block()
            mime_headers = [block.first(name) for name in MIME_HEADERS]
            if max(header_size(h) for h in mime_headers) > MAX_MIME_HEADER_BYTES:
                raise OverBudget(header_work_reason())
            tally.header_work(sum(param_work(data, h) for h in mime_headers))
            view = mime_view(data, block, digest_child=parent is not None and parent.content_type == "multipart/digest")
        body_start = reader.here()
        try:
            content_type = view.get_content_type()
        except Exception as exc:
            raise ParserStops from exc
        node = Node(content_type, depth, walked, header_size(block.first(b"content-type")))
        here = Entity(start, body_start, block)
        parts_before = tally.parts
        if content_type == "message/delivery-status":
            yield from self._status_blocks(node)
        elif content_type.startswith("message/"):
            encoding = str(view.get("content-transfer-encoding", "")).strip().lower()
            if walked and content_type in FORWARD_TYPES and encoding in ("base64", "quoted-printable"):
                # intake.message.parse reads the decoded message instead of this one, unless decoding fails
                outer, self.rereads = self.rereads, []
                inner = yield node
                outer.append(Reread("forward", data, 0, reader.mark(), depth, encoding=encoding, reader=reader,
                                    inner=inner, fallback=self.rereads,
                                    in_multipart=parent is not None and parent.content_type.startswith("multipart/")))
                self.rereads = outer
            else:
                yield node
        elif content_type.startswith("multipart/"):
            top_guessed = parent is None and (self.preset is not None or self.guessed)
            yield from self._multipart(node, view, reader.mark(), guess=walked and not top_guessed)
        else:
            reader.skip()
        here.parts += tally.parts - parts_before
        return here

    def _header_block(self) -> Block:
        """Collect the lines the parser collects, counting each; sort them as ``_parse_headers`` does."""
        reader, data, tally = self.reader, self.reader.data, self.tally
        segments: list[Line] = []
        lines = 0
        bare_cr = False  # a line ended by a bare \r (runs never hold one)
        while True:
            run = reader.header_run()
            if run is not None:
                count = data.count(b"\n", run[0], run[1])
                tally.header_line(count)
                lines += count
                add_segment(segments, run)
                continue
            line = reader.readline()
            if line is None:
                break
            if not is_header_line(data, line):
                if not is_blank(data, line):
                    reader.unread(line)  # the first body line
                break
            tally.header_line()
            lines += 1
            add_segment(segments, line)
            bare_cr = bare_cr or data[line[1] - 1] == CR
        block = block_of(reader, segments, lines, bare_cr)
        if block.pushed_back is not None:
            reader.unread(block.pushed_back)
        return block

    def _preset_block(self) -> tuple[Block, Message]:
        assert self.preset is not None
        self.tally.header_line()
        self.tally.header_work(len(self.preset) * (self.preset.count(";") + 1))
        view = Message()
        view.set_raw("Content-Type", self.preset)
        return Block(lines=1), view

    # ------------------------------------------------------------------ containers

    def _status_blocks(self, node: Node) -> Generator[Node, Entity, None]:
        """``message/delivery-status``: header blocks up to a blank line each, until the part ends."""
        reader = self.reader
        while True:
            reader.push(BLANK)
            yield node
            reader.pop()
            reader.readline()  # the blank line
            line = reader.readline()
            if line is None:
                return
            reader.unread(line)

    def _multipart(self, node: Node, view: Message, body_start: int, guess: bool) -> Generator[Node, Entity, None]:
        reader, data = self.reader, self.reader.data
        try:
            boundary = view.get_boundary()
        except Exception as exc:
            raise ParserStops from exc
        if boundary is None:  # NoBoundaryInMultipartDefect: the rest is the payload
            reader.skip()
            self._maybe_guess(guess, node, body_start, reader.mark())
            return
        self.tally.header_work(len(boundary) * COMPILE_WORK)  # the parser compiles its boundaryre
        own = boundary_bytes(boundary)
        self.tally.open_multiparts(sum(1 for p in reader.eof if p is not BLANK) + 1)
        in_preamble, closed = True, False
        while True:
            reader.skip(own, preamble=True)
            line = reader.readline()
            if line is None:
                break
            assert own is not None  # only a delimiter of ours stops the skip and is read
            if delimiter_kind(data, line[0], line[1], own) == "close":
                closed = True
                break
            if in_preamble:
                in_preamble = False
                reader.unread(line)
                continue
            while True:  # repeated delimiters make no parts
                again = reader.readline()
                if again is None or delimiter_kind(data, again[0], again[1], own) is None:
                    reader.unread(again)
                    break
            reader.push(own)
            yield node
            reader.pop()
        if in_preamble:  # StartBoundaryNotFoundDefect: the preamble is the payload, the rest is dropped
            payload_end = line[0] if closed and line is not None else reader.mark()
            reader.skip()
            self._maybe_guess(guess, node, body_start, payload_end)
        elif closed:
            reader.skip()  # the epilogue

    def _maybe_guess(self, guess: bool, node: Node, start: int, end: int) -> None:
        """A multipart the parser leaves as text: intake.message.parse guesses a boundary in it and parses it again."""
        if guess:
            self.rereads.append(Reread("guess", self.reader.data, start, end, node.depth,
                                       content_type=node.content_type))
