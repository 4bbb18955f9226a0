"""Decompression-bomb and container checks, run before any reader opens a file.

.docx, .xlsx and .zip attachments are ZIP archives chosen by the sender: a
few kilobytes can expand to gigabytes, member names can point outside a
folder, and an archive can nest archives. Everything here only *looks*:
sizes are read from the central directory and then confirmed by a bounded
streaming read (declared sizes can lie; the CRC check catches the lie), and
nothing is ever written to disk or executed.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from intake.limits import Limits

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CHUNK = 1024 * 1024
_RATIO_MIN_BYTES = 1024 * 1024  # small members compress well legitimately; judge ratio on big ones
_MACRO_EXTENSIONS = {".docm", ".dotm", ".xlsm", ".xltm", ".xlam", ".pptm", ".potm", ".ppsm", ".ppam"}
_DRIVE = re.compile(r"^[A-Za-z]:")


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def is_ole2(data: bytes) -> bool:
    return data[:8] == OLE2_MAGIC


def _unsafe_name(name: str) -> str | None:
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' in path"
    return None


class _Budget:
    """Bytes that may still be decompressed for this whole archive tree."""

    def __init__(self, total: int) -> None:
        self.left = total


def _stream_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, budget: _Budget,
                   keep: bool) -> tuple[int, bytes | None, str | None]:
    """Decompress at most the allowed bytes; returns (bytes seen, data if kept, problem)."""
    cap = min(limits.zip_max_member_bytes, budget.left)
    seen = 0
    kept = bytearray() if keep else None
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(min(_CHUNK, cap - seen + 1))
                if not chunk:
                    break
                seen += len(chunk)
                if kept is not None:
                    kept += chunk
                if seen > cap:
                    budget.left -= seen
                    which = "member" if cap == limits.zip_max_member_bytes else "total"
                    return seen, None, f"{info.filename}: decompresses past the {which} limit"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        budget.left -= seen
        return seen, None, f"{info.filename}: unreadable ({exc})"
    except Exception as exc:  # noqa: BLE001 - zlib/lzma/bz2 errors on crafted streams
        budget.left -= seen
        return seen, None, f"{info.filename}: unreadable ({exc.__class__.__name__})"
    budget.left -= seen
    return seen, bytes(kept) if kept is not None else None, None


def _check(data: bytes, limits: Limits, depth: int, budget: _Budget, prefix: str) -> list[str]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        return [f"{prefix}not a readable zip archive ({exc})"]
    problems: list[str] = []
    if len(infos) > limits.zip_max_members:
        problems.append(f"{prefix}{len(infos)} members, over the limit of {limits.zip_max_members}")
        infos = infos[: limits.zip_max_members]
    declared_total = sum(i.file_size for i in infos)
    if declared_total > limits.zip_max_total_bytes:
        problems.append(f"{prefix}declares {declared_total} uncompressed bytes, over {limits.zip_max_total_bytes}")
    if declared_total > _RATIO_MIN_BYTES and declared_total / max(len(data), 1) > limits.zip_max_ratio:
        problems.append(f"{prefix}compression ratio {declared_total / max(len(data), 1):.0f}, over "
                        f"{limits.zip_max_ratio:g}")
    with zf:
        for info in infos:
            problems.extend(_check_member(zf, info, limits, depth, budget, prefix))
            if budget.left <= 0:
                problems.append(f"{prefix}stopped: total decompressed size over {limits.zip_max_total_bytes}")
                break
    return problems


def _check_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, depth: int,
                  budget: _Budget, prefix: str) -> list[str]:
    name = info.filename
    problems: list[str] = []
    unsafe = _unsafe_name(name)
    if unsafe:
        problems.append(f"{prefix}{name}: {unsafe}")
    if info.flag_bits & 0x1:
        return problems + [f"{prefix}{name}: encrypted member"]
    if info.is_dir():
        return problems
    if info.file_size > limits.zip_max_member_bytes:
        return problems + [f"{prefix}{name}: declares {info.file_size} bytes, over {limits.zip_max_member_bytes}"]
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > _RATIO_MIN_BYTES and ratio > limits.zip_max_ratio:
        return problems + [f"{prefix}{name}: compression ratio {ratio:.0f}, over {limits.zip_max_ratio:g}"]
    nested = name.lower().endswith((".zip", ".docx", ".xlsx", ".pptx", ".jar"))
    seen, content, problem = _stream_member(zf, info, limits, budget, keep=nested)
    if problem:
        return problems + [prefix + problem]
    if seen > _RATIO_MIN_BYTES and seen / max(info.compress_size, 1) > limits.zip_max_ratio:
        problems.append(f"{prefix}{name}: real compression ratio {seen / max(info.compress_size, 1):.0f}, over "
                        f"{limits.zip_max_ratio:g}")
    if content is not None and is_zip(content):
        if depth + 1 > limits.zip_max_nesting:
            problems.append(f"{prefix}{name}: archive nested deeper than {limits.zip_max_nesting}")
        else:
            problems.extend(_check(content, limits, depth + 1, budget, f"{prefix}{name}/"))
    return problems


def check_zip(data: bytes, limits: Limits | None = None) -> list[str]:
    """Problems that make a ZIP-based file unsafe to open; empty means it may be read."""
    limits = limits or Limits()
    return _check(data, limits, depth=0, budget=_Budget(limits.zip_max_total_bytes), prefix="")


def is_encrypted_office(data: bytes) -> bool:
    """A password-protected .docx/.xlsx is an OLE2 file holding an EncryptedPackage stream.

    Directory entry names in a compound file are UTF-16LE, so the stream name
    can be found without an OLE parser.
    """
    return is_ole2(data) and "EncryptedPackage".encode("utf-16-le") in data


def has_macros(name: str, data: bytes) -> bool:
    """Macro-enabled Office files are reported to coordinators, never run."""
    if PurePosixPath(name.lower()).suffix in _MACRO_EXTENSIONS:
        return True
    if is_zip(data):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                return any(n.lower().endswith("vbaproject.bin") for n in zf.namelist())
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            return False
    if is_ole2(data):
        return "_VBA_PROJECT".encode("utf-16-le") in data or b"_VBA_PROJECT" in data
    return False


def inspect(name: str, data: bytes, limits: Limits | None = None) -> list[str]:
    """All container notes for one attachment, for the documents stage to record."""
    notes: list[str] = []
    if is_zip(data):
        notes.extend(check_zip(data, limits))
    if is_encrypted_office(data):
        notes.append("password-protected Office document (EncryptedPackage)")
    if has_macros(name, data):
        notes.append("contains macros (not executed)")
    return notes
