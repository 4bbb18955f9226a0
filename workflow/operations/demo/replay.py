"""Replaying a made-up season through the real daemon, one simulated day at a time.

Nothing is mocked: the demo writes its own configuration (SQLite, a local
Maildir, a file outbox) and drives the same code the production daemon
runs, only with a clock it sets itself. Each day: the coordinators' digest
at 07:30, reminders at 08:00 followed by an intake cycle (which also
flushes the outbox), then the day's mail is delivered with its real arrival
time and a last cycle runs at 23:59. So the deadline logic, the reminder
plan and the digest all see the dates they would see in a real season.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import event, select

from intake.sources.maildir import deliver
from notifier.labels import state_label
from reference.time import VN, today, vn_timestamp
from workflow.app import App
from workflow.db import models
from workflow.operations.demo.season import DemoMail, SeasonPlan, build_season
from workflow.season.status import StatusRow, season_status

MARKER = ".tdc-demo"
DIGEST_DAYS_BEFORE = 14
COORDINATOR = "Điều phối viên NSCL <dieuphoi@tdc.example.vn>"


class DemoError(Exception):
    """The demo cannot run here (folder in use, no campaign for the year); the text says why."""


class FixedClock:
    """The simulated 'now', moved forward by the replay and read by the daemon."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class DayLog:
    day: date
    delivered: list[str] = field(default_factory=list)
    sent: int = 0
    reminders: int = 0
    digest: bool = False


@dataclass
class DemoResult:
    directory: Path
    config_path: Path
    plan: SeasonPlan
    status: list[StatusRow]
    outbox_dir: Path
    outbox_files: int
    digest_docx: Path | None
    compiled_docx: Path | None
    days: list[DayLog]
    reminded: set[str] = field(default_factory=set)  # agencies at least one reminder went to


def prepare_directory(directory: Path) -> None:
    """Start from nothing, but only ever wipe a folder an earlier demo made."""
    if directory.exists():
        if not directory.is_dir():
            raise DemoError(f"{directory} is a file, not a folder")
        if any(directory.iterdir()) and not (directory / MARKER).is_file():
            raise DemoError(f"{directory} is not empty and was not made by `tdc-bot demo`; choose another --dir")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("made by tdc-bot demo; deleted and recreated by the next run\n", encoding="utf-8")


def write_config(directory: Path) -> Path:
    root = directory.resolve()
    path = root / "tdc.toml"
    path.write_text(
        "# Written by `tdc-bot demo`: everything local, no server.\n"
        f'[database]\nurl = "sqlite:///{root / "tdc.db"}"\n\n'
        f'[storage]\npath = "{root / "store"}"\n\n'
        f'[mailbox]\nsource = "maildir"\nmaildir = "{root / "mail"}"\n\n'
        f'[smtp]\ntransport = "file"\noutbox_dir = "{root / "outbox"}"\n'
        'from = "Hệ thống tiếp nhận báo cáo NSCL <baocao@tdc.example.vn>"\n\n'
        f'[coordinators]\nemails = ["{COORDINATOR}"]\n',
        encoding="utf-8",
    )
    return path


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=VN)


