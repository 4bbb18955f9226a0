"""What every command shares: the --config option, loading the app, output helpers."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Iterator
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from notifier.safe_text import terminal_text
from workflow.settings import ConfigError

ConfigOption = Annotated[
    str | None,
    typer.Option("--config", "-c", help="Configuration file (TOML). Default: $TDC_CONFIG, else the embedded defaults.", envvar="TDC_CONFIG"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Pretend the time is this (ISO 8601, e.g. 2024-11-23T08:00; Asia/Ho_Chi_Minh when no offset)."),
]



class SafeConsole(Console):
    """A Console for text that may come from a mail: never parsed as Rich markup, never
    passing escape sequences or control characters to the terminal (see notifier.safe_text).

    Strings become plain ``Text`` objects here, so ``[/x] hello`` in a subject is shown as is
    instead of raising ``MarkupError``; renderables built by the code (tables) are passed on.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        kwargs.pop("markup", None)
        kwargs.setdefault("highlight", False)
        cleaned = [Text(terminal_text(o)) if isinstance(o, str) else o for o in objects]
        super().print(*cleaned, **kwargs)


class SafeTable(Table):
    """A Table whose string cells are plain text, cleaned for the terminal (see SafeConsole)."""

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().add_row(*(Text(terminal_text(r)) if isinstance(r, str) else r for r in renderables), **kwargs)


console = SafeConsole(soft_wrap=True)
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def fail(message: str, code: int = 1) -> None:
    """Print to stderr unwrapped (scripts grep these lines) and exit."""
    sys.stderr.write(terminal_text(message).rstrip("\n") + "\n")  # errors may quote a sender's text
    raise typer.Exit(code)


@contextmanager
def open_app(config: str | None, migrate: bool = True, need_secrets: bool = True) -> Iterator[Any]:
    """Build the App, turning configuration and data errors into a clear message and exit code 2.

    ``need_secrets=False`` for read-only commands: they run without the IMAP/SMTP password variables.
    """
    from workflow.app import App
    from workflow.campaigns import CampaignError
    from workflow.roster import RosterError

    try:
        app = App.load(config, migrate=migrate, need_secrets=need_secrets)
    except ConfigError as exc:
        fail(f"Configuration error:\n{exc}", 2)
    except (RosterError, CampaignError) as exc:
        fail(f"Data error: {exc}", 2)
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
        fail(f"--now: not an ISO 8601 date/time: {value!r} (example: 2024-11-23T08:00)", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=VN)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def vn_date(value: datetime | None) -> str:
    return value.astimezone(VN).strftime("%d/%m/%Y %H:%M") if value else "—"


def table(*columns: str, title: str | None = None) -> Table:
    t = SafeTable(title=Text(terminal_text(title)) if title else None, show_lines=False, header_style="bold")
    for column in columns:
        t.add_column(column)
    return t
