"""Commands that read mail: run (the daemon), classify, import."""
from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from interfaces.cli.common import (
    ConfigOption,
    JsonOption,
    NowOption,
    console,
    fail,
    open_app,
    parse_now,
    rich_console,
    table,
)
from reference.numbers import vn_decimal

LogFormat = Annotated[str, typer.Option("--log-format", help="Dạng dòng nhật ký: 'text' hoặc 'json'.")]
LogLevel = Annotated[str, typer.Option("--log-level", help="Mức nhật ký: debug, info, warning, error.")]


def shifted_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and advances in real time."""
    import time

    origin = time.monotonic()
    start_utc = start.astimezone(UTC)
    return lambda: start_utc + timedelta(seconds=time.monotonic() - origin)


@contextmanager
def intake_progress() -> Iterator[Callable[[Any], None]]:
    """A live counter on a terminal (a backfill can be 20,000 messages), a line every 100 otherwise."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not console.is_terminal:
        def plain(stats: Any) -> None:  # piped: a few summary lines, not a redrawn bar
            if stats.fetched % 100 == 0:
                console.print(f"Nhận thư: {stats.words()}", markup=False)

        yield plain
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=rich_console(),
                  transient=True) as bar:
        task = bar.add_task("intake", total=None)

        def live(stats: Any) -> None:
            bar.update(task, description=f"đã đọc {stats.fetched} thư — {stats.words()}")

        yield live


def run(
    once: Annotated[bool, typer.Option(
        "--once", help="Chạy một lượt: lấy mọi thư mới, ghi nhận, gửi thư đi, rồi thoát.")] = False,
    config: ConfigOption = None,
    now: NowOption = None,
    log_format: LogFormat = "text",
    log_level: LogLevel = "info",
) -> None:
    """Chạy daemon tiếp nhận (IDLE/hỏi định kỳ, gửi thư, việc hằng ngày) đến khi nhận SIGTERM/SIGINT.

    Với --now, đồng hồ của daemon bắt đầu từ thời điểm đó rồi chạy tiếp (chạy lại một mùa báo cáo,
    thử ngày hết hạn); thời điểm nhận thư vẫn là của máy chủ thư.
    """
    from workflow.runtime.logs import setup_logging

    setup_logging(log_format, log_level)
    # A stop request during start-up (migrations, loading) is a clean exit too; the daemon
    # installs its own handler once it runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from workflow.runtime.daemon import Daemon

    clock = shifted_clock(parse_now(now)) if now else None
    with open_app(config) as a:
        daemon = Daemon(a, clock=clock)
        if once:
            with intake_progress() as progress:
                result = daemon.run_once(progress=progress)
            if result.standby:
                # After a crash the dead run's lease must expire first (schedule.lease_seconds).
                fail(f"{daemon.standby_note()}; không làm gì (nếu daemon kia đã bị dừng đột ngột, chạy lại sau "
                     f"schedule.lease_seconds = {a.settings.schedule.lease_seconds:g} giây)", 3)
            for c in result.cycles:
                console.print(f"Nhận thư: {c.words()}", markup=False)
            from notifier.labels import flush_summary

            console.print("Gửi thư: " + flush_summary(sum(f.sent for f in result.flushed),
                                                      sum(f.failed for f in result.flushed),
                                                      sum(f.retried for f in result.flushed),
                                                      sum(f.suppressed for f in result.flushed),
                                                      held=sum(f.held for f in result.flushed)), markup=False)
            stopped = [c.stopped_early for c in result.cycles if c.stopped_early]
            if stopped:
                # For cron and scripts: the cycle could not finish; it will be retried, nothing was lost.
                fail(f"Nhận thư dừng sớm: {stopped[-1]} "
                     "(thư chưa đọc được sẽ được đọc lại ở lần sau, không mất thư)", 1)
            return
        from interfaces.cli.commands_web import start_with_daemon  # the web board, when [web] enabled

        start_with_daemon(a)
        daemon.run_forever()


def classify(
    files: Annotated[list[Path], typer.Argument(help="Các thư đã lưu (.eml).", exists=True, dir_okay=False)],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cho xem hệ thống đọc các thư đã lưu thế nào (loại, đơn vị, năm, độ tin cậy, lý do); không ghi gì."""
    from intake.message.arrival import arrival_from_headers
    from intake.model import RawMessage
    from intake.pipeline import understand
    from workflow.runtime.intake_cycle import intake_context

    with open_app(config, migrate=False) as a:
        ctx = intake_context(a, roster=a.roster_base)
        rows = []
        for path in files:
            raw = path.read_bytes()
            arrived, _ = arrival_from_headers(raw, datetime.fromtimestamp(path.stat().st_mtime, UTC))
            u = understand(RawMessage(f"file:{path}", raw, arrived, "file"), ctx, store=None)
            data = u.reading().as_dict()
            data["reasons"] = list(data["reasons"]) + [f"cần xem xét: {r}" for r in u.review_reasons]
            rows.append((path, data))
        if json_out:
            for path, data in rows:
                sys.stdout.write(json.dumps({"file": str(path), **data}, ensure_ascii=False) + "\n")
            return
        t = table("tệp", "loại", "đơn vị", "năm", "độ tin cậy", "lý do")
        for path, data in rows:
            t.add_row(path.name, data["kind"], data["agency"] or "—", str(data["year"] or "—"),
                      vn_decimal(data["confidence"]), "; ".join(data["reasons"]))
        console.print(t)


def import_eml(
    files: Annotated[list[Path], typer.Argument(help="Các thư đã lưu (.eml) để đưa vào hộp thư Maildir cục bộ.",
                                                exists=True, dir_okay=False)],
    config: ConfigOption = None,
) -> None:
    """Đưa các tệp .eml đã lưu vào hộp thư Maildir đã cấu hình; lượt nhận thư sau sẽ đọc."""
    from intake.sources.maildir import deliver

    with open_app(config, migrate=False) as a:
        if a.settings.mailbox.source != "maildir":
            fail("Lệnh import chỉ dùng với mailbox.source = \"maildir\"; với IMAP, hãy đưa thư vào hộp thư trên "
                 "máy chủ.")
        for path in files:
            target = deliver(a.settings.mailbox.maildir, path.read_bytes())
            console.print(f"{path} -> {target}", markup=False)


def register(app: typer.Typer) -> None:
    for name, command in (("run", run), ("classify", classify), ("import", import_eml)):
        app.command(name)(command)
