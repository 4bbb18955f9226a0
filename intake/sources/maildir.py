"""A local Maildir as the mailbox: the embedded default, and the way in for saved ``.eml`` files.

Processed mail is moved (one ``os.rename``, atomic on one file system) into
the Maildir++ folder ``.Processed/cur/``, the same "move after commit"
semantics as IMAP MOVE: whatever is still in ``new/`` or ``cur/`` is
unprocessed and will be yielded again after a crash. Operators may also drop
plain ``*.eml`` files into the root folder; they are taken into ``new/`` on
the next fetch, keeping their file time as the arrival time.
"""
from __future__ import annotations

import errno
import itertools
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from stat import S_ISLNK, S_ISREG

from intake.model import RawMessage
from intake.sources.base import SourceError

log = logging.getLogger(__name__)

PROCESSED = ".Processed"
_NAME_TIME = re.compile(r"^(\d{9,11})(?:\.(?:[^.:]*?M(\d{1,6})[^.:]*))?[.:]")
_counter = itertools.count(1)


def _hostname() -> str:
    """The host part of a Maildir name, with the two reserved characters escaped as the spec says."""
    return (socket.gethostname() or "localhost").replace("/", r"\057").replace(":", r"\072")


def unique_name(when: float | None = None) -> str:
    """A Maildir unique name ``<sec>.M<usec>P<pid>Q<n>.<host>``; the time doubles as the delivery time."""
    now = time.time() if when is None else when
    seconds, micros = divmod(round(now * 1_000_000), 1_000_000)
    return f"{seconds}.M{micros}P{os.getpid()}Q{next(_counter)}.{_hostname()}"


def ensure_maildir(root: str | os.PathLike[str]) -> Path:
    path = Path(root)
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def deliver(maildir_path: str | os.PathLike[str], raw: bytes, when: datetime | None = None) -> Path:
    """Write one message the Maildir way: into tmp/, flushed, then renamed into new/.

    A reader therefore never sees half a message. ``when`` (for imported
    saved mail) sets the delivery time recorded in the name and file time.
    """
    root = ensure_maildir(maildir_path)
    stamp = when.timestamp() if when is not None else time.time()
    name = unique_name(stamp)
    tmp = root / "tmp" / name
    with open(tmp, "xb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.utime(tmp, (stamp, stamp))
    target = root / "new" / name
    os.rename(tmp, target)
    return target


def delivery_time(path: Path) -> datetime:
    """When the message arrived: the time in its Maildir name, else the file's mtime."""
    match = _NAME_TIME.match(path.name)
    if match:
        seconds = int(match.group(1))
        micros = int(match.group(2)) if match.group(2) else 0
        return datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=micros)
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _base_name(filename: str) -> str:
    """The unique part of a Maildir file name, without the ``:2,FLAGS`` info suffix."""
    return filename.split(":", 1)[0]


@dataclass(frozen=True)
class _Entry:
    path: Path
    arrived_at: datetime

    @property
    def unique(self) -> str:
        return _base_name(self.path.name)


