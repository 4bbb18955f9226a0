"""Issue #10 §1–§2, tried as an attacker would: who sent a report, and who gets mail from the bot.

Each test builds the attack from code, runs it through the real daemon
(Maildir in, file outbox or the aiosmtpd server out, SQLite and PostgreSQL
where the database decides) and shows that it now fails safely.
"""
from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pytest

from intake.sender.identity import UNVERIFIED_LABEL, parse_mailbox
from tests import mailfactory
from tests.cli_helpers import cli_json, run_cli, status_row
from tests.mailfactory import with_headers
from tests.reliability import ARRIVED, read_mail, rows, write_config
from workflow.app import App
from workflow.db import models
from workflow.operations import doctor

TRUSTED = 'trusted_authserv_id = "mx.tdc.example.vn"\n'
TAY_NINH = "vanthu@skhcn.tayninh.gov.vn"
# Our receiving server's own trace line: its verdicts stand above it (intake.sender.trusted_server).
OUR_RECEIVED = ("Received: from mail.tayninh.gov.vn (mail.tayninh.gov.vn [203.0.113.5]) by mx.tdc.example.vn (Postfix) "
                "with ESMTPS id 4XyZ; Wed, 20 Nov 2024 09:00:00 +0700")


def _config(tmp_path: Path, *, trusted: bool = False, db_url: str | None = None, smtp=None) -> Path:  # type: ignore[no-untyped-def]
    return write_config(tmp_path, db_url=db_url or f"sqlite:///{tmp_path / 'tdc.db'}", smtp=smtp,
                        mailbox_extra=TRUSTED if trusted else "")


RECORDED = ARRIVED + timedelta(hours=1)


def _run(config: Path, *raws: bytes, when: datetime = ARRIVED) -> None:
    read_mail(config, *raws, when=when, clock=lambda: RECORDED)


def _replace_from(raw: bytes, value: str) -> bytes:
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    del msg["From"]
    msg["From"] = value
    return msg.as_bytes()


def _acks(config: Path) -> list[models.OutboxEmail]:
    return rows(config, models.OutboxEmail, models.OutboxEmail.kind == "ack")


# -- §1 who sent it -----------------------------------------------------------------------------


def test_unauthenticated_report_is_marked_unverified_everywhere(tmp_path):
    """Finding: no Authentication-Results at all was recorded as Tây Ninh's with no mark.

    Without a trusted server configured the report is still taken (as today) but
    status, show and the digest say the sender is not verified, and doctor warns.
    """
    config = _config(tmp_path)
    _run(config, mailfactory.report_email())
    row = status_row(config, "tay-ninh")
    assert row["state"] == "acknowledged" and row["sender_note"] == UNVERIFIED_LABEL
    shown = cli_json("show", "tay-ninh/2024", config=config)
    assert shown["versions"][0]["sender_note"] == UNVERIFIED_LABEL
    digest = cli_json("digest", "--dry-run", "--year", "2024", "--now", "2024-11-20T18:00", config=config)
    assert [r["sender_note"] for r in digest["digest"]["new_since_yesterday"]] == [UNVERIFIED_LABEL]
    text = run_cli("status", "--year", "2024", config=config).stdout
    assert "chưa được xác thực" in " ".join(text.split())
    check = next(c for c in doctor.run_checks(str(config)) if c.name == "xác thực người gửi")
    assert check.status == doctor.WARN and "trusted_authserv_id" in check.detail


def test_unauthenticated_report_is_an_unverified_claim_when_a_trusted_server_is_configured(tmp_path):
    """Issue 21 §1: a report our server did not vouch for is a claim, shown in review, not the agency's submission."""
    config = _config(tmp_path, trusted=True)
    _run(config, mailfactory.report_email())
    row = status_row(config, "tay-ninh")
    assert row["state"] == "missing"
    [claim] = cli_json("review", "list", config=config)["messages"]
    assert claim["unverified_claim"] and claim["claim"].startswith("chưa xác thực, tự nhận là Tỉnh Tây Ninh")
    assert any(r.startswith(UNVERIFIED_LABEL) and "skhcn.tayninh.gov.vn" in r for r in claim["notes"]), claim
    [ack] = _acks(config)
    assert "chưa được tính là báo cáo của Quý cơ quan" in " ".join(ack.body_text.split())
    check = next(c for c in doctor.run_checks(str(config)) if c.name == "xác thực người gửi")
    assert check.status == doctor.OK


