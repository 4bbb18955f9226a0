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


def read_toml(file: Path, error: type[ValueError]) -> dict[str, Any]:
    """A data file's TOML, or ``error`` saying in Vietnamese why it cannot be read and where its syntax breaks.

    The coordinator who edits config/ reads these messages: the parser's
    position becomes "dòng, cột" with the line quoted; only the parser's own
    one-line reason stays in its words, marked as such.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"{file}: không có tệp này") from exc
    except IsADirectoryError as exc:
        raise error(f"{file}: đây là thư mục, không phải tệp") from exc
    except PermissionError as exc:
        raise error(f"{file}: không có quyền đọc tệp này") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{file}: tệp không phải văn bản UTF-8 (byte lạ ở vị trí {exc.start})") from exc
    except OSError as exc:
        raise error(f"{file}: không đọc được: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{file}: {toml_syntax_problem(text, exc)}") from exc


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
