"""Sender-supplied text on its way out: into spreadsheets, Word files and terminals.

Everything an agency (or a stranger) writes in a mail ends up somewhere a
person opens: the coordinators' spreadsheet, the national report, the
terminal where ``tdc-bot review list`` runs. Each of those has its own way to
turn text into action, so each gets one cleaning function, applied at the one
place text leaves for it:

* :func:`spreadsheet_text` — a cell starting with ``= + - @``, a tab or a CR
  is a formula to Excel/LibreOffice (OWASP "CSV injection"): it gets a
  leading apostrophe, so it is shown, never evaluated. Numbers are not text
  and are never touched. :func:`spreadsheet_original` takes the apostrophe
  off again where the bot reads back a sheet it wrote (``contacts import``
  of a ``contacts export``), so "+84 …" survives the round trip.
* :func:`xml_text` / :func:`xml_clean` — XML 1.0 forbids most control
  characters; python-docx and openpyxl raise on them, so one bad report would
  break the whole national report. They are dropped.
* :func:`terminal_text` — ESC/CSI/OSC sequences, other control characters
  and bidirectional overrides would reach the coordinator's terminal (move
  the cursor, rewrite lines, set the window title, hide text): dropped.
  Rich markup is not parsed at all in what the CLI prints (see
  ``interfaces.cli.common``), so ``[/x]`` in a subject is shown as is.

JSON output is never cleaned: programs get the exact stored values.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

# OWASP: a cell is a formula when it starts with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Characters XML 1.0 does not allow (tab, LF and CR are allowed), lone surrogates, and U+FFFE/U+FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# A whole terminal escape sequence: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), or ESC + one char.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]|.?)", re.S)
# Remaining C0 controls except tab and newline, DEL, C1 controls, and the bidi overrides/isolates
# that reorder what a terminal shows (U+202A–202E, U+2066–2069).
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

T = TypeVar("T")


def spreadsheet_text(value: str) -> str:
    """Text safe to put in a spreadsheet cell: shown, never run as a formula."""
    value = xml_text(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def spreadsheet_original(value: str) -> str:
    """The text :func:`spreadsheet_text` was given: an apostrophe it added before a formula sign comes off."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 (and so python-docx/openpyxl) refuses."""
    return _XML_FORBIDDEN.sub("", value)


def xml_clean(value: T) -> T:
    """A copy of ``value`` with every string inside cleaned by :func:`xml_text`.

    Walks strings, lists, tuples (named ones too), dicts and dataclasses, so a
    whole report can be cleaned once before it is handed to python-docx.
    """
    return _clean(value, xml_text)


def terminal_text(value: str) -> str:
    """Text safe to print on a terminal: escape sequences and control characters removed."""
    return _TERMINAL_CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", value))


def _clean(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_clean(v, fn) for v in value]
    if isinstance(value, tuple):
        items = [_clean(v, fn) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {k: _clean(v, fn) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _clean(getattr(value, f.name), fn) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value
