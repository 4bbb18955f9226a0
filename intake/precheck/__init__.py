"""The parts and header lines a message will make in the parser, counted before the parser runs.

The standard library's parser builds an object for every part and a list
entry for every header line, in Python, and cannot be stopped half-way: 1.6
million tiny parts in a 57 MB message ran for 15 minutes at 1 GB. So the
daemon's process first counts what the parser *will* build, and quarantines
with the reason what is over ``[limits] max_parts`` / ``max_header_lines``.

The count has to be the parser's own. A count of ``--boundary`` lines and of
lines before a blank line is evaded by every way the parser reads a header
differently: an RFC 2231 boundary in sections, a quoted ``\\"``, a boundary
of any length, a header block longer than the window looked at, a bare
``\\r`` ending lines. Here the bytes are walked the way ``email.feedparser``
walks their text, line by line and branch by branch (:mod:`.structure`,
:mod:`.lines`), and what a header means is asked of the standard library's
own ``Message`` (:mod:`.headers`): the boundary, the nesting
(``message/rfc822``, ``message/global``, digests, delivery-status blocks) and
every header line are the ones the parser will see. So is what
:mod:`intake.message.parse` parses again inside a message: a forward it decodes, a
multipart whose boundary it guesses, a header block it repairs
(:mod:`.rereads`). Both are checked against the real thing, message by
message, on the real-mail corpus and on generated structures
(``tests/security/test_precheck_agrees.py``).

The walk keeps nothing per line and skips bodies with C-speed searches: it
runs in linear time, holds a few counters, and stops at the first part or
line over the budget, so a 58 MB message of 1.5 million parts is refused in
milliseconds.

Three more budgets cover what makes the parser slow or big without many
parts or header lines: ``max_open_multiparts`` (the parser tests every line
against each open delimiter), ``max_body_line_checks`` (it keeps every body
line as a string, and tests it against those delimiters: 58 MB of empty lines
took 2.4 GB) and ``max_mime_header_work`` (``Message.get_param`` is quadratic,
a multipart's Content-Type is read again for every part, each boundary is
compiled into a pattern).
"""
from __future__ import annotations

import logging

from intake.limits import Limits
from intake.message.header_repair import without_leading_blank_lines
from intake.precheck.budget import (
    OverBudget,
    Tally,
    encoded_forward_reason,
    header_work_reason,
    precheck_failed_reason,
    too_deep_reason,
    too_many_body_lines_reason,
    too_many_header_lines_reason,
    too_many_parts_reason,
)
from intake.precheck.lines import Reader
from intake.precheck.rereads import repaired_message, walk_rereads
from intake.precheck.structure import ParserStops, Walk

log = logging.getLogger(__name__)

__all__ = [
    "count",
    "passes",
    "encoded_forward_reason",
    "header_work_reason",
    "precheck",
    "precheck_failed_reason",
    "too_deep_reason",
    "too_many_body_lines_reason",
    "too_many_header_lines_reason",
    "too_many_parts_reason",
]


def count(raw: bytes, limits: Limits) -> Tally:
    """The tally of one parse of ``raw`` by intake.message.parse; raises OverBudget at the first unit over a limit."""
    tally = Tally(limits)
    walk = Walk(Reader(raw), tally)
    try:
        walk.run()
        walk_rereads(walk.rereads, tally)
    except (ParserStops, RecursionError):
        pass  # the parser raises at the same place: intake.message.parse then quarantines the message as unreadable
    return tally


def passes(raw: bytes, limits: Limits) -> list[Tally]:
    """The tally of each parse intake.message.parse may take of ``raw``: the first, and the repaired one it takes
    when the first finds no sender. The same leading blank lines are dropped first, so both read the same
    header block."""
    raw = without_leading_blank_lines(raw)
    tallies = [count(raw, limits)]
    repaired = repaired_message(raw, limits.max_header_lines)
    if repaired is not None:
        tallies.append(count(repaired, limits))
    return tallies


def precheck(raw: bytes, limits: Limits) -> str | None:
    """A quarantine reason when parsing the message would build more than the limits allow, else None.

    The repaired second parse (taken by intake.message.parse when the first finds no
    sender) is counted on its own: each parse must fit the budget. A fault
    in this code quarantines the message (with the error named) rather than
    hand the parser what the budget could not judge.
    """
    if len(raw) > limits.max_message_bytes or not raw or raw.isspace():
        return None  # intake.message.parse refuses these without parsing them
    try:
        passes(raw, limits)
    except OverBudget as over:
        return over.reason
    except Exception as exc:  # noqa: BLE001 - one message must neither stop the daemon nor pass unjudged
        log.exception("precheck failed")
        return precheck_failed_reason(exc)
    return None
