"""The ``tdc-bot`` command line: the entry point.

``main`` first offers the command to the fast lane (``interfaces.cli.fast_lane``:
``status`` on SQLite, without Typer, pydantic, SQLAlchemy or Rich), and
otherwise runs the Typer app of ``interfaces.cli.commands``. This module
imports nothing at all, so the lane pays only for what it uses.
"""
from __future__ import annotations

import sys
from typing import Any

GLOBAL_CONFIG = ("--config", "-c")


def hoist_config(argv: list[str], environ: Any) -> list[str]:
    """``tdc-bot --config FILE <command> …`` as the README writes it: the file becomes $TDC_CONFIG for every
    command (each also takes ``--config`` after its name); the rest of the line is left as typed."""
    if argv and argv[0] in GLOBAL_CONFIG and len(argv) > 1:
        environ["TDC_CONFIG"] = argv[1]
        return argv[2:]
    if argv and argv[0].startswith("--config="):
        environ["TDC_CONFIG"] = argv[0].partition("=")[2]
        return argv[1:]
    return argv


def main() -> None:
    import os

    from interfaces.cli.fast_lane import run

    sys.argv[1:] = hoist_config(sys.argv[1:], os.environ)
    code = run(sys.argv[1:])
    if code is not None:
        sys.stdout.flush()
        raise SystemExit(code)
    from interfaces.cli.locale import install, translate_help_options, translate_typer

    install()  # Click's and Typer's own words in Vietnamese
    translate_typer()
    import typer.main

    from interfaces.cli.commands import app

    command = typer.main.get_command(app)
    translate_help_options(command)
    command(prog_name="tdc-bot")


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from interfaces.cli import app`` (tests, CliRunner) still finds the Typer app
        from interfaces.cli.commands import app

        return app
    raise AttributeError(name)
