"""A compiled MIME parser on the real-mail corpus: ``fast-mail-parser`` against the standard library.

    python bench/fast_parser.py [--rounds 3]

Informational (issue 23 asks whether a parser outside Python is worth it):
CPU per message, in this process, of

* the standard library with ``policy.default``: parse, walk, decode every leaf
  (``get_content()``, else ``get_payload(decode=True)``) — the bare parse of
  the ``realmail_ratio`` figure without its SQLite insert;
* the standard library with ``compat32``: parse, walk, ``get_payload(decode=True)``;
* ``fast_mail_parser.parse_email`` (full mode: every body and attachment
  decoded), its ``mode="metadata"`` (headers and the attachment list, nothing
  decoded) and ``parse_email_tree`` walked;

and how many messages each raises on (``strict=True`` counted too: what it
would refuse rather than repair), plus how often its From address and
Subject agree with the standard library's. Each round times every parser on
every message in turn, so the load hits all alike. ``fast-mail-parser`` is
installed into the venv for the benchmark only (``pip install fast-mail-parser``);
it is not a dependency of the project.
"""
from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from email.utils import getaddresses
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import Figure, LoadSampler, median  # noqa: E402


def stdlib_default(raw: bytes) -> Any:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if not part.is_multipart():
            try:
                part.get_content()
            except Exception:  # noqa: BLE001 - the fallback every reader needs on real mail
                part.get_payload(decode=True)
    return msg


def stdlib_compat32(raw: bytes) -> Any:
    msg = email.message_from_bytes(raw)
    for part in msg.walk():
        if not part.is_multipart():
            part.get_payload(decode=True)
    return msg


def _parsers() -> dict[str, Callable[[bytes], Any]]:
    import fast_mail_parser as fmp

    def tree(raw: bytes) -> Any:
        root = fmp.parse_email_tree(raw)
        for _ in fmp.walk(root):
            pass
        return root

    return {
        "stdlib_default": stdlib_default,
        "stdlib_compat32": stdlib_compat32,
        "fmp_full": fmp.parse_email,
        "fmp_metadata": lambda raw: fmp.parse_email(raw, mode="metadata"),
        "fmp_tree": tree,
        "fmp_strict": lambda raw: fmp.parse_email(raw, strict=True),
    }


def _agreement(corpus: list[tuple[str, bytes]]) -> dict[str, int]:
    """How often fast-mail-parser's From address and Subject equal the standard library's (policy.default)."""
    import fast_mail_parser as fmp

    counts: Counter[str] = Counter()
    for _, raw in corpus:
        try:
            ours = email.message_from_bytes(raw, policy=email.policy.default)
            theirs = fmp.parse_email(raw)
        except Exception:  # noqa: BLE001, S112 - counted as raises elsewhere
            continue
        counts["compared"] += 1
        try:
            subject = str(ours["subject"] or "")
            addrs = [a.lower() for _, a in getaddresses([str(ours["from"] or "")]) if a]
        except Exception:  # noqa: BLE001 - the stdlib's header registry raises on some broken headers
            counts["stdlib_header_error"] += 1
            continue
        fast_from = [theirs.from_.address.lower()] if theirs.from_ is not None and theirs.from_.address else []
        counts["subject_same"] += " ".join(subject.split()) == " ".join((theirs.subject or "").split())
        counts["from_same"] += addrs[:1] == fast_from[:1]
        counts["with_warnings"] += bool(theirs.warnings)
    return dict(counts)


def measure(corpus: list[tuple[str, bytes]], rounds: int = 3) -> dict[str, Any]:
    parsers = _parsers()
    totals: dict[str, list[float]] = {name: [] for name in parsers}
    per_message: dict[str, list[float]] = {name: [0.0] * len(corpus) for name in parsers}
    raises: dict[str, Counter[str]] = {name: Counter() for name in parsers}
    refused_full: list[str] = []  # what the full parse raised on: the messages a switch would have to handle otherwise
    for r in range(rounds + 1):  # round 0 warms up (imports, caches) and is not counted
        spent = dict.fromkeys(parsers, 0.0)
        for i, (_, raw) in enumerate(corpus):
            for name, parse in parsers.items():
                started = time.process_time()
                try:
                    parse(raw)
                except Exception as exc:  # noqa: BLE001 - what each parser refuses is part of the answer
                    if r == 0:
                        raises[name][type(exc).__name__] += 1
                        if name == "fmp_full":
                            refused_full.append(f"{corpus[i][0]}: {type(exc).__name__}: {str(exc)[:120]}")
                cpu = time.process_time() - started
                spent[name] += cpu
                if r:
                    per_message[name][i] += cpu / rounds
        if r:
            for name in parsers:
                totals[name].append(spent[name])
    slowest_std = max(range(len(corpus)), key=lambda i: per_message["stdlib_default"][i])
    n = len(corpus)
    summary = {}
    for name in parsers:
        times = per_message[name]
        without = (sum(times) - times[slowest_std]) / (n - 1)
        summary[name] = {"ms_per_message": round(median(totals[name]) / n * 1000, 3),
                         "median_ms": round(median(times) * 1000, 3),
                         "ms_per_message_without_slowest": round(without * 1000, 3),
                         "raised": sum(raises[name].values()), "raised_by_type": dict(raises[name])}
    return {"messages": n, "rounds": rounds, "parsers": summary, "slowest_for_stdlib": corpus[slowest_std][0],
            "fmp_full_raised_on": refused_full,
            "agreement": _agreement(corpus)}


def fast_parser_figure(rounds: int = 3) -> Figure:
    import fast_mail_parser  # noqa: F401 - fail early and clearly when it is not installed

    from bench.realmail import distinct_corpus

    corpus = distinct_corpus()
    with LoadSampler() as load:
        data = measure(corpus, rounds)
    p = data["parsers"]
    data["loadavg_1min_span"] = load.span()
    data["fmp_version"] = _version()
    full = p["fmp_full"]["ms_per_message"]
    data["ratio_fmp_full_to_stdlib_default"] = round(full / p["stdlib_default"]["ms_per_message"], 3)
    data["ratio_fmp_full_to_stdlib_compat32"] = round(full / p["stdlib_compat32"]["ms_per_message"], 3)
    data["ratio_without_slowest"] = round(p["fmp_full"]["ms_per_message_without_slowest"]
                                          / p["stdlib_default"]["ms_per_message_without_slowest"], 3)
    return Figure("fast_mail_parser", data["ratio_fmp_full_to_stdlib_default"], 0.0, "× stdlib default CPU/msg",
                  f"fast_mail_parser.parse_email ÷ email.message_from_bytes(policy.default)+walk+decode, CPU per "
                  f"message in-process on {data['messages']} real messages, median of {rounds} rounds (informational)",
                  data, informational=True)


def _version() -> str:
    from importlib.metadata import version

    return version("fast-mail-parser")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    figure = fast_parser_figure(args.rounds)
    for name, s in figure.details["parsers"].items():
        print(f"{name:<16} {s['ms_per_message']:>8.3f} ms/msg (median {s['median_ms']:.3f}; "
              f"without the slowest {s['ms_per_message_without_slowest']:.3f})  raised {s['raised']} "
              f"{s['raised_by_type']}")
    print(json.dumps(figure.as_json(), ensure_ascii=False))
    print(f"load average (1 min) during the run: {figure.details['loadavg_1min_span']}; "
          f"cores: {os.cpu_count()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
