"""Content-addressed raw store for messages and attachments.

The raw bytes are the evidence: whatever the parser or classifier get
wrong later, a coordinator can always reopen the message exactly as it
arrived. Files are addressed by SHA-256 so a message read twice (a crash
before the server was told) is stored once, and written atomically so a
crash never leaves a half file under a valid name.

Durability costs a disk flush per file and per folder. A backfill writes
thousands of files, so the intake cycle can ask for them in batches
(``deferred_sync``): every file of a fetch is written under a temporary name,
then one pass flushes them all, renames them, and flushes their folders,
before the database commit that records them. The order for each file is the
same as alone (data on disk, then its name, then the commit), so nothing
recorded can point at a missing or half-written file.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reference.text import nfc

FILE_MODE = 0o640
DIR_MODE = 0o750
PRIVATE_DIR_MODE = 0o700
LOCK_MODE = 0o600  # lock files: only the bot's own processes open them
DEFAULT_NAME = "attachment.bin"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Characters Windows refuses in names; coordinators download attachments there.
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", "clock$"} | {
    f"{kind}{n}" for kind in ("com", "lpt") for n in "0123456789¹²³"
}
_BIDI_AND_MARKS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}
_EXTENSION = re.compile(r"^\.[0-9A-Za-z]{1,10}$")


class StoreError(Exception):
    """The store could not keep a blob (disk full, read-only, corrupt file).

    The caller must not mark the message processed: it will be read again.
    """


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    path: Path
    size: int


def _is_invisible(ch: str) -> bool:
    """Control and format characters hide or reorder what a person reads."""
    return ch in _BIDI_AND_MARKS or unicodedata.category(ch) in ("Cc", "Cf")


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and _EXTENSION.match("." + ext):
        return stem, "." + ext
    return name, ""


def _cut_utf8(text: str, max_bytes: int) -> str:
    """Cut on a character boundary so the result is still valid UTF-8."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def sanitize_filename(name: str, max_bytes: int = 150) -> str:
    """A name safe to create on any disk and honest to read.

    Keeps the sender's human name (Vietnamese letters included) because
    coordinators recognise reports by it, but removes everything that could
    escape the folder, hide the real extension (bidi overrides), or be
    refused by Windows when a coordinator downloads the file.
    """
    if not isinstance(name, str):
        name = str(name or "")
    text = nfc(name)
    text = "".join(ch for ch in text if not _is_invisible(ch))
    # Old mailers send full client paths ("C:\\Users\\x\\Báo cáo.docx"): the
    # last component is the name the sender meant.
    parts = [p for p in re.split(r"[/\\]+", text) if p.strip() not in ("", ".", "..")]
    text = parts[-1] if parts else ""
    text = _WINDOWS_FORBIDDEN.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    text = text.lstrip(".")
    if not text:
        return DEFAULT_NAME
    stem, ext = _split_extension(text)
    if stem.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    budget = max(1, max_bytes - len(ext.encode("utf-8")))
    stem = _cut_utf8(stem, budget).rstrip(" .")
    result = (stem + ext) if stem else DEFAULT_NAME
    return result if result.strip(" .") else DEFAULT_NAME


def make_dirs(path: Path | str, mode: int = DIR_MODE) -> Path:
    """``mkdir -p`` where every folder it creates gets exactly ``mode``, whatever the umask.

    ``Path.mkdir(parents=True, mode=...)`` gives the mode to the last folder
    only; the ones above it get 0777 minus the umask, which is 0777 under
    ``umask 0`` (a service manager's default for some units). Folders that
    already exist keep the mode an operator gave them.
    """
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.exists():  # a file in the way is left for mkdir to report ("Not a directory")
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made by someone else meanwhile: theirs to decide
        os.chmod(folder, mode)  # the umask may have taken bits away (or the mode asks for more than it allows)
    return path


def _check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise StoreError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable; skipped where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(name: str) -> None:
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(exc: OSError, target: Path) -> str:
    if exc.errno == errno.ENOSPC:
        why = "disk full"
    elif exc.errno == errno.EROFS:
        why = "file system is read-only"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "permission denied"
    else:
        why = exc.strerror or exc.__class__.__name__
    return f"cannot write {target}: {why}"


