"""Junk: believed only from our server's filter, never hiding an agency's report, listed apart, rescued (issue 20).

The verdict a spam filter wrote is believed only above our receiving server's
own Received line (``intake.sender.trusted_server``); below it the sender wrote it.
Junk is stored, never answered, never read (its files are not opened) and
kept out of every coordinator list but ``tdc-bot junk list``; ``junk rescue``
reads it again as ordinary mail. The live rspamd path is in
``tests/test_junk_rspamd.py``.
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import select

from intake.machine.junk import header_verdict
from intake.message.parse import parse
from intake.model import RawMessage
from intake.pipeline import IntakeContext, understand
from intake.sender.trusted_server import server_stamps
from intake.sources.maildir import deliver
from tests import mailfactory
from tests.cli_helpers import cli_json, run_cli
from tests.corpus.build import reading_context
from tests.mailfactory import OUR_RECEIVED as OURS
from tests.mailfactory import OUR_SERVER, disguised_report, with_headers
from tests.mailfactory import SPAM_VERDICT as SA_YES
from tests.reliability import ARRIVED, write_config
from workflow.app import App
from workflow.db import models
from workflow.operations import doctor

SENDERS = "Received: from pc by mail.example.net (Postfix) with ESMTP id 9Z; Wed, 20 Nov 2024 08:59:00 +0700"
SA_NO = "X-Spam-Status: No, score=-1.0 required=5.0"
HOSTS = frozenset({OUR_SERVER})


def _appended(raw: bytes, *fields: str) -> bytes:
    """The fields at the end of the header block, where rspamd's milter appends its verdict."""
    head, _, body = raw.partition(b"\n\n")
    return head + b"\n" + "".join(f"{f}\n" for f in fields).encode().rstrip(b"\n") + b"\n\n" + body


def test_a_filters_verdict_counts_only_above_our_received_line():
    above = server_stamps(parse(with_headers(disguised_report(), SA_YES, OURS)), HOSTS)
    verdict = header_verdict(above, frozenset({"spamassassin"}))
    assert verdict is not None and verdict.junk and verdict.score == 14.2 and verdict.threshold == 5.0
    below = server_stamps(parse(with_headers(disguised_report(), OURS, SENDERS, SA_YES)), HOSTS)
    assert header_verdict(below, frozenset({"spamassassin"})) is None  # the sender wrote it
    assert header_verdict(above, frozenset({"rspamd"})) is None  # a filter we were not told to trust
    rspamd_fields = ("X-Spamd-Result: default: True [16.50 / 15.00];", "X-Rspamd-Action: reject")
    bound = server_stamps(parse(_appended(with_headers(disguised_report(), OURS), *rspamd_fields,
                                          "X-Rspamd-Queue-Id: 4XyQ7")), HOSTS)
    found = header_verdict(bound, frozenset({"rspamd"}))
    assert found is not None and found.junk and found.action == "reject" and "16,5" in found.reason
    unbound = server_stamps(parse(_appended(with_headers(disguised_report(), OURS), *rspamd_fields,
                                            "X-Rspamd-Queue-Id: GUESSED")), HOSTS)
    assert header_verdict(unbound, frozenset({"rspamd"})) is None  # not bound to our server's queue id
    nowhere = server_stamps(parse(with_headers(disguised_report(), SA_YES)), HOSTS)
    assert header_verdict(nowhere, frozenset({"spamassassin"})) is None  # never passed our server


def _ctx(roster, campaigns) -> IntakeContext:  # type: ignore[no-untyped-def]
    return reading_context(roster, campaigns, own_addresses=frozenset({"baocao@tdc.example.vn"}),
                           own_domain="tdc.example.vn", trusted_authserv_ids=HOSTS, trusted_received_by=HOSTS,
                           junk_trust=frozenset({"spamassassin"}))


def _understand(raw: bytes, ctx: IntakeContext):  # type: ignore[no-untyped-def]
    return understand(RawMessage("t:1", raw, ARRIVED, "test"), ctx, None)


