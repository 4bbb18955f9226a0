"""Machine mail in every common form is recognised, stored as what it is, and never answered (issue 20).

Unit level through the real parser and guards (``intake.machine.guards.check``), then
the same messages through the real daemon (``tdc-bot run --once`` on a
Maildir): nothing is acknowledged, nothing becomes a submission, each row
carries its kind.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from intake.machine.guards import check
from intake.machine.machine_mail import STORED_KIND
from intake.message.parse import parse
from intake.sources.maildir import deliver
from tests import machinemail as mm
from tests import mailfactory
from tests.cli_helpers import run_cli, write_config
from workflow.db import models

OWN = {"baocao@tdc.example.vn"}
DOMAIN = "tdc.example.vn"

CASES = [
    ("jmrp complaint", mm.jmrp_complaint, "feedback", "complaint"),
    ("outlook read receipt", mm.outlook_read_receipt, "mdn", "receipt"),
    ("winmail.dat read receipt", mm.winmail_read_receipt, "mdn", "receipt"),
    ("winmail.dat non-delivery", mm.winmail_non_delivery, "bounce", "bounce"),
    ("ezmlm list", mm.ezmlm_list_mail, "list", "list"),
    ("list-help only", mm.list_help_only, "list", "list"),
    ("debian bts", mm.debian_bts_notice, "tracker", "notice"),
    ("request tracker", mm.rt_notice, "tracker", "notice"),
    ("redmine", mm.redmine_notice, "tracker", "notice"),
    ("esp newsletter", mm.esp_newsletter, "newsletter", "newsletter"),
    ("shop notice", mm.shop_notice, "newsletter", "newsletter"),
    ("exchange dsn after blank lines", mm.exchange_dsn_with_leading_blank_lines, "bounce", "bounce"),
]


@pytest.mark.parametrize("name, build, kind, stored", CASES, ids=[c[0] for c in CASES])
def test_machine_mail_is_recognised_for_what_it_is(name, build, kind, stored):
    verdict = check(parse(build()), OWN, DOMAIN)
    assert (verdict.action, verdict.kind) == ("ignore", kind), verdict
    assert STORED_KIND[kind] == stored
    assert verdict.reasons  # a coordinator can read why


def test_a_person_writing_to_us_is_not_machine_mail():
    """The control: the same shapes without the machine's marks are a person's mail."""
    human = mm._message("Nguyễn Văn A <vana@congty.example.com>", "Hỏi về mẫu báo cáo",
                        "Xin hỏi mẫu báo cáo năm nay có gì thay đổi không? Cảm ơn anh chị.").as_bytes()
    assert check(parse(human), OWN, DOMAIN).action == "accept"
    reply = mm._message("Nguyễn Văn A <vana@congty.example.com>", "Read: my notes",
                        "I read the draft and have two remarks.").as_bytes()
    assert check(parse(reply), OWN, DOMAIN).action == "accept"  # "Read:" alone is not a receipt


def test_an_agencys_mail_is_never_set_aside_as_bulk():
    """An e-office system's notice from the agency's domain carries bulk signs; it is still read."""
    notice = mm.esp_newsletter(sender="Hệ thống QLVB <qlvb@skhcn.tayninh.gov.vn>", subject="Văn bản đi số 1234/SKHCN",
                               body="Trích yếu: Báo cáo kết quả thực hiện Chương trình 1322 năm 2024.")
    env = parse(notice)
    assert check(env, OWN, DOMAIN).kind == "newsletter"  # what it looks like to the heuristics alone
    assert check(env, OWN, DOMAIN, from_agency=True).action == "accept"
    assert check(env, OWN, DOMAIN, about_programme=True).action == "accept"
    listed = parse(mm.list_help_only())
    assert check(listed, OWN, DOMAIN, about_programme=True).kind == "list"  # a list header is not a heuristic


def test_repeated_identical_from_and_underscore_domains_have_a_sender():
    raw = (b"From: A <a@x.example.vn>\r\nFrom: A <a@x.example.vn>\r\nTo: baocao@tdc.example.vn\r\n"
           b"Subject: test\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n")
    assert parse(raw).from_addr == "a@x.example.vn"
    assert check(parse(raw), OWN, DOMAIN).action == "accept"
    underscore = raw.replace(b"From: A <a@x.example.vn>\r\nFrom: A <a@x.example.vn>",
                             b"From: Postmaster <it@mail_server.example.com>")
    assert parse(underscore).from_addr == "it@mail_server.example.com"
    two = raw.replace(b"From: A <a@x.example.vn>\r\nFrom: A <a@x.example.vn>",
                      b"From: A <a@x.example.vn>\r\nFrom: B <b@y.example.vn>")
    assert parse(two).from_addr == ""  # two different senders: no identity


@pytest.mark.slow
def test_machine_mail_through_the_daemon_is_stored_as_what_it_is_and_never_answered(tmp_path):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    when = datetime(2024, 11, 21, 2, 0, tzinfo=UTC)
    for i, (_, build, _, _) in enumerate(CASES):
        deliver(tmp_path / "mail", build(), when=when.replace(minute=i))
    deliver(tmp_path / "mail", mailfactory.report_email(), when=when.replace(minute=30))  # the control: answered
    run_cli("run", "--once", config=config)
    engine = create_engine(f"sqlite:///{tmp_path / 'tdc.db'}")
    with Session(engine) as s:
        rows = list(s.scalars(select(models.Message).order_by(models.Message.arrived_at)))
        acks = list(s.scalars(select(models.OutboxEmail)))
    engine.dispose()
    assert [(r.status, r.kind) for r in rows[:-1]] == [("ignored", stored) for _, _, _, stored in CASES]
    assert rows[-1].kind == "report"
    assert [a.related_message_id for a in acks] == [rows[-1].id]  # only the report is answered
