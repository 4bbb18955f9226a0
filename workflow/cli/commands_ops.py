"""Commands for operators: demo, doctor, backup, restore."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workflow.cli.common import ConfigOption, NowOption, console, fail, parse_now, rich_console


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        directory: Annotated[Path, typer.Option("--dir", help="Folder for the demo's own config, database, mail and outbox (recreated).")] = Path("var/demo"),
        year: Annotated[int, typer.Option("--year", help="Reporting year to simulate.")] = 2024,
        agencies: Annotated[int, typer.Option("--agencies", min=5, max=200, help="How many agencies of that year's roster take part.")] = 40,
        seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same season.")] = 1,
    ) -> None:
        """Simulate a whole reporting season offline (no server) and replay it day by day."""
        from workflow.operations.demo import DemoError, run_demo

        try:
            run_demo(directory, year=year, agencies=agencies, seed=seed, console=rich_console())
        except DemoError as exc:
            fail(f"demo: {exc}", 2)

    @app.command("doctor")
    def doctor(config: ConfigOption = None, now: NowOption = None) -> None:
        """Check config, database, storage, IMAP/SMTP login, clock and campaigns; say what to fix. Exit 1 on any failure."""
        from workflow.operations.doctor import FAIL, OK, WARN, run_checks

        checks = run_checks(config, now=parse_now(now) if now else None)
        width = max(len(OK), len(FAIL), len(WARN))  # the same columns whatever the outcome, for grep
        for c in checks:
            line = f"{c.status:<{width}}  {c.name}: {c.detail}"
            style = {OK: "green", FAIL: "bold red"}.get(c.status, "yellow")
            console.print(line, style=style, markup=False, highlight=False)
        failed = [c for c in checks if c.failed]
        if failed:
            console.print(f"{len(failed)} kiểm tra không đạt.", markup=False, highlight=False)
            raise typer.Exit(1)
        console.print("Mọi kiểm tra đều đạt.", markup=False, highlight=False)

    @app.command("backup")
    def backup(
        out: Annotated[Path, typer.Option("--out", "-o", help="Archive to write (FILE.tar.gz).")],
        config: ConfigOption = None,
    ) -> None:
        """One archive with the database, the raw store and a manifest of checksums."""
        from workflow.operations.backup import BackupError, create_backup
        from workflow.cli.common import open_app

        with open_app(config, migrate=False) as a:
            try:
                result = create_backup(a, out)
            except BackupError as exc:
                fail(f"backup: {exc}", 1)
        m = result.manifest
        rows = sum(m["database"]["counts"].values())
        console.print(f"{result.path}: database {m['database']['backend']} (revision {m['database']['revision']}, "
                      f"{rows} rows), store {m['store']['files']} files, {m['store']['bytes']} bytes", markup=False)

    @app.command("restore")
    def restore(
        archive: Annotated[Path, typer.Argument(help="Archive made by `tdc-bot backup`.", exists=True, dir_okay=False)],
        config: ConfigOption = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite a database or store folder that already holds data.")] = False,
    ) -> None:
        """Restore an archive into the configured (empty) database and store folder, verifying every checksum."""
        from workflow.operations.backup import BackupError, restore_backup
        from workflow.cli.common import open_app

        with open_app(config, migrate=False) as a:
            try:
                result = restore_backup(a, archive, force=force)
            except BackupError as exc:
                fail(f"restore: {exc}", 1)
        console.print(f"restored {sum(result.counts.values())} rows and {result.files} files "
                      f"(schema revision {result.revision})", markup=False)
        for note in result.notes:
            console.print(note, markup=False)
