"""Commands for coordinators following a season: status, stats, quarantine, show."""
from __future__ import annotations

from typing import Annotated

import typer

from workflow.cli.common import ConfigOption, JsonOption, console, fail, open_app, print_json, table, vn_date

# Outbox states in words (the keys stay English in --json).
_OUTBOX_WORDS = {"pending": "chờ gửi", "sending": "đang gửi", "sent": "đã gửi", "failed": "lỗi",
                 "suppressed": "không gửi (giới hạn)"}


def register(app: typer.Typer) -> None:
    quarantine_app = typer.Typer(help="Messages the bot could not read safely.", no_args_is_help=True)
    app.add_typer(quarantine_app, name="quarantine")

    @app.command("status")
    def status(
        year: Annotated[int, typer.Option("--year", "-y", help="Reporting year.")],
        json_out: JsonOption = False,
        config: ConfigOption = None,
    ) -> None:
        """One row per agency owing a report for YEAR, with its submission state."""
        from sqlalchemy import select

        from intake.identity import UNVERIFIED_LABEL
        from notifier.labels import job_line
        from workflow.db import models
        from workflow.season.states import STATE_LABELS_VI as STATE_LABELS
        from workflow.season.status import season_status, unsent_counts

        with open_app(config, need_secrets=False) as a:
            with a.db.sessions() as session:
                rows = season_status(session, a.roster, year)
                outbox = unsent_counts(session)
                jobs = list(session.scalars(select(models.JobRun).order_by(models.JobRun.name)))
            if not rows:
                fail(f"Không có đơn vị nào phải báo cáo năm {year} trong danh sách. No agency owes a report for {year}.", 1)
            if json_out:
                print_json([r.as_json() for r in rows])
                return
            t = table("#", "mã đơn vị", "đơn vị", "trạng thái", "ngày nhận", "đúng hạn", "mục còn thiếu", "người gửi",
                      title=f"Tình hình nộp báo cáo năm {year}")
            for i, r in enumerate(rows, 1):
                on_time = {True: "đúng hạn", False: "muộn", None: "—"}[r.on_time]
                t.add_row(str(i), r.agency, r.name, STATE_LABELS.get(r.state, r.state), vn_date(r.received_at), on_time,
                          ", ".join(r.outline_missing) or "—", "chưa xác thực" if r.sender_note else "—")
            console.print(t)
            counts: dict[str, int] = {}
            for r in rows:
                counts[r.state] = counts.get(r.state, 0) + 1
            console.print("  ".join(f"{STATE_LABELS.get(k, k)}: {v}" for k, v in sorted(counts.items())), markup=False)
            unverified = sum(1 for r in rows if r.sender_note)
            if unverified:
                console.print(f"{unverified} báo cáo: {UNVERIFIED_LABEL} "
                              "(xem [mailbox] trusted_authserv_id)", markup=False)
            console.print("Thư chưa gửi: " + (", ".join(f"{_OUTBOX_WORDS.get(k, k)} {v}" for k, v in outbox.items()) or "không có"),
                          markup=False)
            for job in jobs:
                console.print(job_line(job.name, vn_date(job.last_run_at), job.ok, job.result), markup=False)

    @app.command("stats")
    def stats(json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """Counts of messages (recorded, ignored, quarantined) and outbox emails by state."""
        from workflow.season.status import message_counts, outbox_counts

        with open_app(config) as a:
            with a.db.sessions() as session:
                msgs = message_counts(session)
                outbox = outbox_counts(session)
        data = {"messages": sum(msgs.values()), "recorded": msgs["recorded"], "ignored": msgs["ignored"],
                "quarantined": msgs["quarantined"], "outbox": outbox}
        if json_out:
            print_json(data)
            return
        console.print(f"Thư đã nhận: {data['messages']} (đã ghi {msgs['recorded']}, bỏ qua {msgs['ignored']}, "
                      f"cách ly {msgs['quarantined']})", markup=False)
        console.print("Thư gửi đi: " + (", ".join(f"{_OUTBOX_WORDS.get(k, k)} {v}" for k, v in outbox.items())
                                       or "chưa có"), markup=False)

    @quarantine_app.command("list")
    def quarantine_list(json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """Messages kept raw but not processed, with the reason."""
        from sqlalchemy import select

        from workflow.db import models

        with open_app(config) as a:
            with a.db.sessions() as session:
                rows = list(session.scalars(
                    select(models.Message).where(models.Message.status == "quarantined").order_by(models.Message.id)))
        if json_out:
            print_json([{"id": m.id, "from": m.from_addr, "subject": m.subject, "arrived_at": m.arrived_at.isoformat(),
                         "reason": m.quarantine_reason, "raw_path": m.raw_path} for m in rows])
            return
        t = table("số thư", "ngày nhận", "người gửi", "tiêu đề", "lý do", title=f"Cách ly: {len(rows)}")
        for m in rows:
            t.add_row(str(m.id), vn_date(m.arrived_at), m.from_addr, m.subject[:60], m.quarantine_reason or "")
        console.print(t)
