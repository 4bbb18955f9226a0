"""Zip attachments: each member read as a document of its own, after bomb checks.

Provinces zip the report with its annexes (sometimes a zip of zips). The
whole archive is checked by intake.documents.containers before anything is opened.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

from intake.documents.budget import DocLimits
from intake.documents.containers import check_zip
from intake.model import DocumentText

ReadFn = Callable[[str, str, bytes, DocLimits, int], list[DocumentText]]
_JUNK = ("__MACOSX/", "Thumbs.db", ".DS_Store", "desktop.ini")


def member_name(info: zipfile.ZipInfo) -> str:
    """Names without the UTF-8 flag were decoded as cp437 by zipfile; most
    Vietnamese senders' tools really wrote UTF-8 (or cp1258)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", "replace")
    for codec in ("utf-8", "cp1258"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def container_problems(data: bytes, limits: DocLimits) -> list[str]:
    return check_zip(data, limits.containers)


def unreadable_only(problems: list[str]) -> bool:
    """A damaged archive (not a bomb): reported as a broken file, not as a threat."""
    return bool(problems) and all("not a readable zip archive" in p for p in problems)


def container_refusal(filename: str, kind: str, problems: list[str]) -> DocumentText:
    if unreadable_only(problems):
        return DocumentText(filename=filename, format=kind, notes=["không đọc được tệp: tệp nén hỏng"],
                            needs_review=f"Không đọc được tệp {kind.upper()} (tệp hỏng hoặc sai định dạng)")
    return DocumentText(
        filename=filename, format=kind,
        notes=["tệp nén bất thường, không mở: " + "; ".join(problems[:5])],
        needs_review="Tệp nén bất thường (có thể là bom nén), không mở",
    )


def read_zip(filename: str, data: bytes, limits: DocLimits, depth: int, read: ReadFn) -> list[DocumentText]:
    problems = container_problems(data, limits)
    if problems:
        return [container_refusal(filename, "zip", problems)]
    if depth >= limits.zip_depth:
        return [DocumentText(filename=filename, format="zip",
                             notes=[f"tệp nén lồng quá {limits.zip_depth} cấp, không mở"])]
    docs: list[DocumentText] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = member_name(info)
            if info.is_dir() or name.startswith(_JUNK) or PurePosixPath(name).name in _JUNK:
                continue
            label = f"{filename}/{name}"
            if info.flag_bits & 0x1:
                docs.append(DocumentText(filename=label, format="zip-member",
                                         notes=["tệp trong nén có mật khẩu, không đọc được"],
                                         needs_review="Tệp nén có mật khẩu"))
                continue
            member = archive.read(info)  # sizes already bounded by check_zip
            docs.extend(read(label, "", member, limits, depth + 1))
    if not docs:
        docs.append(DocumentText(filename=filename, format="zip", notes=["tệp nén không có tệp nào"]))
    return docs
