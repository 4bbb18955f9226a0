"""Real mail through the bot, against a bare parse of the same files (issues 20 and 21).

Two figures from one run, side by side, so the machine's load hits both sides alike:

* ``realmail_ratio``: CPU per message of ``tdc-bot run --once`` over every
  distinct file of ``../shared/realmail`` (delivered to a Maildir, so no IMAP
  fetch is in it) ÷ CPU per message of ``bench/bare_parse.py`` over the same
  files (the standard library's parse with ``policy.default``, every part
  decoded, the raw bytes inserted into SQLite). Both are child processes
  measured with ``wait4`` (user + system, their waited-for children included:
  the bot's document workers), so both include an interpreter start.
* ``redelivery_ratio``: the same corpus delivered again, each message with a
  new ``Received:`` and ``Delivered-To:`` line on top, into the database that
  recorded the first delivery; CPU per message of that second ``run --once``
  ÷ the same bare parse. The bot should know them by their raw fingerprint
  (``intake.sender.identity.raw_fingerprint``) and not read them again.

CPU rather than wall time: on a shared machine the wall clock measures the
other processes. Each round uses a fresh database and Maildir; the figure is
the median of the rounds' ratios.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from bench.measure import REPO, ChildRun, Figure, LoadSampler, installed_env, median, run_bot_once, run_child

REALMAIL = REPO.parent / "shared" / "realmail"
ARRIVED = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)
BARE_SCRIPT = Path(__file__).resolve().parent / "bare_parse.py"
PACKAGES = ("intake", "workflow", "notifier", "reference")


def distinct_corpus(root: Path = REALMAIL) -> list[tuple[str, bytes]]:
    """(file, raw bytes) of each distinct file listed in labels.csv, in the file's order (as tests/test_realmail.py)."""
    labels = root / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"real-mail corpus not found: {labels}")
    seen: set[str] = set()
    out: list[tuple[str, bytes]] = []
    with labels.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            raw = (root / row["file"]).read_bytes()
            sha = hashlib.sha256(raw).hexdigest()
            if sha not in seen:
                seen.add(sha)
                out.append((row["file"], raw))
    return out


def redelivered(raw: bytes, n: int, when: datetime) -> bytes:
    """The message as a second delivery would bring it: a new Received and Delivered-To line on top.

    The lines use the message's own line ending, as an MTA adding them to it would.
    """
    eol = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
    received = (f"Received: from mx2.tdc.example.vn (mx2.tdc.example.vn [192.0.2.{n % 250 + 1}])"
                f"{eol.decode()}\tby mail.tdc.example.vn with ESMTPS id redeliver{n}; {format_datetime(when)}")
    return received.encode() + eol + b"Delivered-To: baocao@tdc.example.vn" + eol + raw


def write_folder(folder: Path, corpus: list[tuple[str, bytes]]) -> None:
    """The corpus as plain numbered files, read in name order by the bare parse."""
    folder.mkdir(parents=True)
    for i, (_, raw) in enumerate(corpus):
        (folder / f"{i:05d}.eml").write_bytes(raw)


def bare_parse(folder: Path, work: Path, env: dict[str, str]) -> tuple[ChildRun, dict]:
    """One bare-parse child over ``folder``; returns its run and what it reported."""
    db, result = work / f"bare-{os.urandom(4).hex()}.db", work / "bare-result.json"
    run = run_child([sys.executable, str(BARE_SCRIPT), str(folder), str(db), str(result)], cwd=work, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"bare parse failed ({run.returncode}):\n{run.output}")
    data = json.loads(result.read_text(encoding="utf-8"))
    db.unlink()
    return run, data


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "messages": one("SELECT count(*) FROM messages"),
            "duplicate_audits": one("SELECT count(*) FROM audit_log WHERE action = 'duplicate_delivery'"),
            "outbox": one("SELECT count(*) FROM outbox"),
            "quarantined": one("SELECT count(*) FROM messages WHERE status = 'quarantined'"),
            "still_deferred": one("SELECT count(*) FROM messages WHERE reading_deferred"),
        }


