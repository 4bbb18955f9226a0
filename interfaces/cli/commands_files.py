"""``tdc-bot attach``: a report file a coordinator adds by hand (downloaded from a link, or received outside email)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interfaces.cli.commands_actions import ActorOption, AgencyArg, YearOption, agency_year, parse_day, resolve_actor
from interfaces.cli.common import ConfigOption, JsonOption, NowOption, console, fail, open_app, parse_now, print_json


def attach(
    agency: AgencyArg,
    file: Annotated[Path, typer.Argument(help="Tệp báo cáo (.docx, .pdf, .doc …) đã tải về hoặc đã nhận.")],
    year: YearOption = None,
    message: Annotated[int | None, typer.Option(
        "--message", "-m",
        help="Đính kèm vào đúng thư này (mặc định: phiên bản hiện hành, vd. thư gửi đường liên kết).")] = None,
    received: Annotated[str | None, typer.Option(
        "--received", help="Ngày nhận báo cáo ngoài email (DD/MM/YYYY); chỉ dùng khi đơn vị chưa có thư nào.")] = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Ghi chú vào nhật ký (tùy chọn).")] = "",
    actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False, config: ConfigOption = None,
) -> None:
    """Đính kèm tệp báo cáo cho đơn vị: tệp tải về từ đường liên kết, hoặc báo cáo nhận ngoài email (có ghi nhật ký)."""
    from workflow.runtime.attach_file import attach_file
    from workflow.season import states
    from workflow.season.action_context import ActionError

    slug, year_ = agency_year(agency, year)
    day = parse_day(received) if received else None
    with open_app(config) as a:
        try:
            result = attach_file(a, slug, year_, file, resolve_actor(actor), parse_now(now), day, message, reason)
        except (ActionError, states.IllegalTransition) as exc:
            fail(str(exc), 1)
            return
    if json_out:
        print_json(result.as_json())
    else:
        console.print(result.summary(), markup=False)


def register(app: typer.Typer) -> None:
    app.command("attach")(attach)
