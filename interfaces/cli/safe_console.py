"""Rich console and table for text that may come from a mail.

Never parsed as Rich markup, never passing escape sequences or control
characters to the terminal (see notifier.safe_text). Kept apart from
``interfaces.cli.common`` so that importing the command line does not import
Rich: ``common`` builds these on first use.
"""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from notifier.safe_text import terminal_text


class SafeConsole(Console):
    """Strings become plain ``Text`` here, so ``[/x] hello`` in a subject is shown as is
    instead of raising ``MarkupError``; renderables built by the code (tables) are passed on.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs.pop("markup", None)
        kwargs.setdefault("highlight", False)
        cleaned = [Text(terminal_text(o)) if isinstance(o, str) else o for o in objects]
        super().print(*cleaned, **kwargs)


class SafeTable(Table):
    """A Table whose string cells are plain text, cleaned for the terminal (see SafeConsole)."""

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(*(Text(terminal_text(r)) if isinstance(r, str) else r for r in renderables), **kwargs)


def safe_title(title: str | None) -> Text | None:
    return Text(terminal_text(title)) if title else None
