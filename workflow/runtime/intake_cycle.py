"""One intake cycle: fetch new mail, understand it, record it, then mark it.

The order is the "no mail lost, none processed twice" guarantee:

1. messages recorded earlier but not yet marked on the server (the daemon
   died between commit and marking) are marked first;
2. each new message is stored and understood outside any transaction,
   then recorded in ONE transaction together with the rest of its batch
   (at most one IMAP fetch's worth), and only after the commit marked
   processed (one MOVE/STORE for the batch where the source can);
3. a storage failure stops the cycle at that message, a database failure
   at that batch: it stays unmarked and is read again next time; later
   messages wait for it, so the UID cursor never skips a message.

Only one cycle runs at a time (a file lock beside the store), and each cycle
takes at most ``cycle_limit`` messages, so a backlog is worked in batches.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import func, literal, select, union_all, update
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from intake.documents.budget import DocLimits
from intake.limits import Limits
from intake.machine.junk import RspamdClient
from intake.model import RawMessage
from intake.pipeline import IntakeContext, Understanding, known_delivery, last_resort, understand
from intake.sender.identity import raw_fingerprint
from intake.sources import Source, SourceError, make_source
from intake.store import LOCK_MODE, RawStore, StoreError, make_dirs
from reference.roster import Roster
from workflow.app import App
from workflow.db import models
from workflow.season.message_rows import RecordResult
from workflow.season.submissions import RecordContext, record, record_again

log = logging.getLogger(__name__)

# The database itself is unusable (down, restarting, connection lost): stop the cycle and retry later.
# Any other error is about one message (a value the database refuses, a bug) and is handled per message.
OUTAGE = (OperationalError, InterfaceError, DisconnectionError)

# Understanding waits on the disk (fsync per stored file); a few threads overlap the waits.
UNDERSTAND_THREADS = 4
# Strangers' deferred files are read beside the cycle on fewer threads, so new mail keeps CPU to be read at once.
DEFERRED_THREADS = 2
# A fetch holding more raw bytes than this is understood one message at a time: a message being
# read holds about twice its size (raw bytes plus decoded attachments), so four at once would
# multiply the peak memory of a mailbox with large attachments.
SERIAL_FROM_BYTES = 32 * 1024 * 1024


@dataclass
class CycleStats:
    fetched: int = 0
    recorded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    ignored: int = 0
    junk: int = 0
    read_later: int = 0  # strangers' messages whose attachments were read after the known senders
    acks_queued: int = 0
    marked_late: int = 0
    stopped_early: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_data(self) -> dict[str, object]:
        """The cycle as data: what is stored for `status` and rendered in words by notifier.labels.job_summary."""
        return {"kind": "intake", "fetched": self.fetched, "recorded": self.recorded, "duplicates": self.duplicates,
                "quarantined": self.quarantined, "ignored": self.ignored, "junk": self.junk,
                "read_later": self.read_later, "acks_queued": self.acks_queued, "marked_late": self.marked_late,
                "stopped": self.stopped_early}

    def words(self) -> str:
        from notifier.labels import intake_summary

        return intake_summary(self.as_data())

    def summary(self) -> str:
        text = (f"fetched {self.fetched}, recorded {self.recorded}, duplicates {self.duplicates}, "
                f"quarantined {self.quarantined}, ignored {self.ignored}, acks queued {self.acks_queued}")
        if self.junk:
            text += f", junk {self.junk}"
        if self.read_later:
            text += f", read later {self.read_later}"
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
        message_seconds=cfg.message_seconds,
        message_memory_bytes=int(cfg.message_memory_mb * mib),
        max_parts=cfg.max_parts,
        max_header_lines=cfg.max_header_lines,
        max_open_multiparts=cfg.max_open_multiparts,
        max_body_line_checks=cfg.max_body_line_checks,
        max_pixels=int(cfg.max_page_megapixels * 1_000_000),
    )


def doc_limits_from(app: App) -> DocLimits:
    cfg = app.settings.limits
    return DocLimits(max_pages=cfg.max_doc_pages, max_chars=cfg.max_doc_chars, max_seconds=cfg.max_doc_seconds,
                     containers=limits_from(app))


def intake_context(app: App, roster: Roster | None = None) -> IntakeContext:
    """Everything `understand` needs, from the configuration."""
    return IntakeContext(
        roster=roster if roster is not None else app.roster,
        campaigns=app.campaigns,
        limits=limits_from(app),
        doc_limits=doc_limits_from(app),
        own_addresses=app.own_addresses(),
        own_domain=app.own_domain,
        review_threshold=app.settings.classifier.review_threshold,
        trusted_authserv_ids=app.settings.mailbox.trusted_authserv_ids or None,
        trusted_received_by=app.settings.mailbox.trusted_hosts,
        junk_trust=frozenset(app.settings.junk.trust_headers),
        rspamd=rspamd_client(app),
    )


def record_context(app: App, roster: Roster, now: datetime) -> RecordContext:
    """What recording needs besides the message, as the daemon sees it."""
    return RecordContext(roster=roster, campaigns=app.campaigns, reply_address=app.settings.smtp.reply_address,
                         domain=app.own_domain, now=now, own_addresses=app.own_addresses())


def rspamd_client(app: App) -> RspamdClient | None:
    """The configured rspamd (``[junk] rspamd_url``), or None: no filter is asked."""
    junk = app.settings.junk
    if not junk.rspamd_url:
        return None
    password = os.environ.get(junk.rspamd_password_env) if junk.rspamd_password_env else None
    return RspamdClient(junk.rspamd_url, junk.timeout, password, frozenset(a.lower() for a in junk.rspamd_junk_actions))


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


def _internal_error(exc: BaseException) -> str:
    """The quarantine reason of a message that broke the bot: the error's type, never its text."""
    return (f"lỗi nội bộ khi xử lý thư ({type(exc).__name__}); thư gốc được giữ nguyên, cần cán bộ xem")


