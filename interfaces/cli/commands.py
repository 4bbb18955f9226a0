"""Every ``tdc-bot`` command on one Typer app (Typer on Click, Rich for tables and progress).

Why Typer: commands are plain typed functions, so help text, option parsing
and validation come from the signatures; Rich gives tables on a terminal and
plain text when piped. Every command takes ``--config FILE`` (else the
TDC_CONFIG environment variable, else the embedded defaults).
"""
from __future__ import annotations

import typer

from interfaces.cli import (
    commands_actions,
    commands_admin,
    commands_contacts,
    commands_deadline,
    commands_files,
    commands_junk,
    commands_mail,
    commands_ops,
    commands_outbox,
    commands_reports,
    commands_season,
    commands_web,
)

app = typer.Typer(
    name="tdc-bot",
    help="Tiếp nhận báo cáo Chương trình quốc gia nâng cao năng suất và chất lượng (Quyết định 1322/QĐ-TTg) qua email.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
commands_admin.register(app)
commands_season.register(app)
commands_mail.register(app)
commands_deadline.register(app)
commands_actions.register(app)
commands_ops.register(app)
commands_reports.register(app)
commands_web.register(app)
commands_outbox.register(app)
commands_contacts.register(app)
commands_junk.register(app)
commands_files.register(app)
