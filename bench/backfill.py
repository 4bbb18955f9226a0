"""First start on a full mailbox: speed against a bare fetch, memory, and surviving kill -9.

The baseline is what any IMAP client must pay to read the folder at all
(SELECT, then ``BODY.PEEK[]`` in the bot's own batch size, over the same
TLS port): the ratio then says how much the bot adds on top of reading the
mail — storing, parsing, classifying, recording, marking, acknowledging.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from bench import mailgen
from bench.env import BenchEnv
from bench.measure import ChildRun, Figure, folder_count, run_bot_once, sqlite_count


def filled_user(env: BenchEnv, label: str, count: int) -> tuple[str, float, float]:
    """A user whose INBOX holds ``count`` generated messages, already indexed by Dovecot.

    Returns (user, seconds to write the files, seconds of Dovecot's first SELECT).
    """
    user = env.new_user(label)
    started = time.perf_counter()
    mailgen.fill_maildir(env.user_maildir(user), count)
    written = time.perf_counter() - started
    started = time.perf_counter()
    exists = folder_count(env.dovecot, user, "INBOX")
    indexed = time.perf_counter() - started
    if exists != count:
        raise RuntimeError(f"Dovecot sees {exists} messages in {user}'s INBOX, expected {count}")
    return user, written, indexed


def plain_fetch_seconds(env: BenchEnv, user: str, batch_size: int) -> tuple[float, int]:
    """Read every message of INBOX with imapclient alone; returns (seconds, bytes read)."""
    from imapclient import IMAPClient

    started = time.perf_counter()
    client = IMAPClient(env.dovecot.host, port=env.dovecot.ssl_port, ssl=True, ssl_context=env.dovecot.ssl_context(),
                        timeout=60)
    client.plain_login(user, env.dovecot.password)
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search(["ALL"]))
    total = 0
    for start in range(0, len(uids), batch_size):
        for data in client.fetch(uids[start:start + batch_size],
                                 ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"]).values():
            total += len(data[b"BODY[]"])
    client.logout()
    return time.perf_counter() - started, total


def check_complete(env: BenchEnv, user: str, workdir: Path, count: int) -> dict:
    """Everything read once: one row per message, all moved to Processed, one ack per report."""
    db = workdir / "tdc.db"
    facts = {
        "messages_recorded": sqlite_count(db, "SELECT count(*) FROM messages"),
        "distinct_hashes": sqlite_count(db, "SELECT count(DISTINCT sha256) FROM messages"),
        "unmarked_rows": sqlite_count(db, "SELECT count(*) FROM messages WHERE NOT marked_done"),
        "acks_in_outbox": sqlite_count(db, "SELECT count(*) FROM outbox WHERE kind = 'ack'"),
        "acks_sent": sqlite_count(db, "SELECT count(*) FROM outbox WHERE kind = 'ack' AND state = 'sent'"),
        "inbox_left": folder_count(env.dovecot, user, "INBOX"),
        "processed_folder": folder_count(env.dovecot, user, "Processed"),
    }
    reports = mailgen.expected_reports(count)
    facts["exact"] = (facts["messages_recorded"] == facts["distinct_hashes"] == facts["processed_folder"] == count
                      and facts["inbox_left"] == 0 and facts["unmarked_rows"] == 0
                      and facts["acks_in_outbox"] == facts["acks_sent"] == reports)
    facts["expected_reports"] = reports
    return facts


def backfill_run(env: BenchEnv, count: int, label: str) -> tuple[ChildRun, dict, dict]:
    """Fill, time the plain fetch, then run the bot's first start as a child process."""
    user, written, indexed = filled_user(env, label, count)
    workdir = env.workdir(f"{label}-{user}")
    config = env.config(workdir, user)
    from workflow.settings import load_config

    batch = load_config(str(config)).settings.mailbox.batch_size
    plain, nbytes = plain_fetch_seconds(env, user, batch)
    run = run_bot_once(config)
    if run.returncode != 0:
        raise RuntimeError(f"tdc-bot run --once failed ({run.returncode}):\n{run.output}")
    facts = check_complete(env, user, workdir, count)
    timing = {"messages": count, "mailbox_mb": round(nbytes / 2**20, 1), "fill_seconds": round(written, 2),
              "dovecot_index_seconds": round(indexed, 2), "plain_fetch_seconds": round(plain, 2),
              "bot_seconds": round(run.seconds, 2), "bot_msgs_per_second": round(count / run.seconds, 1),
              "bot_cpu_seconds": round(run.cpu_seconds, 1), "loadavg": [round(v, 2) for v in os.getloadavg()],
              "peak_rss_mb": round(run.max_rss_mb, 1)}
    return run, timing, facts


def backfill_figures(env: BenchEnv, big: int, small: int) -> list[Figure]:
    """Backfill speed (on ``big``) and the memory ratio ``big`` / ``small``."""
    figures = []
    run_big, timing_big, facts_big = backfill_run(env, big, "big")
    ratio = timing_big["bot_seconds"] / timing_big["plain_fetch_seconds"]
    error = None if facts_big["exact"] else f"backfill incomplete: {facts_big}"
    figures.append(Figure("backfill", round(ratio, 2), 5.0, "× plain fetch",
                          f"tdc-bot run --once on {big} messages ÷ imapclient BODY.PEEK[] of the same folder",
                          {**timing_big, **facts_big}, error))
    run_small, timing_small, facts_small = backfill_run(env, small, "small")
    mem_ratio = run_big.max_rss_mb / run_small.max_rss_mb
    figures.append(Figure("memory_scaling", round(mem_ratio, 3), 1.2, "× peak RSS",
                          f"peak RSS of the backfill child on {big} ÷ on {small} messages",
                          {"peak_rss_mb_big": round(run_big.max_rss_mb, 1),
                           "peak_rss_mb_small": round(run_small.max_rss_mb, 1), "small_run": timing_small},
                          None if facts_small["exact"] else f"small backfill incomplete: {facts_small}"))
    return figures


def kill_and_resume(env: BenchEnv, count: int, lease_seconds: int = 5) -> Figure:
    """SIGKILL the first start a third of the way in, start again until done, and count: exactly ``count``.

    The killed process still holds the leader lease until it expires, and a
    ``run --once`` started meanwhile does nothing (it is a standby); so the
    restart is repeated, as an operator or systemd would, until the work is done.
    """
    user, _, _ = filled_user(env, "kill", count)
    workdir = env.workdir(f"kill-{user}")
    config = env.config(workdir, user, lease_seconds=lease_seconds)
    db = workdir / "tdc.db"
    sent_before = len(env.smtp.messages)
    target = count // 3
    killed = run_bot_once(config, kill_when=lambda: sqlite_count(db, "SELECT count(*) FROM messages") >= target)
    at_kill = sqlite_count(db, "SELECT count(*) FROM messages")
    killed_at = time.perf_counter()
    restarts = []
    while len(restarts) < 20:
        run = run_bot_once(config)
        restarts.append(run.returncode)
        # 3: a standby while the killed run's lease has not expired yet; try again.
        if folder_count(env.dovecot, user, "INBOX") == 0 or run.returncode not in (0, 3):
            break
        time.sleep(1.0)
    done_after = time.perf_counter() - killed_at
    facts = check_complete(env, user, workdir, count)
    smtp_acks = len(env.smtp.messages) - sent_before
    facts.update({"killed_returncode": killed.returncode, "recorded_at_kill": at_kill, "restart_returncodes": restarts,
                  "seconds_from_kill_to_complete": round(done_after, 1), "lease_seconds": lease_seconds,
                  "acks_received_by_smtp": smtp_acks})
    # A crash may repeat at most the one send in flight (ARCHITECTURE invariant 3).
    ok = facts["exact"] and killed.returncode == -9 and 0 < at_kill < count and \
        facts["expected_reports"] <= smtp_acks <= facts["expected_reports"] + 1
    return Figure("backfill_resume", 0.0 if ok else 1.0, 0.0, "missing or duplicate messages",
                  f"kill -9 of tdc-bot run --once at ~{target}/{count} recorded, restart, exact final count",
                  facts, None if ok else f"resume not exact: {facts}")