def test_junk_is_never_read_and_never_hides_an_agencys_report(roster, campaigns):
    ctx = _ctx(roster, campaigns)
    junk = _understand(with_headers(disguised_report(), SA_YES, OURS), ctx)
    assert junk.status == "junk" and junk.reading().kind == "spam"
    assert junk.documents == [] and all(a.text_chars == 0 for a in junk.attachments)  # its file was not opened
    agency = _understand(with_headers(mailfactory.report_email(), SA_YES, OURS), ctx)  # an agency's own domain
    assert agency.status == "recorded" and agency.classification.kind == "report" and agency.junk is None
    about = _understand(with_headers(mailfactory.report_email(sender="nguoila@gmail.com"), SA_YES, OURS), ctx)
    assert about.status == "recorded" and about.classification.kind == "report"  # it names the programme
    forged_no = _understand(with_headers(disguised_report(), OURS, SENDERS, SA_NO), ctx)
    assert forged_no.junk is None and forged_no.status == "recorded"  # no believed verdict, no filter asked
    rescued = _understand(with_headers(disguised_report(), SA_YES, OURS), dataclasses.replace(ctx, junk_check=False))
    assert rescued.status == "recorded" and rescued.classification.kind == "report"


def test_junk_is_listed_apart_never_answered_and_a_coordinator_can_rescue_it(tmp_path):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}",
                          mailbox_extra='trusted_authserv_id = "mx.tdc.example.vn"\n',
                          extra='[junk]\ntrust_headers = ["spamassassin"]\n')
    deliver(config.parent / "mail", with_headers(disguised_report(), SA_YES, OURS), when=ARRIVED)
    run_cli("run", "--once", config=config)
    [listed] = cli_json("junk", "list", config=config)
    assert listed["from"] == "nguyenvana.work@gmail.com" and "SpamAssassin" in listed["reason"]
    review = cli_json("review", "list", config=config)
    assert review["messages"] == [] and review["submissions"] == []  # coordinators do not read it
    stats = cli_json("stats", config=config)
    assert stats["junk"] == 1 and sum(stats["outbox"].values()) == 0  # never answered

    out = run_cli("junk", "rescue", str(listed["id"]), "--actor", "dieuphoi", config=config).stdout
    assert f"Thư #{listed['id']} đã đưa khỏi mục thư rác" in out
    assert cli_json("junk", "list", config=config) == []
    [claim] = cli_json("review", "list", config=config)["messages"]  # a stranger's report: waits for a coordinator
    assert claim["id"] == listed["id"] and claim["agency_guess"] == "tay-ninh"
    app = App.load(str(config))
    try:
        with app.db.sessions() as session:
            entry = session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "junk_rescued"))
            assert entry is not None and entry.actor == "dieuphoi" and entry.message_id == listed["id"]
            acks = list(session.scalars(select(models.OutboxEmail)))
            assert [a.related_message_id for a in acks] == [listed["id"]]  # answered now, as new mail would be
    finally:
        app.close()
    refused = run_cli("junk", "rescue", str(listed["id"]), config=config, check=False)
    assert refused.returncode == 1 and "không nằm trong mục thư rác" in refused.stderr


def test_doctor_says_what_is_missing_without_a_filter(tmp_path):
    bare = write_config(tmp_path / "a", db_url=f"sqlite:///{tmp_path / 'a.db'}")
    check = next(c for c in doctor.run_checks(str(bare)) if c.name == "bộ lọc thư rác")
    assert check.status == doctor.WARN and "thư rác được ghi như thư thường" in check.detail
    down = write_config(tmp_path / "b", db_url=f"sqlite:///{tmp_path / 'b.db'}",
                        extra='[junk]\nrspamd_url = "http://127.0.0.1:9"\ntimeout = 2\n')
    check = next(c for c in doctor.run_checks(str(down)) if c.name == "bộ lọc thư rác")
    assert check.status == doctor.FAIL and "không hỏi được rspamd" in check.detail
