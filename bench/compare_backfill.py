"""CPU of a first ``run --once`` with two versions of the code, in turns, in one run.

    git archive <commit> | tar -x -C /tmp/old
    python bench/compare_backfill.py /tmp/old [--messages 1000] [--rounds 2]

On a machine shared with other jobs the wall clock measures the other jobs;
the CPU time of the bot's child (user + system, from ``wait4``) does not, so
this is how a change to the per-message work is judged there. Each round fills
a fresh mailbox per version, times a plain imapclient fetch of it, then runs
``tdc-bot run --once`` with ``PYTHONPATH`` pointing at that version's tree and
checks the end state is exact (every message once, all moved, one ack per
report).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backfill import check_complete, filled_user, plain_fetch_seconds  # noqa: E402
from bench.env import bench_env  # noqa: E402

NEW = Path(__file__).resolve().parent.parent
ENTRY = "import sys; from interfaces.cli import main; sys.argv = ['tdc-bot'] + sys.argv[1:]; main()"


def run_once(config: Path, tree: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", ENTRY, "run", "--once", "--config", str(config),
                              "--log-level", "warning"], cwd=tree, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return {"wall": round(time.perf_counter() - started, 1), "cpu": round(usage.ru_utime + usage.ru_stime, 1),
            "returncode": os.waitstatus_to_exitcode(status), "max_rss_mb": round(usage.ru_maxrss / 1024)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="a tree of the older code (git archive COMMIT | tar -x -C DIR)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    results: dict = {"messages": args.messages, "loadavg_start": os.getloadavg(), "runs": []}
    with bench_env() as env:
        for round_no in range(args.rounds):
            for label, tree in (("old", args.old.resolve()), ("new", NEW)):
                user, _, _ = filled_user(env, f"{label}{round_no}x", args.messages)
                work = env.workdir(f"{label}-{user}")
                config = env.config(work, user)
                before = resource.getrusage(resource.RUSAGE_SELF)
                plain, _ = plain_fetch_seconds(env, user, 25)
                after = resource.getrusage(resource.RUSAGE_SELF)
                run = run_once(config, tree)
                run.update(version=label, plain_fetch_wall=round(plain, 2),
                           plain_fetch_cpu=round(after.ru_utime + after.ru_stime
                                                 - before.ru_utime - before.ru_stime, 2),
                           exact=check_complete(env, user, work, args.messages)["exact"])
                results["runs"].append(run)
                print(run, flush=True)
    results["loadavg_end"] = os.getloadavg()
    for label in ("old", "new"):
        cpus = [r["cpu"] for r in results["runs"] if r["version"] == label]
        results[f"{label}_cpu_mean"] = round(sum(cpus) / len(cpus), 1)
    print(json.dumps(results))
    return 0 if all(r["exact"] and r["returncode"] == 0 for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
