"""The package layering of docs/architecture.md, checked with import-linter on every run.

The contracts live in pyproject.toml ([tool.importlinter]); this test fails with
import-linter's own report naming the offending import chain.
"""
from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out
