"""The raw bytes read line by line as ``email.feedparser.BufferedSubFile`` reads their text.

The standard library's feed parser sees a message as lines ended by ``\\r\\n``,
``\\r`` or ``\\n``; a stack of predicates makes ``readline`` answer ``''`` (a
false end of file) at the first line any of them matches: the delimiters of
every enclosing multipart, and a blank line between the blocks of a
``message/delivery-status``. Lines can be pushed back, the empty string
included. Which part a line belongs to follows from nothing else, so this
reader gives exactly those answers on the bytes.

It never makes a string per line: a line is a ``(start, end)`` span, and the
lines nobody looks at (bodies, preambles, epilogues) are skipped by C-speed
searches for the next line that would be a false end of file. A search stops
at the first such line and the reader moves there, so each byte is searched
once per open delimiter (or, under many, its ``--`` lines are checked once):
linear time, the lines skipped reported as it goes so a budget can stop it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

Line = tuple[int, int]  # (start, end) in the buffer; ``end`` is past the line ending
Position = tuple[tuple[Line, ...], int]  # lines pushed back, then a position in the buffer
CR: Final = 13
LF: Final = 10


class Blank:
    """The false-EOF predicate of ``message/delivery-status`` blocks (``NLCRE.match``): a blank line."""


BLANK: Final = Blank()
Predicate = bytes | None | Blank  # a boundary (None: one no line can match), or BLANK

_WINDOW = 1 << 20  # how far one search runs before the other kinds of predicate get their turn
_BLANK_PAIRS = (b"\n\n", b"\n\r", b"\r\r")  # a line ending, then a line that is only a line ending
# Whole header lines (feedparser.headerRE at the start) ended by \n, up to 1,024 (a budget stops it early). The
# engine runs a "[^\n]" loop ten times faster than "[^\r\n]": lines with a bare \r are kept out by the window.
_HEADER_RUN = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[\t ])[^\n]*\n){1,1024}+")
_RUN_WINDOW = 8192  # bytes one run looks at: a longer line is read on its own
_LONE_CR = re.compile(rb"\r(?!\n)")
_COMPILED_TOKEN = 128  # longer boundaries are always searched with bytes.find
_MISSES_BEFORE_COMPILING = 16
_FEW_TOKENS = 4  # open boundaries searched one by one; more are checked together on each "--" line
# Checking a "--" line in Python costs about what searching 700 bytes for one boundary costs in C: the "--" lines
# are checked one by one while that is cheaper than a search per boundary over the bytes they were found in.
_DASH_LINE_BYTES = 700
_DASH_LINES_FREE = 4096


def _delimiter_patterns(token: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """This boundary's delimiter lines, found by the line ending before them.

    A literal first byte lets the regular-expression engine search at C
    speed; a pattern starting with a class (``[\\r\\n]``) or a look-behind is
    five to twenty times slower, hence one pattern per kind of line ending.
    The line must end with a line ending here: the buffer's last line, which
    may not, is checked apart.
    """
    tail = b"--" + re.escape(token) + rb"(?:--)?[ \t]*[\r\n]"
    return re.compile(b"\n" + tail), re.compile(b"\r" + tail)


def delimiter_kind(data: bytes, start: int, end: int, boundary: bytes) -> str | None:
    """``"part"`` or ``"close"`` when the line is this boundary's delimiter, as the parser's ``boundaryre`` decides.

    ``boundaryre`` is ``--<boundary>(--)?[ \\t]*(\\r\\n|\\r|\\n)?$`` matched at the
    line start: after the boundary only ``--``, blanks and the line ending.
    """
    if not data.startswith(b"--", start, end) or not data.startswith(boundary, start + 2, end):
        return None
    rest = data[start + 2 + len(boundary):end].rstrip(b"\r\n").rstrip(b" \t")
    if rest == b"":
        return "part"
    return "close" if rest == b"--" else None


def _searchable(boundary: Predicate) -> bool:
    """A boundary some line can match (a line break never is inside a line)."""
    return isinstance(boundary, bytes) and b"\r" not in boundary and b"\n" not in boundary


class Reader:
    """A window ``[start, end)`` of a buffer, read as a ``BufferedSubFile`` over that text alone would be."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.start = start
        self.end = len(data) if end is None else end
        self.eof: list[Predicate] = []  # the parser's _eofstack
        self.on_lines: Callable[[int], None] | None = None  # told of the body lines skipped (see _next_stop)
        self._boundaries: dict[bytes, int] = {}  # searchable boundaries on the stack, with how often
        self._blanks = 0
        self._back: list[Line | None] = []  # pushed-back lines, last one first; None is a pushed-back ''
        self._next_char: dict[int, tuple[int, int]] = {}  # byte -> (searched from, next position)
        self._any_cr = data.find(b"\r", start, self.end) >= 0
        self._patterns: dict[bytes, tuple[re.Pattern[bytes], re.Pattern[bytes]]] = {}
        self._misses: dict[bytes, int] = {}
        self._dash_lines = 0  # lines starting with "--" checked against many boundaries at once
        self._dash_bytes = 0  # bytes those were found in

    # ------------------------------------------------------------------ the false-EOF stack

    def push(self, predicate: Predicate) -> None:
        """``push_eof_matcher``."""
        self.eof.append(predicate)
        if predicate is BLANK:
            self._blanks += 1
        elif _searchable(predicate):
            assert isinstance(predicate, bytes)
            self._boundaries[predicate] = self._boundaries.get(predicate, 0) + 1

    def pop(self) -> None:
        """``pop_eof_matcher``."""
        predicate = self.eof.pop()
        if predicate is BLANK:
            self._blanks -= 1
        elif _searchable(predicate):
            assert isinstance(predicate, bytes)
            self._boundaries[predicate] -= 1
            if not self._boundaries[predicate]:
                del self._boundaries[predicate]

    def _stops(self, line: Line, boundaries: dict[bytes, int] | set[bytes], blank: bool) -> bool:
        """Whether the line matches a blank-line predicate or one of these boundaries' delimiters."""
        start, end = line
        if blank and end > start and self.data[start] in (CR, LF):
            return True
        if not boundaries or not self.data.startswith(b"--", start, end):
            return False
        rest = self.data[start + 2:end].rstrip(b"\r\n").rstrip(b" \t")
        return rest in boundaries or (rest.endswith(b"--") and rest[:-2] in boundaries)

    # ------------------------------------------------------------------ lines

    def _find(self, char: int, at: int) -> int:
        """Next position of ``char`` at or after ``at`` (``end`` if none), remembered: line ends are looked up often."""
        known = self._next_char.get(char)
        if known is not None and known[0] <= at <= known[1]:
            return known[1]
        found = self.data.find(b"\r" if char == CR else b"\n", at, self.end)
        found = self.end if found < 0 else found
        self._next_char[char] = (at, found)
        return found

    def line_at(self, at: int) -> Line:
        """The line starting at ``at``, its line ending included."""
        newline = self._find(LF, at)
        if self._any_cr:
            cr = self.data.find(b"\r", at, newline)
            if cr >= 0:  # a \r\n, or a bare \r that ends the line before the \n
                return at, newline + 1 if cr + 1 == newline < self.end else cr + 1
        return at, min(newline + 1, self.end)

    def readline(self) -> Line | None:
        """The next line, or None where the parser's ``readline`` returns ``''`` (end, false EOF, pushed-back '')."""
        if self._back:
            line = self._back.pop()
            if line is None:
                return None
            if self.eof and self._at_eof(line):
                self._back.append(line)
                return None
            return line
        if self.pos >= self.end:
            return None
        line = self.line_at(self.pos)
        if self.eof and self._at_eof(line):
            return None
        self.pos = line[1]
        return line

    def _at_eof(self, line: Line) -> bool:
        return self._stops(line, self._boundaries, self._blanks > 0)

    def unread(self, line: Line | None) -> None:
        """``unreadline``: the line (None for ``''``) is read again next."""
        self._back.append(line)

    def header_run(self) -> Line | None:
        """Up to 1,024 header lines at the reading position, read in one step; None where the next line is not one.

        The common case of a header block, taken at C speed: lines ended by
        ``\\n`` or ``\\r\\n`` (a bare ``\\r`` ends one too), nothing pushed back but the
        line just read (a part's first line, read back after its delimiter),
        and no line starting with ``--`` while a delimiter could end the block
        there. Anything else goes line by line through :meth:`readline`.
        """
        if self._back:
            line = self._back[-1]
            if len(self._back) > 1 or line is None or line[1] != self.pos:
                return None
            self._back.pop()
            self.pos = line[0]
        start = self.pos
        limit = min(self.end, start + _RUN_WINDOW)
        if self._any_cr:  # a bare \r ends a line too: the run stops before the line that has one
            lone = _LONE_CR.search(self.data, start, limit)
            if lone is not None:
                limit = self.data.rfind(b"\n", start, lone.start()) + 1
        found = _HEADER_RUN.match(self.data, start, limit) if limit > start else None
        if found is None:
            return None
        stop = found.end()
        if self._boundaries:
            if self.data.startswith(b"--", start):
                return None
            dashes = self.data.find(b"\n--", start, stop - 1)
            if dashes >= 0:
                stop = dashes + 1
        self.pos = stop
        return start, stop

    def here(self) -> Position:
        """Where reading stands: the pushed-back lines still to read, in order, then the buffer position."""
        return tuple(line for line in reversed(self._back) if line is not None), self.pos

    def text(self, since: Position, end: int) -> bytes | memoryview:
        """The text read from ``since`` up to ``end``, as the parser saw it.

        Usually one stretch of the buffer; after a ``From`` line went back to a
        body over the blank line the parser had consumed, those pieces joined.
        """
        lead, pos = since
        stretch_start = lead[0][0] if lead else pos
        stitched = any(a[1] != b[0] for a, b in zip(lead, [*lead[1:], (pos, pos)], strict=True)) if lead else False
        if not stitched:
            return memoryview(self.data)[stretch_start:end]
        return b"".join(self.data[s:e] for s, e in lead) + self.data[pos:end]

    def mark(self) -> int:
        """Where the next unread line starts in the buffer."""
        for line in reversed(self._back):
            if line is not None:
                return line[0]
        return self.pos

    # ------------------------------------------------------------------ skipping

    def skip(self, own: bytes | None = None, preamble: bool = False) -> None:
        """Consume lines until the next one is a false EOF (``preamble``: or the multipart's ``own`` delimiter).

        What the parser does with ``for line in self._input: lines.append(line)``
        for a body, and with a multipart's preamble loop; the line that stops
        it stays unread.
        """
        boundaries: dict[bytes, int] | set[bytes] = self._boundaries
        if own is not None and _searchable(own) and own not in boundaries:
            boundaries = {*self._boundaries, own}
        blank = self._blanks > 0
        while self._back:
            line = self._back.pop()
            if line is None:  # a pushed-back '': a body's loop ends on it, consumed; the preamble loop reads it next
                if preamble:
                    self._back.append(line)
                return
            if self._stops(line, boundaries, blank):
                self._back.append(line)
                return
        self.pos = self._next_stop(self.pos, boundaries, blank, own)

    def _next_stop(self, at: int, boundaries: dict[bytes, int] | set[bytes], blank: bool, own: bytes | None) -> int:
        """The first line start at or after ``at`` whose line stops a skip (``end`` if none).

        The lines skipped are reported to ``on_lines``, each weighted by what
        the parser does with it: reads it, and tests it against every
        predicate on its stack (and the multipart's own delimiter, in a
        preamble). Reported window by window, so a budget can stop the skip.
        """
        weight = len(self.eof) + 1 + (own is not None)
        if at >= self.end or (not boundaries and not blank):
            self._charge(at, self.end, weight)
            return self.end
        if self._stops(self.line_at(at), boundaries, blank):
            return at
        # Innermost first: the nearest delimiter is usually the innermost one's, and bounds the other searches.
        inner_first = [own, *reversed(self.eof)] if own is not None else reversed(self.eof)
        tokens = tuple(dict.fromkeys(p for p in inner_first if isinstance(p, bytes) and p in boundaries))
        stop = self.end
        window = charged = at  # candidates are line endings at or after ``window``; a line start is one past them
        while window < stop:
            upto = min(window + _WINDOW, stop)
            reach = self.line_at(upto)[1] if upto < self.end else self.end
            if tokens:
                stop = self._search_boundaries(tokens, window, reach, stop)
            if blank:
                for pair in _BLANK_PAIRS:
                    found = self.data.find(pair, window, min(reach, stop))
                    if found >= 0:
                        stop = found + 1
            self._charge(charged, min(stop, upto), weight)
            charged = min(stop, upto)
            if stop <= upto:
                break
            window = min(self._find(LF, upto), self._find(CR, upto) if self._any_cr else self.end)
        if tokens and stop == self.end:
            stop = self._unterminated_last_line(at, boundaries)
        self._charge(charged, stop, weight)
        return stop

    def _charge(self, start: int, end: int, weight: int) -> None:
        """Report the lines in ``[start, end)`` (at least; exactly unless ``\\r`` and ``\\n`` both end lines)."""
        if self.on_lines is None or end <= start:
            return
        lines = self.data.count(b"\n", start, end)
        if self._any_cr:
            lines = max(lines, self.data.count(b"\r", start, end))
        self.on_lines(lines * weight)

    def _search_boundaries(self, tokens: tuple[bytes, ...], window: int, reach: int, stop: int) -> int:
        """The first delimiter line of one of ``tokens`` starting in ``(window, reach)``, else ``stop``.

        Each boundary is searched on its own, the innermost first (its
        delimiter is usually the nearest, and bounds the other searches). Under
        many open multiparts that is one search per boundary over the same
        body, so then the lines starting with ``--`` are looked for once and
        each is checked against all of them, as long as such lines are rare.
        """
        if len(tokens) > _FEW_TOKENS and self._dash_lines_pay(len(tokens)):
            found = self._search_dash_lines(set(tokens), window, reach, stop)
            if found is not None:
                return found
        for token in tokens:
            pattern = self._patterns.get(token)
            if pattern is None:
                stop = self._find_token(token, window, reach, stop)
                continue
            for compiled in pattern if self._any_cr else pattern[:1]:
                hit = compiled.search(self.data, window, min(reach, stop))
                if hit is not None:
                    stop = hit.start() + 1
        return stop

    def _dash_lines_pay(self, boundaries: int, scanned: int = 0) -> bool:
        """Whether checking "--" lines one by one is still cheaper than a search per boundary would have been."""
        worth = boundaries * (self._dash_bytes + scanned) // _DASH_LINE_BYTES
        return self._dash_lines < max(_DASH_LINES_FREE, worth)

    def _search_dash_lines(self, tokens: set[bytes], window: int, reach: int, stop: int) -> int | None:
        """The first line in ``(window, reach)`` that is a delimiter of one of ``tokens`` (else ``stop``), found
        among the lines starting with ``--``; None once checking them costs more than searching per boundary."""
        for newline in (b"\n--", b"\r--") if self._any_cr else (b"\n--",):
            found = self.data.find(newline, window, min(reach, stop))
            while found >= 0:
                if self._stops(self.line_at(found + 1), tokens, False):
                    stop = found + 1
                    break
                self._dash_lines += 1
                if not self._dash_lines_pay(len(tokens), found - window):
                    self._dash_bytes += found - window
                    return None
                found = self.data.find(newline, found + 1, min(reach, stop))
        self._dash_bytes += min(reach, stop) - window
        return stop

    def _find_token(self, token: bytes, window: int, reach: int, stop: int) -> int:
        """Search a boundary as a plain string and check each line found; compile it after a few misses.

        Compiling costs 2.5 µs a character, more than most messages' whole
        search, and a line that starts like a delimiter without being one is
        rare in real mail. Where a message is full of them, a pattern checks
        them in C instead (a long boundary stays a string: there is at most
        one such line per its length).
        """
        for newline in (b"\n", b"\r") if self._any_cr else (b"\n",):
            prefix = newline + b"--" + token
            found = self.data.find(prefix, window, min(reach, stop))
            while found >= 0:
                if self._stops(self.line_at(found + 1), {token}, False):
                    stop = found + 1
                    break
                self._misses[token] = misses = self._misses.get(token, 0) + 1
                if misses > _MISSES_BEFORE_COMPILING and len(token) <= _COMPILED_TOKEN:
                    self._patterns[token] = _delimiter_patterns(token)
                    return self._search_boundaries((token,), window, reach, stop)
                found = self.data.find(prefix, found + 1, min(reach, stop))
        return stop

    def _unterminated_last_line(self, at: int, boundaries: dict[bytes, int] | set[bytes]) -> int:
        """The buffer's last line, when it has no line ending, may still be a delimiter (``$`` matches at the end)."""
        if self.end <= at or self.data[self.end - 1] in (CR, LF):
            return self.end
        last = max(self.data.rfind(b"\n", at, self.end), self.data.rfind(b"\r", at, self.end)) + 1
        if last <= at:
            return self.end  # the line at ``at`` itself was checked first
        return last if self._stops((last, self.end), boundaries, False) else self.end
