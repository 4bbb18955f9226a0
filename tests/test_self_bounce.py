"""The bot never answers its own acknowledgement coming back (issue 11 §2, the self-bounce case).

The acknowledgements (and every other email) of a replayed demo season are
wrapped in the real bounce and complaint formats of ``../shared/realmail``:
whole as ``message/rfc822``, as returned headers (``text/rfc822-headers``) or
quoted in the text, each also "disguised" (a human-looking sender and
subject, no report content type), so that recognising the bot's own mail
must work without the bounce being recognised. Through the real daemon
they must produce no email and no submission; a bounce or complaint that
carries an acknowledgement's Message-ID exposes it in
``Understanding.bounce.own_message_ids``.
"""
from __future__ import annotations

import copy
import email
import io
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import compat32

import pytest
from rich.console import Console
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from intake.model import RawMessage
from intake.pipeline import understand
from intake.sources.maildir import deliver
from tests.cli_helpers import run_cli, write_config
from tests.test_realmail import corpus
from workflow.app import App
from workflow.db import models
from workflow.operations.demo import run_demo
from workflow.runtime.intake_cycle import intake_context

ARRIVED = datetime(2024, 11, 25, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def season_mail(tmp_path_factory: pytest.TempPathFactory) -> list[Message]:
    result = run_demo(tmp_path_factory.mktemp("season") / "demo", year=2024, agencies=12, seed=3,
                      console=Console(file=io.StringIO(), width=120))
    mails = [email.message_from_bytes(p.read_bytes()) for p in sorted(result.outbox_dir.glob("*.eml"))]
    assert sum(1 for m in mails if "[TDC-" in str(m["Subject"])) >= 4, "the season produced too few acknowledgements"
    return mails


def _find(msg: Message, ctype: str) -> Message | None:
    return next((p for p in msg.walk() if p.get_content_type() == ctype), None)


def _headers_text(ack: Message) -> str:
    return "".join(f"{k}: {v}\n" for k, v in ack.items())


def wrap(container: Message, ack: Message) -> tuple[str, Message] | None:
    """The container with ``ack`` put where it carries the original, and how; None when it has no such place."""
    out = copy.deepcopy(container)
    part = _find(out, "message/rfc822")
    if part is not None:
        part.set_payload([copy.deepcopy(ack)])
        return "rfc822", out
    part = _find(out, "text/rfc822-headers")
    if part is not None:
        part.set_payload(_headers_text(ack))
        return "headers", out
    if not out.is_multipart():
        quoted = "\n".join("> " + line for line in ack.as_string().splitlines()[:200])
        body = out.get_payload(decode=True) or b""
        text = body.decode("ascii", "replace") + "\n------ Original message ------\n" + quoted + "\n"
        del out["Content-Transfer-Encoding"]
        out.set_payload(text)  # ASCII: the acknowledgement's own text is base64 and encoded words
        return "quoted", out
    return None


def disguise(msg: Message) -> Message:
    """The same message without the signs a bounce detector reads first."""
    out = copy.deepcopy(msg)
    for name in ("From", "Subject", "Return-Path", "Auto-Submitted", "Sender", "X-Failed-Recipients"):
        del out[name]
    out["From"] = "Phong hanh chinh <hanhchinh@mail.example.org>"
    out["Subject"] = "Thong tin"
    if out.get_content_type() == "multipart/report":
        boundary = out.get_boundary()
        del out["Content-Type"]
        out["Content-Type"] = f'multipart/mixed; boundary="{boundary}"'
    return out


@pytest.fixture(scope="module")
def wrapped(season_mail: list[Message]) -> list[tuple[str, str, bytes]]:
    """(corpus file + how, ack Message-ID, bytes) for every bounce/complaint format that can carry a message."""
    out = []
    containers = [(name, raw) for name, label, raw in corpus() if label in ("bounce", "feedback")]
    for i, (name, raw) in enumerate(containers):
        ack = season_mail[i % len(season_mail)]
        done = wrap(email.message_from_bytes(raw), ack)
        if done is None:
            continue
        how, msg = done
        for variant, m in (("", msg), (" disguised", disguise(msg))):
            try:
                data = m.as_bytes(policy=compat32)
            except Exception:  # noqa: BLE001, S112 - a corpus message the stdlib cannot write back
                continue
            out.append((f"{name} {how}{variant}", str(ack["Message-ID"]).strip(), data))
    assert len(out) >= 150, len(out)
    return out


@pytest.mark.slow
def test_returned_acknowledgements_produce_no_email_and_no_submission(tmp_path, wrapped):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")
    for i, (_, _, data) in enumerate(wrapped):
        deliver(tmp_path / "mail", data, when=ARRIVED + timedelta(seconds=i))
    proc = run_cli("run", "--once", config=config, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    engine = create_engine(f"sqlite:///{tmp_path / 'tdc.db'}")
    with Session(engine) as s:
        statuses = dict(s.execute(select(models.Message.status, func.count()).group_by(models.Message.status)).all())
        outbox = s.scalar(select(func.count()).select_from(models.OutboxEmail))
        submissions = s.scalar(select(func.count()).select_from(models.Submission))
        reports = s.scalar(select(func.count()).select_from(models.Message).where(models.Message.kind == "report"))
    engine.dispose()
    print("\nreturned acknowledgements:", statuses)
    assert sum(statuses.values()) == len({d for _, _, d in wrapped})
    assert outbox == 0, "the bot answered its own returned mail"
    assert submissions == 0 and reports == 0, "a returned acknowledgement was read as a report"
    assert set(statuses) <= {"ignored", "quarantined"}, statuses


def test_bounces_expose_the_returned_message_ids(tmp_path, wrapped):
    app = App.load(str(write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")))
    try:
        ctx = intake_context(app)
        checked = 0
        for name, ack_id, data in wrapped:
            if "disguised" in name or " quoted" in name:
                continue
            u = understand(RawMessage(name, data, ARRIVED, "test"), ctx, None)
            assert u.status != "recorded", name
            if u.verdict is not None and u.verdict.kind in ("bounce", "feedback"):
                assert ack_id in u.bounce.own_message_ids, name
                checked += 1
        assert checked >= 30
    finally:
        app.close()
