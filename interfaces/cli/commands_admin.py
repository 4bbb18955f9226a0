"""Commands for operators: configuration, database, roster."""
from __future__ import annotations

from typing import Annotated

import typer

from interfaces.cli.common import ConfigOption, JsonOption, console, fail, open_app, print_json, table

config_app = typer.Typer(help="Kiểm tra cấu hình.", no_args_is_help=True)
db_app = typer.Typer(help="Cấu trúc cơ sở dữ liệu (chuyển đổi Alembic).", no_args_is_help=True)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Kiểm tra tệp cấu hình và các tệp dữ liệu, báo mọi lỗi cùng một lúc."""
    from pathlib import Path

    from reference.campaigns import CampaignError, load_campaigns
    from reference.roster import RosterError, load_roster
    from workflow.settings import ConfigError, load_config

    problems: list[str] = []
    loaded = None
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    roster_dir = loaded.settings.roster_dir if loaded else None
    campaigns_file = loaded.settings.campaigns_file if loaded else None
    try:
        load_roster(Path(roster_dir) if roster_dir else None)
    except RosterError as exc:
        problems.append(f"roster: {exc}")
    try:
        load_campaigns(Path(campaigns_file) if campaigns_file else None)
    except CampaignError as exc:
        problems.append(f"campaigns: {exc}")
    if problems:
        fail("\n".join(["Lỗi cấu hình:"] + [f"  - {p}" for p in problems]), 2)
    assert loaded is not None  # else its error is among the problems
    s = loaded.settings
    console.print(f"Cấu hình hợp lệ: {loaded.source}", markup=False)
    console.print(f"  database: {_redact(s.database.url)}", markup=False)
    console.print(f"  mailbox:  {s.mailbox.source} "
                  + (f"{s.mailbox.username}@{s.mailbox.host}:{s.mailbox.effective_port} ({s.mailbox.security}) "
                     f"{s.mailbox.folder}"
                     if s.mailbox.source == "imap" else s.mailbox.maildir), markup=False)
    console.print(f"  sending:  {s.smtp.transport} "
                  + (f"{s.smtp.host}:{s.smtp.effective_port} ({s.smtp.security})"
                     if s.smtp.transport == "smtp" else s.smtp.outbox_dir),
                  markup=False)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Chuyển cơ sở dữ liệu lên phiên bản mới nhất (mỗi lần khởi động cũng tự làm)."""
    with open_app(config) as a:
        a.db  # noqa: B018 - opening the database migrates it
        console.print(f"Cơ sở dữ liệu đã ở phiên bản mới nhất: {_redact(a.settings.database.url)}", markup=False)


def roster(
    year: Annotated[int, typer.Option("--year", "-y", help="Năm báo cáo.")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Các đơn vị phải báo cáo trong năm."""
    with open_app(config, migrate=False, need_secrets=False) as a:
        agencies = a.roster_base.owing(year)
        if not agencies:
            fail(f"Danh sách đơn vị không có đơn vị nào phải báo cáo năm {year}.", 1)
        if json_out:
            print_json([
                {"slug": ag.slug, "name": ag.name, "short_name": ag.short_name, "kind": ag.kind, "code": ag.code,
                 "domains": list(ag.domains), "addresses": list(ag.addresses), "aliases": list(ag.aliases),
                 "absorbed": list(ag.absorbed)}
                for ag in agencies
            ])
            return
        from notifier.labels import agency_kind_label

        t = table("#", "mã đơn vị", "tên chính thức", "loại", "tên miền",
                  title=f"Đơn vị phải báo cáo năm {year}: {len(agencies)}")
        for i, ag in enumerate(agencies, 1):
            t.add_row(str(i), ag.slug, ag.name, agency_kind_label(ag.kind),
                      ", ".join(ag.domains[:2]))
        console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
    app.add_typer(db_app, name="db")
    app.command("roster")(roster)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never print a URL we could not parse
        return "(unparseable URL)"
