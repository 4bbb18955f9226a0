"""Acknowledgement latency: a report lands in the mailbox, how soon does its ack reach SMTP?

Measured with the real daemon loop (``run_forever`` in a thread, IMAP IDLE),
so it includes waking from IDLE, the cycle, the commit, the MOVE and the
outbox flush: everything an official waits for after pressing "send".
"""
from __future__ import annotations

import threading
import time

from bench.env import BenchEnv
from bench.mailgen import REPORT_SENDERS
from bench.measure import Figure, median
from tests import mailfactory


def ack_latency(env: BenchEnv, rounds: int) -> Figure:
    from workflow.app import App
    from workflow.runtime.daemon import Daemon

    user = env.new_user("latency")
    workdir = env.workdir(f"latency-{user}")
    with env.dovecot.client(user):  # creates the (empty) mailbox
        pass
    app = App.load(str(env.config(workdir, user)))
    daemon = Daemon(app)
    thread = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False}, daemon=True)
    samples: list[float] = []
    try:
        thread.start()
        time.sleep(2.0)  # first (empty) cycle done, now idling
        with env.dovecot.client(user) as client:
            for i in range(rounds):
                province, sender = REPORT_SENDERS[i % len(REPORT_SENDERS)]
                raw = mailfactory.report_email(sender=sender, province=province,
                                               message_id=f"<latency-{i}-{time.time_ns()}@bench.test>")
                before = len(env.smtp.messages)
                started = time.perf_counter()
                client.append("INBOX", raw)
                env.smtp.wait_for(before + 1, timeout=30)
                samples.append(time.perf_counter() - started)
                time.sleep(0.3)  # let the daemon go back to IDLE, as between two real senders
    finally:
        daemon.stop_event.set()
        thread.join(timeout=90)
        app.close()
    return Figure("ack_latency", round(median(samples), 3), 2.0, "s (median)",
                  f"append a report over IMAP → its ack accepted by SMTP; daemon idling (IDLE); {rounds} rounds",
                  {"samples_s": [round(s, 3) for s in samples], "max_s": round(max(samples), 3),
                   "min_s": round(min(samples), 3)},
                  None if not thread.is_alive() else "daemon did not stop")