def test_forged_results_below_a_foreign_header_do_not_count(tmp_path):
    """A pass the sender wrote (below another server's header, or from an untrusted id) is not believed."""
    config = _config(tmp_path, trusted=True)
    forged = with_headers(mailfactory.report_email(),
                          "Authentication-Results: mx.other.example; none",
                          "Authentication-Results: mx.tdc.example.vn; dmarc=pass header.from=skhcn.tayninh.gov.vn")
    _run(config, forged)
    assert status_row(config, "tay-ninh")["state"] == "missing"
    [claim] = cli_json("review", "list", config=config)["messages"]
    assert claim["unverified_claim"] and claim["agency_guess"] == "tay-ninh"


def test_aligned_pass_from_the_trusted_server_is_received(tmp_path):
    config = _config(tmp_path, trusted=True)
    good = with_headers(mailfactory.report_email(),
                        "Authentication-Results: mx.tdc.example.vn; spf=pass "
                        "smtp.mailfrom=vanthu@skhcn.tayninh.gov.vn; dkim=pass header.d=skhcn.tayninh.gov.vn; "
                        "dmarc=pass header.from=skhcn.tayninh.gov.vn", OUR_RECEIVED)
    _run(config, good)
    row = status_row(config, "tay-ninh")
    assert row["state"] == "acknowledged" and row["sender_note"] is None


def test_comment_in_from_never_supplies_the_address(tmp_path):
    """Finding: `From: vanthu@skhcn.tayninh.gov.vn (So KHCN) <evil@attacker.example>` with DMARC passing for
    attacker.example was stored as Tây Ninh's address. The address in angle brackets is the identity."""
    mailbox = parse_mailbox("vanthu@skhcn.tayninh.gov.vn (So KHCN) <evil@attacker.example>")
    assert mailbox.address == "evil@attacker.example"
    config = _config(tmp_path, trusted=True)
    raw = with_headers(_replace_from(mailfactory.report_email(), f"{TAY_NINH} (So KHCN) <evil@attacker.example>"),
                       "Authentication-Results: mx.tdc.example.vn; dmarc=pass header.from=attacker.example",
                       OUR_RECEIVED)
    _run(config, raw)
    [msg] = rows(config, models.Message)
    assert msg.from_addr == "evil@attacker.example"
    assert msg.submission_id is None
    assert status_row(config, "tay-ninh")["state"] == "missing"
    [ack] = _acks(config)
    assert ack.recipients == ["evil@attacker.example"]


def test_spoofed_new_version_never_displaces_an_accepted_report(tmp_path):
    """Finding: a new version after `accept` moved the submission accepted → received and became current."""
    config = _config(tmp_path)
    _run(config, mailfactory.report_email())
    run_cli("accept", "tay-ninh", "--year", "2024", "--actor", "hoa", config=config)
    [first] = rows(config, models.Message)
    _run(config, mailfactory.report_email(subject="Báo cáo thay thế năm 2024 của tỉnh Tây Ninh"))
    shown = cli_json("show", "tay-ninh/2024", config=config)
    assert shown["state"] == "needs_review"
    assert shown["current_message_id"] == first.id
    assert any(r.startswith("phiên bản mới sau khi đã chấp nhận") for r in shown["review_reasons"])
    newer = max(v["id"] for v in shown["versions"])
    # The coordinator chooses: accepting the newer message makes it current.
    run_cli("accept", "tay-ninh", "--year", "2024", "--message", str(newer), "--actor", "hoa", config=config)
    shown = cli_json("show", "tay-ninh/2024", config=config)
    assert shown["state"] == "accepted" and shown["current_message_id"] == newer and not shown["review_reasons"]


def test_new_report_after_an_exemption_waits_for_a_coordinator(tmp_path):
    config = _config(tmp_path)
    run_cli("exempt", "tay-ninh", "--year", "2024", "--reason", "sáp nhập", "--actor", "hoa", config=config)
    _run(config, mailfactory.report_email())
    shown = cli_json("show", "tay-ninh/2024", config=config)
    assert shown["state"] == "needs_review" and shown["current_message_id"] is None
    assert any("miễn báo cáo" in r for r in shown["review_reasons"])


def test_same_message_delivered_twice_is_one_version_and_one_ack(tmp_path, db_url):
    """Finding: two deliveries differing only in a Received line became two versions with two acks."""
    config = _config(tmp_path, db_url=db_url)
    raw = mailfactory.report_email(message_id="<bc-2024@skhcn.tayninh.gov.vn>")
    one = with_headers(raw, "Received: from mx1.example.vn by mx.tdc.example.vn; Wed, 20 Nov 2024 10:00:00 +0700")
    two = with_headers(raw, "Received: from mx2.example.vn by mx.tdc.example.vn; Wed, 20 Nov 2024 10:00:07 +0700")
    _run(config, one)
    _run(config, two)
    messages = rows(config, models.Message)
    assert len(messages) == 1
    assert len(_acks(config)) == 1
    assert status_row(config, "tay-ninh")["versions"] == 1
    dup = rows(config, models.AuditEntry, models.AuditEntry.action == "duplicate_delivery")
    assert len(dup) == 1 and dup[0].message_id == messages[0].id
    # A real new version (different content) is still a version.
    _run(config, mailfactory.report_email(message_id="<bc-2024@skhcn.tayninh.gov.vn>", subject="Bản sửa"))
    assert status_row(config, "tay-ninh")["versions"] == 2


