"""Documents and data for coordinators: the consolidated report (compile) and exports."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from interfaces.cli.common import ConfigOption, NowOption, console, fail, open_app, parse_now, safe_console

if TYPE_CHECKING:  # imported where used: the command line must start fast (interfaces/cli/common.py)
    from rich.console import Console

YearOption = Annotated[int, typer.Option("--year", "-y", help="Năm báo cáo.")]


def _progress_reporter(err: Console):
    """A Rich bar on a terminal; otherwise a few "i/n name" lines (every fifth of the way, and the last)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err, disable=not err.is_terminal)
    task = bar.add_task("Đang tổng hợp", total=None)

    def report(done: int, total: int, name: str) -> None:
        if err.is_terminal:
            bar.update(task, completed=done, total=total, description=f"Đang tổng hợp: {name}")
        elif done == total or done % max(1, total // 5) == 0:  # logs, pipes, cron: a few lines, not one per agency
            err.print(f"[{done}/{total}] {name}", markup=False, highlight=False)

    return bar, report


def compile_command(
    year: YearOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Tệp .docx sẽ ghi.")],
    now: NowOption = None,
    config: ConfigOption = None,
) -> None:
    """Viết báo cáo tổng hợp toàn quốc của năm (.docx): trích theo mục đề cương, cộng các chỉ tiêu,
    và phụ lục đơn vị nào nộp khi nào, đơn vị nào chưa nộp."""

    from workflow.reports.compile import compile_for_app
    from workflow.reports.compile_docx import compiled_report_docx

    when = parse_now(now)
    err = safe_console(stderr=True, soft_wrap=True)
    with open_app(config, need_secrets=False) as a:
        if year not in a.campaigns:
            from reference.campaigns import no_campaign

            fail(no_campaign(year, a.campaigns), 1)
        bar, report_progress = _progress_reporter(err)
        with bar:
            report = compile_for_app(a, year, progress=report_progress, now=when)
        try:
            path = compiled_report_docx(report, out, tz=a.tz)
        except OSError as exc:
            fail(f"Không ghi được {out}: {exc}", 1)
    console.print(f"Đã ghi {path} ({len(report.reported)} đơn vị đã báo cáo, {len(report.missing)} chưa báo cáo, "
                  f"{len(report.indicators)} chỉ tiêu tổng hợp)", markup=False)
    for problem in report.problems:
        err.print(f"cảnh báo: {problem}", markup=False, highlight=False)


def export_command(
    year: YearOption,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Định dạng: csv | json | xlsx")] = "xlsx",
    out: Annotated[str | None, typer.Option(
        "--out", "-o",
        help="csv: một thư mục (status.csv, indicators.csv) hoặc một tiền tố (TIỀN-TỐ-status.csv, "
             "TIỀN-TỐ-indicators.csv); json/xlsx: tệp ('-' = in ra màn hình với json). Mặc định: tdc-NĂM… "
             "trong thư mục hiện tại.")] = None,
    config: ConfigOption = None,
) -> None:
    """Xuất bảng tình hình và các dòng chỉ tiêu của năm ra bảng tính."""

    from workflow.reports.export import FORMATS, export, gather

    fmt = fmt.lower().strip()
    if fmt not in FORMATS:
        fail(f"--format phải là một trong {', '.join(FORMATS)}, không phải {fmt!r}", 2)
    with open_app(config, need_secrets=False) as a:
        with a.db.sessions() as session:
            data = gather(session, a.roster, year)
    if not data.status:
        fail(f"Danh sách đơn vị không có đơn vị nào phải báo cáo năm {year}.", 1)
    try:
        written = export(data, fmt, out)
    except OSError as exc:
        fail(f"Không ghi được tệp xuất: {exc}", 1)
    for path in written:
        safe_console(stderr=True).print(f"Đã ghi {path}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    for name, command in (("compile", compile_command), ("export", export_command)):
        app.command(name)(command)