class Replay:
    def __init__(self, app: App, plan: SeasonPlan, clock: FixedClock) -> None:
        from workflow.runtime.daemon import Daemon

        self.app = app
        self.plan = plan
        self.clock = clock
        self.daemon = Daemon(app, clock=clock, holder="tdc-bot-demo")
        self.maildir = Path(app.settings.mailbox.maildir)
        self.last_digest: Path | None = None
        by_day: dict[date, list[DemoMail]] = {}
        for mail in plan.mails:
            by_day.setdefault(today(mail.arrives), []).append(mail)
        self.by_day = by_day
        # The daemon sends a digest every day; the demo only from the first reminder on (d-14),
        # when there is something to say, to stay well under a minute.
        self.digest_from = plan.deadline - timedelta(days=DIGEST_DAYS_BEFORE)

    def days(self) -> list[date]:
        first = min([self.plan.opens, *self.by_day])
        return [first + timedelta(days=i) for i in range((self.plan.ends - first).days + 1)]

    def _deliver(self, mails: list[DemoMail], log: DayLog) -> None:
        for mail in mails:
            deliver(self.maildir, mail.raw, when=mail.arrives)
            log.delivered.append(mail.label)

    def _cycle(self, log: DayLog) -> None:
        result = self.daemon.run_once()
        log.sent += result.sent

    def run_day(self, day: date) -> DayLog:
        from workflow.season.digest import queue_digest
        from workflow.season.reminders import send_reminders

        log = DayLog(day)
        year = self.plan.year
        mails = sorted(self.by_day.get(day, []), key=lambda m: m.arrives)
        if day >= self.digest_from:
            self.clock.now = _at(day, 7, 30)
            digest = queue_digest(self.app, year, self.clock.now)
            if digest.queued:
                log.digest = True
                self.last_digest = digest.docx_path
        self.clock.now = _at(day, 8, 0)
        early = [m for m in mails if m.arrives <= self.clock.now]
        self._deliver(early, log)
        log.reminders = len(send_reminders(self.app, year, self.clock.now).queued)
        if early or log.reminders or log.digest:  # a quiet morning has nothing to fetch or send
            self._cycle(log)
        self._deliver([m for m in mails if m.arrives > _at(day, 8, 0)], log)
        self.clock.now = _at(day, 23, 59)
        self._cycle(log)
        return log


def _describe(log: DayLog) -> str:
    parts = []
    if log.delivered:
        parts.append(f"{len(log.delivered)} thư đến ({'; '.join(log.delivered)})")
    if log.reminders:
        parts.append(f"{log.reminders} thư nhắc")
    if log.digest:
        parts.append("bản tổng hợp cho điều phối viên")
    parts.append(f"{log.sent} thư đi")
    return f"{log.day:%d/%m/%Y}: " + ", ".join(parts)


def _replay_days(replay: Replay, console: Console) -> list[DayLog]:
    days = replay.days()
    logs: list[DayLog] = []
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("Mùa báo cáo", total=len(days))
            for day in days:
                log = replay.run_day(day)
                logs.append(log)
                progress.update(task, advance=1, description=f"Ngày {day:%d/%m/%Y}")
                if log.delivered:
                    progress.console.print(_describe(log), markup=False, highlight=False)
    else:
        for day in days:
            log = replay.run_day(day)
            logs.append(log)
            if log.delivered or log.reminders or log.digest:
                console.print(_describe(log), markup=False, highlight=False)
    return logs


def _status_table(rows: list[StatusRow], year: int) -> Table:
    table = Table(title=f"Tình hình nộp báo cáo năm {year}", header_style="bold")
    for column in ("#", "đơn vị", "trạng thái", "nhận lúc", "hạn", "thiếu mục"):
        table.add_column(column, no_wrap=column in ("#", "nhận lúc", "hạn"))
    for i, r in enumerate(rows, 1):
        received = vn_timestamp(r.received_at)
        on_time = {True: "đúng hạn", False: "muộn", None: "—"}[r.on_time]
        gaps = ", ".join(r.outline_missing[:3]) + (", …" if len(r.outline_missing) > 3 else "")
        table.add_row(str(i), _short(r.name), state_label(r.state), received, on_time, gaps or "—")
    return table


def _short(name: str) -> str:
    """'Tỉnh Tây Ninh' → 'Tây Ninh', 'Thành phố Hà Nội' → 'TP Hà Nội': the table must fit 80 columns."""
    if name.startswith("Tỉnh "):
        return name[len("Tỉnh "):]
    if name.startswith("Thành phố "):
        return "TP " + name[len("Thành phố "):]
    return name


