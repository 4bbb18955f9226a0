"""`tdc-bot contacts ...`: the contact book reminders go to (see workflow/season/contacts.py).

The command names, options and JSON keys are a contract: coordinators' scripts
import the spreadsheet and read ``contacts list --json``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
)

if TYPE_CHECKING:  # imported where used: the command line must start fast (interfaces/cli/common.py)
    from sqlalchemy.orm import Session

AgencyArg = Annotated[str, typer.Argument(help="Đơn vị: mã hoặc tên, có hay không dấu đều được (tay-ninh, \"Tỉnh Tây "
                                               "Ninh\").", show_default=False)]
EmailArg = Annotated[str, typer.Argument(help="Địa chỉ email.", show_default=False)]


contacts_app = typer.Typer(help="Danh bạ liên hệ: thư nhắc gửi tới ai, và địa chỉ nào là của đơn vị nào.",
                           no_args_is_help=True)


@contacts_app.command("import")
def contacts_import(
    file: Annotated[Path, typer.Argument(help="Tệp CSV (UTF-8, phân cách ';' hoặc ',') hoặc XLSX có dòng tiêu đề: "
                                              "`agency`, `email`, và nếu có: `name`, `role`, `phone`, `unit`, "
                                              "`from_year`.",
                                         show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="Chỉ cho xem sẽ thay đổi gì, không thay đổi gì.")] = False,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Vẫn nhập các dòng đúng khi có dòng lỗi.")] = False,
    actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False, config: ConfigOption = None,
) -> None:
    """Nhập danh bạ từ bảng tính; mọi dòng lỗi được liệt kê, và không nhập gì nếu còn dòng lỗi.

    Dùng --skip-bad để vẫn nhập các dòng đúng.
    """
    from workflow.season import contact_sheet, contacts

    if not file.is_file():
        fail(f"Không tìm thấy tệp {file}", 2)
    with open_app(config) as a:
        deadline = contact_sheet.IMPORT_LIMITS.deadline()  # reading and checking share one time budget
        try:
            rows = contact_sheet.read_table(file, deadline=deadline)
            with a.db.sessions() as session:
                checked = contact_sheet.check_table(a.roster_base, rows, session, deadline=deadline)
        except contacts.ContactError as exc:
            fail(str(exc), 2)
        who, when = resolve_actor(actor), parse_now(now)
        out: dict[str, Any] = {"file": str(file), "problems": checked.problems, "dry_run": dry_run,
                               "changes": [], "imported": 0, "carried_over": []}
        if checked.problems and not skip_bad:
            if json_out:
                print_json(out)
            sys_err = "\n".join([f"{file.name}: {len(checked.problems)} dòng có lỗi, không nhập gì "
                                 f"(sửa các dòng đó, hoặc dùng --skip-bad để nhập các dòng đúng):"]
                                + [f"  {p}" for p in checked.problems])
            fail(sys_err, 1)
        if dry_run:
            with a.db.sessions() as session:
                changes = contact_sheet.import_lines(session, checked.lines, actor=who, now=when, dry_run=True)
                session.rollback()
        else:
            with a.db.transaction() as session:
                changes = contact_sheet.import_lines(session, checked.lines, actor=who, now=when)
                carried = [c for year in sorted(a.campaigns) for c in
                           contacts.carry_over(session, a.roster_base, year, now=when)]
            out["carried_over"] = [c.as_json() for c in carried]
    out["changes"] = [c.as_json() for c in changes]
    out["imported"] = sum(1 for c in changes if c.action in ("add", "update"))
    if json_out:
        print_json(out)
        return
    for problem in checked.problems:
        console.print(f"bỏ qua {problem}", markup=False)
    for change in changes:
        if change.action != "same":
            console.print(("(thử) " if dry_run else "") + change.describe(), markup=False)
    for carry in out["carried_over"]:
        console.print(f"chuyển sang {carry['agency']}: {carry['email']} (từ {carry['fields']['from']}, chưa xác "
                      "nhận)",
                      markup=False)
    same = sum(1 for c in changes if c.action == "same")
    console.print(f"{'Sẽ nhập' if dry_run else 'Đã nhập'} {out['imported']} liên hệ, {same} không đổi"
                  + (f", {len(checked.problems)} dòng lỗi bị bỏ qua" if checked.problems else "")
                  + (" (chạy thử: chưa thay đổi gì)" if dry_run else ""), markup=False)


@contacts_app.command("list")
def contacts_list(
    year: Annotated[int | None, typer.Option("--year", "-y", help="Chỉ các liên hệ dùng được trong năm báo cáo "
                                                                  "này.")] = None,
    agency: Annotated[str | None, typer.Option("--agency", "-a", help="Chỉ đơn vị này (mã hoặc tên).")] = None,
    json_out: JsonOption = False, config: ConfigOption = None,
) -> None:
    """Danh bạ, rồi các gợi ý (người gửi chưa ai xác nhận; không bao giờ nhận thư nhắc)."""
    from notifier.labels import contact_source_label
    from workflow.season import contacts

    with open_app(config) as a:
        with a.db.sessions() as session:
            try:
                rows = contacts.list_contacts(session, a.roster_base, year, agency)
            except contacts.ContactError as exc:
                fail(str(exc), 1)
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("Danh bạ chưa có liên hệ nào" + (" phù hợp." if year or agency else
                      ": nhập bằng `tdc-bot contacts import TỆP`."), markup=False)
        return
    t = table("đơn vị", "email", "họ tên", "vai trò", "nơi nhận", "nguồn", "đã xác nhận", "tình trạng",
              title=f"Danh bạ: {sum(1 for r in rows if r['source'] != contacts.SUGGESTED)} liên hệ, "
                    f"{sum(1 for r in rows if r['source'] == contacts.SUGGESTED)} gợi ý")
    for r in rows:
        health = f"bị trả lại: {r['bounce_reason']}" if r["failing"] else "—"
        t.add_row(r["agency"], r["email"], r["name"] or "—", r["role"] or "—", r["unit"] or "—",
                  contact_source_label(r["source"]),
                  "có" if r["confirmed"] else "chưa", health[:80])
    console.print(t)


def _one(config: str | None, actor: str | None, now: str | None, json_out: bool,
         change: Callable[[Session, Any, str, Any], Any]) -> None:
    from workflow.season import contacts

    with open_app(config) as a:
        when = parse_now(now)
        try:
            with a.db.transaction() as session:
                result = change(session, a.roster_base, resolve_actor(actor), when)
                carried = [c for year in sorted(a.campaigns) for c in
                           contacts.carry_over(session, a.roster_base, year, now=when)]
        except contacts.ContactError as exc:
            fail(str(exc), 1)
    if json_out:
        print_json(dict(result.as_json(), carried_over=[c.as_json() for c in carried]))
    else:
        console.print(result.describe() if result.action != "same" else
                      f"{result.agency} {result.email}: không có gì thay đổi", markup=False)


@contacts_app.command("add")
def contacts_add(
    agency: AgencyArg, email: EmailArg,
    name: Annotated[str, typer.Option("--name", help="Họ tên người liên hệ.")] = "",
    role: Annotated[str, typer.Option("--role", help="Vai trò: đầu mối, lãnh đạo, văn thư, hoặc ghi tự do.")] = "",
    phone: Annotated[str, typer.Option("--phone", help="Số điện thoại.")] = "",
    unit: Annotated[str, typer.Option("--unit", help="Tên nơi nhận, như viết sau \"Kính gửi:\".")] = "",
    from_year: Annotated[int | None, typer.Option("--from-year", help="Năm báo cáo đầu tiên liên hệ này được "
                                                                      "dùng.")] = None,
    actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False, config: ConfigOption = None,
) -> None:
    """Thêm một liên hệ đã xác nhận (hoặc sửa và xác nhận liên hệ đã có)."""
    from workflow.season import contacts

    _one(config, actor, now, json_out, lambda s, roster, who, when: contacts.add(
        s, roster, agency, email, actor=who, now=when, name=name, role=role, phone=phone, unit=unit,
        from_year=from_year))


@contacts_app.command("remove")
def contacts_remove(agency: AgencyArg, email: EmailArg, actor: ActorOption = None, now: NowOption = None,
                    json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Thôi dùng một liên hệ (vẫn ghi trong nhật ký; liên hệ chuyển từ đơn vị sáp nhập sẽ không được gợi ý lại).

    Xóa nhầm thì `contacts confirm` khôi phục lại."""
    from workflow.season import contacts

    _one(config, actor, now, json_out, lambda s, roster, who, when: contacts.remove(
        s, roster, agency, email, actor=who, now=when))


