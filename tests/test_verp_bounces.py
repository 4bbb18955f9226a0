"""Bounces are matched by who was written to (issue 22), through the real intake and a real SMTP server.

Every email leaves with its own return path, ``baocao+b-<token>@…`` (VERP, as
Mailman does), so a bounce that quotes no Message-ID — many MTAs return only
the recipient and a status — still names the email it returns. The DSN's
failed recipients among that email's own recipients are marked bouncing;
acknowledgements count as much as reminders; a bounce naming an address the
bot never wrote to changes nothing.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from intake.sources.maildir import deliver
from reference.addresses import VERP_SEPARATOR
from tests import mailfactory
from tests.test_digest import cli_config
from tests.test_reminders import YEAR, vn
from workflow.app import App
from workflow.db import models
from workflow.runtime.intake_cycle import IntakeCycle, build_source
from workflow.runtime.outbox_flush import flush
from workflow.season import contacts
from workflow.season.reminders import send_reminders

NOW = vn(2024, 11, 1, 9, 0)


def _bare_dsn(to: str, failed: str, status: str = "5.1.1") -> bytes:
    """A DSN as many MTAs write it: to the return path, the failed recipient and a status, no returned headers."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.tayninh.example.org>\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Date: Sat, 23 Nov 2024 08:05:00 +0700\r\nMessage-ID: <dsn.9@mx.tayninh.example.org>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nUser unknown.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.tayninh.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n--b1--\r\n"
    ).encode()


def _intake(app: App, raw: bytes, when: datetime) -> None:
    deliver(Path(app.settings.mailbox.maildir), raw, when=when)
    IntakeCycle(app, build_source(app), clock=lambda: when).run_once()


def _row(app: App, dedupe_key: str) -> models.OutboxEmail:
    with app.db.sessions() as session:
        row = session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.dedupe_key == dedupe_key)).one()
        session.expunge(row)
        return row


def _contact(app: App, email: str) -> models.Contact:
    with app.db.sessions() as session:
        row = session.scalars(select(models.Contact).where(models.Contact.email == email)).one()
        session.expunge(row)
        return row


def test_every_email_leaves_with_its_own_return_path(tmp_path: Path, db_url: str, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = App.load(str(cli_config(tmp_path, db_url)))
    try:
        _intake(app, mailfactory.report_email(), vn(2024, 11, 20, 9))
        with app.db.sessions() as session:
            row = session.scalars(select(models.OutboxEmail)).one()
            token = row.verp_token
        from notifier.transports import SmtpTransport

        transport = SmtpTransport(smtp_server.host, smtp_server.port, "none", None, None, timeout=10,
                                  local_hostname="localhost")
        assert flush(app.db, transport, app.settings.smtp.from_, now=vn(2024, 11, 20, 9, 1)).sent == 1
        [sent] = smtp_server.wait_for(1, timeout=10)
        local, _, domain = app.settings.smtp.from_address.rpartition("@")
        assert token and sent.mail_from == f"{local}{VERP_SEPARATOR}{token}@{domain}"
    finally:
        app.close()


def test_a_bounce_without_message_id_marks_the_acknowledged_contact(tmp_path: Path, db_url: str) -> None:
    """The acknowledgement to a contact bounces; the DSN quotes nothing but the recipient and a status."""
    app = App.load(str(cli_config(tmp_path, db_url)))
    try:
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "tay-ninh", "vanthu@skhcn.tayninh.gov.vn", actor="ĐPV", now=NOW,
                         role="văn thư")
        _intake(app, mailfactory.report_email(), vn(2024, 11, 20, 9))
        ack = next(r for r in [_row(app, k) for k in _keys(app)] if r.kind == "ack")
        returned_to = f"baocao{VERP_SEPARATOR}{ack.verp_token}@tdc.example.vn"
        _intake(app, _bare_dsn(returned_to, "vanthu@skhcn.tayninh.gov.vn"), vn(2024, 11, 20, 10))
        bounced = _contact(app, "vanthu@skhcn.tayninh.gov.vn")
        assert bounced.failing is True and "5.1.1" in bounced.bounce_reason
        assert "vanthu@skhcn.tayninh.gov.vn" in (_row(app, ack.dedupe_key).last_error or "")
    finally:
        app.close()


def _keys(app: App) -> list[str]:
    with app.db.sessions() as session:
        return list(session.scalars(select(models.OutboxEmail.dedupe_key).order_by(models.OutboxEmail.id)))


def test_a_bounce_naming_an_address_never_written_to_changes_nothing(tmp_path: Path, db_url: str) -> None:
    app = App.load(str(cli_config(tmp_path, db_url)))
    try:
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "tay-ninh", "vanthu@skhcn.tayninh.gov.vn", actor="ĐPV", now=NOW)
        _intake(app, mailfactory.report_email(), vn(2024, 11, 20, 9))
        ack = _row(app, _keys(app)[0])
        returned_to = f"baocao{VERP_SEPARATOR}{ack.verp_token}@tdc.example.vn"
        _intake(app, _bare_dsn(returned_to, "someone.else@example.org"), vn(2024, 11, 20, 10))
        assert _contact(app, "vanthu@skhcn.tayninh.gov.vn").failing is False
        assert not (_row(app, ack.dedupe_key).last_error or "")
        with app.db.sessions() as session:
            assert session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "bounce_unmatched"))
    finally:
        app.close()


def test_a_returned_reminder_found_by_its_return_path_alone(tmp_path: Path, db_url: str) -> None:
    app = App.load(str(cli_config(tmp_path, db_url)))
    try:
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "tay-ninh", "binh.tran@tayninh.example.org", actor="ĐPV", now=NOW,
                         role="đầu mối")
        send_reminders(app, YEAR, vn(2024, 11, 23))
        reminder = _row(app, f"reminder:tay-ninh:{YEAR}:d-7")
        returned_to = f"Baocao{VERP_SEPARATOR}{reminder.verp_token}@TDC.example.vn"  # case as some MTAs write it
        _intake(app, _bare_dsn(returned_to, "binh.tran@tayninh.example.org", "5.2.2"), vn(2024, 11, 23, 8, 5))
        assert _contact(app, "binh.tran@tayninh.example.org").failing is True
        with app.db.sessions() as session:
            response = session.scalars(select(models.ReminderResponse)).one()
        assert (response.kind, response.outbox_id, response.addresses) == (
            "bounce", reminder.id, ["binh.tran@tayninh.example.org"])
    finally:
        app.close()