class RawStore:
    """Blobs under ``root``: ``messages/ab/cd/<sha>.eml`` and ``attachments/ab/cd/<sha>/<name>``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._real_root = self.root.resolve()
        # Inside deferred_sync(): final path -> temporary file written but not yet flushed nor renamed.
        self._pending: dict[Path, str] | None = None
        self._pending_lock = threading.Lock()

    # ---- paths -------------------------------------------------------
    def message_path(self, sha256: str) -> Path:
        sha = _check_sha(sha256)
        return self.root / "messages" / sha[:2] / sha[2:4] / f"{sha}.eml"

    def attachment_dir(self, sha256: str) -> Path:
        sha = _check_sha(sha256)
        return self.root / "attachments" / sha[:2] / sha[2:4] / sha

    def _contained(self, path: Path) -> Path:
        """Refuse any path that would leave the store, whatever produced it."""
        real = path.resolve()
        if not real.is_relative_to(self._real_root):
            raise StoreError(f"path escapes the store: {path}")
        return path

    # ---- writing -----------------------------------------------------
    def put_message(self, raw: bytes) -> StoredBlob:
        sha = hashlib.sha256(raw).hexdigest()
        path = self._contained(self.message_path(sha))
        self._write_once(path, raw)
        return StoredBlob(sha, path, len(raw))

    def put_attachment(self, data: bytes, name: str) -> StoredBlob:
        sha = hashlib.sha256(data).hexdigest()
        path = self._contained(self.attachment_dir(sha) / sanitize_filename(name))
        self._write_once(path, data)
        return StoredBlob(sha, path, len(data))

    # ---- batched durability ----------------------------------------
    @contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Writes inside wait for ``sync_pending()`` to be flushed and named; unsynced ones are dropped at exit."""
        self._pending = {}
        try:
            yield
        finally:
            with self._pending_lock:
                leftover, self._pending = self._pending, None
            for tmp in (leftover or {}).values():
                Path(tmp).unlink(missing_ok=True)

    def sync_pending(self, each: Callable[..., Iterable[object]] = map) -> None:
        """Make every deferred write durable under its final name: flush all, rename all, flush their folders.

        ``each`` runs the flushes (``map``, or a thread pool's ``map``: flushes issued together are
        committed together by the file system's journal). Raises StoreError (and keeps none of the
        files not yet renamed) when the disk refuses.
        """
        if self._pending is None:
            return
        with self._pending_lock:
            items = list(self._pending.items())
            self._pending.clear()
        renamed = 0
        try:
            list(each(_fsync_file, [tmp for _, tmp in items]))
            for path, tmp in items:
                os.replace(tmp, path)
                renamed += 1
        except OSError as exc:
            for _, tmp in items[renamed:]:
                Path(tmp).unlink(missing_ok=True)
            raise StoreError(_describe(exc, items[min(renamed, len(items) - 1)][0])) from exc
        list(each(_fsync_dir, list({path.parent for path, _ in items})))

    def _write_once(self, path: Path, data: bytes) -> None:
        """Atomic and idempotent: same name means same bytes, so an existing file is kept."""
        if path.is_file() and path.stat().st_size == len(data):
            return
        if self._pending is not None:
            self._write_deferred(path, data)
            return
        directory = path.parent
        tmp_name: str | None = None
        try:
            make_dirs(directory)
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
            try:
                os.fchmod(fd, FILE_MODE)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except BaseException:
                tmp_path = Path(tmp_name)
                tmp_path.unlink(missing_ok=True)
                raise
            os.replace(tmp_name, path)
            tmp_name = None
            _fsync_dir(directory)
        except OSError as exc:
            if tmp_name:
                Path(tmp_name).unlink(missing_ok=True)
            raise StoreError(_describe(exc, path)) from exc

    def _write_deferred(self, path: Path, data: bytes) -> None:
        """Write under a temporary name in the final folder; ``sync_pending`` flushes and renames it."""
        with self._pending_lock:
            if self._pending is not None and path in self._pending:
                return  # the same content already waits under this name
        tmp_name: str | None = None
        try:
            make_dirs(path.parent)
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                os.fchmod(fd, FILE_MODE)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            if tmp_name:
                Path(tmp_name).unlink(missing_ok=True)
            raise StoreError(_describe(exc, path)) from exc
        with self._pending_lock:
            if self._pending is not None and path not in self._pending:
                self._pending[path] = tmp_name
                return
        Path(tmp_name).unlink(missing_ok=True)  # the same content was queued meanwhile, or the batch ended

    def readable_path(self, path: str | os.PathLike[str]) -> str | None:
        """Where the bytes stored under ``path`` can be read now, by this process or a child.

        The final name once flushed; inside ``deferred_sync()`` before that, the
        temporary file they were written to (complete, only not yet flushed).
        Why: the document reader runs in a child process, and a path to hand
        it costs nothing where a copy of a 50 MB attachment sent through a
        pipe raised the peak memory of the whole message by as much.
        """
        final = Path(path)
        if final.is_file():
            return str(final)
        with self._pending_lock:
            tmp = self._pending.get(final) if self._pending is not None else None
        return tmp if tmp and os.path.isfile(tmp) else None

    # ---- reading -----------------------------------------------------
    def exists(self, sha256: str) -> bool:
        try:
            return self.message_path(sha256).is_file()
        except StoreError:
            return False

    def read(self, sha256: str) -> bytes:
        """The stored message, verified against its name so silent corruption is caught."""
        path = self.message_path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"no stored message {sha256}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoreError(f"stored message {sha256} is corrupt (hash mismatch)")
        return data
