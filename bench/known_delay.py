"""Issue 21 §5: strangers' CPU bombs must not delay a known agency's report (``known_report_delay``).

Eight small messages from strangers (gmail senders), each carrying PDFs that
keep the PDF reader busy for longer than the whole per-message budget
(``tests/security/test_budget.py``'s ``slow_pdf``: a ~2 KB page of 60,000 text
operators, ≈ 4 s of pypdf CPU each, 12 per message), then one report from a
known agency (Tây Ninh, from its own domain), are APPENDed before the daemon
starts. The daemon (``run_forever`` in a thread, IMAP IDLE, the SMTP server,
outbox tick every second) then reads them in one cycle. Measured from the
start of that cycle: when the agency's acknowledgement was queued
(``outbox.created_at``) and when the SMTP server accepted it; and when the
strangers' reading ended (``messages.read_at``), which must still happen.

``[limits] message_seconds`` is 20 here (60 by default) so the run stays
short; the strangers' reading scales with it, the report's delay should not.

Beside the figure, in its details: a second agency's report APPENDed
``LATE_AFTER`` seconds into the cycle, while the strangers' files are being
read, and its time from APPEND to acknowledgement (the same promise for a
report that arrives a moment later).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.env import BenchEnv, stop_idle_daemon
from bench.measure import Figure, LoadSampler
from tests import mailfactory

AGENCY = ("Tây Ninh", "vanthu@skhcn.tayninh.gov.vn")
# A second agency whose report arrives while the strangers' files are being read (LATE_AFTER s into the cycle).
LATE_AGENCY = ("An Giang", "vanthu@skhcn.angiang.gov.vn")
LATE_AFTER = 5.0
STRANGERS = 8
PDFS_PER_STRANGER = 12
OPERATORS = 60_000
MESSAGE_SECONDS = 20
GOAL_SECONDS = 30.0


def stranger_email(i: int) -> bytes:
    """A stranger's small mail whose attachments would take longer than the budget to read."""
    from tests.security.test_budget import stranger_cpu_bomb

    return stranger_cpu_bomb(i, PDFS_PER_STRANGER, OPERATORS, f"<stranger-{i}-{time.time_ns()}@gmail.com>")