def _relax_durability(app: App) -> None:
    """A throwaway database need not fsync every commit; the demo does thousands of them.

    Production keeps synchronous=FULL (workflow.db.engine); this only touches the demo's own engine.
    """
    engine = app.db.engine  # migrated and connected once already
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _normal_sync(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def _teach_contacts(app: App, plan: SeasonPlan) -> None:
    """Addresses coordinators know before the season (as `assign` would teach them): reminders reach them."""
    from workflow.season import contacts

    with app.db.transaction() as session:
        for slug, address in plan.contacts.items():
            contacts.learn(session, slug, address, actor="điều phối viên (danh bạ mùa trước)",
                           now=_at(plan.opens, 8, 0), why="danh bạ mùa trước")


def _compile(app: App, year: int, directory: Path, now: datetime) -> Path | None:
    """The consolidated report, when this installation has the compile feature."""
    try:
        from workflow.reports.compile import compile_for_app
        from workflow.reports.compile_docx import compiled_report_docx
    except ImportError:
        return None
    report = compile_for_app(app, year, now=now)
    return compiled_report_docx(report, directory / f"bao-cao-tong-hop-{year}.docx", tz=app.tz)


def run_demo(directory: Path | str = "var/demo", year: int = 2024, agencies: int = 40, seed: int = 1,
             console: Console | None = None, progress: Callable[[DayLog], Any] | None = None) -> DemoResult:
    """Generate a season for ``year`` and replay it; prints the outcome and returns it."""
    from workflow.season.reminders import campaign_opens

    console = console or Console()
    directory = Path(directory)
    prepare_directory(directory)
    config_path = write_config(directory)
    app = App.load(str(config_path))
    try:
        _relax_durability(app)
        campaign = app.campaigns.get(year)
        if campaign is None:
            raise DemoError(f"no campaign for {year} in the campaigns file; years: "
                            f"{', '.join(map(str, sorted(app.campaigns)))}")
        try:
            plan = build_season(app.roster_base, campaign, app.reporting_address(year), agencies, seed,
                                campaign_opens(campaign))
        except ValueError as exc:
            raise DemoError(str(exc)) from None
        _teach_contacts(app, plan)
        console.print(f"Mùa báo cáo năm {year}: {len(plan.mails)} thư từ {len(plan.participants)} đơn vị gửi báo cáo, "
                      f"phát lại từ {plan.opens:%d/%m/%Y} đến {plan.ends:%d/%m/%Y} (hạn {plan.deadline:%d/%m/%Y}).",
                      markup=False, highlight=False)
        clock = FixedClock(_at(plan.opens, 0, 0))
        from workflow.operations.demo.contacts import FILENAME, seed_contacts

        seeded = seed_contacts(app, year, directory, clock.now)
        console.print(f"Danh bạ đầu mối: {seeded} địa chỉ (example.org) nhập từ {directory / FILENAME}.",
                      markup=False, highlight=False)
        replay = Replay(app, plan, clock)
        logs = _replay_days(replay, console)
        if progress is not None:
            for log in logs:
                progress(log)
        with app.db.sessions() as session:
            rows = season_status(session, app.roster, year)
            reminded = {slug for slug in session.scalars(select(models.OutboxEmail.agency_slug).where(
                models.OutboxEmail.kind == "reminder", models.OutboxEmail.year == year)) if slug is not None}
        compiled = _compile(app, year, directory, clock.now)
        outbox = Path(app.settings.smtp.outbox_dir)
        files = len(list(outbox.glob("*.eml"))) if outbox.is_dir() else 0
    finally:
        app.close()
    result = DemoResult(directory, config_path, plan, rows, outbox, files, replay.last_digest, compiled, logs,
                        reminded=reminded)
    _print_summary(result, console)
    return result


def _print_summary(result: DemoResult, console: Console) -> None:
    year = result.plan.year
    console.print(_status_table(result.status, year))
    counts: dict[str, int] = {}
    for r in result.status:
        counts[r.state] = counts.get(r.state, 0) + 1
    console.print("  ".join(f"{state_label(k)}: {v}" for k, v in sorted(counts.items())), markup=False, highlight=False)
    console.print(f"Thư đã gửi (tệp .eml): {result.outbox_files} trong {result.outbox_dir}", markup=False,
                  highlight=False)
    late = {r.agency for r in result.status if r.state in (models.MISSING, models.RESUBMISSION_REQUESTED)}
    console.print(f"Đơn vị chưa nộp đã nhận thư nhắc: {len(late & result.reminded)}/{len(late)}",
                  markup=False, highlight=False)
    console.print(f"Bản tổng hợp gần nhất (.docx): {result.digest_docx or '—'}", markup=False, highlight=False)
    console.print(f"Báo cáo tổng hợp năm {year} (.docx): {result.compiled_docx or '— (chưa có lệnh compile)'}",
                  markup=False, highlight=False)
    console.print(f"Xem tiếp: tdc-bot status --year {year} --config {result.config_path}", markup=False,
                  highlight=False)
