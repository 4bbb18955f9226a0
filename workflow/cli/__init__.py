"""The ``tdc-bot`` command line: the entry point.

``main`` first offers the command to the fast lane (``workflow.cli.fast_lane``:
``status`` on SQLite, without Typer, pydantic, SQLAlchemy or Rich), and
otherwise runs the Typer app of ``workflow.cli.commands``. This module
imports nothing at all, so the lane pays only for what it uses.
"""
from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    from workflow.cli.fast_lane import run

    code = run(sys.argv[1:])
    if code is not None:
        sys.stdout.flush()
        raise SystemExit(code)
    from workflow.cli.commands import app

    app()


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from workflow.cli import app`` (tests, CliRunner) still finds the Typer app
        from workflow.cli.commands import app

        return app
    raise AttributeError(name)