@contacts_app.command("confirm")
def contacts_confirm(agency: AgencyArg, email: EmailArg, actor: ActorOption = None, now: NowOption = None,
                     json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Xác nhận một liên hệ: thư nhắc lại dùng liên hệ này.

    Dùng cho liên hệ chuyển từ đơn vị sáp nhập, đã sửa sau khi thư bị trả lại, hoặc bị xóa nhầm.
    """
    from workflow.season import contacts

    _one(config, actor, now, json_out, lambda s, roster, who, when: contacts.confirm(
        s, roster, agency, email, actor=who, now=when))


@contacts_app.command("export")
def contacts_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Tệp .csv hoặc .xlsx; `contacts import` đọc lại được.",
                                      show_default=False)],
    json_out: JsonOption = False, config: ConfigOption = None,
) -> None:
    """Ghi danh bạ ra bảng tính mà `contacts import` đọc lại được."""
    from workflow.season import contact_sheet, contacts

    with open_app(config) as a:
        with a.db.sessions() as session:
            rows = contact_sheet.export_rows(session)
    try:
        contact_sheet.write_table(rows, out)
    except contacts.ContactError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json({"out": str(out), "contacts": len(rows)})
    else:
        console.print(f"Đã ghi {len(rows)} liên hệ vào {out}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")
