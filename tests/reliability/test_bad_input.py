"""Bad input is quarantined or recorded with a reason, never fatal (invariant 5).

The whole corpus of ``tests/badmail.py`` goes through a real intake cycle
(Maildir, and once through Dovecot); afterwards an ordinary report is still
acknowledged over real SMTP, which proves the daemon went on.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.sources.maildir import deliver
from reference.text import fold
from tests import badmail, mailfactory
from tests.reliability import ARRIVED, IMAP_PW_ENV, append_many, write_config
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon

CORPUS = badmail.build()


def test_corpus_is_big_and_varied():
    kinds = [m.kind for m in CORPUS]
    assert len(set(kinds)) == len(kinds) >= 30
    assert len({m.raw for m in CORPUS}) == len(CORPUS), "two corpus entries have the same bytes"


def _rows(app: App) -> list[models.Message]:
    with Session(app.db.engine) as s:
        return list(s.scalars(select(models.Message).options(selectinload(models.Message.attachments))
                              .order_by(models.Message.id)))


def _evidence(row: models.Message, where: str) -> str:
    if where == "quarantine_reason":
        return row.quarantine_reason or ""
    if where == "notes":
        return " | ".join(row.notes or [])
    return " | ".join(n for a in row.attachments for n in (a.notes or []))


def check_row(bad: badmail.BadMail, row: models.Message, store: Path) -> list[str]:
    """What is wrong with how one corpus message was recorded (empty: as expected)."""
    problems = []
    if row.status not in bad.statuses:
        problems.append(f"status {row.status}, expected one of {sorted(bad.statuses)}")
    if row.status == "quarantined" and not row.quarantine_reason:
        problems.append("quarantined without a reason")
    if bad.evidence:
        text = _evidence(row, bad.evidence)
        if not text:
            problems.append(f"no {bad.evidence}")
        elif bad.contains and fold(bad.contains) not in fold(text):
            problems.append(f"{bad.evidence} lacks {bad.contains!r}: {text[:200]}")
    root = store.resolve()
    for path in [row.raw_path] + [a.path for a in row.attachments]:
        if path and not Path(path).resolve().is_relative_to(root):
            problems.append(f"stored outside the store: {path}")
    for a in row.attachments:
        if any(ch in a.safe_name for ch in ("/", "\\", "\0", "\u202e")) or a.safe_name.startswith("."):
            problems.append(f"unsafe stored name {a.safe_name!r}")
    return [f"{bad.kind}: {p}" for p in problems]


def _assert_corpus(app: App, delivered: list[badmail.BadMail]) -> list[models.Message]:
    rows = _rows(app)
    assert len(rows) == len(delivered), [r.subject[:40] for r in rows]
    store = Path(app.store_root)
    problems = [p for bad, row in zip(delivered, rows, strict=True) for p in check_row(bad, row, store)]
    assert problems == []
    assert not list(store.rglob(".tmp-*")), "a half-written file was left in the store"
    by_kind = {bad.kind: row for bad, row in zip(delivered, rows, strict=True)}
    forwarded = by_kind["forwarded-rfc822-base64"].attachments
    assert [a.from_forward for a in forwarded] == [True], "the encoded forward's report was lost"
    assert by_kind["duplicate-message-id-a"].message_id == by_kind["duplicate-message-id-b"].message_id
    assert by_kind["no-message-id"].message_id is None
    return rows


@pytest.mark.slow
def test_corpus_through_maildir_then_a_report_is_still_acknowledged(tmp_path, smtp_server):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}", smtp=smtp_server,
                          extra=badmail.LIMITS_TOML)
    app = App.load(str(config))
    try:
        maildir = tmp_path / "tdc" / "mail"
        for i, bad in enumerate(CORPUS):
            deliver(maildir, bad.raw, when=ARRIVED + timedelta(minutes=i))
        result = Daemon(app).run_once()
        assert result.fetched == len(CORPUS)
        assert all(c.stopped_early is None for c in result.cycles), [c.stopped_early for c in result.cycles]
        _assert_corpus(app, CORPUS)

        smtp_server.clear()
        deliver(maildir, mailfactory.report_email(sender="vanphong@skhcn.cantho.gov.vn", province="Cần Thơ"),
                when=ARRIVED + timedelta(days=1))
        Daemon(app).run_once()
        received = smtp_server.wait_for(1, timeout=20)
        assert ["vanphong@skhcn.cantho.gov.vn"] in [r.rcpt_tos for r in received]
    finally:
        app.close()


@pytest.mark.slow
@pytest.mark.imap
def test_corpus_through_dovecot(tmp_path, smtp_server, dovecot, monkeypatch):
    monkeypatch.setenv(IMAP_PW_ENV, dovecot.password)
    delivered = [bad for bad in CORPUS if bad.imap_ok]
    append_many(dovecot, [bad.raw for bad in delivered], chunk=5)
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}", smtp=smtp_server, dovecot=dovecot,
                          extra=badmail.LIMITS_TOML)
    app = App.load(str(config))
    try:
        result = Daemon(app).run_once()
        assert result.fetched == len(delivered)
        _assert_corpus(app, delivered)
        assert dovecot.folder_uids("INBOX") == []
    finally:
        app.close()
