"""Compose + transports against a real SMTP server (aiosmtpd) and a real folder."""
from __future__ import annotations

import email
import email.policy
import io
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from docx import Document

from notifier.compose import REFERENCES_MAX, ComposeError, compose, message_id_domain, new_message_id
from notifier.render import render_email
from notifier.transports import (
    FileTransport,
    PermanentSendError,
    SmtpTransport,
    TransientSendError,
    make_transport,
)
from tests.servers.common import free_port
from tests.servers.smtp import SMTP_PASSWORD, SMTP_USER, SmtpServer
from workflow.db.models import OutboxEmail
from workflow.settings import SmtpConfig

FROM = "Hệ thống tiếp nhận báo cáo <baocao@example.vn>"
ENVELOPE_FROM = "baocao@example.vn"
SCRIPT = "<script>alert(1)</script>"
SUBJECT = f"Đã nhận báo cáo năm 2024 – Tỉnh Tây Ninh [TDC-2024-000123] {SCRIPT}"


def ack_row(**overrides: object) -> OutboxEmail:
    rendered = render_email(
        "ack",
        agency_name="Tỉnh Tây Ninh", year=2024, reference="TDC-2024-000123",
        received_at=datetime(2024, 11, 20, 3, 15, tzinfo=UTC), on_time=True,
        deadline=datetime(2024, 11, 30, tzinfo=UTC).date(), subject=SCRIPT,
        attachments=[{"filename": "Báo cáo.docx", "size": 1200}], outline_missing=[], needs_review=False,
        review_reasons=[], reply_address="baocao@example.vn", campaign_dispatch="4258/BKHCN-TĐC",
    )
    fields: dict[str, object] = dict(
        id=1, dedupe_key="ack:1", kind="ack", recipients=["skhcn@tayninh.gov.vn"], subject=SUBJECT,
        body_text=rendered.text, body_html=rendered.html,
        message_id_header=new_message_id("example.vn", "ack", 1),
        in_reply_to="<orig-123@tayninh.gov.vn>", references="<older@tayninh.gov.vn> <orig-123@tayninh.gov.vn>",
        attachments=[],
    )
    fields.update(overrides)
    return OutboxEmail(**fields)


def plain(server: SmtpServer, **kwargs: object) -> SmtpTransport:
    options: dict[str, object] = dict(security="none", username=None, password=None, timeout=10,
                                      local_hostname="localhost")
    options.update(kwargs)
    return SmtpTransport(server.host, server.port, **options)  # type: ignore[arg-type]