class _Later:
    """Work run only when its result is asked for: the in-thread, one-at-a-time twin of a Future."""

    def __init__(self, func: Callable[..., Understanding], *args: object):
        self._call = lambda: func(*args)

    def result(self) -> Understanding:
        return self._call()

    def cancel(self) -> bool:
        return True


class IntakeCycle:
    """Runs cycles against one source; safe to call from a scheduler thread."""

    def __init__(self, app: App, source: Source, clock: Callable[[], datetime] | None = None):
        self.app = app
        self.source = source
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store = RawStore(app.store_root)
        self._thread_lock = threading.Lock()
        make_dirs(app.store_root)
        self._file_lock = FileLock(str(Path(app.store_root) / "intake.lock"), mode=LOCK_MODE)
        # Reading deferred mail beside the cycle: its own locks, and its own store object, whose writes are
        # synced at once (the cycle's store holds writes back for the batch's one flush: store.deferred_sync).
        self._deferred_thread_lock = threading.Lock()
        self._deferred_file_lock = FileLock(str(Path(app.store_root) / "deferred.lock"), mode=LOCK_MODE)
        self._deferred_store = RawStore(app.store_root)

    def _context(self) -> IntakeContext:
        return dataclasses.replace(intake_context(self.app), defer_strangers=True)

    def _record_context(self, roster: Roster) -> RecordContext:
        return record_context(self.app, roster, self.clock())

    def _cursors(self) -> dict[tuple[str, int | None], int]:
        with self.app.db.sessions() as session:
            cursor = models.MailboxCursor
            rows = session.scalars(select(cursor).where(cursor.mailbox == self.source.mailbox))
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
            self._set_marked([row.id])
            stats.marked_late += 1

    def _set_marked(self, message_ids: list[int]) -> None:
        with self.app.db.transaction() as session:
            session.execute(update(models.Message).where(models.Message.id.in_(message_ids)).values(marked_done=True))

    def run_once(self, limit: int | None = None, on_message: Callable[[CycleStats], None] | None = None,
                 read_deferred: bool = True) -> CycleStats:
        """One cycle; returns what it did. Never raises for one bad message or a passing outage.

        ``read_deferred=False`` leaves strangers' deferred files to :meth:`read_deferred`, which the
        daemon runs beside its cycles, so a report arriving meanwhile is not held behind them.
        """
        stats = CycleStats()
        if not self._thread_lock.acquire(blocking=False):
            stats.stopped_early = "một chu trình nhận thư khác đang chạy trong tiến trình này"
            return stats
        try:
            with self._file_lock.acquire(timeout=0):
                self._run(stats, limit or self.app.settings.mailbox.cycle_limit, on_message, read_deferred)
        except Timeout:
            stats.stopped_early = "một tiến trình khác đang giữ khóa nhận thư"
        finally:
            self._thread_lock.release()
        return stats

    def _run(self, stats: CycleStats, limit: int, on_message: Callable[[CycleStats], None] | None,
             read_deferred: bool) -> None:
        try:
            self._mark_pending(stats)
            ctx = self._context()
            messages = self.source.fetch_new(self._cursors(), limit)
            size = self.app.settings.mailbox.batch_size
            with ThreadPoolExecutor(max_workers=UNDERSTAND_THREADS, thread_name_prefix="understand") as pool, \
                    self.store.deferred_sync():
                # islice takes exactly one fetch's worth without asking the source for the next one.
                while chunk := list(islice(messages, size)):
                    batch = self._understand_all(pool, chunk, ctx, stats)
                    if batch and not self._sync_store(stats, pool):
                        break
                    if batch:
                        self._record_batch(batch, ctx, stats, on_message)
                    if len(batch) < len(chunk):
                        break
                if stats.stopped_early is None and read_deferred:
                    self._read_deferred_here(pool, ctx, stats, limit)
        except SourceError as exc:
            stats.stopped_early = f"hộp thư: {exc}"
            log.warning("lượt nhận thư dừng: không dùng được hộp thư: %s", exc)
        except SQLAlchemyError as exc:
            stats.stopped_early = f"cơ sở dữ liệu không dùng được ({type(exc).__name__})"
            log.warning("lượt nhận thư dừng: không dùng được cơ sở dữ liệu: %s", exc.__class__.__name__)

    def _sync_store(self, stats: CycleStats, pool: ThreadPoolExecutor) -> bool:
        """The batch's raw files flushed and named (intake/store.py) before its commit; False stops the cycle."""
        try:
            self.store.sync_pending(pool.map)
        except StoreError as exc:
            stats.stopped_early = f"kho lưu trữ: {exc}"
            log.error("không lưu được một loạt thư (%s); thư vẫn nằm trên máy chủ, chưa xử lý, và được thử lại "
                      "ở lượt sau", exc)
            return False
        return True

    def _understand_all(self, pool: ThreadPoolExecutor, chunk: list[RawMessage], ctx: IntakeContext,
                        stats: CycleStats) -> list[Understanding]:
        """Store and understand a fetch's worth, in order; stops at the first storage failure.

        Why threads: storing a message waits for the disk (an fsync per file),
        and those waits overlap; the results are taken in arrival order, so
        what is recorded is always an unbroken run of the oldest messages.
        A message after a failed one may already be stored, which is harmless
        (the store is content-addressed) and it is read again next cycle.
        """
        prints = [raw_fingerprint(raw.raw) for raw in chunk]
        shas = [hashlib.sha256(raw.raw).hexdigest() for raw in chunk]
        known_prints, known_shas = self._known(set(prints), set(shas))
        serial = sum(len(raw.raw) for raw in chunk) > SERIAL_FROM_BYTES
        futures: list[Future[Understanding] | _Later] = []
        for raw, fingerprint, sha in zip(chunk, prints, shas, strict=True):
            # Delivered again (same fingerprint), or the very bytes of a recorded message (read again after a
            # crash, or a row older than its fingerprint): stored and audited, never read again.
            twin = known_shas.get(sha, known_prints.get(fingerprint))
            if twin is not None:
                futures.append(_Later(known_delivery, raw, self.store, twin, fingerprint))
            elif serial:
                futures.append(_Later(understand, raw, ctx, self.store, fingerprint))
            else:
                futures.append(pool.submit(understand, raw, ctx, self.store, fingerprint))
        done: list[Understanding] = []
        for raw, future in zip(chunk, futures, strict=False):
            stats.fetched += 1
            try:
                try:
                    done.append(future.result())
                except StoreError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any fault of one message: keep it, go on
                    log.exception("lỗi khi đọc hiểu thư %s; ghi thư vào mục cách ly", raw.source_key)
                    done.append(last_resort(raw, self.store, _internal_error(exc)))
            except StoreError as exc:
                stats.stopped_early = f"kho lưu trữ: {exc}"
                log.error("không lưu được thư %s (%s); thư vẫn nằm trên máy chủ, chưa xử lý, và được thử lại ở lượt "
                          "sau",
                          raw.source_key, exc)
                for later in futures:
                    later.cancel()
                break
        return done

    def _read_deferred_here(self, pool: ThreadPoolExecutor, ctx: IntakeContext, stats: CycleStats, limit: int) -> None:
        """The deferred reading inside this cycle (`run --once`), unless a daemon's reader is at it."""
        try:
            with self._deferred_file_lock.acquire(timeout=0):
                self._read_deferred(pool, self.store, ctx, stats, limit)
        except Timeout:
            log.info("thư đọc sau đang được một tiến trình khác đọc; lượt này bỏ qua")

    def read_deferred(self, limit: int | None = None, stop: Callable[[], bool] | None = None) -> CycleStats | None:
        """Read the strangers' deferred files, beside the cycle; None when another reader is at it.

        Why beside: their reading can spend the whole per-message budget each,
        and a report that arrives meanwhile must be read and acknowledged by
        the next cycle, not after them (issue 21 §5). The rows are recorded and
        marked already, so nothing waits but the reading; each is settled in its
        own transaction, and the cross-process lock keeps `run --once` and a
        daemon from reading the same message at once.
        """
        if not self._deferred_thread_lock.acquire(blocking=False):
            return None
        stats = CycleStats()
        try:
            with self._deferred_file_lock.acquire(timeout=0), \
                    ThreadPoolExecutor(max_workers=DEFERRED_THREADS, thread_name_prefix="read-later") as pool:
                self._read_deferred(pool, self._deferred_store, self._context(), stats,
                                    limit or self.app.settings.mailbox.cycle_limit, stop)
        except Timeout:
            return None
        except SourceError as exc:  # never the source here, but the same outage words as a cycle
            stats.stopped_early = f"hộp thư: {exc}"
        except SQLAlchemyError as exc:
            stats.stopped_early = f"cơ sở dữ liệu không dùng được ({type(exc).__name__})"
            log.warning("đọc sau dừng: không dùng được cơ sở dữ liệu: %s", exc.__class__.__name__)
        finally:
            self._deferred_thread_lock.release()
        return stats

    def _read_deferred(self, pool: ThreadPoolExecutor, store: RawStore, ctx: IntakeContext, stats: CycleStats,
                       limit: int, stop: Callable[[], bool] | None = None) -> None:
        """Strangers' messages whose attachments waited for the cycle's known senders: read now, settled as new mail.

        Why: a stranger's files can spend the whole per-message budget (a PDF
        built to keep OCR busy), and eight of them ahead of an agency's report
        held the report for minutes. Their rows are already recorded and marked
        on the server (nothing is lost); what waits is only the reading, which
        runs here with the same budget per message, oldest first, and then
        records its outcome as a new message would (a report is filed and acknowledged).
        """
        with self.app.db.sessions() as session:
            rows = session.execute(
                select(models.Message.id, models.Message.sha256, models.Message.source_key, models.Message.arrived_at,
                       models.Message.mailbox, models.Message.uidvalidity, models.Message.uid)
                .where(models.Message.reading_deferred.is_(True), models.Message.status == "recorded")
                .order_by(models.Message.id).limit(limit)).all()
        if not rows:
            return
        reading = dataclasses.replace(ctx, defer_strangers=False)

        def read(row) -> Understanding:
            raw = RawMessage(source_key=row.source_key, raw=store.read(row.sha256), arrived_at=row.arrived_at,
                             mailbox=row.mailbox, uidvalidity=row.uidvalidity, uid=row.uid)
            return understand(raw, reading, store)

        submitted = [(row, pool.submit(read, row)) for row in rows]
        for row, future in submitted:
            if stop is not None and stop():  # shutting down: what is not read yet stays deferred
                for _, later in submitted:
                    later.cancel()
                return
            try:
                understood = future.result()
            except StoreError as exc:
                stats.stopped_early = f"kho lưu trữ: {exc}"
                log.error("không đọc lại được thư đã lưu #%s (%s); việc đọc chờ lượt sau", row.id, exc)
                return
            except Exception as exc:  # noqa: BLE001 - one message's fault: keep it recorded, stop waiting for it
                log.exception("đọc sau thư #%s lỗi", row.id)
                understood = last_resort(RawMessage(row.source_key, b"", row.arrived_at, row.mailbox), None,
                                         _internal_error(exc))
            with self.app.db.transaction() as session:
                msg = session.get(models.Message, row.id)
                if msg is None or not msg.reading_deferred:
                    continue  # another process read it meanwhile
                if understood.quarantine_reason and understood.envelope is None:
                    msg.reading_deferred, msg.read_at = False, self.clock()
                    msg.notes = [*(msg.notes or []), f"đọc tệp sau thất bại: {understood.quarantine_reason}"]
                    continue
                result = record_again(session, msg, understood, self._record_context(ctx.roster))
            stats.read_later += 1
            stats.acks_queued += int(result.ack_queued)

    def _known(self, prints: set[str], shas: set[str]) -> tuple[dict[str, int], dict[str, int]]:
        """For one fetch's worth, in one round trip of indexed lookups: raw fingerprint -> the first message
        recorded with it, and raw hash -> the message of those very bytes."""
        m = models.Message
        by_print = (select(literal("p").label("by"), m.raw_fingerprint.label("key"), func.min(m.id).label("id"))
                    .where(m.raw_fingerprint.in_(sorted(prints))).group_by(m.raw_fingerprint))
        by_sha = select(literal("s"), m.sha256, m.id).where(m.sha256.in_(sorted(shas)))
        found: dict[str, dict[str, int]] = {"p": {}, "s": {}}
        with self.app.db.sessions() as session:
            for by, key, message_id in session.execute(union_all(by_print, by_sha)):
                found[by][key] = message_id
        return found["p"], found["s"]

    def _record_alone(self, u: Understanding, ctx: IntakeContext) -> RecordResult:
        """Record one message; if even that fails, record it as quarantined with the reason.

        A message that breaks the recorder (a bug, a value the database refuses)
        must neither be lost nor block every message after it.
        """
        try:
            with self.app.db.transaction() as session:
                return record(session, u, self._record_context(ctx.roster))
        except OUTAGE:
            raise
        except Exception as exc:  # noqa: BLE001
            log.exception("không ghi được thư %s; đưa vào mục cách ly", u.raw.source_key)
            reason = _internal_error(exc)
        # First with its envelope (a coordinator sees sender and subject); if that fails too,
        # with nothing parsed from the message -- the value that broke the recorder may be
        # anywhere in it: hash, arrival, size and the reason only, which cannot fail on content.
        try:
            with self.app.db.transaction() as session:
                return record(session, Understanding(raw=u.raw, blob=u.blob, envelope=u.envelope, notes=list(u.notes),
                                                     quarantine_reason=reason), self._record_context(ctx.roster))
        except OUTAGE:
            raise
        except Exception:  # noqa: BLE001
            log.exception("không cách ly được thư %s cùng thông tin phong bì; chỉ ghi phần tối thiểu",
                          u.raw.source_key)
        fallback = Understanding(raw=last_resort(u.raw, None, "").raw, blob=u.blob, quarantine_reason=reason)
        with self.app.db.transaction() as session:
            return record(session, fallback, self._record_context(ctx.roster))

    def _record_batch(self, batch: list[Understanding], ctx: IntakeContext, stats: CycleStats,
                      on_message: Callable[[CycleStats], None] | None) -> None:
        """Record a few understood messages in one transaction, then mark them on the server.

        Why one transaction for several messages: a commit waits for the disk
        (SQLite syncs every commit), and one per message made a backfill
        disk-bound. Each message is still all-or-nothing (it is inside the
        batch's all-or-nothing), marking still follows the commit, and a
        failure leaves the whole batch unmarked, to be read again and
        recognised by its hash. A batch is at most one IMAP fetch's worth
        (``mailbox.batch_size``) and the cycle's last batch is recorded when
        the fetch ends, so a lone new message is recorded as soon as it is read.
        """
        try:
            record_ctx = self._record_context(ctx.roster)  # one per batch: it parses the configured addresses
            with self.app.db.transaction() as session:
                results = [record(session, u, record_ctx) for u in batch]
        except OUTAGE:
            raise
        except Exception:  # noqa: BLE001 - one message's fault must not hold back the others
            log.exception("ghi một loạt %d thư lỗi; ghi từng thư một", len(batch))
            results = [self._record_alone(u, ctx) for u in batch]
        deferred = getattr(self.source, "deferred_marks", None)
        with deferred() if deferred is not None else nullcontext():
            for understanding in batch:
                self.source.mark_done(understanding.raw)
        self._set_marked([result.message_id for result in results])
        for result in results:
            if result.duplicate:
                stats.duplicates += 1
            elif result.status == "quarantined":
                stats.quarantined += 1
            elif result.status == "ignored":
                stats.ignored += 1
            elif result.status == "junk":
                stats.junk += 1
            else:
                stats.recorded += 1
            stats.acks_queued += int(result.ack_queued)
            if on_message is not None:
                on_message(stats)


def open_cycle(app: App) -> IntakeCycle:
    return IntakeCycle(app, build_source(app))
