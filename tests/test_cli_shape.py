"""Every ``tdc-bot`` command is a module-level function, one module per command group (issue #23).

A command defined as a closure inside ``register()`` cannot be imported, read
or tested on its own, and hides which sub-app it belongs to; the target shape
is ``interfaces/cli/commands_actions.py``: the sub-app built at module level,
commands decorated on it (or plain functions), and ``register()`` only
attaching them to the app.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import interfaces.cli

CLI_DIR = Path(interfaces.cli.__file__).parent
MODULES = sorted(CLI_DIR.glob("commands_*.py"))
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _is_typer_decorator(node: ast.expr) -> bool:
    """``@x.command(...)``, ``@x.callback(...)``, or either without the call."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr in ("command", "callback")


def nested_commands(source: str) -> list[str]:
    """``outer.inner`` for each Typer-decorated function defined inside another function."""
    found: list[str] = []

    def visit(node: ast.AST, enclosing: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FUNCTIONS):
                if enclosing is not None and any(_is_typer_decorator(d) for d in child.decorator_list):
                    found.append(f"{enclosing}.{child.name} (line {child.lineno})")
                visit(child, child.name if enclosing is None else f"{enclosing}.{child.name}")
            else:
                visit(child, enclosing)

    visit(ast.parse(source), None)
    return found


def test_the_command_modules_are_found():
    names = {p.stem for p in MODULES}
    assert {"commands_actions", "commands_junk", "commands_contacts", "commands_mail", "commands_web"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_no_typer_command_is_nested_in_a_function(path: Path):
    assert nested_commands(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_register_only_attaches(path: Path):
    """No closure at all in ``register()``: a command registered by ``app.command(name)(fn)`` is module-level too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    registers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "register"]
    assert len(registers) == 1
    defined = [n for n in ast.walk(registers[0]) if isinstance(n, (*FUNCTIONS, ast.Lambda, ast.ClassDef))]
    assert [getattr(n, "name", "lambda") for n in defined if n is not registers[0]] == []


def test_the_check_sees_a_command_inside_register():
    old_shape = '''
def register(app):
    sub = typer.Typer()

    @sub.command("list")
    def sub_list() -> None: ...

    @app.callback()
    def main() -> None: ...

    @app.command
    def bare() -> None: ...

    def helper() -> None: ...
'''
    assert [f.split(" ")[0] for f in nested_commands(old_shape)] == ["register.sub_list", "register.main",
                                                                      "register.bare"]


def test_the_check_allows_the_target_shape():
    target_shape = '''
sub = typer.Typer()


@sub.command("list")
def sub_list() -> None:
    def progress() -> None: ...


def show() -> None: ...


def register(app):
    app.add_typer(sub, name="sub")
    app.command("show")(show)
'''
    assert nested_commands(target_shape) == []