def body_of(msg: email.message.EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()


# -- headers on the wire ------------------------------------------------------------


def test_ack_arrives_with_loop_safe_headers_and_exact_subject(smtp_server: SmtpServer) -> None:
    row = ack_row()
    sent_at = datetime(2024, 11, 20, 3, 16, tzinfo=UTC)
    refused = plain(smtp_server).send(compose(row, FROM, reply_to="baocao@example.vn", now=sent_at),
                                      row.recipients, ENVELOPE_FROM)
    assert refused == {}
    [received] = smtp_server.wait_for(1)
    assert received.mail_from == ENVELOPE_FROM and received.rcpt_tos == ["skhcn@tayninh.gov.vn"]
    msg = received.message()
    assert msg["Message-ID"] == row.message_id_header
    assert msg["Subject"] == SUBJECT  # RFC 2047 decodes back to the exact Vietnamese text
    assert "Tỉnh Tây Ninh" not in received.data.decode("ascii")  # headers and bodies travel 7-bit safe
    assert msg["From"].addresses[0].display_name == "Hệ thống tiếp nhận báo cáo"
    assert msg["Reply-To"] == "baocao@example.vn"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-TDC-Bot"] == "1"
    assert msg["In-Reply-To"] == "<orig-123@tayninh.gov.vn>"
    assert msg["References"] == "<older@tayninh.gov.vn> <orig-123@tayninh.gov.vn>"
    assert msg["Precedence"] is None
    assert parsedate_to_datetime(msg["Date"]) == sent_at and msg["Date"].endswith("+0700")
    assert msg.get_content_type() == "multipart/alternative"
    html = body_of(msg, "html")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT in body_of(msg, "plain") and "Tỉnh Tây Ninh" in body_of(msg, "plain")


def test_reminder_is_auto_generated_and_carries_a_docx(smtp_server: SmtpServer, tmp_path: Path) -> None:
    document = Document()
    document.add_paragraph("Đề cương báo cáo năm 2024")
    docx_path = tmp_path / "de-cuong.docx"
    document.save(str(docx_path))
    row = ack_row(
        kind="reminder_firm", in_reply_to=None, references=None,
        attachments=[{"filename": "Đề cương báo cáo 2024.docx", "path": str(docx_path),
                      "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}],
    )
    plain(smtp_server).send(compose(row, FROM), row.recipients, ENVELOPE_FROM)
    msg = smtp_server.wait_for(1)[0].message()
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert msg.get_content_type() == "multipart/mixed"
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "Đề cương báo cáo 2024.docx"
    content = attachment.get_content()
    assert content == docx_path.read_bytes()
    assert Document(io.BytesIO(content)).paragraphs[0].text == "Đề cương báo cáo năm 2024"
    assert "Tỉnh Tây Ninh" in body_of(msg, "plain")


def test_compose_refuses_rows_that_cannot_be_sent(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="địa chỉ người nhận không hợp lệ"):
        compose(ack_row(recipients=["a@b.vn\r\nBcc: victim@example.com"]), FROM)
    with pytest.raises(ComposeError, match="không có người nhận"):
        compose(ack_row(recipients=[]), FROM)
    with pytest.raises(ComposeError, match="không còn tệp đính kèm"):
        compose(ack_row(attachments=[{"filename": "x.docx", "path": str(tmp_path / "gone.docx")}]), FROM)


def test_subject_with_line_breaks_stays_one_header() -> None:
    msg = compose(ack_row(subject="Báo cáo\r\nBcc: victim@example.com"), FROM)
    assert msg["Bcc"] is None and msg["Subject"] == "Báo cáo Bcc: victim@example.com"


def test_a_thread_too_long_for_references_loses_its_middle_never_its_root_or_parent() -> None:
    ids = [f"<m{i:05d}@tayninh.gov.vn>" for i in range(2000)]  # a hostile thread: 2000 ids, 46,000 characters
    msg = email.message_from_bytes(compose(ack_row(references=" ".join(ids)), FROM).as_bytes(),
                                   policy=email.policy.default)
    kept = str(msg["References"]).split()
    assert kept[0] == ids[0] and kept[-1] == ids[-1]  # the root, and the message answered
    assert kept[1:] == ids[-len(kept) + 1:]  # then the latest ones, in order
    assert len(" ".join(kept)) <= REFERENCES_MAX < len(" ".join(ids))


def test_message_ids_are_unique_and_well_formed() -> None:
    ids = {new_message_id("example.vn", "ack", 123) for _ in range(200)}
    assert len(ids) == 200
    sample = next(iter(ids))
    assert sample.startswith("<tdc.ack.123.") and sample.endswith("@example.vn>")
    assert message_id_domain(FROM) == "example.vn"
    with pytest.raises(ValueError):
        new_message_id("bad domain>")


# -- SMTP: login, TLS, errors ------------------------------------------------------------


def test_login_with_the_right_password(smtp_server_auth: SmtpServer) -> None:
    row = ack_row()
    plain(smtp_server_auth, username=SMTP_USER, password=SMTP_PASSWORD).send(compose(row, FROM), row.recipients,
                                                                             ENVELOPE_FROM)
    [received] = smtp_server_auth.wait_for(1)
    assert received.login == SMTP_USER


def test_refused_login_is_transient_and_never_shows_the_password(smtp_server_auth: SmtpServer) -> None:
    secret = "wrong-Pa55word-7f3a"
    transport = plain(smtp_server_auth, username=SMTP_USER, password=secret)
    with pytest.raises(TransientSendError) as caught:
        transport.send(compose(ack_row(), FROM), ["skhcn@tayninh.gov.vn"], ENVELOPE_FROM)
    assert "đăng nhập" in str(caught.value) and "535" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value) and secret not in repr(transport)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert smtp_server_auth.messages == []


def test_starttls_verifies_the_server_with_the_given_ca(smtp_server_tls: SmtpServer) -> None:
    row = ack_row()
    transport = plain(smtp_server_tls, security="starttls", username=SMTP_USER, password=SMTP_PASSWORD,
                      ca_file=str(smtp_server_tls.cert_path))
    transport.send(compose(row, FROM), row.recipients, ENVELOPE_FROM)
    [received] = smtp_server_tls.wait_for(1)
    assert received.tls and received.login == SMTP_USER


def test_starttls_without_the_ca_refuses_to_send(smtp_server_tls: SmtpServer) -> None:
    transport = plain(smtp_server_tls, security="starttls", username=SMTP_USER, password=SMTP_PASSWORD)
    with pytest.raises(TransientSendError, match="chứng chỉ TLS") as caught:
        transport.send(compose(ack_row(), FROM), ["skhcn@tayninh.gov.vn"], ENVELOPE_FROM)
    assert SMTP_PASSWORD not in str(caught.value)
    assert smtp_server_tls.messages == [] and smtp_server_tls.logins == []


class _Sink:
    """Keeps what an implicit-TLS server accepted (the shared fixtures only speak STARTTLS)."""

    def __init__(self) -> None:
        self.data: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.data.append(bytes(envelope.original_content))
        return "250 OK"


@pytest.mark.smtp
def test_implicit_tls_verifies_the_certificate(smtp_tls_files: tuple[Path, Path]) -> None:
    cert, key = smtp_tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), ssl_context=context,
                            server_hostname="smtp.test.localhost", ready_timeout=10.0)
    controller.start()
    try:
        def transport(ca_file: str | None) -> SmtpTransport:
            return SmtpTransport("127.0.0.1", controller.port, "ssl", None, None, ca_file=ca_file, timeout=10,
                                 local_hostname="localhost")

        with pytest.raises(TransientSendError, match="chứng chỉ TLS"):
            transport(None).send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)
        assert sink.data == []
        transport(str(cert)).send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)
        assert len(sink.data) == 1 and b"X-TDC-Bot: 1" in sink.data[0]
    finally:
        controller.stop()


