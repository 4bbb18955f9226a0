"""The one place where every string taken from a message becomes valid Unicode.

Why a boundary of its own: decoders hand back text that Python accepts but
the database and the mail writer do not. An encoded word whose bytes are
invalid in its declared charset (``=?utf-8?B?YWL/?=``, or ISO-2022-JP labels
on Shift_JIS bytes) leaves lone surrogates (U+D800-U+DFFF) in a display
name; a NUL slips in from a body or a document. SQLite refuses to encode the
first, PostgreSQL refuses the second, and the message then can be neither
recorded nor quarantined. So, after a message is understood and before any
of it is stored or rendered, :func:`make_valid` walks everything understood
and replaces each such character with U+FFFD, and says so in a defect note.

Bytes (the raw message, attachment contents) are never touched: they are
kept exactly as they arrived.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

REPLACEMENT = "\ufffd"
# Lone surrogates and NUL: the characters no database or mail writer takes.
_INVALID = re.compile("[\x00\ud800-\udfff]")
NOTE = "văn bản trong thư chứa ký tự không hợp lệ (surrogate/NUL); đã thay bằng \ufffd"


def valid(text: str) -> str:
    """``text`` with lone surrogates and NULs replaced by U+FFFD."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    return _INVALID.sub(REPLACEMENT, text)


def is_valid(text: str) -> bool:
    return _INVALID.search(text) is None


class _Walker:
    """Replaces invalid strings in place inside dataclasses, lists and dicts; counts what it changed."""

    def __init__(self) -> None:
        self.changed = 0
        self._seen: set[int] = set()

    def text(self, value: str) -> str:
        fixed = valid(value)
        if fixed is not value and fixed != value:
            self.changed += 1
        return fixed

    def value(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if depth > 64 or isinstance(value, (bytes, bytearray, memoryview, int, float, bool, type(None))):
            return value
        if isinstance(value, list):
            for i, item in enumerate(value):
                value[i] = self.value(item, depth + 1)
            return value
        if isinstance(value, tuple):
            return type(value)(self.value(item, depth + 1) for item in value) if not hasattr(value, "_fields") \
                else type(value)(*(self.value(item, depth + 1) for item in value))
        if isinstance(value, dict):
            items = list(value.items())
            value.clear()
            for key, item in items:
                value[self.value(key, depth + 1)] = self.value(item, depth + 1)
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if id(value) in self._seen:
                return value
            self._seen.add(id(value))
            for f in dataclasses.fields(value):
                current = getattr(value, f.name)
                fixed = self.value(current, depth + 1)
                if fixed is not current:
                    object.__setattr__(value, f.name, fixed)  # frozen dataclasses too
            return value
        return value


def make_valid(obj: Any, *, skip: tuple[str, ...] = ()) -> int:
    """Make every string reachable from dataclass ``obj`` valid Unicode, in place.

    ``skip`` names top-level fields left alone (e.g. the raw message, whose
    bytes are kept as they are). Returns how many strings were changed.
    """
    walker = _Walker()
    for f in dataclasses.fields(obj):
        if f.name in skip:
            continue
        current = getattr(obj, f.name)
        fixed = walker.value(current)
        if fixed is not current:
            object.__setattr__(obj, f.name, fixed)
    return walker.changed
