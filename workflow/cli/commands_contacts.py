"""`tdc-bot contacts ...`: the contact book reminders go to (see workflow/season/contacts.py).

The command names, options and JSON keys are a contract: coordinators' scripts
import the spreadsheet and read ``contacts list --json``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workflow.cli.commands_actions import ActorOption, resolve_actor
from workflow.cli.common import (
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

if TYPE_CHECKING:  # imported where used: the command line must start fast (workflow/cli/common.py)
    from sqlalchemy.orm import Session

AgencyArg = Annotated[str,
                      typer.Argument(help="Agency: slug or name, with or without diacritics (tay-ninh, \"Tỉnh Tây "
                                          "Ninh\").")]
EmailArg = Annotated[str, typer.Argument(help="E-mail address.")]


def register(app: typer.Typer) -> None:
    contacts_app = typer.Typer(help="The contact book: who reminders go to, and which addresses speak for an agency.",
                               no_args_is_help=True)
    app.add_typer(contacts_app, name="contacts")

    @contacts_app.command("import")
    def contacts_import(
        file: Annotated[Path, typer.Argument(help="CSV (UTF-8, ';' or ',') or XLSX with a header row: agency, email, "
                                                  "and optionally name, role, phone, unit, from_year.")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
        skip_bad: Annotated[bool, typer.Option("--skip-bad",
                                               help="Import the good lines even when some are bad.")] = False,
        actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False, config: ConfigOption = None,
    ) -> None:
        """Import the coordinators' spreadsheet; every bad line is listed and nothing is imported unless all are
        good."""
        from workflow.season import contacts

        if not file.is_file():
            fail(f"Không tìm thấy tệp {file} (file not found)", 2)
        with open_app(config) as a:
            deadline = contacts.IMPORT_LIMITS.deadline()  # reading and checking share one time budget
            try:
                rows = contacts.read_table(file, deadline=deadline)
                with a.db.sessions() as session:
                    checked = contacts.check_table(a.roster_base, rows, session, deadline=deadline)
            except contacts.ContactError as exc:
                fail(str(exc), 2)
            who, when = resolve_actor(actor), parse_now(now)
            out: dict[str, Any] = {"file": str(file), "problems": checked.problems, "dry_run": dry_run,
                                   "changes": [], "imported": 0, "carried_over": []}
            if checked.problems and not skip_bad:
                if json_out:
                    print_json(out)
                sys_err = "\n".join([f"{file.name}: {len(checked.problems)} dòng có lỗi, không nhập gì "
                                     f"(nothing imported; fix them or use --skip-bad):"]
                                    + [f"  {p}" for p in checked.problems])
                fail(sys_err, 1)
            if dry_run:
                with a.db.sessions() as session:
                    changes = contacts.import_lines(session, checked.lines, actor=who, now=when, dry_run=True)
                    session.rollback()
            else:
                with a.db.transaction() as session:
                    changes = contacts.import_lines(session, checked.lines, actor=who, now=when)
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
            console.print(f"carried over {carry['agency']} {carry['email']} (từ {carry['fields']['from']}, chưa xác "
                          "nhận)",
                          markup=False)
        same = sum(1 for c in changes if c.action == "same")
        console.print(f"{'Sẽ nhập' if dry_run else 'Đã nhập'} {out['imported']} liên hệ, {same} không đổi"
                      + (f", {len(checked.problems)} dòng lỗi bị bỏ qua" if checked.problems else "")
                      + (" (dry run: nothing changed)" if dry_run else ""), markup=False)

    @contacts_app.command("list")
    def contacts_list(
        year: Annotated[int | None, typer.Option("--year", "-y",
                                                 help="Only contacts valid in this reporting year.")] = None,
        agency: Annotated[str | None, typer.Option("--agency", "-a", help="Only this agency (slug or name).")] = None,
        json_out: JsonOption = False, config: ConfigOption = None,
    ) -> None:
        """The contact book, then suggestions (senders nobody vouched for, never reminded)."""
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
        t = table("agency", "email", "name", "role", "unit", "source", "confirmed", "health",
                  title=f"Danh bạ: {sum(1 for r in rows if r['source'] != contacts.SUGGESTED)} liên hệ, "
                        f"{sum(1 for r in rows if r['source'] == contacts.SUGGESTED)} gợi ý")
        for r in rows:
            health = f"bị trả lại: {r['bounce_reason']}" if r["failing"] else "—"
            t.add_row(r["agency"], r["email"], r["name"] or "—", r["role"] or "—", r["unit"] or "—", r["source"],
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
                          f"{result.agency} {result.email}: không có gì thay đổi (nothing to do)", markup=False)

    @contacts_app.command("add")
    def contacts_add(
        agency: AgencyArg, email: EmailArg,
        name: Annotated[str, typer.Option("--name", help="The person's name.")] = "",
        role: Annotated[str, typer.Option("--role", help="đầu mối, lãnh đạo, văn thư, or free text.")] = "",
        phone: Annotated[str, typer.Option("--phone")] = "",
        unit: Annotated[str, typer.Option("--unit", help="The unit as written after \"Kính gửi:\".")] = "",
        from_year: Annotated[int | None, typer.Option("--from-year",
                                                      help="First reporting year it is valid for.")] = None,
        actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False, config: ConfigOption = None,
    ) -> None:
        """Add a confirmed contact (or update and confirm an existing one)."""
        from workflow.season import contacts

        _one(config, actor, now, json_out, lambda s, roster, who, when: contacts.add(
            s, roster, agency, email, actor=who, now=when, name=name, role=role, phone=phone, unit=unit,
            from_year=from_year))

    @contacts_app.command("remove")
    def contacts_remove(agency: AgencyArg, email: EmailArg, actor: ActorOption = None, now: NowOption = None,
                        json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """Stop using a contact (kept in the audit log; a carried-over one is not offered again)."""
        from workflow.season import contacts

        _one(config, actor, now, json_out, lambda s, roster, who, when: contacts.remove(
            s, roster, agency, email, actor=who, now=when))

    @contacts_app.command("confirm")
    def contacts_confirm(agency: AgencyArg, email: EmailArg, actor: ActorOption = None, now: NowOption = None,
                         json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """Confirm a contact (carried over, or fixed after a bounce): reminders use it again."""
        from workflow.season import contacts

        _one(config, actor, now, json_out, lambda s, roster, who, when: contacts.confirm(
            s, roster, agency, email, actor=who, now=when))

    @contacts_app.command("export")
    def contacts_export(
        out: Annotated[Path, typer.Option("--out", "-o", help="F.csv or F.xlsx; `contacts import` reads it back.")],
        json_out: JsonOption = False, config: ConfigOption = None,
    ) -> None:
        """Write the contact book to a spreadsheet that `contacts import` reads back."""
        from workflow.season import contacts

        with open_app(config) as a:
            with a.db.sessions() as session:
                rows = contacts.export_rows(session)
        try:
            contacts.write_table(rows, out)
        except contacts.ContactError as exc:
            fail(str(exc), 2)
        if json_out:
            print_json({"out": str(out), "contacts": len(rows)})
        else:
            console.print(f"Đã ghi {len(rows)} liên hệ vào {out}", markup=False)
