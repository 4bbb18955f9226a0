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
from sqlalchemy import select

from intake.identity import raw_fingerprint
from intake.sources.maildir import deliver
from intake.store import RawStore
from tests import mailfactory
from tests.reliability import ARRIVED, write_config
from workflow.app import App
from workflow.db import models
from workflow.runtime import intake_cycle
from workflow.runtime.daemon import Daemon


def _transport(raw: bytes, relay: str, lf: bool = False) -> bytes:
    head = (f"Return-Path: <vanthu@skhcn.tayninh.gov.vn>\r\nDelivered-To: baocao@tdc.example.vn\r\n"
            f"Received: from {relay} by mx.tdc.example.vn (Postfix) with ESMTP; Wed, 20 Nov 2024 10:00:00 +0700\r\n")
    out = head.encode() + raw
    return out.replace(b"\r\n", b"\n") if lf else out


def _run(config, raw: bytes, when) -> None:  # type: ignore[no-untyped-def]
    app = App.load(str(config))
    try:
        deliver(config.parent / "mail", raw, when=when)
        Daemon(app).run_once()
    finally:
        app.close()


def _rows(config, model, *where):  # type: ignore[no-untyped-def]
    app = App.load(str(config))
    try:
        with app.db.sessions() as session:
            rows = list(session.scalars(select(model).where(*where).order_by(model.id)))
            session.expunge_all()
            return rows
    finally:
        app.close()


def test_raw_fingerprint_ignores_transport_and_line_endings_but_not_content():
    raw = mailfactory.report_email(message_id="<fp@skhcn.tayninh.gov.vn>")
    first, again = _transport(raw, "mx1.example.vn"), _transport(raw, "mx2.example.vn", lf=True)
    assert first != again and raw_fingerprint(first) == raw_fingerprint(again)
    assert raw_fingerprint(raw.replace(b"Subject:", b"Subject: Re:", 1)) != raw_fingerprint(raw)
    assert raw_fingerprint(raw[:-40] + b"x" + raw[-39:]) != raw_fingerprint(raw)  # one byte of the body
    # Text with no header block, or no header the fingerprint keeps, is all message: two of them differ.
    assert raw_fingerprint(b"just some text") != raw_fingerprint(b"other text")
    assert raw_fingerprint(b"X-One: 1\n\nbody") != raw_fingerprint(b"X-Two: 2\n\nbody")


def test_a_redelivered_message_is_stored_and_audited_but_never_read_again(tmp_path, monkeypatch):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    raw = mailfactory.report_email(message_id="<bc-2024@skhcn.tayninh.gov.vn>")
    _run(config, _transport(raw, "mx1.example.vn"), ARRIVED)
    read: list[str] = []
    real = intake_cycle.understand

    def spy(message, ctx, store):  # type: ignore[no-untyped-def]
        read.append(message.source_key)
        return real(message, ctx, store)

    monkeypatch.setattr(intake_cycle, "understand", spy)
    again = _transport(raw, "mx2.example.vn", lf=True)
    _run(config, again, ARRIVED + timedelta(minutes=5))
    assert read == []  # recognised before understanding
    [message] = _rows(config, models.Message)
    [dup] = _rows(config, models.AuditEntry, models.AuditEntry.action == "duplicate_delivery")
    assert dup.message_id == message.id
    stored = RawStore(tmp_path / "tdc" / "store")
    sha = hashlib.sha256(again).hexdigest()
    assert sha in dup.reason and stored.read(sha) == again  # the second delivery's bytes are kept
    assert len(_rows(config, models.OutboxEmail)) == 1  # one acknowledgement
    assert not list((tmp_path / "tdc" / "mail" / "new").iterdir())  # marked on the source


@pytest.mark.parametrize("line_endings", ["same", "lf"])
def test_a_message_without_message_id_delivered_twice_is_one_message(tmp_path, line_endings):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    raw = mailfactory.report_email()
    raw = b"".join(line for line in raw.splitlines(keepends=True) if not line.lower().startswith(b"message-id:"))
    _run(config, _transport(raw, "mx1.example.vn"), ARRIVED)
    _run(config, _transport(raw, "mx2.example.vn", lf=line_endings == "lf"), ARRIVED + timedelta(hours=1))
    assert len(_rows(config, models.Message)) == 1
    assert len(_rows(config, models.OutboxEmail)) == 1
    [sub] = _rows(config, models.Submission)
    assert sub.state == "acknowledged"
