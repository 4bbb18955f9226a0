"""What the precheck costs, before (the line-counting one this branch replaced) and after, in one run.

    python bench/precheck.py [--old REV] [--rounds 3] [--quick] [--json-out FILE]

1. Ordinary mail: CPU per message of ``precheck()`` over the real-mail corpus
   (``../shared/realmail``, 698 messages) and over 1,000 messages of the
   benchmark's own mix (``bench/mailgen.py``), old and new in turns, in this
   process; the median of ``rounds`` rounds.
2. Hostile and large messages (``tests/hostile_mime.py``): each written to a
   file once, then for each version a fresh child process reads it and runs
   ``precheck()``; the figures are the child's CPU time for the call and how
   far its peak RSS went above its RSS with the message read (the kernel's
   peak is reset after the read).
3. What a verdict of "pass" costs afterwards: ``intake.message.parse.parse`` (the
   stdlib parser underneath) on the RFC 2231 message at a smaller size, in a
   child with a time limit.

The old precheck is ``intake/precheck.py`` at ``--old``, loaded from git as a
module of its own. The machine (cores, load average before and after) is
printed with the figures: compare old and new within one run, not across runs.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intake.limits import Limits  # noqa: E402
from intake.precheck import precheck as new_precheck  # noqa: E402
from tests import hostile_mime, mailfactory  # noqa: E402

REALMAIL = ROOT.parent / "shared" / "realmail"
OLD_REV = "dceb874"  # the commit before the precheck package: intake/precheck.py counted lines

# In a child: load the chosen precheck, read the message, measure the call alone. The kernel's peak RSS (VmHWM)
# is reset after the read (clear_refs 5), so the figure is how far the call itself went above the message.
_CHILD = r"""
import importlib.util, json, re, sys, time
sys.path.insert(0, sys.argv[3])
from intake.limits import Limits
if sys.argv[1] == "new":
    from intake.precheck import precheck
