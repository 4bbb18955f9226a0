"""The baseline of the real-mail figures: what any Python program pays to read a folder of mail at all.

    python bench/bare_parse.py FOLDER DB RESULT_JSON

Run as a child of the benchmark, so its CPU (``wait4``) includes an
interpreter start, as the bot's does. Standard library only, on purpose: its
start-up is a bare Python's. For every file of FOLDER in name order: read the
bytes, ``email.message_from_bytes(raw, policy=email.policy.default)``, walk
every part and decode each leaf (``get_content()``, or
``get_payload(decode=True)`` when the content manager refuses it, e.g. an
unknown charset), and insert the raw bytes into a SQLite table (WAL,
``synchronous=FULL``, one commit per 25 messages: the bot's journal mode and
batch size). The result file holds the CPU of each message so the benchmark
can say which messages dominate the baseline.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import sqlite3
import sys
import time

BATCH = 25  # the bot's default [mailbox] batch_size: one commit per fetch batch


def parse_and_decode(raw: bytes) -> tuple[int, int]:
    """(parts walked, leaves whose get_content() raised and were decoded with get_payload)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = fallbacks = 0
    for part in msg.walk():
        parts += 1
        if part.is_multipart():
            continue
        try:
            part.get_content()
        except Exception:  # noqa: BLE001 - broken real mail: the raw decode is what a reader falls back to
            fallbacks += 1
            part.get_payload(decode=True)
    return parts, fallbacks


def main(folder: str, db: str, result: str) -> int:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, name TEXT, raw BLOB)")
    per_message: dict[str, float] = {}
    parts = fallbacks = failures = 0
    for n, name in enumerate(sorted(os.listdir(folder)), 1):
        started = time.process_time()
        with open(os.path.join(folder, name), "rb") as fh:
            raw = fh.read()
        try:
            p, f = parse_and_decode(raw)
            parts, fallbacks = parts + p, fallbacks + f
        except Exception:  # noqa: BLE001 - counted: the baseline must not stop at one message
            failures += 1
        conn.execute("INSERT INTO messages (name, raw) VALUES (?, ?)", (name, raw))
        if n % BATCH == 0:
            conn.commit()
        per_message[name] = time.process_time() - started
    conn.commit()
    conn.close()
    with open(result, "w", encoding="utf-8") as fh:
        json.dump({"per_message": per_message, "parts": parts, "fallbacks": fallbacks, "failures": failures}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
