"""Idle cycle cost: a cycle that finds nothing new must not grow with the archive.

The mailbox is in the state the bot leaves it in keyword mode (no processed
folder configured): every message still in INBOX, flagged $TdcProcessed, the
database holding one row per message and the cursor at the newest UID. The
figure is the in-process time of ``IntakeCycle.run_once()`` on a big folder
divided by the same on a small one.
"""
from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from sqlalchemy import insert

from bench import mailgen
from bench.env import BenchEnv
from bench.measure import Figure, folder_count, median

KEYWORD = "$TdcProcessed"


def _processed_state(env: BenchEnv, count: int, label: str):
    """A keyword-mode mailbox of ``count`` processed messages and its matching database."""
    from workflow.app import App
    from workflow.db import models
    from workflow.runtime.intake_cycle import open_cycle

    user = env.new_user(label)
    mailgen.fill_maildir(env.user_maildir(user), count, keyword=KEYWORD, seed=count)
    if folder_count(env.dovecot, user, "INBOX") != count:
        raise RuntimeError(f"Dovecot does not see {count} messages for {user}")
    with env.dovecot.client(user) as client:
        info = client.select_folder("INBOX", readonly=True)
        uidvalidity = int(info[b"UIDVALIDITY"])
        uids = sorted(client.search(["KEYWORD", KEYWORD]))
    if len(uids) != count:
        raise RuntimeError(f"only {len(uids)} of {count} messages carry {KEYWORD}")
    workdir = env.workdir(f"idle-{user}")
    app = App.load(str(env.config(workdir, user, processed_folder=None)))
    cycle = open_cycle(app)
    mailbox = cycle.source.mailbox
    arrived = datetime(2024, 11, 1, tzinfo=UTC)
    rows = [{
        "sha256": hashlib.sha256(f"{label}-{uid}".encode()).hexdigest(),
        "source_key": f"imap:INBOX:{uidvalidity}:{uid}",
        "mailbox": mailbox, "uidvalidity": uidvalidity, "uid": uid, "raw_path": "", "size": 1000,
        "arrived_at": arrived, "status": "recorded", "kind": "other", "marked_done": True,
    } for uid in uids]
    with app.db.transaction() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(models.Message), rows[start:start + 5000])
        session.add(models.MailboxCursor(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=uids[-1]))
    return app, cycle


def _cycle_seconds(cycle, rounds: int) -> list[float]:
    first = cycle.run_once()  # connects and selects: not part of a steady-state cycle
    if first.fetched or first.stopped_early:
        raise RuntimeError(f"idle mailbox was not idle: {first.summary()}")
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        stats = cycle.run_once()
        samples.append(time.perf_counter() - started)
        if stats.fetched or stats.stopped_early:
            raise RuntimeError(f"idle cycle did work: {stats.summary()}")
    return samples


def idle_cycle_ratio(env: BenchEnv, big: int, small: int, rounds: int = 30) -> Figure:
    results = {}
    for label, count in (("idlebig", big), ("idlesmall", small)):
        app, cycle = _processed_state(env, count, label)
        try:
            results[count] = _cycle_seconds(cycle, rounds)
        finally:
            cycle.source.close()
            app.close()
    big_ms, small_ms = median(results[big]) * 1000, median(results[small]) * 1000
    return Figure("idle_cycle", round(big_ms / small_ms, 3), 1.2, "× (big ÷ small)",
                  f"median in-process IntakeCycle.run_once() with no new mail, {big} vs {small} processed messages "
                  f"(keyword mode, cursor at the top), {rounds} cycles each",
                  {"big_ms": round(big_ms, 2), "small_ms": round(small_ms, 2)})
