"""Commands for the web board: `web` serves it, `users add|remove|list` manage who may log in.

Starlette, uvicorn and argon2 are imported inside the commands, so the rest of
the CLI starts without them.
"""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from workflow.cli.common import ConfigOption, JsonOption, console, fail, open_app, print_json, table, vn_date


def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="Coordinators who may log in to the web board.", no_args_is_help=True)
    app.add_typer(users_app, name="users")

    @users_app.command("add")
    def users_add(
        email: Annotated[str, typer.Argument(help="The coordinator's e-mail address (their login and audit name).")],
        password_stdin: Annotated[bool, typer.Option(
            "--password-stdin", help="Read the password from standard input (first line).")] = False,
        replace: Annotated[bool, typer.Option("--replace", help="Set a new password for an existing account.")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Create a web board account (password hashed with Argon2; at least 12 characters)."""
        from workflow.accounts import AccountError, add_user

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            import getpass

            password = getpass.getpass("Mật khẩu (password): ")
            if getpass.getpass("Nhập lại (again): ") != password:
                fail("Hai lần nhập mật khẩu không khớp. The passwords differ.", 1)
        with open_app(config) as a:
            try:
                with a.db.transaction() as session:
                    address, created = add_user(session, email, password, replace=replace)
            except AccountError as exc:
                fail(str(exc), 1)
        console.print(f"{'đã tạo tài khoản' if created else 'đã đặt mật khẩu mới cho'} {address}", markup=False)

    @users_app.command("remove")
    def users_remove(
        email: Annotated[str, typer.Argument(help="The account's e-mail address.")],
        config: ConfigOption = None,
    ) -> None:
        """Delete a web board account; its open sessions end at their next request."""
        from workflow.accounts import AccountError, remove_user

        with open_app(config) as a:
            try:
                with a.db.transaction() as session:
                    removed = remove_user(session, email)
            except AccountError as exc:
                fail(str(exc), 1)
        if not removed:
            fail(f"Không có tài khoản {email}. No such account.", 1)
        console.print(f"đã xóa tài khoản {email.strip().lower()}", markup=False)

    @users_app.command("list")
    def users_list(json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """The web board's accounts, with when each last logged in."""
        from workflow.accounts import list_users

        with open_app(config) as a:
            with a.db.sessions() as session:
                users = list_users(session)
        if json_out:
            print_json([u.as_json() for u in users])
            return
        t = table("email", "created", "last login", title=f"Tài khoản bảng theo dõi: {len(users)}")
        for u in users:
            t.add_row(u.email, vn_date(u.created_at), vn_date(u.last_login_at))
        console.print(t)

    @app.command("web")
    def web(
        host: Annotated[str | None, typer.Option("--host",
                                                 help="Address to listen on (default [web] host, 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option("--port", min=1, max=65535,
                                                 help="Port (default [web] port, 8080).")] = None,
        config: ConfigOption = None,
    ) -> None:
        """Serve the coordinators' web board (binds loopback unless told otherwise)."""
        from workflow.accounts import list_users
        from workflow.runtime.logs import setup_logging
        from workflow.web.security import SecretKeyError
        from workflow.web.server import serve

        setup_logging("text", "info")
        with open_app(config) as a:
            with a.db.sessions() as session:
                if not list_users(session):
                    console.print("Chưa có tài khoản nào: tạo bằng `tdc-bot users add EMAIL --password-stdin`. "
                                  "No accounts yet: nobody can log in until one is added.", markup=False)
            try:
                serve(a, host or a.settings.web.host, port or a.settings.web.port)
            except SecretKeyError as exc:
                fail(f"Không khởi động bảng theo dõi: {exc}", 1)


def start_with_daemon(app: object) -> object | None:
    """For `tdc-bot run`: the board in a thread when [web] enabled (None otherwise)."""
    settings = app.settings.web  # type: ignore[attr-defined]
    if not settings.enabled:
        return None
    from workflow.web.security import SecretKeyError
    from workflow.web.server import start_in_thread

    try:
        server, _thread = start_in_thread(app, settings.host, settings.port)  # type: ignore[arg-type]
    except SecretKeyError as exc:
        fail(f"Không khởi động bảng theo dõi: {exc}", 1)
    return server
