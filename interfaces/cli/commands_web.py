"""Commands for the web board: `web` serves it, `users add|remove|list` manage who may log in.

Starlette, uvicorn and argon2 are imported inside the commands, so the rest of
the CLI starts without them.
"""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from interfaces.cli.common import ConfigOption, JsonOption, console, fail, open_app, print_json, table, vn_date

users_app = typer.Typer(help="Tài khoản đăng nhập bảng theo dõi của cán bộ điều phối.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="Địa chỉ email của cán bộ (tên đăng nhập, và tên ghi trong nhật "
                                              "ký).", show_default=False)],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Đọc mật khẩu từ đầu vào chuẩn (dòng đầu "
                                                                          "tiên).")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Đặt mật khẩu mới cho tài khoản đã có.")] = False,
    config: ConfigOption = None,
) -> None:
    """Tạo tài khoản bảng theo dõi (mật khẩu ít nhất 12 ký tự, lưu dạng băm Argon2)."""
    from workflow.accounts import AccountError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("Mật khẩu: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != password:
            fail("Hai lần nhập mật khẩu không khớp.", 1)
    with open_app(config) as a:
        try:
            with a.db.transaction() as session:
                address, created = add_user(session, email, password, replace=replace)
        except AccountError as exc:
            fail(str(exc), 1)
    console.print(f"{'đã tạo tài khoản' if created else 'đã đặt mật khẩu mới cho'} {address}", markup=False)


@users_app.command("remove")
def users_remove(
    email: Annotated[str, typer.Argument(help="Địa chỉ email của tài khoản.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Xóa tài khoản bảng theo dõi; các phiên đang mở của tài khoản hết hiệu lực ngay ở lần truy cập sau."""
    from workflow.accounts import AccountError, remove_user

    with open_app(config) as a:
        try:
            with a.db.transaction() as session:
                removed = remove_user(session, email)
        except AccountError as exc:
            fail(str(exc), 1)
    console.print(f"đã xóa tài khoản {removed}", markup=False)


@users_app.command("list")
def users_list(json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Các tài khoản bảng theo dõi, và lần đăng nhập gần nhất của từng tài khoản."""
    from workflow.accounts import list_users

    with open_app(config) as a:
        with a.db.sessions() as session:
            users = list_users(session)
    if json_out:
        print_json([u.as_json() for u in users])
        return
    if not users:
        console.print("Chưa có tài khoản nào: tạo bằng `tdc-bot users add EMAIL`.", markup=False)
        return
    t = table("email", "ngày tạo", "đăng nhập gần nhất", title=f"Tài khoản bảng theo dõi: {len(users)}")
    for u in users:
        t.add_row(u.email, vn_date(u.created_at), vn_date(u.last_login_at))
    console.print(t)


def web(
    host: Annotated[str | None, typer.Option("--host", help="Địa chỉ lắng nghe (mặc định: [web] host, 127.0.0.1).",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Cổng (mặc định: [web] port, 8080).",
                                             show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Chạy bảng theo dõi cho cán bộ điều phối (chỉ nghe trên máy này, trừ khi cấu hình khác)."""
    from interfaces.web.security import SecretKeyError
    from interfaces.web.server import serve
    from workflow.accounts import list_users
    from workflow.runtime.logs import setup_logging

    setup_logging("text", "info")
    with open_app(config) as a:
        with a.db.sessions() as session:
            if not list_users(session):
                console.print("Chưa có tài khoản nào nên chưa ai đăng nhập được: tạo bằng "
                              "`tdc-bot users add EMAIL`.", markup=False)
        try:
            serve(a, host or a.settings.web.host, port or a.settings.web.port)
        except SecretKeyError as exc:
            fail(f"Không khởi động bảng theo dõi: {exc}", 1)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.command("web")(web)


def start_with_daemon(app: object) -> object | None:
    """For `tdc-bot run`: the board in a thread when [web] enabled (None otherwise)."""
    settings = app.settings.web  # type: ignore[attr-defined]
    if not settings.enabled:
        return None
    from interfaces.web.security import SecretKeyError
    from interfaces.web.server import start_in_thread

    try:
        server, _thread = start_in_thread(app, settings.host, settings.port)  # type: ignore[arg-type]
    except SecretKeyError as exc:
        fail(f"Không khởi động bảng theo dõi: {exc}", 1)
    return server
