"""The deadline burst: 62 reports with attachments arrive at once; how soon is each acknowledged?

On the last day of a season most provinces send within the same hour, many
within minutes. The daemon (``run_forever`` in a thread, IMAP IDLE, the
benchmark's SMTP server, outbox tick every second) is idle when 62 reports
(each with its .docx, from 62 real roster provinces, each from its own
domain) are APPENDed over one IMAP connection as fast as the server takes
them. For each report: from the moment its APPEND was sent to the moment the
SMTP server accepted the acknowledgement addressed to its sender. Figure:
the 95th percentile (nearest rank); p50 and max beside it.
"""
from __future__ import annotations

import math
import threading
import time

from bench.env import BenchEnv, stop_idle_daemon
from bench.measure import Figure, LoadSampler, median, sqlite_count
from tests import mailfactory

REPORTS = 62
GOAL_SECONDS = 5.0


def burst_senders(count: int) -> list[tuple[str, str]]:
    """(province as written, sender address) for ``count`` provinces owing a 2024 report, from their own domains."""
    from reference.roster import load_roster

    provinces = [a for a in load_roster().owing(2024) if a.kind == "province" and a.domains]
    if len(provinces) < count:
        raise RuntimeError(f"the roster has {len(provinces)} provinces with a domain, {count} wanted")
    return [(a.short_name, f"vanthu@skhcn.{a.domains[0]}") for a in provinces[:count]]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _record_timeline(daemon) -> list[tuple[str, float, float, int]]:  # type: ignore[no-untyped-def]
    """Wrap the daemon's cycle and outbox flush: (what, start, end, count) of each, for the figure's details.

    Where the seconds go (reading the burst or sending its acks) is the first
    question a missed figure raises; this answers it from the same run.
    """
    timeline: list[tuple[str, float, float, int]] = []
    run_once, flush_tick = daemon.cycle.run_once, daemon.flush_tick

    def cycle(*args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.time()
        stats = run_once(*args, **kwargs)
        timeline.append(("cycle", started, time.time(), stats.fetched))
        return stats

    def flush():  # type: ignore[no-untyped-def]
        started = time.time()
        result = flush_tick()
        if result is not None and result.sent:
            timeline.append(("flush", started, time.time(), result.sent))
        return result

    daemon.cycle.run_once = cycle
    daemon.flush_tick = flush
    return timeline


def _idle_workers() -> int:
    """Document reader processes waiting in the pool (intake.documents.sandbox): 0 means the next reads start them."""
    from intake.documents import sandbox

    return len(sandbox._POOL._idle)  # noqa: SLF001 - read only, to say whether a burst paid for starting them


def one_burst(env: BenchEnv, label: str, count: int, timeout: float) -> dict:
    """A fresh daemon and mailbox; ``count`` reports APPENDed at once; per report, APPEND → ack at SMTP."""
    from workflow.app import App
    from workflow.runtime.daemon import Daemon

    senders = burst_senders(count)
    raws = [mailfactory.report_email(sender=addr, province=province,
                                     message_id=f"<burst-{label}-{i}-{time.time_ns()}@{addr.split('@')[1]}>")
            for i, (province, addr) in enumerate(senders)]  # built before the clock starts
    user = env.new_user(f"burst{label}")
    workdir = env.workdir(f"burst-{user}")
    with env.dovecot.client(user):  # creates the (empty) mailbox
        pass
    app = App.load(str(env.config(workdir, user)))
    daemon = Daemon(app)
    timeline = _record_timeline(daemon)
    thread = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False}, daemon=True)
    appended: dict[str, float] = {}
    acked: dict[str, float] = {}
    workers_before = _idle_workers()
    before = len(env.smtp.messages)
    with LoadSampler(every=2.0) as load:
        try:
            thread.start()
            time.sleep(2.0)  # first (empty) cycle done, now idling
            with env.dovecot.client(user) as client:
                for (_, addr), raw in zip(senders, raws, strict=True):
                    appended[addr] = time.time()  # the SMTP server stamps with time.time() too
                    client.append("INBOX", raw)
            append_seconds = time.time() - min(appended.values())
            deadline, seen = time.time() + timeout, before
            while len(acked) < count and time.time() < deadline:
                # Only what arrived since the last look: this loop shares the daemon's interpreter lock.
                for m in env.smtp.messages[seen:]:
                    seen += 1
                    for rcpt in m.rcpt_tos:
                        if rcpt in appended and rcpt not in acked:
                            acked[rcpt] = m.at  # stamped by the SMTP server when it accepted the DATA
                time.sleep(0.1)
        finally:
            stop_idle_daemon(env, user, daemon, thread)
            app.close()
    delays = [acked[a] - appended[a] for a in appended if a in acked]
    db = workdir / "tdc.db"
    t0 = min(appended.values())
    return {
        "reports": count, "acked": len(acked), "append_all_seconds": round(append_seconds, 2),
        "p95_s": round(percentile(delays, 95), 2) if delays else None,
        "p50_s": round(median(delays), 2) if delays else None, "max_s": round(max(delays), 2) if delays else None,
        "min_s": round(min(delays), 2) if delays else None,
        "delays_s_in_append_order": [round(acked[a] - appended[a], 2) if a in acked else None for a in appended],
        "recorded_reports": sqlite_count(db, "SELECT count(*) FROM messages WHERE kind = 'report'"),
        "submissions": sqlite_count(db, "SELECT count(*) FROM submissions"),
        "acks_sent": sqlite_count(db, "SELECT count(*) FROM outbox WHERE kind = 'ack' AND state = 'sent'"),
        "document_workers_idle_before": workers_before, "document_workers_idle_after": _idle_workers(),
        "loadavg_1min_span": load.span(), "daemon_stopped": not thread.is_alive(),
        # (what, seconds after the first APPEND it started, how long, messages fetched or acks sent)
        "timeline": [(what, round(start - t0, 2), round(end - start, 2), n) for what, start, end, n in timeline if n],
    }


def deadline_burst(env: BenchEnv, count: int = REPORTS, timeout: float = 300.0) -> Figure:
    """The figure is the first burst, on a fresh daemon (after a restart): since 07/12/2026 the daemon starts its
    document readers when it starts, 2 s before the burst here (before, the burst's first reports started them);
    a second burst, on another fresh daemon in the same process, finds the readers the first one left idle, as a
    daemon that has been reading mail for a while would."""
    cold = one_burst(env, "cold", count, timeout)
    warm = one_burst(env, "warm", count, timeout)
    error = None
    for name, run in (("first", cold), ("second", warm)):
        if run["acked"] < count:
            error = f"{name} burst: {count - run['acked']} of {count} reports not acknowledged within {timeout:.0f} s"
        elif not run["daemon_stopped"]:
            error = f"{name} burst: daemon did not stop"
    return Figure("deadline_burst_p95", cold["p95_s"], GOAL_SECONDS, "s (p95) APPEND → ack at SMTP",
                  f"{count} reports with a .docx APPENDed at once to an idle fresh daemon (IDLE); each: APPEND sent → "
                  f"its ack accepted by SMTP; nearest-rank p95 (the second burst, readers already started, beside it)",
                  {"cold_readers": cold, "warm_readers": warm, "warm_p95_s": warm["p95_s"]}, error)
