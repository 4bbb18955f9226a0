"""`tdc-bot outbox release`: send emails a restore held back, after checking them again."""
from __future__ import annotations

from typing import Annotated

import typer

from interfaces.cli.common import ConfigOption, JsonOption, console, fail, open_app, print_json, table

outbox_app = typer.Typer(help="Hộp thư đi: các email hệ thống đã quyết định gửi.", no_args_is_help=True)


@outbox_app.command("release")
def release_cmd(
    ids: Annotated[list[int] | None, typer.Argument(
        help="Số thứ tự (id) của thư bị giữ lại cần cho gửi.", show_default=False)] = None,
    restored: Annotated[bool, typer.Option(
        "--restored", help="Mọi thư bị giữ lại khi khôi phục bản sao lưu (`restore`).")] = False,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cho gửi các thư bị giữ lại, sau khi kiểm tra lại từng thư.

    Tệp đính kèm phải nằm trong thư mục lưu trữ; người nhận phải là địa chỉ thường, không phải của hệ
    thống hay của máy. Với --restored, chỉ thư gửi tới địa chỉ hệ thống có lý do viết tới (danh sách
    đơn vị, điều phối viên, danh bạ, người gửi đã xác thực của một thư đã lưu) được cho gửi; thư khác
    vẫn bị giữ, cho gửi từng thư bằng id sau khi xem.
    """
    from notifier.labels import email_kind_label
    from workflow.operations.restore_safety import known_recipients, release

    if not ids and not restored:
        fail("Cho biết id của thư cần cho gửi (xem bằng `tdc-bot status` hoặc trên bảng theo dõi), "
             "hoặc dùng --restored cho mọi thư bị giữ khi khôi phục.", 2)
    with open_app(config) as a:
        with a.db.transaction() as session:
            bulk = restored and not ids
            results = release(session, None if bulk else list(ids or []), a.store_root, a.own_addresses(),
                              known_recipients(a, session) if bulk else None)
    refused = [r for r in results if not r["released"]]
    if json_out:
        print_json(results)
    elif not results:
        console.print("Không có thư nào bị giữ lại khi khôi phục.")
    else:
        t = table("id", "loại thư", "người nhận", "cho gửi", "lý do giữ lại",
                  title=f"Thư được cho gửi: {len(results) - len(refused)}/{len(results)}")
        for r in results:
            to = ", ".join(r["recipients"]) + (f" (cc: {', '.join(r['cc'])})" if r["cc"] else "")
            t.add_row(str(r["id"]), email_kind_label(r["kind"]) or "—", to or "—",
                      "có" if r["released"] else "không", "; ".join(r["problems"]) or "—")
        console.print(t)
    if ids and refused:  # the ids the coordinator named: each one not let go is a failure to say so
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