def _utc_seconds(text: str | None) -> float | None:
    """A naive-UTC timestamp as SQLite stores it (workflow.db.models.UtcDateTime) -> epoch seconds."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _db_facts(db: Path, agency_addr: str) -> dict:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        ack = conn.execute("SELECT created_at, sent_at, kind FROM outbox WHERE recipients LIKE ? ORDER BY id LIMIT 1",
                           (f"%{agency_addr}%",)).fetchone()
        strangers = conn.execute("SELECT read_at, reading_deferred, recorded_at, notes FROM messages "
                                 "WHERE from_addr LIKE '%@gmail.com' ORDER BY id").fetchall()
        agency = conn.execute("SELECT status, kind, submission_id, recorded_at FROM messages WHERE from_addr = ?",
                              (agency_addr,)).fetchone()
        notes = conn.execute("SELECT a.notes FROM attachments a JOIN messages m ON m.id = a.message_id "
                             "WHERE m.from_addr LIKE '%@gmail.com'").fetchall()
    over = sum(any("vượt ngân sách" in n for n in json.loads(text or "[]")) for (text,) in notes)
    return {"ack": ack, "strangers": strangers, "agency": agency, "stranger_files_over_budget": over}


def _append_late_report(env: BenchEnv, user: str) -> float:
    """APPEND the second agency's report; returns when the APPEND was sent (time.time(), the SMTP server's clock)."""
    province, sender = LATE_AGENCY
    raw = mailfactory.report_email(sender=sender, province=province,
                                   message_id=f"<late-{time.time_ns()}@skhcn.angiang.gov.vn>")
    with env.dovecot.client(user) as client:
        sent = time.time()
        client.append("INBOX", raw)
    return sent


def known_report_delay(env: BenchEnv) -> Figure:
    from workflow.app import App
    from workflow.runtime.daemon import Daemon

    user = env.new_user("strangers")
    workdir = env.workdir(f"strangers-{user}")
    with env.dovecot.client(user) as client:
        for i in range(STRANGERS):
            client.append("INBOX", stranger_email(i))
        province, sender = AGENCY
        client.append("INBOX", mailfactory.report_email(sender=sender, province=province,
                                                        message_id=f"<known-{time.time_ns()}@skhcn.tayninh.gov.vn>"))
    config = env.config(workdir, user, extra=f"[limits]\nmessage_seconds = {MESSAGE_SECONDS}\n")
    app = App.load(str(config))
    daemon = Daemon(app)
    cycle_starts: list[float] = []
    run_once = daemon.cycle.run_once

    def timed_run_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        cycle_starts.append(time.time())
        return run_once(*args, **kwargs)

    daemon.cycle.run_once = timed_run_once  # type: ignore[method-assign]
    thread = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False}, daemon=True)
    db = workdir / "tdc.db"
    before = len(env.smtp.messages)
    deadline = time.time() + STRANGERS * MESSAGE_SECONDS + 180
    ack_at: float | None = None
    late_appended: float | None = None
    late_ack_at: float | None = None
    facts: dict = {}
    with LoadSampler() as load:
        try:
            thread.start()
            while time.time() < deadline:
                if ack_at is None:
                    ack_at = next((m.at for m in env.smtp.messages[before:] if sender in m.rcpt_tos), None)
                if late_appended is None and cycle_starts and time.time() - cycle_starts[0] >= LATE_AFTER:
                    late_appended = _append_late_report(env, user)
                if late_appended is not None and late_ack_at is None:
                    late_ack_at = next((m.at for m in env.smtp.messages[before:] if LATE_AGENCY[1] in m.rcpt_tos),
                                       None)
                facts = _db_facts(db, sender) if db.exists() else {}
                strangers = facts.get("strangers") or []
                if ack_at is not None and late_ack_at is not None and len(strangers) == STRANGERS \
                        and not any(s[1] for s in strangers):
                    break
                time.sleep(0.5)  # the times come from the SMTP server's and the database's stamps
        finally:
            stop_idle_daemon(env, user, daemon, thread)
            app.close()
    start = cycle_starts[0] if cycle_starts else None
    ack = facts.get("ack")
    queued = _utc_seconds(ack[0]) if ack else None
    read_ends = [t for t in (_utc_seconds(s[0]) for s in facts.get("strangers") or []) if t is not None]
    details = {
        "message_seconds": MESSAGE_SECONDS, "strangers": STRANGERS, "pdfs_per_stranger": PDFS_PER_STRANGER,
        "queued_after_s": round(queued - start, 2) if queued and start else None,
        "sent_after_s": round(ack_at - start, 2) if ack_at and start else None,
        "strangers_read_done_after_s": sorted(round(t - start, 1) for t in read_ends) if start else None,
        "strangers_reading_span_s": round(max(read_ends) - start, 1) if read_ends and start else None,
        "stranger_files_over_budget": facts.get("stranger_files_over_budget"),
        "agency_row": list(facts["agency"]) if facts.get("agency") else None,
        "ack_kind": ack[2] if ack else None, "cycles_started": len(cycle_starts),
        # The same promise for a report that arrives while the strangers' files are being read.
        "late_report_appended_after_s": round(late_appended - start, 1) if late_appended and start else None,
        "late_report_append_to_ack_s": round(late_ack_at - late_appended, 2) if late_ack_at and late_appended
        else None,
        "late_report_within_goal": bool(late_ack_at and late_appended and late_ack_at - late_appended <= GOAL_SECONDS),
        "loadavg_1min_span": load.span(),
    }
    value = details["sent_after_s"] if details["sent_after_s"] is not None else details["queued_after_s"]
    error = None
    if start is None or ack_at is None or queued is None:
        error = f"the agency's acknowledgement was not sent: {details}"
    elif len(read_ends) < STRANGERS:
        error = f"the strangers' messages were not all read: {details}"
    elif thread.is_alive():
        error = "daemon did not stop"
    return Figure("known_report_delay", value, GOAL_SECONDS, "s cycle start → ack sent",
                  f"{STRANGERS} strangers' CPU-bomb mails (PDFs beyond the {MESSAGE_SECONDS} s budget) then one "
                  f"agency report, daemon on IDLE: start of the cycle → the agency's ack accepted by SMTP",
                  details, error)
