"""What every command shares: the --config option, loading the app, output helpers.

Start-up cost is a feature here: coordinators type ``tdc-bot status`` all day,
and ``--help`` must not pay for SQLAlchemy, Alembic or python-docx. So this
module and every ``commands_*`` module import only the standard library and
Typer at module level; everything heavy is imported inside the command that
uses it (docs/architecture.md, "The command line starts fast"). ``console`` is created on
first use, because Rich's console costs as much as a bare Python start.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from interfaces.cli.dates import VN, vn_date  # noqa: F401 - re-exported for the command modules

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

ConfigOption = Annotated[
    str | None,
    typer.Option("--config", "-c",
                 help="Tệp cấu hình (TOML). Mặc định: biến $TDC_CONFIG, nếu không thì cấu hình mặc định (dữ liệu trong "
                      "./var).", envvar="TDC_CONFIG"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="In ra JSON (cho chương trình khác đọc).")]
NowOption = Annotated[
    str | None,
    typer.Option("--now",
                 help="Coi thời điểm hiện tại là lúc này (ISO 8601, vd. 2024-11-23T08:00; giờ Việt Nam khi không ghi "
                      "múi giờ)."),
]



_console: Console | None = None


def rich_console() -> Console:
    """The one stdout console (soft-wrapped: scripts grep whole lines); hand this to Rich widgets.

    A SafeConsole (interfaces.cli.safe_console): text from a mail is never read as markup.
    """
    global _console
    if _console is None:
        from interfaces.cli.safe_console import SafeConsole as _SafeConsole

        _console = _SafeConsole(soft_wrap=True)
    return _console


class _LazyConsole:
    """Stands for ``rich_console()`` so ``console.print(...)`` costs nothing until something is printed."""

    def __getattr__(self, name: str) -> Any:
        return getattr(rich_console(), name)


console: Console = _LazyConsole()  # type: ignore[assignment]


def safe_console(**kwargs: Any) -> Console:
    """Another SafeConsole (e.g. on stderr), built on first use like ``console``."""
    from interfaces.cli.safe_console import SafeConsole as _SafeConsole

    return _SafeConsole(**kwargs)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print to stderr unwrapped (scripts grep these lines) and exit."""
    from notifier.safe_text import terminal_text  # errors may quote a sender's text

    sys.stderr.write(terminal_text(message).rstrip("\n") + "\n")
    raise typer.Exit(code)


@contextmanager
def open_app(config: str | None, migrate: bool = True, need_secrets: bool = True) -> Iterator[Any]:
    """Build the App, turning configuration and data errors into a clear message and exit code 2.

    ``need_secrets=False`` for read-only commands: they run without the IMAP/SMTP password variables.
    """
    from reference.campaigns import CampaignError
    from reference.roster import RosterError
    from workflow.app import App
    from workflow.settings import EMBEDDED, ConfigError

    try:
        app = App.load(config, migrate=migrate, need_secrets=need_secrets)
    except ConfigError as exc:
        fail(f"Lỗi cấu hình:\n{exc}", 2)
    except (RosterError, CampaignError) as exc:
        fail(f"Lỗi dữ liệu: {exc}", 2)
    if app.config.source == EMBEDDED:
        from workflow.settings_keys import defaults_notice

        notice = defaults_notice()
        if notice:
            sys.stderr.write(notice + "\n")
    try:
        yield app
    finally:
        app.close()


def parse_now(value: str | None) -> datetime:
    """--now parsing: naive values are Vietnam time, because operators think in it."""
    if not value:
        return datetime.now(VN)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now: {value!r} không phải ngày giờ theo ISO 8601 (ví dụ: 2024-11-23T08:00)", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=VN)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def table(*columns: str, title: str | None = None) -> Table:
    from interfaces.cli.safe_console import SafeTable, safe_title

    t = SafeTable(title=safe_title(title), show_lines=False, header_style="bold")
    for column in columns:
        t.add_column(column)
    return t
