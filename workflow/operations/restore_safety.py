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
  (:func:`release_problems`: attachments only from inside the store, every
  recipient and Cc through the one gate every answer passes,
  ``workflow.season.recipients.blocked_reason``). ``--restored`` releases in
  bulk only mail to addresses the bot could have written to by itself
  (:func:`known_recipients`: the configured roster, the coordinators, the
  contact book, a verified sender of a message in the store); any other stays
  held with the reason, for a person to look at and release by its id.
"""
from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from intake.sender.identity import PASS
from notifier.labels import outbox_state_label
from reference.addresses import normalise_address
from workflow.db import models
from workflow.season.recipients import blocked_reason

if TYPE_CHECKING:
    from reference.roster import Roster
    from workflow.app import App

GiB = 1024 ** 3
MiB = 1024 ** 2
HELD_REASON = ("khôi phục từ bản sao lưu: thư chưa gửi được giữ lại, chờ cán bộ kiểm tra và cho gửi "
               "(tdc-bot outbox release)")
UNSENT_STATES = (models.PENDING, models.SENDING)
# Held by a restore or by a cap (suppressed), or waiting for the hourly cap on strangers (held): a coordinator
# who has looked at one may let it go.
RELEASABLE = frozenset({models.SUPPRESSED, models.HELD})
UNKNOWN_RECIPIENT = ("hệ thống chưa từng có lý do viết tới {address} (không thuộc danh sách đơn vị, điều phối "
                     "viên, danh bạ, cũng không phải người gửi đã xác thực của thư đã lưu): thư vẫn được giữ lại; "
                     "nếu đúng là cần gửi, kiểm tra rồi cho gửi riêng thư này bằng `tdc-bot outbox release {id}`")


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
    table = models.table_of(models.OutboxEmail)
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


@dataclass(frozen=True)
class KnownRecipients:
    """Addresses the bot could have written to by itself, so mail to them may leave without a person's look.

    ``roster`` is the configured one (the files in config/, not the restored
    database); ``addresses`` are the coordinators, the confirmed contacts (taught
    addresses among them), and the verified senders of messages in the store.
    """

    roster: Roster
    years: tuple[int, ...]
    addresses: frozenset[str]

    def knows(self, address: str) -> bool:
        return address in self.addresses or any(self.roster.by_address(address, year) for year in self.years)


def known_recipients(app: App, session: Session) -> KnownRecipients:
    """Who the bot writes to: the roster's addresses and domains, coordinators, the book, verified senders."""
    from workflow.season.contacts import confirmed_addresses
    from workflow.season.digest import coordinator_addresses  # the digest's own list; imported here, it is heavy

    addresses = set(coordinator_addresses(app)) | set(confirmed_addresses(session))
    verified = session.execute(select(models.Message.from_addr, models.Message.raw_path)
                               .where(models.Message.sender_auth == PASS))
    for sender, raw_path in verified:
        if raw_path and _inside(raw_path, app.store_root):  # a message we hold, not a row alone
            addresses.add(sender)
    normal = {normalise_address(a or "") for a in addresses}
    return KnownRecipients(app.roster_base, tuple(sorted(app.campaigns)), frozenset(a for a in normal if a))


def release_problems(row: models.OutboxEmail, store_root: Path, own_addresses: frozenset[str],
                     session: Session, known: KnownRecipients | None = None) -> list[str]:
    """Why ``row`` must not be sent as it is (empty list: it may be sent).

    With ``known`` (a bulk release), a recipient the bot had no reason to
    write to is a problem too.
    """
    problems: list[str] = []
    for attachment in row.attachments or []:
        path = str(attachment.get("path", "")) if isinstance(attachment, dict) else ""
        if not path or not _inside(path, store_root):
            problems.append(f"tệp đính kèm ngoài thư mục lưu trữ: {path or '(trống)'}")
    recipients = [r for r in (row.recipients or []) if isinstance(r, str)]
    if not recipients:
        problems.append("không có người nhận")
    for recipient in [*recipients, *[c for c in (row.cc or []) if isinstance(c, str)]]:
        reason = blocked_reason(session, recipient, own_addresses)
        if reason is not None:
            problems.append(f"người nhận bị chặn: {reason}")
            continue
        address = normalise_address(recipient)
        if known is not None and address is not None and not known.knows(address):
            problems.append(UNKNOWN_RECIPIENT.format(address=address, id=row.id))
    return problems


def release(session: Session, ids: list[int] | None, store_root: Path, own_addresses: frozenset[str],
            known: KnownRecipients | None = None) -> list[dict[str, Any]]:
    """Release held emails (all held by a restore when ``ids`` is None) that pass the checks.

    ``known`` is required for the bulk release of everything a restore held:
    only mail to addresses the bot could have written to goes out that way.
    """
    if ids is None:
        if known is None:
            raise ValueError("releasing everything a restore held needs the known recipients")
        query = select(models.OutboxEmail).where(models.OutboxEmail.state == models.SUPPRESSED,
                                                 models.OutboxEmail.last_error == HELD_REASON)
        rows: list[models.OutboxEmail | int] = list(session.scalars(query.order_by(models.OutboxEmail.id)))
    else:
        found = {r.id: r for r in session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.id.in_(ids)))}
        rows = [found.get(i) or i for i in dict.fromkeys(ids)]
    return [_release_one(row, store_root, own_addresses, session, known if ids is None else None) for row in rows]


def _release_one(row: models.OutboxEmail | int, store_root: Path, own_addresses: frozenset[str], session: Session,
                 known: KnownRecipients | None) -> dict[str, Any]:
    """One email let go (state pending again) if it is held and passes the checks; else why not.

    An id the outbox does not have, or an email that is not held (already
    sent, waiting, failed), is named as such: "released 0/0" said nothing.
    """
    if isinstance(row, int):
        return {"id": row, "kind": "", "recipients": [], "cc": [], "released": False,
                "problems": [f"hộp thư đi không có thư #{row}"]}
    if row.state not in RELEASABLE:
        problems = [f"thư #{row.id} không bị giữ lại: đang ở trạng thái “{outbox_state_label(row.state)}”"]
    else:
        problems = release_problems(row, store_root, own_addresses, session, known)
    if not problems:
        if row.state == models.HELD:
            row.to_stranger = False  # a coordinator vouched for this recipient: the hourly cap no longer holds it
        row.state = models.PENDING
        row.last_error = None
        row.next_attempt_at = datetime.now(UTC)  # due at the next flush, not when the cap would have let it
    return {"id": row.id, "kind": row.kind, "recipients": list(row.recipients or []),
            "cc": list(row.cc or []), "released": not problems, "problems": problems}
