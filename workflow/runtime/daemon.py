"""The daemon: intake loop (IDLE where offered, else polling) plus scheduled ticks.

APScheduler 3.x runs the periodic jobs in memory (they are fixed by the
config, so nothing is gained by a job store, and a shared job store between
two daemons is exactly what must never happen). Each job is a *tick* that
asks the database what is due. Only the holder of the leader lease reads
mail and sends; a second daemon on the same database waits as a standby and
takes over when the lease expires.
"""
from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from notifier.transports import make_transport
from workflow.app import App
from workflow.db import models
from workflow.runtime.intake_cycle import UNDERSTAND_THREADS, CycleStats, IntakeCycle, open_cycle
from workflow.runtime.lease import Lease, make_holder_id
from workflow.runtime.outbox_flush import FlushResult, release_interrupted_claims, send_due

log = logging.getLogger(__name__)

MISFIRE_GRACE = 6 * 3600  # a tick missed while down runs once at start-up, not never


class _Shutdown(Exception):
    """Raised from the signal handler only while the loop is waiting for mail."""


@dataclass
class OnceResult:
    cycles: list[CycleStats] = field(default_factory=list)
    flushed: list[FlushResult] = field(default_factory=list)
    standby: bool = False  # another daemon held the leader lease: nothing was done

    @property
    def fetched(self) -> int:
        return sum(c.fetched for c in self.cycles)

    @property
    def sent(self) -> int:
        return sum(f.sent for f in self.flushed)


