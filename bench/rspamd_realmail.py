"""rspamd's verdicts on the real-mail corpus, offline: what issue 20's spam filter would say.

Every message of ``../shared/realmail`` is POSTed, as stored (no envelope: the bot
has none for mail in the mailbox), to ``/checkv2`` of a private rspamd that
resolves through the test suite's loopback DNS (tests/servers/dns.py, no zone:
every blocklist and map look-up gets NXDOMAIN at once) with the Debian package's
stock action thresholds. Nothing leaves the machine and nothing is learnt: the
corpus is a test set, so no Bayes, no fuzzy storage, no training of any kind.

Prints, per label of labels.csv, the count of each action, score quartiles, the
symbols that moved the scores most, and the time per message (one request at a
time, wall clock from POST to parsed JSON); ``--json-out`` writes the same as
JSON. ``--profile offline`` turns off the checks that need a real DNS or the
client's address (see PROFILES).

    .venv/bin/python bench/rspamd_realmail.py [--profile stock|offline] [--json-out FILE] [--symbols N]

Run as root like the test suite (rspamd's workers run as _rspamd). The first run
on a checkout compiles rspamd's Hyperscan databases (~30 s; cached in .cache/).
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.dns import LoopbackDNS  # noqa: E402
from tests.servers.rspamd import running_rspamd  # noqa: E402

REALMAIL = REPO.parent / "shared" / "realmail"
ACTIONS = ["no action", "add header", "rewrite subject", "greylist", "soft reject", "reject"]

# Profiles: "stock" is the Debian configuration as the test fixture runs it (stock thresholds). "offline"
# switches off what cannot work without the MX's knowledge of the client and a real DNS: hfilter's
# HELO/hostname/From-domain/URL look-ups (every unknown name answers NXDOMAIN here, which hfilter scores
# as a sender that does not exist), the DNS blocklists (they only cost time), and DATE_IN_PAST (it
# measures the age of the message when it is checked: meaningful at arrival, an artefact on an archive).
# Nothing is learnt from the corpus; no rule is written for it.
PROFILES: dict[str, dict[str, str]] = {
    "stock": {},
    "offline": {
        "local.d/hfilter.conf": "helo_enabled = false;\nhostname_enabled = false;\nfrom_enabled = false;\n"
                                "url_enabled = false;\n",
        "override.d/rbl.conf": "enabled = false;\n",
        "local.d/groups.conf": 'group "headers" {\n  symbols {\n    "DATE_IN_PAST" {\n      weight = 0.0;\n'
                               "    }\n  }\n}\n",
    },
}


def quartiles(scores: list[float]) -> list[float]:
    """min, Q1, median, Q3, max (inclusive method: defined for one value too)."""
    if len(scores) == 1:
        return scores * 5
    q1, q2, q3 = statistics.quantiles(scores, n=4, method="inclusive")
    return [min(scores), q1, q2, q3, max(scores)]


def measure(corpus: Path, top_symbols: int, profile: str = "stock") -> dict:
    rows = list(csv.DictReader(open(corpus / "labels.csv", encoding="utf-8")))
    dns = LoopbackDNS()
    dns.start()
    try:
        with running_rspamd(dns, actions=None, log_level="warning", extra_config=PROFILES[profile]) as rspamd:
            started_in = rspamd.started_in
            per_label: dict[str, dict] = defaultdict(lambda: {"actions": Counter(), "scores": [], "seconds": [],
                                                              "symbols": Counter(), "weights": Counter()})
            errors = []
            for row in rows:
                raw = (corpus / row["file"]).read_bytes()
                began = time.perf_counter()
                try:
                    verdict = rspamd.check(raw)
                except OSError as exc:  # an HTTP error is a finding, not a crash
                    errors.append({"file": row["file"], "error": str(exc)})
                    continue
                elapsed = time.perf_counter() - began
                bucket = per_label[row["label"]]
                bucket["actions"][verdict.action] += 1
                bucket["scores"].append(verdict.score)
                bucket["seconds"].append(elapsed)
                for name, symbol in verdict.symbols.items():
                    if symbol.get("score", 0) != 0:
                        bucket["symbols"][name] += 1
                        bucket["weights"][name] += symbol["score"]
    finally:
        dns.stop()
    all_seconds = [s for bucket in per_label.values() for s in bucket["seconds"]]
    return {
        "profile": profile,
        "messages": len(rows),
        "errors": errors,
        "rspamd_start_seconds": started_in,
        "dns_questions": sum(dns.questions.values()),
        "seconds_per_message": {"median": statistics.median(all_seconds), "mean": statistics.fmean(all_seconds),
                                "p90": statistics.quantiles(all_seconds, n=10)[-1], "max": max(all_seconds),
                                "total": sum(all_seconds)},
        "labels": {
            label: {
                "count": len(bucket["scores"]),
                "actions": {action: bucket["actions"].get(action, 0)
                            for action in [*ACTIONS, *sorted(set(bucket["actions"]) - set(ACTIONS))]},
                "score_quartiles": quartiles(bucket["scores"]),
                "median_seconds": statistics.median(bucket["seconds"]),
                # the symbols that moved the scores most: summed score, and on how many messages
                "top_symbols": [(name, round(total, 2), bucket["symbols"][name]) for name, total in
                                sorted(bucket["weights"].items(), key=lambda item: -abs(item[1]))[:top_symbols]],
            }
            for label, bucket in sorted(per_label.items(), key=lambda item: -len(item[1]["scores"]))
        },
    }


def print_table(result: dict) -> None:
    print(f"profile {result['profile']}: {result['messages']} messages, rspamd started in "
          f"{result['rspamd_start_seconds']:.1f} s, "
          f"{result['dns_questions']} DNS questions (all answered on loopback), errors: {len(result['errors'])}")
    timing = result["seconds_per_message"]
    print(f"time per message: median {timing['median'] * 1000:.1f} ms, mean {timing['mean'] * 1000:.1f} ms, "
          f"p90 {timing['p90'] * 1000:.1f} ms, max {timing['max'] * 1000:.0f} ms; total {timing['total']:.1f} s")
    header = ["label", "n", *ACTIONS, "min", "Q1", "median", "Q3", "max", "ms"]
    print(" | ".join(header))
    for label, data in result["labels"].items():
        cells = [label, str(data["count"]), *(str(data["actions"].get(a, 0)) for a in ACTIONS),
                 *(f"{q:.2f}" for q in data["score_quartiles"]), f"{data['median_seconds'] * 1000:.1f}"]
        print(" | ".join(cells))
    for label, data in result["labels"].items():
        print(f"{label}: " + ", ".join(f"{name} {total:+} ({count})" for name, total, count in data["top_symbols"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REALMAIL)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--symbols", type=int, default=8, help="symbols shown per label, by summed score")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="stock")
    args = parser.parse_args()
    result = measure(args.corpus, args.symbols, args.profile)
    print_table(result)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
