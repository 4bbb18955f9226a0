"""How fast the command line starts: ``tdc-bot --help`` and ``tdc-bot status`` against a bare Python.

    python bench/cli_startup.py [--rounds 9]

The baseline is the cheapest useful Python process, one that imports
``email``, ``sqlite3`` and ``json``; the figures are the CPU time (user +
system, from ``wait4``) of each command divided by the baseline's, medians of
``rounds`` runs taken in turn, so the machine's load hits all three alike.
CPU time rather than wall time because on a shared machine the wall clock
measures the other processes.

Every child runs with byte-code caching on (``PYTHONPYCACHEPREFIX`` in the
temporary folder, ``PYTHONDONTWRITEBYTECODE`` removed) after a warm-up run, as
an installed ``tdc-bot`` does: pip compiles packages on install, and a run
that recompiled the project's own modules each time would measure the compiler.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import TDC_BOT, Figure, median  # noqa: E402

BARE = [sys.executable, "-c", "import email, sqlite3, json"]
GOAL = 5.0


def _child_env(pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TDC_CONFIG")}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _cpu(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child; its output is discarded, a failure raises."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        err = child.stderr.read().decode(errors="replace") if child.stderr else ""
        raise RuntimeError(f"{' '.join(cmd)} exited {child.returncode}: {err[-2000:]}")
    if child.stderr:
        child.stderr.close()
    return usage.ru_utime + usage.ru_stime, wall


def small_database(work: Path, env: dict[str, str]) -> Path:
    """A migrated SQLite database with the roster and campaigns in it, as after a first start."""
    config = work / "tdc.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{work}/tdc.db"\n[storage]\npath = "{work}/store"\n',
                      encoding="utf-8")
    subprocess.run([str(TDC_BOT), "db", "upgrade", "--config", str(config)], env=env, cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    return config


def cli_startup_figures(rounds: int = 9) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="tdc-bench-cli-") as tmp:
        work = Path(tmp)
        env = _child_env(work / "pycache")
        config = small_database(work, env)
        commands = {
            "bare": BARE,
            "help": [str(TDC_BOT), "--help"],
            "status": [str(TDC_BOT), "status", "--year", "2024", "--config", str(config)],
        }
        for cmd in commands.values():  # warm-up: byte-code written, files in the page cache
            _cpu(cmd, env, work)
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        wall: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, cmd in commands.items():
                c, w = _cpu(cmd, env, work)
                cpu[name].append(c)
                wall[name].append(w)
    bare = median(cpu["bare"])
    load = os.getloadavg()
    figures = []
    for name, label in (("help", "tdc-bot --help"), ("status", "tdc-bot status --year 2024 (small SQLite database)")):
        details = {
            "cpu_ms_median": round(median(cpu[name]) * 1000, 1), "bare_cpu_ms_median": round(bare * 1000, 1),
            "wall_ratio": round(median(wall[name]) / median(wall["bare"]), 2),
            "cpu_ms_runs": [round(v * 1000) for v in cpu[name]],
            "bare_cpu_ms_runs": [round(v * 1000) for v in cpu["bare"]],
            "rounds": rounds, "loadavg": [round(v, 2) for v in load],
        }
        figures.append(Figure(f"cli_{name}", round(median(cpu[name]) / bare, 2), GOAL, "× bare python CPU",
                              f"{label}: CPU time ÷ python -c 'import email, sqlite3, json', medians of {rounds}",
                              details))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    figures = cli_startup_figures(args.rounds)
    for f in figures:
        d = f.details
        print(f"{f.name:<11} {f.value:>6.2f} × (goal ≤ {f.goal:g})  {d['cpu_ms_median']} ms CPU vs bare "
              f"{d['bare_cpu_ms_median']} ms; wall ratio {d['wall_ratio']}; load {d['loadavg']}")
    print(json.dumps({"figures": [f.as_json() for f in figures]}, ensure_ascii=False))
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