class Daemon:
    def __init__(self, app: App, clock: Callable[[], datetime] | None = None, holder: str | None = None,
                 cycle: IntakeCycle | None = None):
        self.app = app
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cycle = cycle or open_cycle(app)
        self.cycle.clock = self.clock
        self.transport = make_transport(app.settings.smtp, app.config.smtp_password)
        lease_ttl = timedelta(seconds=app.settings.schedule.lease_seconds)
        self.lease = Lease(app.db, "leader", holder or make_holder_id(), lease_ttl)
        self.stop_event = threading.Event()
        self._waiting = False
        self._is_leader = False
        self._standby_said = False
        self._reader: threading.Thread | None = None  # strangers' deferred files, read beside the cycles
        self._sender: threading.Thread | None = None  # acknowledgements sent as each batch commits
        self._send_lock = threading.Lock()
        self._send_wanted = False
        self._warm_readers = False  # run_forever: document readers started with the daemon, not per burst
        if not app.settings.mailbox.trusted_authserv_ids:
            log.warning("chưa xác thực người gửi: chưa đặt [mailbox] trusted_authserv_id, nên mọi báo cáo hiện "
                        "'người gửi chưa được xác thực' (ai cũng có thể gửi thư nhân danh một đơn vị)")

    # -- ticks -------------------------------------------------------------------------------

    def _record_job(self, name: str, ok: bool, result: dict[str, Any]) -> None:
        """How a job ended, as data (``{"kind": …}``): `status` renders it in words (notifier.labels.job_summary)."""
        text = json.dumps(result, ensure_ascii=False, default=str)
        if len(text) > 500:
            text = json.dumps({"kind": "error", "error": str(result.get("error") or result)[:400]}, ensure_ascii=False)
        try:
            with self.app.db.transaction() as session:
                session.merge(models.JobRun(name=name, last_run_at=self.clock(), ok=ok, result=text))
        except SQLAlchemyError:
            log.warning("không ghi được lượt chạy của việc %s", name)

    def flush_tick(self) -> FlushResult | None:
        """Send what is due in the outbox; the leader only."""
        if not self._is_leader:
            return None
        try:
            result = send_due(self.app, self.clock(), self.transport)
        except SQLAlchemyError as exc:
            log.warning("bỏ qua lượt gửi thư: không dùng được cơ sở dữ liệu (%s)", type(exc).__name__)
            self._record_job("outbox", False, {"kind": "error", "error": f"không dùng được cơ sở dữ liệu "
                                                                         f"({type(exc).__name__})"})
            return None
        self._record_job("outbox", True, {"kind": "outbox", "sent": result.sent, "failed": result.failed,
                                          "retried": result.retried, "suppressed": result.suppressed,
                                          "held": result.held, "stopped": result.stopped})
        return result

    def lease_tick(self) -> bool:
        try:
            leader = self.lease.acquire(self.clock())
        except SQLAlchemyError as exc:
            log.warning("không kiểm tra được quyền chạy: %s", type(exc).__name__)
            leader = False
        if leader != self._is_leader or (not leader and not self._standby_said):
            if leader:
                log.info("daemon này nhận quyền chạy (đọc thư và gửi thư)")
                self._take_over_sends()
                if self._warm_readers:
                    self._start_readers()
            else:
                log.warning("%s; daemon này chờ và sẽ tự tiếp quản khi daemon kia dừng", self.standby_note())
            self._standby_said = not leader
        self._is_leader = leader
        return leader

    def standby_note(self) -> str:
        """Who holds the leader lease and until when, in words (a second daemon must not stay silent)."""
        try:
            with self.app.db.sessions() as session:
                row = session.get(models.Lease, self.lease.name)
        except SQLAlchemyError:
            row = None
        if row is None:
            return "một daemon khác đang giữ quyền chạy"
        until = row.expires_at.astimezone(self.app.tz).strftime("%H:%M:%S ngày %d/%m/%Y")
        return f"daemon khác ({row.holder}) đang giữ quyền chạy, quyền hết hạn lúc {until} nếu daemon đó không gia hạn"

    def _start_readers(self) -> None:
        """Start the document readers now and keep them started (intake.documents.sandbox.keep_warm).

        Why: at the deadline sixty reports arrive within minutes, and a reader
        started by the first of them spent more CPU on its own start-up (an
        interpreter, pypdf, python-docx, lxml) than on reading a report, on the
        machine that was meanwhile reading the others. One per understanding
        thread, each under the same per-message budgets as a reader started on demand.
        """
        from intake.documents.sandbox import keep_warm
        from notifier.render import compile_ahead
        from workflow.runtime.intake_cycle import limits_from

        try:
            keep_warm(UNDERSTAND_THREADS, limits_from(self.app).message_memory_bytes)
            compile_ahead("ack")  # the acknowledgement's templates, compiled while the mailbox is quiet
        except Exception:  # noqa: BLE001 - only a head start: readers then start on demand, templates at first use
            log.exception("không chuẩn bị trước được bộ đọc tài liệu hoặc mẫu thư báo nhận")

    def _send_soon(self) -> None:
        """Send the outbox now, in a thread beside the cycle; a thread already sending goes round once more.

        Why: a batch's acknowledgements are committed while the cycle goes on
        reading the next batch; sent only after the cycle (or at the outbox
        tick, 30 s by default) the first reports of a burst waited for the last.
        """
        with self._send_lock:
            self._send_wanted = True
            if self._sender is not None:
                return
            self._sender = threading.Thread(target=self._send_while_wanted, name="send-now", daemon=True)
            self._sender.start()

    def _send_while_wanted(self) -> None:
        """Flush until no wake-up came during the last flush; at shutdown too, so what the cycle in hand
        queued is sent before the daemon exits, as when the loop flushed after each cycle."""
        while True:
            with self._send_lock:
                if not self._send_wanted:
                    self._sender = None
                    return
                self._send_wanted = False
            try:
                self.flush_tick()
            except Exception:  # noqa: BLE001 - what was not sent waits for the outbox tick
                log.exception("gửi thư trong hộp thư đi lỗi; thử lại ở lượt gửi kế tiếp")

    def _acks_committed(self) -> Callable[[CycleStats], None]:
        """The cycle's per-message callback: wake the sender once a committed batch queued acknowledgements."""
        sent_for = 0

        def on_message(stats: CycleStats) -> None:
            nonlocal sent_for
            if stats.acks_queued > sent_for:
                sent_for = stats.acks_queued
                self._send_soon()

        return on_message

    def _take_over_sends(self) -> None:
        """A new leader frees the sends a killed leader left claimed (else they wait out the claim lease)."""
        try:
            release_interrupted_claims(self.app.db, self.clock())
        except SQLAlchemyError as exc:
            log.warning("không trả lại được các lượt gửi bị ngắt: %s", type(exc).__name__)

    def intake_tick(self, read_deferred: bool = True) -> CycleStats | None:
        if not self._is_leader:
            return None
        try:
            stats = self.cycle.run_once(read_deferred=read_deferred, on_message=self._acks_committed())
        except Exception as exc:  # noqa: BLE001 - the daemon outlives any one cycle's failure
            log.exception("lượt nhận thư lỗi; thử lại ở lượt sau")
            self._record_job("intake", False, {"kind": "error", "error": f"{type(exc).__name__}: {exc}"})
            return None
        self._record_job("intake", stats.stopped_early is None, stats.as_data())
        if stats.fetched or stats.stopped_early:
            log.info("nhận thư: %s", stats.words())
        return stats

    def read_later_tick(self) -> CycleStats | None:
        """Strangers' deferred files read and settled; their acknowledgements sent at once."""
        if not self._is_leader:
            return None
        try:
            # stops between messages at shutdown, or when another daemon took the lease meanwhile
            stats = self.cycle.read_deferred(stop=lambda: self.stop_event.is_set() or not self._is_leader)
        except Exception:  # noqa: BLE001 - the daemon outlives any one reading's failure
            log.exception("đọc sau lỗi; thử lại sau lượt nhận thư kế tiếp")
            return None
        if stats is not None and (stats.read_later or stats.stopped_early):
            log.info("đọc sau: %s", stats.words())
        if stats is not None and stats.acks_queued:
            self.flush_tick()
        return stats

    def _read_later_beside(self) -> None:
        """Start the deferred reading in its own thread unless it already runs (issue 21 §5).

        Why a thread: in the cycle, a stranger's files that spend the whole
        per-message budget held every report that arrived meanwhile until they
        were all read (39 s for eight such mails with a 20 s budget; minutes
        with the default). Beside it, the next IDLE wake-up reads the report.
        """
        if not self._is_leader or (self._reader is not None and self._reader.is_alive()):
            return
        self._reader = threading.Thread(target=self.read_later_tick, name="read-later", daemon=True)
        self._reader.start()

    # -- modes -------------------------------------------------------------------------------

    def run_once(self, progress: Callable[[CycleStats], None] | None = None) -> OnceResult:
        """Fetch everything new, record it, flush the outbox, return (for `run --once`, tests, cron)."""
        out = OnceResult()
        if not self.lease_tick():
            log.warning("một daemon khác đang giữ quyền chạy; lần này không làm gì")
            out.standby = True
            return out
        try:
            while True:
                stats = self.cycle.run_once(on_message=progress)
                self._record_job("intake", stats.stopped_early is None, stats.as_data())
                out.cycles.append(stats)
                if stats.stopped_early or stats.fetched < self.app.settings.mailbox.cycle_limit:
                    break
            while True:
                result = self.flush_tick()
                if result is None:
                    break
                out.flushed.append(result)
                if result.sent + result.failed + result.suppressed == 0 or result.retried:
                    break
        finally:
            self.lease.release()
            self._is_leader = False
        return out

    def scheduler(self) -> BackgroundScheduler:
        tz = self.app.tz
        scheduler = BackgroundScheduler(timezone=tz, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE})
        lease_every = max(1.0, self.app.settings.schedule.lease_seconds / 3)
        scheduler.add_job(self.lease_tick, IntervalTrigger(seconds=lease_every, timezone=tz), id="lease")
        # Through the one sender thread (_send_soon): a tick during a batch's flush must not start a second flush
        # that contends with it for the database's write lock.
        scheduler.add_job(self._send_soon,
                          IntervalTrigger(seconds=self.app.settings.schedule.outbox_seconds, timezone=tz),
                          id="outbox")
        for job_id, func, trigger in self.extra_jobs():
            scheduler.add_job(func, trigger, id=job_id)
        return scheduler

    def extra_jobs(self) -> list[tuple[str, Callable[[], Any], Any]]:
        """Daily jobs: reminders to agencies and the coordinators' digest, at their configured times.

        Each is a tick that asks the database what is due for the current
        season (the plan skips what downtime missed), so a run after a restart
        or a second run on the same day sends nothing twice. The leader only.

        APScheduler's in-memory cron jobs do not remember a run missed while
        the daemon was down (their first run is the next one in the future),
        so a daemon started after today's time also gets a one-off catch-up
        run right away; being idempotent, it sends only what is still due.
        """
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.date import DateTrigger

        from workflow.season.digest import queue_digest
        from workflow.season.reminders import season_year, send_reminders

        def daily(name: str, work: Callable[[int, datetime], Any]) -> Callable[[], Any]:
            def tick() -> Any:
                if not self._is_leader:
                    return None
                now = self.clock()
                try:
                    year = season_year(self.app.campaigns, now)
                    if year is None:
                        self._record_job(name, True, {"kind": "idle", "note": "không có mùa báo cáo đang mở"})
                        return None
                    result = work(year, now)
                except Exception as exc:  # noqa: BLE001 - a failed day is recorded and retried tomorrow
                    log.exception("việc %s lỗi", name)
                    self._record_job(name, False, {"kind": "error", "error": f"{type(exc).__name__}: {exc}"})
                    return None
                self._record_job(name, True, result.as_data())
                try:
                    self.flush_tick()  # send now, not at the next outbox tick
                except Exception:  # noqa: BLE001 - the queued mail waits for the outbox tick
                    log.exception("việc %s: gửi thư trong hộp thư đi lỗi", name)
                return result

            tick.__name__ = f"{name}_tick"
            return tick

        def at(hhmm: str) -> CronTrigger:
            hour, minute = (int(part) for part in hhmm.split(":"))
            return CronTrigger(hour=hour, minute=minute, timezone=self.app.tz)

        schedule = self.app.settings.schedule
        wanted: list[tuple[str, Callable[[int, datetime], Any], str]] = []
        if self.app.settings.reminders.enabled:
            wanted.append(("reminders", lambda y, now: send_reminders(self.app, y, now), schedule.reminder_time))
        wanted.append(("digest", lambda y, now: queue_digest(self.app, y, now), schedule.digest_time))
        local_now = self.clock().astimezone(self.app.tz)
        jobs: list[tuple[str, Callable[[], Any], Any]] = []
        for name, work, hhmm in wanted:
            tick = daily(name, work)
            jobs.append((name, tick, at(hhmm)))
            if local_now.strftime("%H:%M") >= hhmm.zfill(5):
                jobs.append((f"{name}-catch-up", tick, DateTrigger(run_date=datetime.now(self.app.tz))))
        return jobs

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("nhận tín hiệu %s: dừng", signal.Signals(signum).name)
        self.stop_event.set()
        if self._waiting:
            raise _Shutdown()

    def run_forever(self, install_signals: bool = True) -> None:
        """Until SIGTERM/SIGINT or stop_event: intake cycles woken by IDLE or the poll interval."""
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        scheduler = self.scheduler()
        self._warm_readers = True
        self.lease_tick()
        scheduler.start()
        poll = self.app.settings.mailbox.poll_seconds
        try:
            while not self.stop_event.is_set():
                stats = self.intake_tick(read_deferred=False)  # its acknowledgements are sent as each batch commits
                self._read_later_beside()
                if stats is not None and stats.fetched >= self.app.settings.mailbox.cycle_limit:
                    continue  # backlog: next batch straight away
                self._wait(poll if self._is_leader else min(poll, self.app.settings.schedule.lease_seconds / 3))
        except _Shutdown:
            pass
        finally:
            self._waiting = False
            scheduler.shutdown(wait=True)
            if self._reader is not None:  # it stops between messages; one in hand ends within its budget
                self._reader.join(timeout=self.app.settings.limits.message_seconds + 30)
            with self._send_lock:
                sender = self._sender
            if sender is not None:  # what the last cycle queued goes out before the daemon stops
                sender.join(timeout=self.app.settings.smtp.timeout + 30)
            try:
                self.cycle.source.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead connection is not news
                pass
            if self._is_leader:
                try:
                    self.lease.release()
                except SQLAlchemyError:
                    pass
            log.info("daemon đã dừng")

    def _wait(self, timeout: float) -> None:
        if self.stop_event.is_set():
            return
        self._waiting = True
        try:
            if self._is_leader:
                try:
                    self.cycle.source.wait_for_new(timeout)
                except Exception as exc:  # noqa: BLE001 - a dead IDLE connection: the next cycle reconnects
                    if isinstance(exc, _Shutdown):
                        raise
                    log.warning("không chờ được thư mới (%s); chuyển sang hỏi định kỳ", type(exc).__name__)
                    self.stop_event.wait(min(timeout, 5))
            else:
                self.stop_event.wait(timeout)
        finally:
            self._waiting = False
