"""The command line starts without paying for what it does not use (issue #14, part 2).

The cost itself is measured by ``bench/cli_startup.py``; these tests keep the
causes away: the command modules import nothing heavy, Alembic is loaded only
when the database needs a migration, and the head revision read from the
migration files' text is the one Alembic computes.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from tests.cli_helpers import write_config
from workflow.db.engine import Database, alembic_config, make_engine
from workflow.db.schema_head import VERSIONS, database_is_current, head_revisions

HEAVY = ("sqlalchemy", "alembic", "rich", "pydantic", "docx", "notifier", "jinja2", "imapclient", "matplotlib",
         "openpyxl", "mailparser")

# Runs the real entry point in a child, then reports which top-level packages it imported.
_PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write(
    "MODULES " + json.dumps(sorted({m.split('.')[0] for m in sys.modules})) + "\\n"))
sys.argv = ["tdc-bot", *json.loads(sys.argv[1])]
from interfaces.cli import main
main()
"""


def _modules_after(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(list(args))], capture_output=True, text=True,
                          timeout=120)
    line = next(ln for ln in done.stderr.splitlines() if ln.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def test_importing_the_command_line_imports_no_heavy_library():
    code = "import sys, interfaces.cli; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not set(eval(out)) & set(HEAVY)  # noqa: S307 - our own child's repr of a list of names


def test_help_imports_no_heavy_library():
    assert not _modules_after("--help") & set(HEAVY)


def test_a_command_on_a_current_database_does_not_import_alembic(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/t.db")
    Database(f"sqlite:///{tmp_path}/t.db").dispose()  # migrated once, as by the daemon's first start
    loaded = _modules_after("stats", "--json", "--config", str(config))  # status runs without SQLAlchemy at all
    assert "sqlalchemy" in loaded and "alembic" not in loaded
    assert not loaded & {"docx", "jinja2", "imapclient", "matplotlib", "openpyxl"}


def test_head_read_from_the_files_is_alembics_head():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert head_revisions() == frozenset(script.get_heads())


def _migration(path: Path, revision: str, down: str) -> None:
    path.write_text(f'"""x"""\nfrom alembic import op\n\nrevision: str = {revision!r}\ndown_revision = {down}\n'
                    f"branch_labels = None\n\n\ndef upgrade() -> None:\n    pass\n", encoding="utf-8")


def test_a_new_migration_file_becomes_the_head(tmp_path):
    for path in VERSIONS.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    old = head_revisions()
    assert head_revisions(tmp_path) == old
    (parent,) = old
    # Revision ids no real migration uses, so the test holds whatever the project adds later.
    _migration(tmp_path / "zz_a.py", "test_a", repr(parent))
    assert head_revisions(tmp_path) == {"test_a"}
    _migration(tmp_path / "zz_b.py", "test_b", repr(parent))  # two branches: two heads, as Alembic sees them
    assert head_revisions(tmp_path) == {"test_a", "test_b"}
    _migration(tmp_path / "zz_merge.py", "test_merge", "('test_a', 'test_b')")
    assert head_revisions(tmp_path) == {"test_merge"}


def test_database_is_current_only_at_the_head(tmp_path, db_url):
    engine = make_engine(db_url)
    try:
        if engine.dialect.name == "sqlite":
            assert not database_is_current(engine)  # no alembic_version table yet
        db = Database(db_url)
        db.dispose()
        assert database_is_current(engine)
        (head,) = head_revisions()
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        assert not database_is_current(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    finally:
        engine.dispose()
