"""The coordinators' data files (roster, campaigns, outlines) and the config file, read as TOML.

One module for what every such file shares: why it cannot be read, where its
syntax breaks ("dòng, cột" with the line quoted), and how a refused key or
value is shown back — as the file writes it, not as Python prints it.
Standard library only (the command line's fast lane reads these files).
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any


class TomlUnreadable(ValueError):
    """Why a TOML file cannot be read: ``part`` is "(tệp)" (the file) or "(cú pháp)" (its syntax)."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(reason)
        self.part, self.reason = part, reason


def load_toml(file: Path) -> tuple[bytes, dict[str, Any]]:
    """A TOML file's bytes and content, or :class:`TomlUnreadable` saying in Vietnamese why not.

    One reader for the config file (``workflow.settings``, and the command
    line's fast lane, which also needs the bytes to know the file it checked)
    and the coordinators' data files (:func:`read_toml`). The coordinator who
    edits them reads these messages: the parser's position becomes "dòng, cột"
    with the line quoted; only the parser's own one-line reason stays in its
    words, marked as such.
    """
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise TomlUnreadable("(tệp)", "không có tệp này") from None
    except IsADirectoryError:
        raise TomlUnreadable("(tệp)", "đây là thư mục, không phải tệp") from None
    except PermissionError:
        raise TomlUnreadable("(tệp)", "không có quyền đọc tệp này") from None
    except UnicodeDecodeError as exc:
        raise TomlUnreadable("(tệp)", f"tệp không phải văn bản UTF-8 (byte lạ ở vị trí {exc.start})") from None
    except OSError as exc:
        raise TomlUnreadable("(tệp)", f"không đọc được: {exc.strerror or exc}") from None
    try:
        return raw, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlUnreadable("(cú pháp)", toml_syntax_problem(text, exc)) from None


def read_toml(file: Path, error: type[ValueError]) -> dict[str, Any]:
    """A data file's TOML, or ``error`` naming the file and saying why it cannot be read (:func:`load_toml`)."""
    try:
        return load_toml(file)[1]
    except TomlUnreadable as exc:
        raise error(f"{file}: {exc.reason}") from exc


_TOML_AT = re.compile(r"^(?P<reason>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$", re.S)


def toml_syntax_problem(text: str, exc: tomllib.TOMLDecodeError) -> str:
    match = _TOML_AT.match(str(exc))
    if match is None:
        return f"sai cú pháp TOML (trình đọc TOML báo: {exc})"
    reason = match["reason"]
    if match["line"] is None:
        return f"sai cú pháp TOML ở cuối tệp (trình đọc TOML báo: {reason})"
    number = int(match["line"])
    lines = text.splitlines()
    line = lines[number - 1].strip()[:80] if number <= len(lines) else ""
    return f"sai cú pháp TOML ở dòng {number}, cột {match['column']}: «{line}» (trình đọc TOML báo: {reason})"


def quoted(keys: Iterable[str]) -> str:
    """'b', 'a' -> "'a', 'b'": keys as the user typed them, without a Python list around them."""
    return ", ".join(repr(k) for k in sorted(keys))


def shown(value: Any) -> str:
    """A refused value as it looks in the TOML file (true, 2024-11-30), not as Python prints it (True, date(...))."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return "một bảng"
    return repr(value)