def test_starttls_is_required_not_optional(smtp_server: SmtpServer) -> None:
    with pytest.raises(TransientSendError, match="không hỗ trợ STARTTLS"):
        plain(smtp_server, security="starttls").send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)
    assert smtp_server.messages == []


def test_server_down_is_a_transient_connection_error(smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    with pytest.raises(TransientSendError) as caught:
        plain(smtp_server).send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)
    assert caught.value.scope == "connection"


def test_4xx_to_a_recipient_is_transient_for_that_message_only(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, code=451, stage="rcpt")
    with pytest.raises(TransientSendError) as caught:
        plain(smtp_server).send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)
    assert caught.value.scope == "message" and "451" in str(caught.value)


def test_5xx_for_every_recipient_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, code=550, stage="rcpt")
    with pytest.raises(PermanentSendError, match="550"):
        plain(smtp_server).send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)


def test_5xx_to_data_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, code=554, stage="data")
    with pytest.raises(PermanentSendError, match="554"):
        plain(smtp_server).send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)


def test_partly_refused_recipients_are_reported(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, code=550, stage="rcpt")
    row = ack_row(recipients=["gone@tayninh.gov.vn", "skhcn@tayninh.gov.vn"])
    refused = plain(smtp_server).send(compose(row, FROM), row.recipients, ENVELOPE_FROM)
    assert list(refused) == ["gone@tayninh.gov.vn"] and refused["gone@tayninh.gov.vn"][0] == 550
    assert smtp_server.wait_for(1)[0].rcpt_tos == ["skhcn@tayninh.gov.vn"]


# -- file transport and configuration --------------------------------------------------------


def test_file_transport_writes_one_parseable_eml_per_email(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    transport = FileTransport(outbox)
    first, second = ack_row(), ack_row(id=2, message_id_header=new_message_id("example.vn", "ack", 2))
    for row in (first, second):
        assert transport.send(compose(row, FROM), row.recipients, ENVELOPE_FROM) == {}
    files = sorted(outbox.iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" and not f.name.startswith(".tmp") for f in files)
    ids = set()
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert msg["Subject"] == SUBJECT and msg["X-TDC-Bot"] == "1"
        assert msg["X-Envelope-To"] == "<skhcn@tayninh.gov.vn>"
        assert "<script>" not in msg.get_body(preferencelist=("html",)).get_content()
        ids.add(msg["Message-ID"])
    assert ids == {first.message_id_header, second.message_id_header}


def test_file_transport_reports_an_unwritable_folder_as_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(TransientSendError, match="không ghi được"):
        FileTransport(blocker / "outbox").send(compose(ack_row(), FROM), ["a@b.vn"], ENVELOPE_FROM)


def test_make_transport_follows_the_configuration(tmp_path: Path) -> None:
    file_transport = make_transport(SmtpConfig(transport="file", outbox_dir=str(tmp_path)), None)
    assert isinstance(file_transport, FileTransport) and file_transport.outbox_dir == tmp_path
    smtp = make_transport(SmtpConfig(transport="smtp", host="mail.example.vn", security="starttls",
                                     username=SMTP_USER), "hunter2-secret")
    assert isinstance(smtp, SmtpTransport)
    assert (smtp.host, smtp.port, smtp.security, smtp.username) == ("mail.example.vn", 587, "starttls", SMTP_USER)
    assert "hunter2-secret" not in repr(smtp)
