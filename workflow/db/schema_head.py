"""The schema's head revision, known without importing Alembic.

Why: every command opens the database, and asking Alembic whether it is
current means importing Alembic (and Mako, and its DDL modules), which cost
more CPU than the rest of ``tdc-bot status``. The head is the revision no
other migration names as its ``down_revision``; both are plain assignments at
the top of each file in ``migrations/versions/``, so reading the files' text
gives the same answer as Alembic's ``ScriptDirectory.get_heads()`` (a test
checks they agree). A new migration file is picked up without a code change.
When anything is unclear (no table, several rows, an unreadable file), the
answer is "not current" and the caller runs Alembic as before.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSIONS = MIGRATIONS / "versions"

# ``revision = '0002'`` / ``revision: str = "0002"`` at the start of a line (Alembic's template).
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"""['"]([^'"]+)['"]""")


class UnreadableMigration(Exception):
    """A migration file whose revision could not be read from its text."""


def _revisions(text: str, name: str) -> tuple[str, tuple[str, ...]]:
    found: dict[str, str] = {}
    for key, value in _ASSIGNMENT.findall(text):
        found.setdefault(key, value)
    if "revision" not in found or "down_revision" not in found:
        raise UnreadableMigration(f"{name}: no revision/down_revision assignment")
    revision = _QUOTED.findall(found["revision"])
    if len(revision) != 1:
        raise UnreadableMigration(f"{name}: revision is not one quoted string")
    return revision[0], tuple(_QUOTED.findall(found["down_revision"]))  # None -> ()


@cache
def _heads_of(versions: Path, stamp: tuple[tuple[str, float], ...]) -> frozenset[str]:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        revision, down = _revisions(path.read_text(encoding="utf-8"), path.name)
        revisions.add(revision)
        parents.update(down)
    return frozenset(revisions - parents)


def head_revisions(versions: Path = VERSIONS) -> frozenset[str]:
    """The head revision id(s) of the migration files in ``versions``."""
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(versions.glob("*.py")))
    return _heads_of(versions, stamp)


def database_revisions(engine: Engine) -> frozenset[str] | None:
    """The revisions stamped in ``alembic_version``, or None when there is no such table yet."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            return frozenset(row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:  # no table yet (a new database), or unreachable: Alembic will say which
        return None


def is_head(stamped: frozenset[str] | None) -> bool:
    """True when ``stamped`` (the rows of ``alembic_version``) is exactly the head; unreadable files: False."""
    try:
        heads = head_revisions()
    except (OSError, UnreadableMigration):
        return False
    return bool(heads) and stamped == heads


def database_is_current(engine: Engine) -> bool:
    """True when the database is exactly at the head: nothing to migrate, no need for Alembic."""
    return is_head(database_revisions(engine))
