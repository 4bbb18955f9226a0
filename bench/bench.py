"""tdc-intake benchmark: measured figures against private Dovecot/SMTP (and PostgreSQL) on loopback.

    python bench/bench.py [--quick] [--only NAME ...] [--json-out FILE]

Prints a table and one JSON line with every figure, its goal and whether it
was met. Exit status 0 when all measured figures met their goals, 1 when one
missed, 2 when the benchmark itself failed. See bench/README.md.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import Figure  # noqa: E402

FIGURES = ("cli", "latency", "idle", "backfill", "resume", "memory50", "status", "web", "realmail_ratio",
           "redelivery_ratio", "deadline_burst_p95", "known_report_delay", "fast_mail_parser")


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"big": 2000, "small": 200, "idle_big": 2000, "idle_small": 20, "resume": 200, "rounds": 5,
                "realmail_rounds": 1}
    return {"big": 20000, "small": 2000, "idle_big": 20000, "idle_small": 20, "resume": 2000, "rounds": 20,
            "realmail_rounds": 3}


def status_figures() -> list[Figure]:
    from bench.status_scale import status_ratio
    from tests.servers.postgres import PostgresServer, find_pg_bindir

    figures = []
    with tempfile.TemporaryDirectory(prefix="tdc-bench-status-") as tmp:
        work = Path(tmp)
        for sub in ("sqlite/empty", "sqlite/full", "pg/empty", "pg/full"):
            (work / sub).mkdir(parents=True)
        figures.append(status_ratio("sqlite", f"sqlite:///{work}/sqlite/empty/tdc.db",
                                    f"sqlite:///{work}/sqlite/full/tdc.db", work / "sqlite"))
    bindir = find_pg_bindir()
    if bindir is None:
        return figures
    server = PostgresServer(bindir)
    try:
        server.start()
        with tempfile.TemporaryDirectory(prefix="tdc-bench-pg-") as tmp:
            work = Path(tmp)
            for sub in ("empty", "full"):
                (work / sub).mkdir()
            figures.append(status_ratio("postgresql", server.create_database("bench_empty"),
                                        server.create_database("bench_full"), work))
    finally:
        server.destroy()
    return figures


def run(selected: list[str], quick: bool) -> list[Figure]:
    from bench.backfill import backfill_figures, kill_and_resume
    from bench.big_attachment import big_attachment_rss
    from bench.deadline_burst import deadline_burst
    from bench.env import bench_env
    from bench.idle_cycle import idle_cycle_ratio
    from bench.known_delay import known_report_delay
    from bench.latency import ack_latency

    n = sizes(quick)
    figures: list[Figure] = []
    if "cli" in selected:  # first, before the servers and the big mailboxes load the machine
        figures.extend(_guarded("cli", lambda: cli_figures(quick)))
    if "realmail_ratio" in selected or "redelivery_ratio" in selected:  # one side-by-side run gives both
        figures.extend(_guarded("realmail", lambda: realmail_figures(n["realmail_rounds"])))
    if "fast_mail_parser" in selected:
        from bench.fast_parser import fast_parser_figure

        figures.extend(_guarded("fast_mail_parser", lambda: fast_parser_figure(n["realmail_rounds"])))
    steps: list[tuple[str, Callable[..., object]]] = [
        ("latency", lambda env: ack_latency(env, n["rounds"])),
        ("deadline_burst_p95", lambda env: deadline_burst(env)),
        ("known_report_delay", lambda env: known_report_delay(env)),
        ("idle", lambda env: idle_cycle_ratio(env, n["idle_big"], n["idle_small"])),
        ("backfill", lambda env: backfill_figures(env, n["big"], n["small"])),
        ("resume", lambda env: kill_and_resume(env, n["resume"])),
        ("memory50", lambda env: big_attachment_rss(env)),
    ]
    if any(name in selected for name, _ in steps):
        with bench_env() as env:
            for name, step in steps:
                if name in selected:
                    figures.extend(_guarded(name, functools.partial(step, env)))
    if "status" in selected:
        figures.extend(_guarded("status", status_figures))
    if "web" in selected:
        from bench.web_board import board_ratio

        figures.extend(_guarded("web", board_ratio))
    return figures


def realmail_figures(rounds: int) -> list[Figure]:
    from bench.realmail import realmail_figures as measure

    return measure(rounds)


def cli_figures(quick: bool) -> list[Figure]:
    from bench.cli_startup import cli_startup_figures

    return cli_startup_figures(rounds=5 if quick else 9)


def _guarded(name: str, step: Callable[[], object]) -> list[Figure]:
    """One broken measurement is reported as such; the others still run."""
    started = time.perf_counter()
    print(f"… {name}", file=sys.stderr, flush=True)
    try:
        result = step()
    except Exception as exc:  # noqa: BLE001 - the report must say which figure failed and why
        traceback.print_exc()
        return [Figure(name, None, 0.0, "", "measurement failed", error=f"{type(exc).__name__}: {exc}")]
    print(f"  {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return result if isinstance(result, list) else [result]  # type: ignore[list-item]


def print_table(figures: list[Figure]) -> None:
    print(f"{'figure':<18} {'value':>10} {'goal':>8}  {'unit':<26} result")
    for f in figures:
        value = "—" if f.value is None else f"{f.value:g}"
        goal = "—" if f.informational else f"{f.goal:g}"
        result = "info" if f.informational and f.met else "met" if f.met else "MISSED"
        print(f"{f.name:<18} {value:>10} {goal:>8}  {f.unit:<26} {result}")
        if f.error:
            print(f"  error: {f.error[:300]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000/200 messages")
    parser.add_argument("--only", action="append", choices=FIGURES, metavar="NAME",
                        help=f"measure only this figure (repeatable): {', '.join(FIGURES)}")
    parser.add_argument("--json-out", type=Path, help="also write the JSON line to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    started = time.perf_counter()
    figures = run(args.only or list(FIGURES), args.quick)
    print_table(figures)
    line = json.dumps({"quick": args.quick, "seconds": round(time.perf_counter() - started, 1),
                       "all_met": all(f.met for f in figures), "figures": [f.as_json() for f in figures]},
                      ensure_ascii=False)
    print(line)
    if args.json_out:
        args.json_out.write_text(line + "\n", encoding="utf-8")
    if any(f.value is None for f in figures):
        return 2
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
