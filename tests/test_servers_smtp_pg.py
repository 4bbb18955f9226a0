"""The SMTP and PostgreSQL test servers behave like real ones.

Other integration tests lean on these fixtures to prove retry, outage and
TLS behaviour, so the fixtures themselves must be shown to refuse, fail and
come back exactly as promised.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
import uuid
from email.message import EmailMessage

import psycopg
import pytest
import sqlalchemy as sa

from tests.servers.postgres import PostgresServer
from tests.servers.smtp import SMTP_PASSWORD, SMTP_USER, SmtpServer

SENDER = "bot@example.vn"
RECIPIENT = "sokhcn@tayninh.gov.vn"
PROVINCE = "Tỉnh Tây Ninh"


def build_message(subject: str = "Xác nhận đã nhận báo cáo năm 2024 – Tỉnh Tây Ninh") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = RECIPIENT
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.vn>"
    msg.set_content("Kính gửi Sở Khoa học và Công nghệ tỉnh Tây Ninh,\nĐã nhận báo cáo.\n")
    return msg


def connect(server: SmtpServer) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, timeout=10)


# -- SMTP: plain ---------------------------------------------------------------------


def test_smtp_records_envelope_and_exact_bytes(smtp_server: SmtpServer) -> None:
    msg = build_message()
    before = time.time()
    with connect(smtp_server) as client:
        refused = client.send_message(msg)
    assert refused == {}

    [received] = smtp_server.wait_for(1, timeout=5)
    assert received.mail_from == SENDER
    assert received.rcpt_tos == [RECIPIENT]
    assert before <= received.at <= time.time()
    assert received.login is None and received.tls is False
    assert f"Message-ID: {msg['Message-ID']}".encode() in received.data
    assert received.data.endswith(b"\r\n")
    parsed = received.message()
    assert parsed["Subject"] == msg["Subject"]
    assert "tỉnh Tây Ninh" in parsed.get_content()


def test_smtp_wait_for_times_out_with_a_count_and_clear_empties(smtp_server: SmtpServer) -> None:
    with pytest.raises(TimeoutError, match="expected 1 message"):
        smtp_server.wait_for(1, timeout=0.2)

    sender = threading.Thread(target=lambda: connect(smtp_server).send_message(build_message()))
    sender.start()
    assert len(smtp_server.wait_for(1, timeout=5)) == 1
    sender.join()

    smtp_server.clear()
    assert smtp_server.messages == []


def test_smtp_stop_refuses_connections_and_start_reuses_the_port(smtp_server: SmtpServer) -> None:
    port = smtp_server.port
    with connect(smtp_server) as client:
        client.send_message(build_message("trước khi dừng"))

    smtp_server.stop()
    with pytest.raises(OSError):
        socket.create_connection((smtp_server.host, port), timeout=2).close()

    smtp_server.start()
    assert smtp_server.port == port
    with connect(smtp_server) as client:
        client.send_message(build_message("sau khi chạy lại"))
    subjects = [r.message()["Subject"] for r in smtp_server.wait_for(2, timeout=5)]
    assert subjects == ["trước khi dừng", "sau khi chạy lại"]


# -- SMTP: injected failures ---------------------------------------------------------


def test_fail_next_gives_a_temporary_failure_then_accepts(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1)
    with connect(smtp_server) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(build_message())
        code, reply = refused.value.recipients[RECIPIENT]
        assert code == 451 and b"4.3.0" in reply
        assert smtp_server.messages == []
        assert smtp_server.failures_left == 0

        client.send_message(build_message())  # the retry on the same connection
    assert len(smtp_server.wait_for(1, timeout=5)) == 1


def test_fail_next_at_data_counts_each_attempt(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(2, code=452, stage="data")
    with connect(smtp_server) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as failed:
                client.send_message(build_message())
            assert failed.value.smtp_code == 452
        client.send_message(build_message())
    assert len(smtp_server.wait_for(1, timeout=5)) == 1


def test_fail_next_can_give_a_permanent_failure(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, code=550)
    with connect(smtp_server) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.send_message(build_message())
    assert refused.value.recipients[RECIPIENT][0] == 550


def test_fail_next_rejects_a_success_code(smtp_server: SmtpServer) -> None:
    with pytest.raises(ValueError):
        smtp_server.fail_next(1, code=250)


# -- SMTP: authentication ------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_accepts_the_configured_login_and_records_it(smtp_server_auth: SmtpServer, mechanism: str) -> None:
    with connect(smtp_server_auth) as client:
        client.ehlo()
        client.user, client.password = SMTP_USER, SMTP_PASSWORD
        code, _ = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        assert code == 235
        client.send_message(build_message())
    [received] = smtp_server_auth.wait_for(1, timeout=5)
    assert received.login == SMTP_USER
    assert smtp_server_auth.logins == [SMTP_USER]


def test_auth_refuses_a_wrong_password_with_535(smtp_server_auth: SmtpServer) -> None:
    with connect(smtp_server_auth) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(SMTP_USER, "wrong-pass")
        assert refused.value.smtp_code == 535
    assert smtp_server_auth.failed_logins and set(smtp_server_auth.failed_logins) == {SMTP_USER}
    assert smtp_server_auth.logins == []


def test_auth_server_refuses_mail_without_login(smtp_server_auth: SmtpServer) -> None:
    with connect(smtp_server_auth) as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        client.send_message(build_message())
    assert refused.value.smtp_code == 530
    assert smtp_server_auth.messages == []


# -- SMTP: STARTTLS ------------------------------------------------------------------


def test_starttls_verifies_against_cert_path_then_authenticates(smtp_server_tls: SmtpServer) -> None:
    assert smtp_server_tls.cert_path is not None and smtp_server_tls.cert_path.is_file()
    context = ssl.create_default_context(cafile=str(smtp_server_tls.cert_path))
    with connect(smtp_server_tls) as client:
        client.starttls(context=context)
        client.login(SMTP_USER, SMTP_PASSWORD)
        client.send_message(build_message())
    [received] = smtp_server_tls.wait_for(1, timeout=5)
    assert received.tls is True
    assert received.login == SMTP_USER


def test_starttls_fails_verification_without_the_ca(smtp_server_tls: SmtpServer) -> None:
    with connect(smtp_server_tls) as client, pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(context=ssl.create_default_context())


def test_tls_server_refuses_mail_before_starttls(smtp_server_tls: SmtpServer) -> None:
    with connect(smtp_server_tls) as client:
        client.ehlo()
        assert not client.has_extn("auth"), "AUTH must not be offered over plaintext"
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(build_message())
        assert refused.value.smtp_code == 530
    assert smtp_server_tls.messages == []


# -- Databases -----------------------------------------------------------------------


def test_db_url_stores_and_reads_back_vietnamese(db_url: str, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.id
    assert db_url.startswith({"sqlite": "sqlite:///", "postgres": "postgresql+psycopg://"}[backend])
    assert (request.node.get_closest_marker("postgres") is not None) == (backend == "postgres")

    metadata = sa.MetaData()
    agencies = sa.Table(
        "agencies",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    engine = sa.create_engine(db_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(agencies.insert(), [{"name": PROVINCE}, {"name": "Bộ Khoa học và Công nghệ"}])
        with engine.connect() as conn:
            found = conn.execute(sa.select(agencies.c.name).where(agencies.c.name == PROVINCE)).scalar_one()
            assert conn.execute(sa.select(sa.func.count()).select_from(agencies)).scalar_one() == 2
    finally:
        engine.dispose()
    assert found == PROVINCE


def test_pg_url_is_an_empty_utf8_database(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
            assert conn.execute(sa.text("SHOW server_encoding")).scalar_one() == "UTF8"
            assert conn.execute(sa.text("SELECT upper(:s)"), {"s": "tây ninh"}).scalar_one() == "TÂY NINH"
    finally:
        engine.dispose()


def test_postgres_restart_cuts_connections_and_keeps_data(postgres_server: PostgresServer, pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (name text)"))
            conn.execute(sa.text("INSERT INTO t VALUES (:n)"), {"n": PROVINCE})
        old = psycopg.connect(postgres_server.conninfo(str(sa.make_url(pg_url).database)))
        port = postgres_server.port

        postgres_server.restart()

        assert postgres_server.port == port
        with pytest.raises(psycopg.OperationalError):
            old.execute("SELECT 1")
        old.close()
        engine.dispose()  # pooled connections died with the old server process
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM t")).scalar_one() == PROVINCE
    finally:
        engine.dispose()


def test_postgres_stop_refuses_connections_until_start(postgres_server: PostgresServer) -> None:
    postgres_server.stop()
    try:
        assert not postgres_server.is_running()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres_server.conninfo(), connect_timeout=2)
    finally:
        postgres_server.start()
    with psycopg.connect(postgres_server.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_drop_database_terminates_open_connections(postgres_server: PostgresServer) -> None:
    name = f"t_drop_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(name)
    lingering = psycopg.connect(postgres_server.conninfo(name))
    try:
        lingering.execute("SELECT 1")
        postgres_server.drop_database(name)
        with pytest.raises(psycopg.OperationalError):
            lingering.execute("SELECT 1")
    finally:
        lingering.close()
    with psycopg.connect(postgres_server.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone() == (0,)


def test_create_database_rejects_names_that_are_not_identifiers(postgres_server: PostgresServer) -> None:
    with pytest.raises(ValueError):
        postgres_server.create_database('x"; DROP DATABASE postgres; --')
