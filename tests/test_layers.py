"""The package layering of docs/architecture.md, checked with import-linter on every run.

The contracts live in pyproject.toml ([tool.importlinter]); this test fails with
import-linter's own report naming the offending import chain. It runs in its own
process: import-linter's CLI calls logging.config.dictConfig, which disables every
logger already created in the calling process (later tests then saw no log lines).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_import_contracts_are_kept() -> None:
    proc = subprocess.run([str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: " in proc.stdout and " broken" in proc.stdout


def test_raw_mail_becomes_a_message_in_one_module() -> None:
    """Every reading of raw mail goes through intake.message.large_bodies (same parser, same policy)."""
    import ast

    readers = {"message_from_bytes", "message_from_binary_file", "BytesParser", "BytesHeaderParser"}
    found = []
    for package in ("reference", "intake", "notifier", "workflow", "interfaces"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = {a.name for a in node.names} if isinstance(node, ast.ImportFrom) else set()
                if names & readers or (isinstance(node, ast.Attribute) and node.attr in readers):
                    found.append(str(path.relative_to(ROOT)))
    assert set(found) == {"intake/message/large_bodies.py"}, found