def test_stranger_naming_an_agency_does_not_take_it_off_the_owing_list(tmp_path):
    """Finding: a stranger's report naming Bến Tre removed Bến Tre from reminders and the digest's missing list."""
    config = _config(tmp_path)
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[reminders]\nenabled = false", "[reminders]\nenabled = true"), encoding="utf-8")
    _run(config, mailfactory.report_email(sender="bentre.baocao@gmail.com", province="Bến Tre"))
    row = status_row(config, "ben-tre")
    assert row["state"] == "missing" and row["awaiting"] == 1  # owes, but a report may be waiting (issue 22)
    review = cli_json("review", "list", config=config)
    assert [(m["from"], m["agency_guess"]) for m in review["messages"]] == [("bentre.baocao@gmail.com", "ben-tre")]
    digest = cli_json("digest", "--dry-run", "--year", "2024", "--now", "2024-11-23T08:00", config=config)
    assert "ben-tre" not in {m["slug"] for m in digest["digest"]["missing"]}  # under "chờ xem xét" instead
    assert "ben-tre" in {m.get("agency") for m in digest["digest"]["needs_review"]}
    remind = cli_json("remind", "--dry-run", "--year", "2024", "--now", "2024-11-23T08:00", config=config)
    # Bến Tre is still reminded (the roster has only its domain, so it is listed as having no address),
    # and the stranger never receives its reminders.
    assert "ben-tre" in {r["agency"] for r in remind["reminders"]} | {u["agency"] for u in remind["no_address"]}
    assert all("bentre.baocao@gmail.com" not in r["recipients"] for r in remind["reminders"])
    # The sender still hears back: a coordinator will confirm which agency it belongs to.
    [ack] = _acks(config)
    assert ack.recipients == ["bentre.baocao@gmail.com"]
    assert "xác nhận báo cáo thuộc cơ quan, đơn vị nào" in ack.body_text
    assert "Cơ quan báo cáo: chưa xác định được" in ack.body_text
    # Once a coordinator assigns it, it counts.
    msg_id = review["messages"][0]["id"]
    run_cli("assign", str(msg_id), "--agency", "ben-tre", "--year", "2024", "--actor", "hoa", config=config)
    assert status_row(config, "ben-tre")["state"] != "missing"


# -- §2 who gets mail from the bot --------------------------------------------------------------


@pytest.mark.parametrize(("reply_to", "expected"), [
    ("victim@third-party.example", TAY_NINH),                  # a third party
    ("baocao@tdc.example.vn", TAY_NINH),                       # the bot itself
    ("MAILER-DAEMON@skhcn.tayninh.gov.vn", TAY_NINH),          # a machine, even in the same domain
    ("no-reply@skhcn.tayninh.gov.vn", TAY_NINH),
    ("ketoan@skhcn.tayninh.gov.vn", "ketoan@skhcn.tayninh.gov.vn"),  # same domain as From: allowed
])
def test_reply_to_is_used_only_when_it_belongs_to_the_sender(tmp_path, reply_to, expected):
    """Finding: the ack went to Reply-To unchecked (any third party, the bot, mailer-daemon)."""
    config = _config(tmp_path)
    _run(config, with_headers(mailfactory.report_email(), f"Reply-To: {reply_to}"))
    [ack] = _acks(config)
    assert ack.recipients == [expected]


def test_free_mail_reply_to_in_the_same_provider_is_not_the_sender(tmp_path):
    config = _config(tmp_path)
    _run(config, with_headers(mailfactory.report_email(sender="stranger@gmail.com", province="Bến Tre"),
                              "Reply-To: victim@gmail.com"))
    [ack] = _acks(config)
    assert ack.recipients == ["stranger@gmail.com"]


