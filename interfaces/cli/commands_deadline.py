"""Commands around the deadline: remind (agencies still owing) and digest (coordinators).

Both take ``--now`` so an operator (or a test) can ask "what would go out on
that day?", and ``--dry-run`` to see it without queuing anything. Without
``--send`` they only queue: the daemon's outbox tick sends, with its retries
and daily caps.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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
    print_json,
    table,
)

YearOption = Annotated[
    int | None,
    typer.Option("--year", "-y", help="Năm báo cáo. Mặc định: đợt báo cáo đang diễn ra."),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Chỉ cho xem những gì sẽ được xếp gửi; không xếp gì.")]
SendOption = Annotated[bool, typer.Option("--send", help="Gửi ngay các thư đã xếp, không chờ daemon.")]


def _year(app: Any, year: int | None, now: datetime) -> int:
    from workflow.season.reminders import season_year

    if year is not None:
        if year not in app.campaigns:
            from reference.campaigns import no_campaign

            fail(no_campaign(year, app.campaigns), 1)
        return year
    found = season_year(app.campaigns, now)
    if found is None:
        fail(f"Chưa có đợt báo cáo nào mở trước ngày {now:%d/%m/%Y}; chọn năm bằng --year NĂM.", 2)
    return found


def _run_daily(config: str | None, year: int | None, now: str | None, dry_run: bool, send: bool,
               job: Callable[[Any, int, datetime], Any], refusals: tuple[type[Exception], ...]) -> tuple[int, Any, Any]:
    """What `remind` and `digest` share: load, pick the season, run the day's job, send when asked."""
    from workflow.runtime.outbox_flush import send_due

    moment = parse_now(now)
    with open_app(config) as a:
        y = _year(a, year, moment)
        try:
            run = job(a, y, moment)
        except refusals as exc:
            fail(str(exc), 2)
        flushed = send_due(a, moment) if send and not dry_run else None
    return y, run, flushed


def remind(
    year: YearOption = None,
    dry_run: DryRunOption = False,
    send: SendOption = False,
    json_out: JsonOption = False,
    now: NowOption = None,
    config: ConfigOption = None,
) -> None:
    """Xếp thư nhắc hôm nay cho các đơn vị còn nợ báo cáo (mỗi đơn vị một mốc, một lần)."""
    from notifier.labels import flush_summary
    from reference.time import vn_date
    from workflow.season.reminders import ReminderError, send_reminders

    y, run, flushed = _run_daily(config, year, now, dry_run, send,
                                 lambda a, y, moment: send_reminders(a, y, moment, dry_run=dry_run),
                                 (ReminderError,))
    shown = run.due.reminders if dry_run else run.queued
    if json_out:
        print_json({
            "year": y, "date": vn_date(run.due.today), "dry_run": dry_run,
            "reminders": [r.as_json() for r in shown],
            "skipped": [{"dedupe_key": k, "reason": why} for k, why in run.skipped],
            "no_address": [u.as_json() for u in run.due.no_address],
            "sent": flushed.sent if flushed else None,
        })
        return
    verb = "sẽ xếp (chạy thử)" if dry_run else "đã xếp"
    t = table("mã đơn vị", "mức nhắc", "người nhận", "tiêu đề",
              title=f"Nhắc nộp báo cáo năm {y}: {verb} {len(shown)}")
    for r in shown:
        t.add_row(r.agency, r.stage, ", ".join(r.recipients) + (f" (cc {', '.join(r.cc)})" if r.cc else ""),
                  r.subject)
    console.print(t)
    if run.due.no_address:
        console.print("Không có địa chỉ: " + ", ".join(u.name for u in run.due.no_address), markup=False)
    if flushed is not None:
        console.print("Gửi thư: " + flush_summary(flushed.sent, flushed.failed, flushed.retried), markup=False)


def digest(
    year: YearOption = None,
    dry_run: DryRunOption = False,
    send: SendOption = False,
    json_out: JsonOption = False,
    now: NowOption = None,
    config: ConfigOption = None,
) -> None:
    """Lập bản tổng hợp hôm nay cho cán bộ đầu mối và xếp gửi (HTML và văn bản, kèm bảng tình hình .docx)."""
    from notifier.labels import days_left, flush_summary, job_summary, state_label
    from workflow.season.digest import queue_digest

    _, run, flushed = _run_daily(config, year, now, dry_run, send,
                                 lambda a, y, moment: queue_digest(a, y, moment, dry_run=dry_run), (ValueError,))
    if json_out:
        data = run.as_json()
        data["dry_run"] = dry_run
        data["sent"] = flushed.sent if flushed else None
        print_json(data)
        return
    d = run.data
    console.print(run.subject or "", markup=False)
    console.print(f"Gửi đến: {', '.join(run.recipients) or '(chưa có)'} — {job_summary(run.note)}", markup=False)
    console.print("  ".join(f"{state_label(k)}: {v}" for k, v in sorted(d.counts.items())), markup=False)
    if d.missing:
        t = table("đơn vị", "thời hạn", title=f"Chưa nộp: {len(d.missing)}")
        for m in d.missing:
            t.add_row(m["name"], days_left(m["days_left"]))
        console.print(t)
    if flushed is not None:
        console.print("Gửi thư: " + flush_summary(flushed.sent, flushed.failed, flushed.retried), markup=False)


def register(app: typer.Typer) -> None:
    for name, command in (("remind", remind), ("digest", digest)):
        app.command(name)(command)
