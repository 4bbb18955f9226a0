"""`tdc-bot outbox release`: send emails a restore held back, after checking them again."""
from __future__ import annotations

from typing import Annotated

import typer

from workflow.cli.common import ConfigOption, JsonOption, console, fail, open_app, print_json, table


def register(app: typer.Typer) -> None:
    outbox_app = typer.Typer(help="The outbox: emails the bot has decided to send.", no_args_is_help=True)
    app.add_typer(outbox_app, name="outbox")

    @outbox_app.command("release")
    def release_cmd(
        ids: Annotated[list[int] | None, typer.Argument(help="Outbox ids to release (held/suppressed emails).")] = None,
        restored: Annotated[bool, typer.Option("--restored", help="Every email held back by `restore`.")] = False,
        json_out: JsonOption = False,
        config: ConfigOption = None,
    ) -> None:
        """Let held emails go out, each re-checked: attachments from inside the store, recipients
        that are plain addresses and neither the bot's own nor a machine's. With --restored, only
        mail to addresses the bot could have written to (roster, coordinators, contact book, a
        verified sender of a stored message); any other stays held, to be released by its id."""
        from workflow.operations.restore_safety import known_recipients, release
        from workflow.runtime.intake_cycle import own_addresses

        if not ids and not restored:
            fail("outbox release: give outbox ids, or --restored for every email a restore held back", 2)
        with open_app(config) as a:
            with a.db.transaction() as session:
                bulk = restored and not ids
                results = release(session, None if bulk else list(ids or []), a.store_root, own_addresses(a),
                                  known_recipients(a, session) if bulk else None)
        if json_out:
            print_json(results)
            return
        t = table("id", "kind", "recipients", "released", "problems", title=f"Thư được cho gửi: "
                  f"{sum(r['released'] for r in results)}/{len(results)}")
        for r in results:
            to = ", ".join(r["recipients"]) + (f" (cc: {', '.join(r['cc'])})" if r["cc"] else "")
            t.add_row(str(r["id"]), r["kind"], to, "có" if r["released"] else "không", "; ".join(r["problems"]) or "—")
        console.print(t)