def bot_round(work: Path, corpus: list[tuple[str, bytes]], env: dict[str, str]) -> dict:
    """A fresh Maildir and database: the bot on an empty Maildir (start-up), on the corpus, on its re-delivery."""
    from intake.sources.maildir import deliver
    from tests.cli_helpers import write_config

    config = write_config(work, f"sqlite:///{work / 'tdc.db'}")
    run_bot_once(config, env=env)  # creates and migrates the database: not part of either figure
    empty = run_bot_once(config, env=env)  # start-up and an empty cycle on the existing database
    for i, (_, raw) in enumerate(corpus):
        deliver(work / "mail", raw, when=ARRIVED + timedelta(seconds=i))
    first = run_bot_once(config, env=env)
    after_first = _counts(work / "tdc.db")
    again = ARRIVED + timedelta(days=1)
    for i, (_, raw) in enumerate(corpus):
        deliver(work / "mail", redelivered(raw, i, again + timedelta(seconds=i)), when=again + timedelta(seconds=i))
    second = run_bot_once(config, env=env)
    after_second = _counts(work / "tdc.db")
    for name, run in (("empty", empty), ("first", first), ("redelivery", second)):
        if run.returncode != 0:
            raise RuntimeError(f"tdc-bot run --once ({name}) exited {run.returncode}:\n{run.output}")
    left = list((work / "mail" / "new").iterdir()) + list((work / "mail" / "cur").iterdir())
    return {"empty": empty, "first": first, "redelivery": second, "after_first": after_first,
            "after_second": after_second, "left_unmarked": len(left)}


def realmail_figures(rounds: int = 3) -> list[Figure]:
    corpus = distinct_corpus()
    n = len(corpus)
    ratios, redelivery, bare_cpu, bot_cpu, again_cpu, empty_cpu = [], [], [], [], [], []
    facts: list[dict] = []
    slowest: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory(prefix="tdc-bench-realmail-") as tmp, LoadSampler() as load:
        folder = Path(tmp) / "corpus"
        write_folder(folder, corpus)
        env = installed_env(Path(tmp) / "pycache")
        # Byte-code of the project written once, as pip does on install (the document readers included,
        # which only the first corpus run would import), then the files in the page cache.
        run_child([sys.executable, "-m", "compileall", "-q", *(str(REPO / d) for d in PACKAGES)], env=env)
        bare_parse(folder, Path(tmp), env)
        for r in range(rounds):
            work = Path(tmp) / f"round{r}"
            work.mkdir()
            bare, reported = bare_parse(folder, Path(tmp), env)
            result = bot_round(work, corpus, env)
            bare_cpu.append(bare.cpu_seconds)
            bot_cpu.append(result["first"].cpu_seconds)
            again_cpu.append(result["redelivery"].cpu_seconds)
            empty_cpu.append(result["empty"].cpu_seconds)
            ratios.append(result["first"].cpu_seconds / bare.cpu_seconds)
            redelivery.append(result["redelivery"].cpu_seconds / bare.cpu_seconds)
            per = reported["per_message"]
            slowest = sorted(((cpu, corpus[int(name[:5])][0]) for name, cpu in per.items()), reverse=True)[:3]
            facts.append({"after_first": result["after_first"], "after_second": result["after_second"],
                          "left_unmarked": result["left_unmarked"], "bare_failures": reported["failures"],
                          "bare_fallbacks": reported["fallbacks"], "bare_parts": reported["parts"],
                          "bot_wall_s": round(result["first"].seconds, 1),
                          "redelivery_wall_s": round(result["redelivery"].seconds, 1)})
    top_cpu, top_name = slowest[0]
    bare_ms = median(bare_cpu) / n * 1000
    bot_ms, again_ms, empty_ms = (median(v) / n * 1000 for v in (bot_cpu, again_cpu, empty_cpu))
    common = {
        "messages": n, "rounds": rounds, "loadavg_1min_span": load.span(),
        "bare_cpu_s": [round(v, 2) for v in bare_cpu], "bot_cpu_s": [round(v, 2) for v in bot_cpu],
        "redelivery_cpu_s": [round(v, 2) for v in again_cpu],
        "bot_empty_maildir_cpu_s": [round(v, 2) for v in empty_cpu],
        "bare_ms_per_message": round(bare_ms, 2), "bot_ms_per_message": round(bot_ms, 2),
        "redelivery_ms_per_message": round(again_ms, 2),
        "bare_slowest": [[round(c, 3), name] for c, name in slowest],
        # The stdlib spends seconds on one message the bot refuses before parsing (an endless enclosure):
        # the baseline without it, the bot's side unchanged (its cost of refusing it stays in).
        "ratio_bare_without_slowest": round(median(bot_cpu) / (median(bare_cpu) - top_cpu), 2),
        "redelivery_ratio_bare_without_slowest": round(median(again_cpu) / (median(bare_cpu) - top_cpu), 2),
        # Start-up taken out of both sides (the bot on an empty Maildir; a bare interpreter ≈ 0.03 s).
        "ratio_without_bot_startup": round((median(bot_cpu) - median(empty_cpu)) / median(bare_cpu), 2),
        "redelivery_ratio_without_bot_startup": round((median(again_cpu) - median(empty_cpu)) / median(bare_cpu), 3),
        "rounds_facts": facts,
    }
    unknown = not_recognisable(corpus)
    errors = _check(facts, n, len(unknown))
    return [
        Figure("realmail_ratio", round(median(ratios), 2), 5.0, "× bare parse CPU/msg",
               f"tdc-bot run --once on {n} distinct real messages (Maildir) ÷ stdlib parse+decode+SQLite insert, "
               f"CPU per message, median of {rounds} side-by-side rounds (stretch goal 3)",
               {**common, "ratios": [round(v, 2) for v in ratios], "stretch_goal": 3.0,
                "stretch_met": median(ratios) <= 3.0}, errors.get("first")),
        Figure("redelivery_ratio", round(median(redelivery), 3), 0.5, "× bare parse CPU/msg",
               f"tdc-bot run --once on the same {n} messages delivered again (new Received and Delivered-To) "
               f"into the database of the first delivery ÷ the same bare parse, median of {rounds}",
               {**common, "ratios": [round(v, 3) for v in redelivery], "top_bare_message": top_name,
                "not_recognised_by_raw_fingerprint": unknown},
               errors.get("redelivery")),
    ]


