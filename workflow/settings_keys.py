"""What the command line's fast lane shares with the settings loader (standard library only).

Why: the fast lane (``interfaces.cli.fast_lane``) reads the configuration file
without importing pydantic, and must still never run on a file the full
validation (``workflow.settings``) would refuse. It does not judge the file
itself: the full path, once it has accepted a file, notes its digest beside the
SQLite database, and the lane runs only on content noted there. A changed file
goes the full way once (which names any mistake with its key and reason), so
there is one loader and no second list of keys to keep in step.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_ENV = "TDC_CONFIG"  # the configuration file when --config is not given
DEFAULT_DATABASE_URL = "sqlite:///var/tdc.db"  # [database] url of the embedded defaults
DEFAULTS_NOTED = "var/.cau-hinh-mac-dinh"  # written once the embedded defaults' notice has been shown


def defaults_notice(cwd: str = ".") -> str | None:
    """The one-time notice that no configuration file is in use and where the data goes; None after the first time.

    A person who types ``tdc-bot status`` on a fresh machine must learn once
    that the bot keeps everything under ./var (and how to point it elsewhere),
    not be told so on every command.
    """
    import os

    marker = os.path.join(cwd, DEFAULTS_NOTED)
    if os.path.exists(marker):
        return None
    try:
        os.makedirs(os.path.dirname(marker), mode=0o750, exist_ok=True)
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write("tdc-bot đã báo dùng cấu hình mặc định\n")
    except OSError:
        pass  # a read-only folder: say it every time rather than never
    where = os.path.abspath(os.path.join(cwd, "var"))
    return (f"Chưa có tệp cấu hình (--config TỆP hoặc biến {CONFIG_ENV}): dùng cấu hình mặc định, dữ liệu lưu trong "
            f"{where} (cơ sở dữ liệu tdc.db, hộp thư mail/, kho thư store/, thư đi outbox/). Mẫu cấu hình: "
            "config/tdc.example.toml.")

CHECKED_SUFFIX = ".cau-hinh-da-kiem"  # beside the SQLite file: digests of configuration files the full path accepted
CHECKED_KEEP = 16  # a few files in use at once (a test config, the real one); older digests are dropped


def config_digest(text: bytes | None) -> str:
    """What identifies one configuration's content; the embedded defaults (no file) have their own."""
    import hashlib

    return hashlib.sha256(b"(embedded defaults)" if text is None else b"file:" + text).hexdigest()


def sqlite_file(url: object) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL (relative to the working directory, as SQLAlchemy reads it)."""
    if not isinstance(url, str) or not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:" or any(c in path for c in "?%#") or path.startswith("file:"):
        return None
    return Path(path)


def _marker(database: Path) -> Path:
    return database.with_name(database.name + CHECKED_SUFFIX)


def _checked(database: Path) -> list[str]:
    try:
        with open(_marker(database), encoding="ascii") as handle:
            return [line.strip() for line in handle.read(CHECKED_KEEP * 80).splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def was_checked(database: Path, digest: str) -> bool:
    """Whether the full validation accepted this configuration content for this database."""
    return digest in _checked(database)


def mark_checked(database: Path, digest: str) -> None:
    """Remember that the full validation accepted this content; best effort (a read-only folder: the lane waits)."""
    import os

    known = _checked(database)
    if digest in known:
        return
    marker = _marker(database)
    temporary = marker.with_name(marker.name + f".{os.getpid()}.tmp")
    try:
        temporary.write_text("\n".join([*known, digest][-CHECKED_KEEP:]) + "\n", encoding="ascii")
        os.replace(temporary, marker)
    except OSError:
        temporary.unlink(missing_ok=True)
