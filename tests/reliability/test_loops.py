"""Mail loops: the bot against a correspondent that answers every email it gets.

The bound (invariant 4), stated once and asserted below:

* the bot sends an address at most ``smtp.max_per_recipient_per_day`` emails
  (5 by default) in any 24 hours, however many messages that address
  sends back: the outbox cap suppresses the rest, with the reason;
* it answers 0 auto-replies (RFC 3834 headers or an auto-reply subject);
* its own outgoing mail, delivered back into the inbox, is recorded as
  ``ignored`` (guard kind own/loop) and never becomes a submission.
"""
from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.reliability import ARRIVED, write_config
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon

SENDER = "vanthu@skhcn.tayninh.gov.vn"
ROUNDS = 8
CAP = 5  # smtp.max_per_recipient_per_day, the default


def _auto_reply_to(ack: EmailMessage, headers: bool) -> bytes:
    """What an answering machine sends back: with RFC 3834 headers, or a bare 'Re:' that looks like a report."""
    msg = EmailMessage()
    msg["From"] = f"Văn thư Sở KH&CN Tây Ninh <{SENDER}>"
    msg["To"] = str(ack["From"])
    msg["Message-ID"] = make_msgid(domain="skhcn.tayninh.gov.vn")
    msg["In-Reply-To"] = str(ack["Message-ID"])
    if headers:
        msg["Subject"] = f"Trả lời tự động: {ack['Subject']}"
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("Tôi đang đi công tác, sẽ trả lời khi trở về.")
    else:
        msg["Subject"] = f"Re: {ack['Subject']}"
        msg.set_content("Sở Khoa học và Công nghệ tỉnh Tây Ninh gửi báo cáo kết quả Chương trình quốc gia hỗ trợ "
                        "doanh nghiệp nâng cao năng suất và chất lượng năm 2024.")
        msg.add_attachment(mailfactory.report_docx(), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                           filename="Báo cáo NSCL năm 2024.docx")
    return msg.as_bytes()


@pytest.mark.slow
def test_an_answering_machine_gets_a_bounded_number_of_emails(tmp_path, smtp_server):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}", smtp=smtp_server)
    maildir = tmp_path / "tdc" / "mail"
    app = App.load(str(config))
    when = ARRIVED
    try:
        deliver(maildir, mailfactory.report_email(sender=SENDER), when=when)
        Daemon(app).run_once()
        seen = 0
        for _ in range(ROUNDS):
            acks = [r.message() for r in smtp_server.messages[seen:]]
            seen = len(smtp_server.messages)
            if not acks:  # nothing new went out: nothing to answer; keep the machine talking anyway
                acks = [smtp_server.messages[-1].message()]
            for ack in acks:
                for raw in (_auto_reply_to(ack, headers=True), _auto_reply_to(ack, headers=False)):
                    when += timedelta(minutes=1)
                    deliver(maildir, raw, when=when)
                when += timedelta(minutes=1)
                deliver(maildir, bytes(ack.as_bytes()), when=when)  # our own mail comes back
            Daemon(app).run_once()

        sent_to_sender = [r for r in smtp_server.messages if SENDER in r.rcpt_tos]
        print(f"loop test: {ROUNDS} rounds, {len(sent_to_sender)} emails to {SENDER} (cap {CAP})")
        assert 1 <= len(sent_to_sender) <= CAP

        with Session(app.db.engine) as s:
            messages = list(s.scalars(select(models.Message).order_by(models.Message.id)))
            outbox = list(s.scalars(select(models.OutboxEmail).order_by(models.OutboxEmail.id)))
        autos = [m for m in messages if m.subject.startswith("Trả lời tự động")]
        own = [m for m in messages if m.from_addr == "baocao@tdc.example.vn"]
        assert len(autos) >= ROUNDS
        assert len(own) == len({r.message()["Message-ID"] for r in smtp_server.messages})  # each came back once
        assert {m.status for m in autos} == {"ignored"} and {m.status for m in own} == {"ignored"}
        assert all(m.submission_id is None for m in autos + own)
        # 0 answers to auto-replies, 0 to our own mail: no outbox row points at them.
        machine_ids = {m.id for m in autos + own}
        assert [o.dedupe_key for o in outbox if o.related_message_id in machine_ids] == []
        # The bare "Re:" robot was taken for a person; the cap is what stopped it, and it says so.
        suppressed = [o for o in outbox if o.state == models.SUPPRESSED]
        assert suppressed, "the answering machine should have hit the daily cap"
        assert all("daily cap" in (o.last_error or "") for o in suppressed)
        assert sum(o.state == models.SENT for o in outbox if SENDER in o.recipients) == len(sent_to_sender)
    finally:
        app.close()
