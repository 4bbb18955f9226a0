"""Peak memory with one 50 MB attachment, read end to end.

The attachment is a real .docx report whose package also carries 50 MB of
incompressible media (a report with scanned annex pages), so the parser,
the store and the document reader all handle the full size. The limits are
raised for this run (the default message limit of 60 MiB would quarantine
the ~68 MB base64 message without reading it, which is cheaper).
"""
from __future__ import annotations

import io
import multiprocessing
import os
import zipfile
from email import message_from_bytes, policy

from bench.env import BenchEnv
from bench.measure import Figure, folder_count, run_bot_once, sqlite_count
from tests import mailfactory

MB = 1024 * 1024


def big_report(size_mb: int) -> bytes:
    docx = io.BytesIO(mailfactory.report_docx("Tây Ninh", 2024))
    with zipfile.ZipFile(docx, "a") as package:
        package.writestr(zipfile.ZipInfo("word/media/phu-luc-scan.bin"), os.urandom(size_mb * MB),
                         compress_type=zipfile.ZIP_STORED)
    raw = mailfactory.report_email(with_docx=False, message_id="<big-attachment@skhcn.tayninh.gov.vn>")
    msg = message_from_bytes(raw, policy=policy.default)
    msg.add_attachment(docx.getvalue(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename="Báo cáo NSCL năm 2024 kèm phụ lục.docx")
    return msg.as_bytes()


def _build_and_append(host: str, port: int, user: str, password: str, size_mb: int) -> int:
    """In a child process: the benchmark must not grow by the message it builds.

    The bot is started with vfork + exec, and Linux carries the parent's peak RSS
    into the child's ru_maxrss at exec: a benchmark holding the 68 MB message (and
    its copies while building it) would be measured instead of the bot.
    """
    from imapclient import IMAPClient

    raw = big_report(size_mb)
    with IMAPClient(host, port=port, ssl=False, timeout=60) as client:
        client.plain_login(user, password)
        client.append("INBOX", raw)
    return len(raw)


def big_attachment_rss(env: BenchEnv, size_mb: int = 50) -> Figure:
    user = env.new_user("bigatt")
    server = env.dovecot
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        message_bytes = pool.apply(_build_and_append, (server.host, server.port, user, server.password, size_mb))
    workdir = env.workdir(f"bigatt-{user}")
    config = env.config(workdir, user, extra="[limits]\nmax_message_mb = 100\nmax_part_mb = 80\n"
                                              "max_zip_total_mb = 200\n")
    run = run_bot_once(config)
    db = workdir / "tdc.db"
    facts = {"message_mb": round(message_bytes / MB, 1), "attachment_mb": size_mb, "returncode": run.returncode,
             "recorded": sqlite_count(db, "SELECT count(*) FROM messages WHERE status = 'recorded'"),
             "quarantined": sqlite_count(db, "SELECT count(*) FROM messages WHERE status = 'quarantined'"),
             "acks_sent": sqlite_count(db, "SELECT count(*) FROM outbox WHERE state = 'sent'"),
             "processed_folder": folder_count(env.dovecot, user, "Processed"), "seconds": round(run.seconds, 2)}
    ok = run.returncode == 0 and facts["recorded"] == 1 and facts["processed_folder"] == 1
    return Figure("memory_50mb", round(run.max_rss_mb, 1), 250.0, "MB peak RSS",
                  f"tdc-bot run --once on one message with a {size_mb} MB .docx attachment (limits raised to read it)",
                  facts, None if ok else f"big message not processed as expected: {facts}\n{run.output}")
