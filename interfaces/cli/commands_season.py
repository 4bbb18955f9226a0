"""Commands for coordinators following a season: status, stats, quarantine, show."""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from interfaces.cli.common import ConfigOption, JsonOption, console, fail, open_app, print_json, table, vn_date

quarantine_app = typer.Typer(help="Thư hệ thống không đọc an toàn được (cách ly).", no_args_is_help=True)


def status(
    year: Annotated[int, typer.Option("--year", "-y", help="Năm báo cáo.")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Mỗi đơn vị phải báo cáo trong năm một dòng, với trạng thái nộp báo cáo."""
    from interfaces.cli.status_view import nobody_owes, write_status
    from workflow.season.status import job_runs, review_total, season_status, unsent_counts

    with open_app(config, need_secrets=False) as a:
        if year not in a.campaigns:
            from reference.campaigns import no_campaign

            fail(no_campaign(year, a.campaigns), 1)
        with a.db.sessions() as session:
            rows = season_status(session, a.roster_base, year)
            outbox = unsent_counts(session)
            jobs = job_runs(session)
            review = review_total(session, year)
    if not rows:
        fail(nobody_owes(year), 1)
    write_status(sys.stdout, year, rows, outbox, jobs, as_json=json_out, review=review)


def stats(json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Số thư đã nhận (đã ghi, bỏ qua, thư rác, cách ly) và số thư gửi đi theo trạng thái."""
    from interfaces.cli.status_view import OUTBOX_WORDS
    from workflow.season.status import message_counts, outbox_counts

    with open_app(config) as a:
        with a.db.sessions() as session:
            msgs = message_counts(session)
            outbox = outbox_counts(session)
    data = {"messages": sum(msgs.values()), "recorded": msgs["recorded"], "ignored": msgs["ignored"],
            "junk": msgs["junk"], "quarantined": msgs["quarantined"], "outbox": outbox}
    if json_out:
        print_json(data)
        return
    console.print(f"Thư đã nhận: {data['messages']} (đã ghi {msgs['recorded']}, bỏ qua {msgs['ignored']}, "
                  f"thư rác {msgs['junk']}, cách ly {msgs['quarantined']})", markup=False)
    console.print("Thư gửi đi: " + (", ".join(f"{OUTBOX_WORDS.get(k, k)} {v}" for k, v in outbox.items())
                                   or "chưa có"), markup=False)


@quarantine_app.command("list")
def quarantine_list(json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Thư được giữ nguyên bản nhưng không xử lý, kèm lý do."""
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
    if not rows:
        console.print("Không có thư nào bị cách ly.", markup=False)
        return
    t = table("số thư", "ngày nhận", "người gửi", "tiêu đề", "lý do", title=f"Cách ly: {len(rows)}")
    for m in rows:
        t.add_row(str(m.id), vn_date(m.arrived_at), m.from_addr, m.subject[:60], m.quarantine_reason or "")
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(quarantine_app, name="quarantine")
    for name, command in (("status", status), ("stats", stats)):
        app.command(name)(command)
