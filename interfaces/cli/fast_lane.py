"""The fast lane: ``tdc-bot status`` on SQLite without Typer, pydantic, SQLAlchemy or Rich.

Why: coordinators type ``status`` all day, and on a small machine the
full path costs over twenty times a bare Python start (Typer coerces every
option through pydantic, the settings are pydantic models, SQLAlchemy and
Rich are large), most of it for things a read of three tables does not
need. The lane takes only what it is sure of and hands everything else to
the full command line, which then does its usual checks and messages:

* the arguments are exactly ``status`` with ``--year/-y N``, ``--json`` and
  ``--config/-c FILE`` (anything else, ``--help`` included: full path);
* the configuration file's content is one the full validation accepted for
  this database (``workflow.settings_keys``: the full path notes the digest of
  every file it accepts beside the SQLite file), so a misspelt key or a wrong
  value goes the full way, which names it with its reason;
* the database is a plain SQLite file that exists and is exactly at the
  migration head (``workflow.db.schema_head``), so nothing needs migrating;
* the roster and campaign files load.

It runs the same queries (``workflow.season.status_query``) and prints the
same view (``interfaces.cli.status_view``) as the full path, which a test
checks output for output.
"""
from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference.toml_files import TomlUnreadable, load_toml
from workflow.settings_keys import CONFIG_ENV, DEFAULT_DATABASE_URL, config_digest, sqlite_file, was_checked


@dataclass(frozen=True)
class StatusArgs:
    year: int
    as_json: bool
    config: str | None


@dataclass(frozen=True)
class Peek:
    database: Path
    roster_dir: str | None
    campaigns_file: str | None


def status_args(argv: list[str], environ: dict[str, str] | os._Environ[str]) -> StatusArgs | None:
    """``status`` arguments in the forms Typer accepts for them; None for anything else."""
    if not argv or argv[0] != "status":
        return None
    year: int | None = None
    as_json = False
    config: str | None = None
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        name, eq, inline = arg.partition("=")
        if arg == "--json":
            as_json = True
        elif name in ("--year", "-y", "--config", "-c"):
            if eq and name.startswith("--"):
                value = inline
            elif not eq and rest:
                value = rest.pop(0)
            else:
                return None
            if name in ("--year", "-y"):
                if not value.isascii() or not value.isdigit():
                    return None
                year = int(value)
            else:
                config = value
        else:
            return None
    if year is None:
        return None
    if config is None:
        config = environ.get(CONFIG_ENV)
        if config == "":
            return None
    return StatusArgs(year=year, as_json=as_json, config=config)


def peek_config(config: str | None) -> Peek | None:
    """What status needs from the configuration, or None when only the full validation may judge the file."""
    data: dict[str, Any] = {}
    raw: bytes | None = None
    if config is not None:
        try:
            raw, data = load_toml(Path(config))
        except TomlUnreadable:
            return None  # the full path says why, in the same words
    section = data.get("database", {})
    database = sqlite_file(section.get("url", DEFAULT_DATABASE_URL) if isinstance(section, dict) else None)
    if database is None or not database.is_file() or not was_checked(database, config_digest(raw)):
        return None  # content the full path has not accepted for this database: it judges (and notes) it
    roster_dir, campaigns_file = data.get("roster_dir"), data.get("campaigns_file")
    return Peek(database=database, roster_dir=roster_dir if isinstance(roster_dir, str) else None,
                campaigns_file=campaigns_file if isinstance(campaigns_file, str) else None)


def at_head(conn: sqlite3.Connection) -> bool:
    from workflow.db.schema_head import is_head

    try:
        return is_head(frozenset(row[0] for row in conn.execute("SELECT version_num FROM alembic_version")))
    except sqlite3.Error:
        return False


def run_status(args: StatusArgs) -> int | None:
    """Print the season's status; None when the full path must do it (see the module's rules)."""
    peek = peek_config(args.config)
    if peek is None:
        return None
    if args.config is None:
        from workflow.settings_keys import defaults_notice

        notice = defaults_notice()
        if notice:
            sys.stderr.write(notice + "\n")
    from reference.campaigns import CampaignError, load_campaigns
    from reference.roster import RosterError, load_roster

    try:
        roster = load_roster(Path(peek.roster_dir) if peek.roster_dir else None)
        # a broken file fails every command
        campaigns = load_campaigns(Path(peek.campaigns_file) if peek.campaigns_file else None)
    except (RosterError, CampaignError, OSError):
        return None
    if args.year not in campaigns:
        from reference.campaigns import no_campaign

        sys.stderr.write(no_campaign(args.year, campaigns) + "\n")
        return 1
    from workflow.season.status_query import job_rows, review_count, season_rows, unsent_rows

    try:
        with closing(sqlite3.connect(f"file:{peek.database}?mode=ro", uri=True, timeout=30)) as conn:
            if not at_head(conn):
                return None

            def fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
                return conn.execute(sql, params).fetchall()

            rows = season_rows(fetch, roster, args.year)
            outbox = unsent_rows(fetch)
            jobs = job_rows(fetch)
            review = review_count(fetch, args.year)
    except sqlite3.Error:
        return None  # locked past the timeout, unreadable: the full path says what is wrong
    from interfaces.cli.status_view import nobody_owes, write_status

    if not rows:
        sys.stderr.write(nobody_owes(args.year) + "\n")
        return 1
    write_status(sys.stdout, args.year, rows, outbox, jobs, as_json=args.as_json, review=review)
    return 0


def run(argv: list[str]) -> int | None:
    """The exit code of a command the lane ran, or None to go the full way."""
    args = status_args(argv, os.environ)
    return run_status(args) if args is not None else None