else:
    spec = importlib.util.spec_from_file_location("old_precheck", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    precheck = module.precheck
def kb(field):
    return int(re.search(field + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1))
raw = open(sys.argv[2], "rb").read()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = kb("VmRSS")
started = time.process_time()
reason = precheck(raw, Limits())
cpu = time.process_time() - started
print(json.dumps({"reason": reason, "cpu": cpu, "grew_mb": (kb("VmHWM") - before) / 1024}))
"""

_PARSE_CHILD = r"""
import json, resource, sys, time  # peak RSS of the whole child: the message is small
sys.path.insert(0, sys.argv[2])
from intake.limits import Limits
from intake.message.parse import parse
raw = open(sys.argv[1], "rb").read()
started = time.process_time()
env = parse(raw, Limits())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"cpu": time.process_time() - started, "peak_mb": peak / 1024}))
"""


def load_old(rev: str, folder: Path) -> tuple[Path, Callable[[bytes, Limits], str | None]]:
    """The old precheck module from git, written to ``folder``, and its function."""
    import importlib.util

    source = subprocess.run(["git", "show", f"{rev}:intake/precheck.py"], cwd=ROOT, capture_output=True, check=True)
    path = folder / "old_precheck.py"
    path.write_bytes(source.stdout)
    spec = importlib.util.spec_from_file_location("old_precheck", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module.precheck


def ordinary_mail(quick: bool) -> dict[str, list[bytes]]:
    from bench import mailgen

    sets: dict[str, list[bytes]] = {}
    labels = REALMAIL / "labels.csv"
    if labels.is_file():
        with labels.open(newline="", encoding="utf-8") as fh:
            sets["real-mail corpus"] = [(REALMAIL / row["file"]).read_bytes() for row in csv.DictReader(fh)]
    rng = random.Random(1322)
    sets["bench mailbox mix"] = [mailgen.message(n, rng)[0] for n in range(200 if quick else 1000)]
    return sets


def per_message(messages: list[bytes], check: Callable[[bytes, Limits], str | None]) -> tuple[float, float]:
    """(mean, median) CPU per message in ms."""
    limits = Limits()
    times = []
    for raw in messages:
        started = time.process_time()
        check(raw, limits)
        times.append(time.process_time() - started)
    return sum(times) / len(times) * 1000, statistics.median(times) * 1000


def hostile_cases(quick: bool) -> dict[str, Callable[[], bytes]]:
    parts = 150_000 if quick else 1_500_000
    lines = 100_000 if quick else 1_000_000
    big_attachment = 4_000_000 if quick else 43_000_000
    return {
        f"{parts:,} parts, plain boundary": lambda: hostile_mime.multipart(b'multipart/mixed; boundary="part"',
                                                                         b"part", parts),
        f"{parts:,} parts, RFC 2231 boundary": lambda: hostile_mime.rfc2231_boundary(parts),
        f"{parts // 7:,} parts, 250-char boundary": lambda: hostile_mime.long_boundary(parts // 7),
        f"{parts:,} parts, quoted-pair boundary": lambda: hostile_mime.quoted_pair_boundary(parts),
        f"{lines:,} header lines": lambda: hostile_mime.HEAD + b"X-Pad: a\r\n" * lines + b"\r\nx\r\n",
        f"{lines:,} header lines after a 300 KB one": lambda: hostile_mime.header_lines_after_a_long_one(lines),
        f"{lines:,} header lines ended by bare CR": lambda: hostile_mime.bare_cr_header_lines(lines),
        f"{parts:,} parts in a digest's enclosure": lambda: hostile_mime.digest_enclosures(parts),
        f"{parts:,} parts in message/partial": lambda: hostile_mime.enclosure(parts, b"partial"),
        f"{parts * 3 // 4:,} parts in a base64 forward": lambda: hostile_mime.encoded_forward(parts * 3 // 4),
        f"{parts:,} parts, guessed boundary": lambda: hostile_mime.unusable_boundary(parts),
        f"{parts:,} parts, repaired header pass": lambda: hostile_mime.repaired_header(parts),
        "2 MB Content-Type x 900 parts": lambda: hostile_mime.long_content_type(900, 2_000_000),
        "80 nested multiparts": lambda: hostile_mime.nested_multiparts(80),
        "empty enclosure (issue 20)": hostile_mime.empty_enclosure,
        # what the walk itself finds hardest: 100 open delimiters over a long body, and near-miss delimiter lines
        "64 nested multiparts, 50 MB body": lambda: (hostile_mime.nested_multiparts(64)
                                                      + b"a" * (5_000_000 if quick else 50_000_000) + b"\r\n"),
        "64 nested multiparts, 48 MB of '-- sig' lines": lambda: (hostile_mime.nested_multiparts(64) + (
            b"x" * 70 + b"\r\n-- sig\r\n") * (60_000 if quick else 600_000)),
        "58 MB of '--px' lines in a part of 'p'": lambda: (
            hostile_mime.HEAD + b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n--p\r\n\r\n'
            + b"--px\r\n" * (1_000_000 if quick else 9_600_000) + b"--p--\r\n"),
        "report, 43 MB base64 attachment": lambda: _report_with_attachment(big_attachment),
        "57 MB 8-bit CSV attachment (2.5 M lines)": lambda: _csv(250_000 if quick else 2_500_000),
        "58 MB of empty lines": lambda: hostile_mime.HEAD + b"\r\n" * (2_900_000 if quick else 29_000_000),
    }


def _report_with_attachment(size: int) -> bytes:
    from email import message_from_bytes, policy

    msg = message_from_bytes(mailfactory.report_email(), policy=policy.default)
    msg.add_attachment(os.urandom(size), maintype="application", subtype="pdf", filename="Phụ lục quét.pdf")
    return msg.as_bytes()


def _csv(lines: int) -> bytes:
    return (hostile_mime.HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: text/plain\r\n\r\nxem\r\n--b\r\nContent-Type: text/csv; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + b"12345;Nguyen Van A;99\r\n" * lines + b"--b--\r\n")


def in_child(version: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, version, str(path), str(ROOT)], capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else f"exit {out.returncode}"}
    return json.loads(out.stdout)


def parse_cost(path: Path, limit: float) -> dict:
    try:
        out = subprocess.run([sys.executable, "-c", _PARSE_CHILD, str(path), str(ROOT)], capture_output=True,
                             text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"error": f"still parsing after {limit:.0f} s"}
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip()[-200:]}


_REASONS = {"phần MIME": "parts", "dòng tiêu đề": "header lines", "dòng nội dung": "body lines",
            "tiêu đề MIME": "MIME headers", "lồng nhau": "nesting", "chuyển tiếp": "encoded forward",
            "lỗi khi kiểm tra": "precheck fault"}


def verdict(result: dict) -> str:
    if "error" in result:
        return result["error"]
    reason = result["reason"]
    if reason is None:
        return "pass"
    return "refused: " + next((label for words, label in _REASONS.items() if words in reason), reason[:30])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default=OLD_REV, help="git revision whose intake/precheck.py is the old one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, 200 bench messages")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    load_before = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
          f"load average {load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f}")
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-precheck-") as tmp:
        folder = Path(tmp)
        old_path, old_precheck = load_old(args.old, folder)

        print("\n1. ordinary mail: precheck CPU per message (ms), median of rounds")
        for name, messages in ordinary_mail(args.quick).items():
            rounds: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
            for _ in range(args.rounds):
                rounds["old"].append(per_message(messages, old_precheck))
                rounds["new"].append(per_message(messages, new_precheck))
            row = {v: {"mean_ms": statistics.median(r[0] for r in runs),
                       "median_ms": statistics.median(r[1] for r in runs)} for v, runs in rounds.items()}
            figures[name] = {"messages": len(messages), **row}
            print(f"   {name:<20} {len(messages):>5} msgs   old mean {row['old']['mean_ms']:.3f} median "
                  f"{row['old']['median_ms']:.3f}   new mean {row['new']['mean_ms']:.3f} median "
                  f"{row['new']['median_ms']:.3f}   ratio of means {row['new']['mean_ms'] / row['old']['mean_ms']:.1f}")

        print("\n2. hostile and large messages: one child per version; CPU of the call, peak RSS growth over the read")
        print(f"   {'message':<42} {'MB':>6}   {'old':<44} {'new':<44}")
        for name, build in hostile_cases(args.quick).items():
            path = folder / "message.eml"
            raw = build()
            size = len(raw)
            path.write_bytes(raw)
            del raw
            old, new = in_child(str(old_path), path), in_child("new", path)
            figures[name] = {"bytes": size, "old": old, "new": new}
            cells = [f"{verdict(r)[:24]:<24} {r.get('cpu', 0) * 1000:7.0f} ms {r.get('grew_mb', 0):5.0f} MB"
                     for r in (old, new)]
            print(f"   {name:<42} {size / 1e6:6.1f}   {cells[0]:<44} {cells[1]:<44}")

        print("\n3. what a pass costs: parse on the RFC 2231 message at 60,000 parts (old verdict: pass)")
        small = folder / "rfc2231-60k.eml"
        small.write_bytes(hostile_mime.rfc2231_boundary(60_000))
        figures["parse, RFC 2231 at 60,000 parts"] = cost = parse_cost(small, 300)
        print(f"   {small.stat().st_size / 1e6:.1f} MB: " + (cost.get("error") or
              f"{cost['cpu']:.1f} s CPU, peak RSS {cost['peak_mb']:.0f} MB"))
    load_after = os.getloadavg()
    print(f"\nload average after: {load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f}")
    line = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_before": load_before, "load_after": load_after}, "figures": figures}
    print(json.dumps(line, ensure_ascii=False))
    if args.json_out:
        args.json_out.write_text(json.dumps(line, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
