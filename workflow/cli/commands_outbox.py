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
        that are plain addresses and neither the bot's own nor a machine's."""
        from workflow.runtime.intake_cycle import own_addresses
        from workflow.operations.restore_safety import release

        if not ids and not restored:
            fail("outbox release: give outbox ids, or --restored for every email a restore held back", 2)
        with open_app(config) as a:
            with a.db.transaction() as session:
                results = release(session, None if restored and not ids else list(ids or []), a.store_root,
                                  own_addresses(a))
        if json_out:
            print_json(results)
            return
        t = table("id", "kind", "recipients", "released", "problems", title=f"Thư được cho gửi: "
                  f"{sum(r['released'] for r in results)}/{len(results)}")
        for r in results:
            t.add_row(str(r["id"]), r["kind"], ", ".join(r["recipients"]), "có" if r["released"] else "không",
                      "; ".join(r["problems"]) or "—")
        console.print(t)
