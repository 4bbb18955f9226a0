"""One intake cycle: fetch new mail, understand it, record it, then mark it.

The order is the "no mail lost, none processed twice" guarantee:

1. messages recorded earlier but not yet marked on the server (the daemon
   died between commit and marking) are marked first;
2. each new message is stored and understood outside any transaction,
   recorded in ONE transaction, and only after the commit marked processed;
3. a storage or database failure stops the cycle at that message: it stays
   unmarked and is read again next time; later messages wait for it, so the
   UID cursor never skips a message.

Only one cycle runs at a time (a file lock beside the store), and each cycle
takes at most ``cycle_limit`` messages, so a backlog is worked in batches.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parseaddr
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from intake.documents.budget import DocLimits
from intake.limits import Limits
from intake.model import RawMessage
from intake.pipeline import IntakeContext, understand
from intake.sources import Source, SourceError, make_source
from intake.store import RawStore, StoreError
from workflow import models
from workflow.app import App
from workflow.submissions import RecordContext, record

log = logging.getLogger(__name__)


@dataclass
class CycleStats:
    fetched: int = 0
    recorded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    ignored: int = 0
    acks_queued: int = 0
    marked_late: int = 0
    stopped_early: str | None = None
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"fetched {self.fetched}, recorded {self.recorded}, duplicates {self.duplicates}, "
                f"quarantined {self.quarantined}, ignored {self.ignored}, acks queued {self.acks_queued}")
        if self.marked_late:
            text += f", marked after restart {self.marked_late}"
        if self.stopped_early:
            text += f"; stopped early: {self.stopped_early}"
        return text


def limits_from(app: App) -> Limits:
    cfg = app.settings.limits
    mib = 1024 * 1024
    return Limits(
        max_message_bytes=int(cfg.max_message_mb * mib),
        max_part_bytes=int(cfg.max_part_mb * mib),
        max_attachments=cfg.max_attachments,
        zip_max_members=cfg.max_zip_members,
        zip_max_total_bytes=int(cfg.max_zip_total_mb * mib),
    )


def doc_limits_from(app: App) -> DocLimits:
    cfg = app.settings.limits
    return DocLimits(max_pages=cfg.max_doc_pages, max_chars=cfg.max_doc_chars, max_seconds=cfg.max_doc_seconds,
                     containers=limits_from(app))


def intake_context(app: App, roster=None) -> IntakeContext:  # type: ignore[no-untyped-def]
    """Everything `understand` needs, from the configuration."""
    return IntakeContext(
        roster=roster if roster is not None else app.roster,
        campaigns=app.campaigns,
        limits=limits_from(app),
        doc_limits=doc_limits_from(app),
        own_addresses=own_addresses(app),
        own_domain=own_domain(app),
        review_threshold=app.settings.classifier.review_threshold,
    )


def build_source(app: App) -> Source:
    mb = app.settings.mailbox
    if mb.source == "maildir":
        return make_source("maildir", path=mb.maildir)
    return make_source(
        "imap", host=mb.host, port=mb.effective_port, security=mb.security, username=mb.username,
        password=app.config.imap_password or "", folder=mb.folder, processed_folder=mb.processed_folder,
        processed_keyword=mb.processed_keyword, ca_file=mb.ca_file, timeout=mb.timeout, batch_size=mb.batch_size,
        poll_interval=mb.poll_seconds,
    )


def own_addresses(app: App) -> frozenset[str]:
    addresses = {app.settings.smtp.from_address}
    if app.settings.smtp.reply_to:
        addresses.add(parseaddr(app.settings.smtp.reply_to)[1].lower())
    if app.settings.mailbox.source == "imap" and "@" in app.settings.mailbox.username:
        addresses.add(app.settings.mailbox.username.lower())
    return frozenset(a for a in addresses if a)


def own_domain(app: App) -> str:
    return app.settings.smtp.from_address.rpartition("@")[2] or "tdc-intake.invalid"


class IntakeCycle:
    """Runs cycles against one source; safe to call from a scheduler thread."""

    def __init__(self, app: App, source: Source, clock: Callable[[], datetime] | None = None):
        self.app = app
        self.source = source
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.store = RawStore(app.store_root)
        self._thread_lock = threading.Lock()
        Path(app.store_root).mkdir(parents=True, exist_ok=True)
        self._file_lock = FileLock(str(Path(app.store_root) / "intake.lock"))

    def _context(self) -> IntakeContext:
        return intake_context(self.app)

    def _record_context(self, roster) -> RecordContext:  # type: ignore[no-untyped-def]
        reply = parseaddr(self.app.settings.smtp.reply_to or self.app.settings.smtp.from_)[1]
        return RecordContext(roster=roster, campaigns=self.app.campaigns, reply_address=reply,
                             domain=own_domain(self.app), now=self.clock())

    def _cursors(self) -> dict[tuple[str, int | None], int]:
        with self.app.db.sessions() as session:
            rows = session.scalars(select(models.MailboxCursor).where(models.MailboxCursor.mailbox == self.source.mailbox))
            return {(r.mailbox, r.uidvalidity): r.last_uid for r in rows}

    def _mark_pending(self, stats: CycleStats) -> None:
        """Finish what a crash interrupted: recorded but not yet marked on the server."""
        with self.app.db.sessions() as session:
            pending = list(session.execute(
                select(models.Message.id, models.Message.source_key, models.Message.arrived_at,
                       models.Message.uidvalidity, models.Message.uid)
                .where(models.Message.marked_done.is_(False), models.Message.mailbox == self.source.mailbox)
                .order_by(models.Message.id)
            ))
        for row in pending:
            raw = RawMessage(source_key=row.source_key, raw=b"", arrived_at=row.arrived_at,
                             mailbox=self.source.mailbox, uidvalidity=row.uidvalidity, uid=row.uid)
            self.source.mark_done(raw)
            self._set_marked(row.id)
            stats.marked_late += 1

    def _set_marked(self, message_id: int) -> None:
        with self.app.db.transaction() as session:
            session.execute(update(models.Message).where(models.Message.id == message_id).values(marked_done=True))

    def run_once(self, limit: int | None = None, on_message: Callable[[CycleStats], None] | None = None) -> CycleStats:
        """One cycle; returns what it did. Never raises for one bad message or a passing outage."""
        stats = CycleStats()
        if not self._thread_lock.acquire(blocking=False):
            stats.stopped_early = "another cycle is running in this process"
            return stats
        try:
            with self._file_lock.acquire(timeout=0):
                self._run(stats, limit or self.app.settings.mailbox.cycle_limit, on_message)
        except Timeout:
            stats.stopped_early = "another process holds the intake lock"
        finally:
            self._thread_lock.release()
        return stats

    def _run(self, stats: CycleStats, limit: int, on_message: Callable[[CycleStats], None] | None) -> None:
        try:
            self._mark_pending(stats)
            ctx = self._context()
            for raw in self.source.fetch_new(self._cursors(), limit):
                stats.fetched += 1
                if not self._process(raw, ctx, stats):
                    break
                if on_message is not None:
                    on_message(stats)
        except SourceError as exc:
            stats.stopped_early = f"mailbox: {exc}"
            log.warning("intake cycle stopped: mailbox unavailable: %s", exc)
        except SQLAlchemyError as exc:
            stats.stopped_early = f"database: {type(exc).__name__}"
            log.warning("intake cycle stopped: database unavailable: %s", exc.__class__.__name__)

    def _process(self, raw: RawMessage, ctx: IntakeContext, stats: CycleStats) -> bool:
        """Understand, record, mark one message; False stops the cycle (message left for next time)."""
        try:
            understanding = understand(raw, ctx, self.store)
        except StoreError as exc:
            stats.stopped_early = f"storage: {exc}"
            log.error("cannot store message %s (%s); it stays unprocessed on the server and is retried next cycle",
                      raw.source_key, exc)
            return False
        with self.app.db.transaction() as session:
            result = record(session, understanding, self._record_context(ctx.roster))
        if result.duplicate:
            stats.duplicates += 1
        elif result.status == "quarantined":
            stats.quarantined += 1
        elif result.status == "ignored":
            stats.ignored += 1
        else:
            stats.recorded += 1
        stats.acks_queued += int(result.ack_queued)
        self.source.mark_done(raw)
        self._set_marked(result.message_id)
        return True


def open_cycle(app: App) -> IntakeCycle:
    return IntakeCycle(app, build_source(app))