class MaildirSource:
    """A ``Source`` over one Maildir folder on local disk."""

    def __init__(self, root: str | os.PathLike[str], *, poll_step: float = 0.5, settle_seconds: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.root = ensure_maildir(Path(root).resolve())
        self.mailbox = f"maildir:{self.root}"
        self.poll_step = poll_step
        self.settle_seconds = settle_seconds  # a dropped .eml younger than this may still be being copied
        self._sleep = sleep
        # What the last fetch handed out, and where each was read from: marking it then needs no search
        # of new/ and cur/ (a glob per message made marking a 20,000-message backlog cost as much as reading it).
        self._read_from: dict[str, Path] = {}
        self._more_pending = False

    # -- reading --------------------------------------------------------------------

    def _adopt_dropped_files(self) -> None:
        """Take plain ``*.eml`` files from the root into new/, keeping their mtime as arrival time."""
        now = time.time()
        for path in sorted(self.root.glob("*.eml")):
            try:
                stat = path.lstat()  # never follow a link: it could point anywhere on the machine
            except FileNotFoundError:
                continue
            if not S_ISREG(stat.st_mode) or path.name.startswith(".") or now - stat.st_mtime < self.settle_seconds:
                if S_ISLNK(stat.st_mode):
                    log.warning("maildir %s: %s là liên kết tượng trưng, không lấy", self.root, path.name)
                continue
            target = self.root / "new" / unique_name(stat.st_mtime)
            try:
                os.rename(path, target)
            except FileNotFoundError:  # another process took it first
                continue
            log.info("maildir %s: đã nhận %s thành %s", self.root, path.name, target.name)

    def _unprocessed(self) -> list[_Entry]:
        entries: list[_Entry] = []
        for sub in ("new", "cur"):
            for path in (self.root / sub).iterdir():
                if path.name.startswith(".") or path.is_symlink() or not path.is_file():
                    continue
                try:
                    entries.append(_Entry(path, delivery_time(path)))
                except FileNotFoundError:  # moved by a concurrent reader
                    continue
        entries.sort(key=lambda e: (e.arrived_at, e.unique))
        return entries

    def fetch_new(self, cursors: dict[tuple[str, int | None], int], limit: int) -> Iterator[RawMessage]:
        """Yield unprocessed messages oldest first; a Maildir needs no cursor (processed mail is moved away)."""
        self._more_pending = False
        if limit <= 0:
            return
        try:
            self._adopt_dropped_files()
            entries = self._unprocessed()
        except OSError as exc:
            raise SourceError(f"maildir {self.root}: không liệt kê được thư: {exc.strerror or exc}") from None
        self._more_pending = len(entries) > limit
        self._read_from = {}
        for entry in entries[:limit]:
            try:
                raw = _read_regular(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise SourceError(f"maildir {self.root}: không đọc được {entry.path.name}: "
                                  f"{exc.strerror or exc}") from None
            self._read_from[entry.unique] = entry.path
            yield RawMessage(
                source_key=f"maildir:{entry.unique}",
                raw=raw,
                arrived_at=entry.arrived_at,
                mailbox=self.mailbox,
            )

    # -- marking ----------------------------------------------------------------------

    def _find(self, unique: str) -> Path | None:
        for sub in ("new", "cur"):
            folder = self.root / sub
            exact = folder / unique
            if exact.exists():
                return exact
            for path in folder.glob(f"{glob_escape(unique)}:*"):
                return path
        return None

    def mark_done(self, message: RawMessage) -> None:
        """Move the message into ``.Processed/cur/``; repeating it is harmless."""
        prefix = "maildir:"
        if message.mailbox != self.mailbox or not message.source_key.startswith(prefix):
            raise ValueError(f"{message.source_key} does not come from {self.mailbox}")
        unique = message.source_key[len(prefix):]
        if "/" in unique or unique in ("", ".", ".."):
            raise ValueError(f"not a Maildir message name: {unique!r}")
        processed = ensure_maildir(self.root / PROCESSED)
        source = self._read_from.get(unique)
        if source is None or not source.is_file():  # not read by this fetch, or moved since (a flag change)
            source = self._find(unique)
        if source is None:
            if not any(processed.joinpath("cur").glob(f"{glob_escape(unique)}*")):
                log.warning("maildir %s: %s biến mất trước khi được đánh dấu đã xử lý", self.root, unique)
            return
        info = source.name[len(unique):] or ":2,"  # messages in new/ carry no info suffix yet
        try:
            os.rename(source, processed / "cur" / f"{unique}{info}")
        except FileNotFoundError:  # a concurrent mark_done won the race
            return
        except OSError as exc:
            raise SourceError(f"maildir {self.root}: không chuyển được {unique} sang {PROCESSED}: "
                              f"{exc.strerror or exc}") from None

    # -- waiting ----------------------------------------------------------------------

    def _has_arrivals(self) -> bool:
        """Anything unprocessed that the last fetch did not hand out (or a dropped .eml)."""
        if any(p.is_file() for p in self.root.glob("*.eml")):
            return True
        for sub in ("new", "cur"):
            for path in (self.root / sub).iterdir():
                if not path.name.startswith(".") and _base_name(path.name) not in self._read_from:
                    return True
        return False

    def wait_for_new(self, timeout: float) -> bool:
        """Poll the folder in small steps; True as soon as a message the last fetch did not see appears."""
        if self._more_pending:
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                if self._has_arrivals():
                    return True
            except OSError as exc:
                raise SourceError(f"maildir {self.root}: không theo dõi được thư mới: {exc.strerror or exc}") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._sleep(min(self.poll_step, remaining))

    def close(self) -> None:
        """Nothing is held open between calls."""


def _read_regular(path: Path) -> bytes:
    """The file's bytes, refusing a symbolic link (O_NOFOLLOW) or anything but a regular file,
    even if one was swapped in after the listing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(f"{path.name} is a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise FileNotFoundError(f"{path.name} is not a regular file")
        return fh.read()


def glob_escape(name: str) -> str:
    """Maildir names may contain glob metacharacters only in theory; escape them anyway."""
    return re.sub(r"([*?\[])", r"[\1]", name)