def not_recognisable(corpus: list[tuple[str, bytes]]) -> list[str]:
    """Files whose re-delivery has another raw fingerprint, computed offline with the bot's own function.

    The fingerprint leaves out the trace lines on top (Received, Delivered-To,
    Return-Path, X-Original-To), so none of this corpus is expected here since
    issue #23 (11 before: texts without a header block, hashed whole); any
    other header added on top of such a text would still change it. The
    figure says how many, and the run must agree.
    """
    from intake.sender.identity import raw_fingerprint

    return [name for i, (name, raw) in enumerate(corpus)
            if raw_fingerprint(raw) != raw_fingerprint(redelivered(raw, i, ARRIVED))]


def _check(facts: list[dict], n: int, unrecognisable: int) -> dict[str, str]:
    """Both runs did their job: every message accounted for, nothing answered, the re-deliveries known
    except those whose fingerprint changes (``not_recognisable``)."""
    errors: dict[str, str] = {}
    for f in facts:
        first, second = f["after_first"], f["after_second"]
        if first["messages"] + first["duplicate_audits"] < n or first["outbox"] or f["left_unmarked"]:
            errors["first"] = f"first delivery not fully recorded, or answered: {f}"
        new_rows = second["messages"] - first["messages"]
        known = second["duplicate_audits"] - first["duplicate_audits"]
        if new_rows > unrecognisable or new_rows + known < n or second["outbox"] or second["still_deferred"]:
            errors["redelivery"] = (f"re-delivery made {new_rows} new rows ({unrecognisable} expected at most), "
                                    f"{known} duplicate audits for {n} messages: {f}")
    return errors