@pytest.mark.smtp
def test_stranger_cannot_make_the_bot_mail_a_third_party_over_smtp(tmp_path, smtp_server):
    """Through the real SMTP server: the envelope recipient is the From, and the stranger's text is defanged."""
    config = _config(tmp_path, smtp=smtp_server)
    subject = "Báo cáo 2024 Bến Tre – xem tại http://evil.example/login?u=1 hoặc www.evil.example " + "x" * 300
    raw = with_headers(mailfactory.report_email(sender="stranger@gmail.com", province="Bến Tre", subject=subject),
                       "Reply-To: victim@third-party.example")
    _run(config, raw)
    [sent] = smtp_server.wait_for(1, timeout=10)
    assert sent.rcpt_tos == ["stranger@gmail.com"]
    body = email.message_from_bytes(sent.data, policy=policy.default).get_body(("plain",)).get_content()
    assert "evil.example" not in body and "http://" not in body and "www." not in body
    assert "x" * 80 not in body


def test_no_ack_to_an_address_the_outbox_saw_refused(tmp_path):
    config = _config(tmp_path)
    app = App.load(str(config))
    try:
        with app.db.transaction() as session:
            session.add(models.OutboxEmail(
                dedupe_key="reminder:old", kind="reminder", recipients=[TAY_NINH], subject="x", body_text="x",
                message_id_header="<old@tdc.example.vn>", state=models.FAILED,
                last_error="550 5.1.1 <vanthu@skhcn.tayninh.gov.vn>: Recipient address rejected",
                created_at=ARRIVED, next_attempt_at=ARRIVED))
    finally:
        app.close()
    _run(config, mailfactory.report_email())
    assert _acks(config) == []
    assert rows(config, models.AuditEntry, models.AuditEntry.action == "ack_withheld")
    assert status_row(config, "tay-ninh")["state"] == "received"  # recorded; only the answer is withheld


def test_known_sender_still_gets_the_full_echo(tmp_path):
    """The control case: a known address of the agency sees its own subject and file names in full."""
    config = _config(tmp_path)
    _run(config, mailfactory.report_email())
    [ack] = _acks(config)
    assert "Báo cáo NSCL năm 2024.docx" in ack.body_text and ack.recipients == [TAY_NINH]


# -- units: the parser and the verification rule ------------------------------------------------


@pytest.mark.parametrize(("value", "address"), [
    ("vanthu@skhcn.tayninh.gov.vn (So KHCN) <evil@attacker.example>", "evil@attacker.example"),
    ('"vanthu@skhcn.tayninh.gov.vn" <evil@attacker.example>', "evil@attacker.example"),
    ("evil@attacker.example (vanthu@skhcn.tayninh.gov.vn)", "evil@attacker.example"),
    ("x (<vanthu@skhcn.tayninh.gov.vn>) <evil@attacker.example>", "evil@attacker.example"),
    ("=?utf-8?b?U+G7nyBLSCZDTg==?= <VanThu@SKHCN.TayNinh.gov.vn>", "vanthu@skhcn.tayninh.gov.vn"),
    ("x <a@b.vn> <c@d.vn>", None),           # two angle addresses: ambiguous, no identity
    ("<a@b.vn> trailing text", None),
    ("a@b.vn@c.vn", None),
    ("Sở KH&CN", None),
    ("<a@b.vn>, <c@d.vn>", None),            # two mailboxes in From: no single identity
])
def test_identity_parser(value, address):
    found = parse_mailbox(value)
    assert (found.address if found else None) == address


def test_verification_needs_an_aligned_pass_from_the_trusted_server():
    from intake.model import Envelope
    from intake.sender.identity import FAIL, PASS, UNCHECKED, check_sender

    def env(*results: str) -> Envelope:  # our server's verdicts stand above its own Received line
        return Envelope(message_id="<m@x>", subject="", from_addr=TAY_NINH, from_name="",
                        headers={"authentication-results": list(results),
                                 "received": ["from client.example (client.example [192.0.2.7]) by mx.tdc.example.vn "
                                              "(Postfix) with ESMTP id 4Xy; Wed, 20 Nov 2024 09:00:00 +0700"]})

    trusted = frozenset({"mx.tdc.example.vn"})
    assert check_sender(env(), None).status == UNCHECKED
    assert check_sender(env(), trusted).status == FAIL
    assert check_sender(env("mx.tdc.example.vn; dmarc=pass header.from=skhcn.tayninh.gov.vn"), trusted).status == PASS
    assert check_sender(env("mx.tdc.example.vn; dmarc=pass header.from=attacker.example"), trusted).status == FAIL
    assert check_sender(env("mx.tdc.example.vn; dkim=pass header.d=tayninh.gov.vn"),
                        trusted).status == FAIL  # not exact
    assert check_sender(env("mx.tdc.example.vn; spf=pass smtp.mailfrom=x@skhcn.tayninh.gov.vn"), trusted).status == PASS
    assert check_sender(env("evil.example; dmarc=pass header.from=skhcn.tayninh.gov.vn"), trusted).status == FAIL
