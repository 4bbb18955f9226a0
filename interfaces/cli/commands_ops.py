"""Commands for operators: demo, doctor, backup, restore."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interfaces.cli.common import ConfigOption, NowOption, console, fail, parse_now, rich_console


def demo(
    directory: Annotated[Path, typer.Option("--dir",
                                            help="Thư mục cho cấu hình, cơ sở dữ liệu, hộp thư và thư đi của bản "
                                                 "chạy thử (làm lại từ đầu).")] = Path("var/demo"),
    year: Annotated[int, typer.Option("--year", help="Năm báo cáo mô phỏng.")] = 2024,
    agencies: Annotated[int, typer.Option("--agencies", min=5, max=200,
                                          help="Số đơn vị trong danh sách năm đó tham gia.")] = 40,
    seed: Annotated[int, typer.Option("--seed",
                                      help="Hạt giống ngẫu nhiên: cùng hạt giống cho cùng một mùa báo cáo.")] = 1,
) -> None:
    """Mô phỏng cả một mùa báo cáo (không cần máy chủ) và chạy lại từng ngày."""
    from workflow.operations.demo import DemoError, run_demo

    try:
        run_demo(directory, year=year, agencies=agencies, seed=seed, console=rich_console())
    except DemoError as exc:
        fail(f"demo: {exc}", 2)


def doctor(config: ConfigOption = None, now: NowOption = None) -> None:
    """Kiểm tra cấu hình, cơ sở dữ liệu, kho lưu trữ, đăng nhập IMAP/SMTP, đồng hồ, đợt báo cáo; nói cần sửa gì.
    Thoát mã 1 nếu có lỗi."""
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


def backup(
    out: Annotated[Path, typer.Option("--out", "-o", help="Tệp lưu trữ sẽ ghi (TỆP.tar.gz).")],
    config: ConfigOption = None,
) -> None:
    """Một tệp lưu trữ gồm cơ sở dữ liệu, kho thư gốc và danh sách mã kiểm tra."""
    from interfaces.cli.common import open_app
    from workflow.operations.backup import BackupError, create_backup

    with open_app(config, migrate=False) as a:
        try:
            result = create_backup(a, out)
        except BackupError as exc:
            fail(f"backup: {exc}", 1)
    m = result.manifest
    rows = sum(m["database"]["counts"].values())
    console.print(f"{result.path}: database {m['database']['backend']} (revision {m['database']['revision']}, "
                  f"{rows} rows), store {m['store']['files']} files, {m['store']['bytes']} bytes", markup=False)


def restore(
    archive: Annotated[Path, typer.Argument(help="Tệp lưu trữ do `tdc-bot backup` tạo.", exists=True,
                                            dir_okay=False)],
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force",
                                        help="Ghi đè cơ sở dữ liệu hoặc kho lưu trữ đã có dữ liệu.")] = False,
) -> None:
    """Khôi phục tệp lưu trữ vào cơ sở dữ liệu và kho lưu trữ (trống) đã cấu hình, kiểm tra mọi mã kiểm tra."""
    from interfaces.cli.common import open_app
    from workflow.operations.backup import BackupError, restore_backup

    with open_app(config, migrate=False) as a:
        try:
            result = restore_backup(a, archive, force=force)
        except BackupError as exc:
            fail(f"restore: {exc}", 1)
    console.print(f"restored {sum(result.counts.values())} rows and {result.files} files "
                  f"(schema revision {result.revision})", markup=False)
    for note in result.notes:
        console.print(note, markup=False)


def register(app: typer.Typer) -> None:
    for name, command in (("demo", demo), ("doctor", doctor), ("backup", backup), ("restore", restore)):
        app.command(name)(command)
