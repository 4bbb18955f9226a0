"""A tolerant second pass over header blocks the standard library gives up on.

Why: the stdlib parser ends the header block at the first line that is not
a header or a continuation. One broken line (a continuation written without
leading whitespace, as some X-Brightmail-Tracker headers are; a junk line;
RFC 2822 obsolete syntax ``From  :``) then turns every header after it into
body text, the message has no From, and human mail was quarantined. And a
display name with brackets (``Foo Bar [X] <a@b>``) makes the header registry
return no address at all.

This module repairs only the header block's *lines*; the parser reads the
repaired bytes again. It is used only when the first pass found no sender,
so well-formed mail is never touched. Which address is the sender's identity
(when a header holds several) is not decided here.
"""
from __future__ import annotations

import re

_FIELD = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")
_OBSOLETE_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:")
_MBOX_FROM = re.compile(rb"^From \S")
_BLANK = re.compile(rb"\r?\n\r?\n")
_ANGLE = re.compile(r"<([^<>]*)>")
_COMMENT = re.compile(r"\([^()]*\)")
_ADDR = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


_LEADING_WINDOW = 64 * 1024  # blank lines before the headers: Exchange writes one or two, not pages


def without_leading_blank_lines(raw: bytes) -> bytes:
    """``raw`` without the blank or all-space lines some MTAs write before the header block.

    Exchange's DSNs (as kept by some archives) start with an empty line and a
    line of spaces; to the parser that is an empty header block, and the
    bounce became a sender-less message. Applied before the budget count
    (intake.precheck) and the parser, so both see the same header block.
    """
    if raw[:1] not in (b"\r", b"\n", b" ", b"\t"):
        return raw
    start = 0
    while start < min(len(raw), _LEADING_WINDOW):
        end = raw.find(b"\n", start, _LEADING_WINDOW)
        if end < 0 or raw[start:end].strip():
            break
        start = end + 1
    return raw[start:] if start and raw[start:].strip() else raw


def repair_header_block(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` with its header block made parseable, and what was repaired (empty: nothing)."""
    match = _BLANK.search(raw)
    head, rest = (raw[: match.start()], raw[match.start():]) if match else (raw, b"")
    eol = b"\r\n" if b"\r\n" in head[:4096] else b"\n"
    lines = head.split(b"\n")
    out: list[bytes] = []
    notes: list[str] = []
    for i, line in enumerate(lines):
        line = line.rstrip(b"\r")
        if i == 0 and _MBOX_FROM.match(line):
            out.append(line)
        elif line[:1] in (b" ", b"\t") or _FIELD.match(line):
            out.append(line)
        elif obsolete := _OBSOLETE_FIELD.match(line):
            out.append(obsolete.group(1) + b":" + line[obsolete.end():])
            name = obsolete.group(1).decode("ascii", "replace")[:40]
            notes.append(f"header {name!r}: obsolete space before ':' removed")
        elif out and line.strip():
            out.append(b" " + line)
            notes.append(f"header line without leading whitespace joined to the previous header: {line[:40]!r}")
        elif line.strip():
            notes.append(f"junk line before the headers dropped: {line[:40]!r}")
    if not notes:
        return raw, []
    return eol.join(out) + rest, notes


def tolerant_address(value: str) -> tuple[str, str] | None:
    """(display name, lower-case address) from a From value the header registry could not read.

    The angle-bracket address wins; comments and folding whitespace inside
    it are removed (obsolete syntax); brackets and other specials in the
    display name are kept as text.
    """
    value = " ".join(value.split())
    angle = _ANGLE.findall(value)
    for candidate in reversed(angle):
        addr = "".join(_COMMENT.sub("", candidate).split())
        if _ADDR.fullmatch(addr):
            name = value[: value.rfind("<")].strip().strip('"').strip()
            return name, addr.lower()
    found = _ADDR.search(_COMMENT.sub(" ", value))
    if found:
        return "", found.group().lower()
    return None
