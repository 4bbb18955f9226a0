"""``tdc-bot junk``: the mail the spam filter set aside, listed apart, and rescued when the filter was wrong."""
from __future__ import annotations

from typing import Annotated

import typer

from interfaces.cli.commands_actions import ActorOption, resolve_actor
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
    vn_date,
)

junk_app = typer.Typer(help="Thư rác: lưu lại, không trả lời, không hiện trong các danh sách cần xem.",
                       no_args_is_help=True)


@junk_app.command("list")
def junk_list(
    limit: Annotated[int, typer.Option("--limit", "-n", help="Số thư nhiều nhất (mới nhất trước).")] = 200,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Thư bộ lọc coi là thư rác, mới nhất trước, với lý do."""
    from sqlalchemy import select

    from workflow.db import models

    with open_app(config, need_secrets=False) as a:
        with a.db.sessions() as session:
            rows = list(session.scalars(select(models.Message).where(models.Message.status == "junk")
                                        .order_by(models.Message.arrived_at.desc(), models.Message.id.desc())
                                        .limit(limit)))
    if json_out:
        print_json([{"id": m.id, "from": m.from_addr, "subject": m.subject, "arrived_at": m.arrived_at.isoformat(),
                     "reason": (m.reasons or [""])[0]} for m in rows])
        return
    if not rows:
        console.print("Không có thư rác.")
        return
    t = table("số thư", "ngày nhận", "người gửi", "tiêu đề", "lý do", title=f"Thư rác: {len(rows)}")
    for m in rows:
        t.add_row(str(m.id), vn_date(m.arrived_at), m.from_addr, (m.subject or "")[:60], (m.reasons or [""])[0])
    console.print(t)
    console.print("Nếu một thư không phải thư rác: tdc-bot junk rescue SỐ_THƯ")


@junk_app.command("rescue")
def junk_rescue(
    message: Annotated[int, typer.Argument(help="Số thư (theo `tdc-bot junk list`).")],
    actor: ActorOption = None,
    now: NowOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Đưa một thư ra khỏi mục thư rác: đọc lại như thư thường (báo cáo thì được ghi nhận và báo nhận)."""
    from workflow.runtime.junk_rescue import RescueError, rescue_from_junk

    with open_app(config) as a:
        try:
            result = rescue_from_junk(a, message, resolve_actor(actor), parse_now(now))
        except RescueError as exc:
            fail(f"Không đưa được thư ra khỏi mục thư rác: {exc}", 1)
            return
    if json_out:
        print_json({"message_id": result.message_id, "status": result.status, "submission_id": result.submission_id,
                    "state": result.state, "ack_queued": result.ack_queued})
        return
    from notifier.labels import state_label

    line = f"Thư #{result.message_id} đã đưa khỏi mục thư rác"
    if result.state:
        line += f"; báo cáo được ghi nhận ({state_label(result.state)})"
    if result.ack_queued:
        line += "; đã xếp thư báo nhận"
    console.print(line + ".")


def register(app: typer.Typer) -> None:
    app.add_typer(junk_app, name="junk")
