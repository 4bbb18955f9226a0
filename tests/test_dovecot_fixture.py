"""The Dovecot fixture itself: reachable plain, over STARTTLS and IMAPS, with real TLS verification."""
from __future__ import annotations

import ssl
from datetime import datetime, timedelta, timezone

import pytest
from imapclient import IMAPClient

pytestmark = pytest.mark.imap


def test_plain_login_and_capabilities(dovecot):
    with dovecot.client() as client:
        caps = client.capabilities()
        assert b"IDLE" in caps
        assert b"MOVE" in caps
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_fixed_session_user_from_the_passwd_file(dovecot_server):
    with dovecot_server.client() as client:
        assert client.select_folder("INBOX")[b"UIDVALIDITY"] > 0


def test_imaps_verifies_with_the_session_ca(dovecot_server, dovecot):
    context = ssl.create_default_context(cafile=str(dovecot_server.cert_path))
    with IMAPClient(dovecot_server.host, port=dovecot_server.ssl_port, ssl=True, ssl_context=context, timeout=10) as c:
        c.plain_login(dovecot.user, dovecot.password)
        peer = c.socket().getpeercert()
        assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
        assert c.select_folder("INBOX")[b"EXISTS"] == 0


def test_starttls_verifies_with_the_session_ca(dovecot_server, dovecot):
    context = ssl.create_default_context(cafile=str(dovecot_server.cert_path))
    with IMAPClient(dovecot_server.host, port=dovecot_server.port, ssl=False, timeout=10) as c:
        c.starttls(context)
        c.plain_login(dovecot.user, dovecot.password)
        assert isinstance(c.socket(), ssl.SSLSocket)


def test_imaps_refused_without_the_ca(dovecot_server):
    context = ssl.create_default_context()  # system trust store: the session CA is not in it
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(dovecot_server.host, port=dovecot_server.ssl_port, ssl=True, ssl_context=context, timeout=10)


def test_wrong_password_is_refused(dovecot_server, dovecot):
    from imapclient.exceptions import LoginError

    with IMAPClient(dovecot_server.host, port=dovecot_server.port, ssl=False, timeout=10) as c:
        with pytest.raises(LoginError):
            c.login(dovecot.user, "not-the-password")


def test_append_keeps_internaldate_flags_and_folder(dovecot):
    when = datetime(2024, 11, 29, 16, 45, tzinfo=timezone(timedelta(hours=7)))
    uid = dovecot.append(b"Subject: a\r\n\r\nbody\r\n", folder="Archive", internaldate=when, flags=[b"$Custom"])
    assert dovecot.folder_uids("Archive") == [uid]
    assert dovecot.folder_uids("INBOX") == []
    with dovecot.client() as c:
        c.select_folder("Archive", readonly=True)
        data = c.fetch([uid], ["INTERNALDATE", "FLAGS"])[uid]
    assert data[b"INTERNALDATE"] == when
    assert b"$Custom" in data[b"FLAGS"]


def test_each_test_user_starts_empty(dovecot, dovecot_server):
    assert dovecot.folder_uids("INBOX") == []
    with dovecot.client() as c:
        assert [name for _, _, name in c.list_folders()] == ["INBOX"]
    assert (dovecot_server.maildir).is_dir()


def test_restart_drops_connections_and_comes_back(dovecot_server, dovecot):
    dovecot.append(b"Subject: before\r\n\r\nx\r\n")
    old = dovecot.client()
    dovecot_server.restart()
    with pytest.raises((OSError, IMAPClient.AbortError)):
        old.noop()
    assert dovecot.folder_uids("INBOX") == [1]
    assert "starting up" in dovecot_server.log()
