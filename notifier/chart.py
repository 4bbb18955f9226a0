"""The digest's small chart: reports received so far, this year beside last year.

matplotlib's object API (Figure + the Agg canvas) rather than pyplot: no
global figure state, no display needed, safe inside the daemon's scheduler
threads. DejaVu Sans (matplotlib's bundled default) has every Vietnamese
letter. The PNG is written atomically so an outbox row never points at half
a file.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from notifier.files import save_atomically

WIDTH_PX, HEIGHT_PX, DPI = 700, 350, 100
THIS_YEAR_COLOUR = "#c0392b"
LAST_YEAR_COLOUR = "#7f8c8d"

Points = Sequence[tuple[int, int]]


def _steps(points: Points, end: int | None = None) -> tuple[list[int], list[int]]:
    """Sorted by time (days to the deadline decreasing), from zero the day before the first
    report to ``end`` (default: a day after the last report) so the last level shows."""
    ordered = sorted(points, key=lambda p: -p[0])
    xs = [p[0] for p in ordered]
    ys = [p[1] for p in ordered]
    if xs:
        xs.insert(0, xs[0] + 1)
        ys.insert(0, 0)
        xs.append(min(end, xs[-1] - 1) if end is not None else xs[-1] - 1)
        ys.append(ys[-1])
    return xs, ys


def chart_title(year: int, compared: bool) -> str:
    """What the chart shows; it names the previous year only when that year's line is drawn."""
    if compared:
        return f"Số báo cáo nhận được (lũy kế) năm {year} so với năm {year - 1}, theo số ngày trước hạn nộp"
    return f"Số báo cáo nhận được (lũy kế) năm {year}, theo số ngày trước hạn nộp"


def submissions_chart(this_year: Points, last_year: Points, year: int, path: Path | str) -> Path:
    """Draw cumulative submissions against days to the deadline; return the PNG's path.

    Each point is (days to the deadline, reports received so far). The x axis
    runs towards the deadline (0) and past it, so time reads left to right.
    """
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    season_end = min([0, *(p[0] for p in this_year)]) - 1  # last year's season is over: draw it to the end
    for points, label, colour, width, end in (
            (last_year, f"Năm {year - 1}", LAST_YEAR_COLOUR, 1.5, season_end),
            (this_year, f"Năm {year}", THIS_YEAR_COLOUR, 2.2, None)):
        xs, ys = _steps(points, end)
        if xs:
            ax.step(xs, ys, where="post", label=label, color=colour, linewidth=width)
    ax.axvline(0, color="#34495e", linestyle="--", linewidth=1)
    ax.annotate("Hạn nộp", xy=(0, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                textcoords="offset points", fontsize=8, color="#34495e")
    ax.invert_xaxis()
    ax.set_xlabel("Số ngày trước hạn nộp", fontsize=9)
    ax.set_ylabel("Số báo cáo đã nhận (lũy kế)", fontsize=9)
    ax.set_title(chart_title(year, bool(last_year)), fontsize=10)
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3)
    locator = ax.yaxis.get_major_locator()  # the default AutoLocator is a MaxNLocator: whole numbers only
    if isinstance(locator, MaxNLocator):
        locator.set_params(integer=True)
    if this_year or last_year:
        ax.legend(fontsize=8, loc="upper left")
    else:
        ax.text(0.5, 0.5, "Chưa có báo cáo nào", transform=ax.transAxes, ha="center", va="center", fontsize=10)
    fig.tight_layout()
    # no bbox_inches="tight": it would change the size
    return save_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))
