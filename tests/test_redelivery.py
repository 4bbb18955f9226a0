"""A message delivered again is known before it is read (issues 20 and 21 §4).

The second delivery of a message (other Received, Delivered-To and
Return-Path lines, LF instead of CRLF) is recognised by its raw fingerprint
in one indexed lookup: its bytes are kept, an audit line names them, and it
is never parsed, guarded, read or classified again. A message without a
Message-ID is one message too.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import update

from intake.sender.identity import raw_fingerprint
from intake.store import RawStore
from tests import mailfactory
from tests.reliability import ARRIVED, read_mail, rows, write_config
from workflow.app import App
from workflow.db import models
from workflow.runtime import intake_cycle


def _transport(raw: bytes, relay: str, lf: bool = False) -> bytes:
    head = (f"Return-Path: <vanthu@skhcn.tayninh.gov.vn>\r\nDelivered-To: baocao@tdc.example.vn\r\n"
            f"Received: from {relay} by mx.tdc.example.vn (Postfix) with ESMTP; Wed, 20 Nov 2024 10:00:00 +0700\r\n")
    out = head.encode() + raw
    return out.replace(b"\r\n", b"\n") if lf else out


def test_raw_fingerprint_ignores_transport_and_line_endings_but_not_content():
    raw = mailfactory.report_email(message_id="<fp@skhcn.tayninh.gov.vn>")
    first, again = _transport(raw, "mx1.example.vn"), _transport(raw, "mx2.example.vn", lf=True)
    assert first != again and raw_fingerprint(first) == raw_fingerprint(again)
    assert raw_fingerprint(raw.replace(b"Subject:", b"Subject: Re:", 1)) != raw_fingerprint(raw)
    assert raw_fingerprint(raw[:-40] + b"x" + raw[-39:]) != raw_fingerprint(raw)  # one byte of the body
    # Text with no header block, or no header the fingerprint keeps, is all message: two of them differ.
    assert raw_fingerprint(b"just some text") != raw_fingerprint(b"other text")
    assert raw_fingerprint(b"X-One: 1\n\nbody") != raw_fingerprint(b"X-Two: 2\n\nbody")


@pytest.mark.parametrize("piece", [2, 3, 5, 64])
def test_raw_fingerprint_hashes_the_body_in_pieces_with_the_same_result(monkeypatch, piece):
    """The body is hashed a piece at a time (no copy of a 70 MB message): a CRLF cut at any piece
    boundary, or trailing white space across several pieces, must give the value of the whole."""
    from intake.sender import identity

    raw = mailfactory.report_email(message_id="<pieces@skhcn.tayninh.gov.vn>") + b"\r\n \t\r\n" * 20
    whole = raw_fingerprint(raw)
    lf = raw.replace(b"\r\n", b"\n")
    monkeypatch.setattr(identity, "_PIECE", piece)
    for offset in range(piece):  # every alignment of the CRLF pairs against the piece boundaries
        shifted = raw.replace(b"\r\n\r\n", b"\r\n" + b"X-Pad: " + b"p" * offset + b"\r\n\r\n", 1)
        assert raw_fingerprint(shifted) == raw_fingerprint(shifted.replace(b"\r\n", b"\n"))
    assert raw_fingerprint(raw) == whole == raw_fingerprint(lf) == raw_fingerprint(lf.rstrip())
    body_byte = len(raw) - 200  # before the 120 bytes of trailing white space
    assert raw[body_byte:body_byte + 1] not in (b"x", b" ", b"\r", b"\n", b"\t")
    assert raw_fingerprint(raw[:body_byte] + b"x" + raw[body_byte + 1:]) != whole


def test_a_redelivered_message_is_stored_and_audited_but_never_read_again(tmp_path, monkeypatch):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    raw = mailfactory.report_email(message_id="<bc-2024@skhcn.tayninh.gov.vn>")
    read_mail(config, _transport(raw, "mx1.example.vn"), when=ARRIVED)
    read = _spy_understand(monkeypatch)
    again = _transport(raw, "mx2.example.vn", lf=True)
    read_mail(config, again, when=ARRIVED + timedelta(minutes=5))
    assert read == []  # recognised before understanding
    [message] = rows(config, models.Message)
    [dup] = rows(config, models.AuditEntry, models.AuditEntry.action == "duplicate_delivery")
    assert dup.message_id == message.id
    stored = RawStore(tmp_path / "tdc" / "store")
    sha = hashlib.sha256(again).hexdigest()
    assert sha in dup.reason and stored.read(sha) == again  # the second delivery's bytes are kept
    assert len(rows(config, models.OutboxEmail)) == 1  # one acknowledgement
    assert not list((tmp_path / "tdc" / "mail" / "new").iterdir())  # marked on the source


@pytest.mark.parametrize("line_endings", ["same", "lf"])
def test_a_message_without_message_id_delivered_twice_is_one_message(tmp_path, line_endings):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    raw = mailfactory.report_email()
    raw = b"".join(line for line in raw.splitlines(keepends=True) if not line.lower().startswith(b"message-id:"))
    read_mail(config, _transport(raw, "mx1.example.vn"), when=ARRIVED)
    read_mail(config, _transport(raw, "mx2.example.vn", lf=line_endings == "lf"), when=ARRIVED + timedelta(hours=1))
    assert len(rows(config, models.Message)) == 1
    assert len(rows(config, models.OutboxEmail)) == 1
    [sub] = rows(config, models.Submission)
    assert sub.state == "acknowledged"


def _spy_understand(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    read: list[str] = []
    real = intake_cycle.understand

    def spy(message, ctx, store, fingerprint=None):  # type: ignore[no-untyped-def]
        read.append(message.source_key)
        return real(message, ctx, store, fingerprint)

    monkeypatch.setattr(intake_cycle, "understand", spy)
    return read


# Text with no blank line after its header lines: the fingerprint covers the whole text (as a malformed
# message of the real-mail corpus, spamassassin's spam__017 or mime4j's malformedHeader-noheader).
HEADERLESS = (b"From: khach@example.com\r\nSubject: bao cao\r\nnoi dung ngay sau tieu de, khong co dong trong\r\n"
              b"dong thu hai\r\n")


def test_transport_lines_on_top_of_a_text_without_header_block_do_not_change_its_fingerprint():
    first, again = _transport(HEADERLESS, "mx1.example.vn"), _transport(HEADERLESS, "mx2.example.vn", lf=True)
    assert raw_fingerprint(first) == raw_fingerprint(again) == raw_fingerprint(HEADERLESS)
    assert raw_fingerprint(b"Received: from a by b; x\nsome text") == raw_fingerprint(b"some text")
    assert raw_fingerprint(_transport(b"some text", "mx1")) != raw_fingerprint(_transport(b"other text", "mx1"))
    # Only trace fields on top are transport: any other first line is part of the whole text.
    assert raw_fingerprint(b"X-Note: a\nsome text") != raw_fingerprint(b"some text")


def test_a_text_without_header_block_delivered_again_is_known_and_not_read_again(tmp_path, monkeypatch):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    read_mail(config, _transport(HEADERLESS, "mx1.example.vn"), when=ARRIVED)
    [first] = rows(config, models.Message)
    read = _spy_understand(monkeypatch)
    read_mail(config, _transport(HEADERLESS, "mx2.example.vn", lf=True), when=ARRIVED + timedelta(minutes=5))
    assert read == []
    assert [m.id for m in rows(config, models.Message)] == [first.id]  # no second row
    [dup] = rows(config, models.AuditEntry, models.AuditEntry.action == "duplicate_delivery")
    assert dup.message_id == first.id


def test_the_same_extra_delivery_read_twice_is_audited_once(tmp_path):
    """A crash after the commit and before the mark: the extra delivery's very bytes are read again."""
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    raw = mailfactory.report_email(message_id="<twice@skhcn.tayninh.gov.vn>")
    read_mail(config, _transport(raw, "mx1.example.vn"), when=ARRIVED)
    again = _transport(raw, "mx2.example.vn")
    read_mail(config, again, when=ARRIVED + timedelta(minutes=5))
    read_mail(config, again, when=ARRIVED + timedelta(minutes=6))
    [message] = rows(config, models.Message)
    [dup] = rows(config, models.AuditEntry, models.AuditEntry.action == "duplicate_delivery")
    assert dup.message_id == message.id and dup.year == message.year and dup.agency_slug == message.agency_slug
    assert hashlib.sha256(again).hexdigest() in dup.reason
    assert len(rows(config, models.OutboxEmail)) == 1


def test_the_very_bytes_of_a_message_without_fingerprint_are_known_by_their_hash(tmp_path, monkeypatch):
    """A row older than the raw fingerprint (migration 0010), or recorded by the last resort without one: the
    same bytes read again (a crash before marking, a copy in another folder) are not read a second time."""
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    raw = _transport(mailfactory.report_email(message_id="<old@skhcn.tayninh.gov.vn>"), "mx1.example.vn")
    read_mail(config, raw, when=ARRIVED)
    app = App.load(str(config))
    try:
        with app.db.transaction() as session:
            session.execute(update(models.Message).values(raw_fingerprint=None))
    finally:
        app.close()
    read = _spy_understand(monkeypatch)
    read_mail(config, raw, when=ARRIVED + timedelta(minutes=5))
    assert read == []
    assert len(rows(config, models.Message)) == 1
    assert rows(config, models.AuditEntry, models.AuditEntry.action == "duplicate_delivery") == []  # same bytes
    assert len(rows(config, models.OutboxEmail)) == 1
    assert not list((tmp_path / "tdc" / "mail" / "new").iterdir())  # marked on the source
