"""A backup archive is untrusted input: bounded unpacking, and no mail leaves on its word alone.

Anyone can hand an operator a ``.tar.gz``; its manifest checksums only prove
the archive is self-consistent, not that it came from us. So:

* **Unpacking is bounded while it streams** (:func:`extract_bounded`): each
  member and the whole archive have a size cap checked before and while
  bytes are written, the number of members is capped, and only regular
  files and folders under known names are accepted. A 3 MB archive that
  would expand to 3 GB stops at the cap, with nothing left behind.
* **Restored mail waits for a person** (:func:`hold_restored_outbox`): every
  outbox row that was not yet sent comes back ``suppressed`` with the reason;
  ``tdc-bot outbox release`` sends it after re-checking it
  (:func:`release_problems`: attachments only from inside the store,
  recipients plain addresses, never a machine or the bot itself).
"""
from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from workflow.db import models

GiB = 1024 ** 3
MiB = 1024 ** 2
HELD_REASON = ("khôi phục từ bản sao lưu: thư chưa gửi được giữ lại, chờ cán bộ kiểm tra và cho gửi "
               "(tdc-bot outbox release)")
UNSENT_STATES = (models.PENDING, models.SENDING)
MACHINE_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply",
                                 "do-not-reply", "bounce", "bounces", "root"})


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps for unpacking one archive. A real store is mail (≤ 60 MiB a message) plus the database."""

    max_member_bytes: int = 4 * GiB  # the SQLite database is the largest member
    max_total_bytes: int = 64 * GiB
    max_ratio: float = 200.0  # unpacked ÷ archive bytes: mail does not compress 200×; a bomb does
    min_ratio_floor: int = 256 * MiB  # small archives may always unpack this much
    max_members: int = 2_000_000


class ArchiveTooLarge(Exception):
    """The archive unpacks beyond a cap; the text says which and by how much."""


def extract_bounded(archive: Path, into: Path, accept: Callable[[tarfile.TarInfo], None],
                    limits: ArchiveLimits | None = None) -> None:
    """Stream ``archive`` into ``into`` member by member, enforcing the caps as bytes are written.

    ``accept`` raises for a member whose name or type is not allowed. Raises
    ArchiveTooLarge when a cap is reached; the caller removes ``into``.
    """
    limits = limits or ArchiveLimits()
    total_cap = min(limits.max_total_bytes,
                    max(limits.min_ratio_floor, int(archive.stat().st_size * limits.max_ratio)))
    total = 0
    count = 0
    root = into.resolve()
    with tarfile.open(archive, "r|gz") as tar:  # a stream: no member is read twice, nothing is scanned ahead
        for member in tar:
            count += 1
            if count > limits.max_members:
                raise ArchiveTooLarge(f"quá {limits.max_members} mục trong tệp sao lưu")
            accept(member)
            target = (root / member.name).resolve()
            if target != root and root not in target.parents:
                raise ArchiveTooLarge(f"mục {member.name!r} nằm ngoài thư mục giải nén")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True, mode=0o700)
                continue
            if member.issparse() or not member.isreg():
                raise ArchiveTooLarge(f"mục {member.name!r} không phải tệp thường")
            if member.size > limits.max_member_bytes:
                raise ArchiveTooLarge(f"mục {member.name!r} dài {member.size} byte, quá giới hạn "
                                      f"{limits.max_member_bytes} byte cho một mục")
            if total + member.size > total_cap:
                raise ArchiveTooLarge(f"tệp sao lưu giải nén ra hơn {total_cap} byte (giới hạn: "
                                      f"{limits.max_ratio:g} lần kích thước tệp, tối đa {limits.max_total_bytes} byte)")
            source = tar.extractfile(member)
            if source is None:
                raise ArchiveTooLarge(f"không đọc được mục {member.name!r}")
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            written = 0
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    if written > member.size:  # never trust the header alone
                        raise ArchiveTooLarge(f"mục {member.name!r} dài hơn kích thước khai báo")
                    out.write(chunk)
            total += written


def stored_paths_inside(table: str, row: dict[str, Any], store_root: Path) -> dict[str, Any]:
    """Refuse a restored row whose stored file lies outside the store.

    ``compile`` reads these paths back: a crafted archive must not point them
    at /etc/shadow. Raises UnsafeArchive, which the caller turns into a refusal.
    """
    column = {"messages": "raw_path", "attachments": "path"}.get(table)
    value = row.get(column) if column else None
    if value:
        root = os.path.normpath(str(store_root.resolve()))
        path = os.path.normpath(value if os.path.isabs(value) else os.path.join(os.getcwd(), value))
        resolved_root = os.path.normpath(os.path.abspath(str(store_root)))
        if not any(path.startswith(r + os.sep) for r in (root, resolved_root)):
            raise UnsafeArchive(f"{table}.{column} trỏ ra ngoài thư mục lưu trữ: {value!r}")
    return row


class UnsafeArchive(ValueError):
    """A restored row points outside the store."""


def hold_restored_outbox(conn: Connection) -> int:
    """Every restored email not yet sent becomes ``suppressed`` until a coordinator releases it."""
    table = models.OutboxEmail.__table__
    result = conn.execute(update(table).where(table.c.state.in_(UNSENT_STATES))
                          .values(state=models.SUPPRESSED, last_error=HELD_REASON))
    return int(result.rowcount or 0)


def _inside(path: str, root: Path) -> bool:
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    base = root.resolve()
    return resolved.is_file() and base in resolved.parents


def release_problems(row: models.OutboxEmail, store_root: Path, own_addresses: frozenset[str]) -> list[str]:
    """Why ``row`` must not be sent as it is (empty list: it may be sent)."""
    problems: list[str] = []
    for attachment in row.attachments or []:
        path = str(attachment.get("path", "")) if isinstance(attachment, dict) else ""
        if not path or not _inside(path, store_root):
            problems.append(f"tệp đính kèm ngoài thư mục lưu trữ: {path or '(trống)'}")
    recipients = [r for r in (row.recipients or []) if isinstance(r, str)]
    if not recipients:
        problems.append("không có người nhận")
    for recipient in recipients:
        parsed = getaddresses([recipient])
        if len(parsed) != 1 or "@" not in parsed[0][1]:
            problems.append(f"địa chỉ người nhận không hợp lệ: {recipient!r}")
            continue
        address = parsed[0][1].lower()
        local = address.rsplit("@", 1)[0]
        if address in own_addresses:
            problems.append(f"người nhận là địa chỉ của chính hệ thống: {address}")
        elif local in MACHINE_LOCAL_PARTS:
            problems.append(f"người nhận là địa chỉ máy: {address}")
    return problems


def release(session: Session, ids: list[int] | None, store_root: Path,
            own_addresses: frozenset[str]) -> list[dict[str, Any]]:
    """Release held emails (all held by a restore when ``ids`` is None) that pass the checks."""
    query = select(models.OutboxEmail).where(models.OutboxEmail.state == models.SUPPRESSED)
    if ids is None:
        query = query.where(models.OutboxEmail.last_error == HELD_REASON)
    else:
        query = query.where(models.OutboxEmail.id.in_(ids))
    results = []
    for row in session.scalars(query.order_by(models.OutboxEmail.id)):
        problems = release_problems(row, store_root, own_addresses)
        if not problems:
            row.state = models.PENDING
            row.last_error = None
        results.append({"id": row.id, "kind": row.kind, "recipients": list(row.recipients or []),
                        "released": not problems, "problems": problems})
    return results
