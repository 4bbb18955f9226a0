"""One way to queue an acknowledgement, one way to record a message, and no raw file re-read (issue #23).

An ack queued by a coordinator's action reads Reply-To and References from
the recorded row, so it is right even when the raw file is gone; the
national report reads the body from the row too. Rows recorded before
migration 0018 (NULL there) still read the raw file, through intake's parser,
in one place (workflow.season.stored_mail). The structure is checked from the
source: one call queues an ack, and the fast recording path does not import
the full one.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.cli_helpers import write_config
from tests.test_actions import BOT_ADDRESS, LATE, ON_TIME, ctx, understanding
from workflow.app import App
from workflow.db import models
from workflow.reports.compile import compile_report
from workflow.season.actions import assign, resend_ack
from workflow.season.submissions import RecordContext, record

ROOT = Path(__file__).resolve().parent.parent
REPLY_TO = "baocao@skhcn.tayninh.gov.vn"  # the sender's own domain: an ack may go there
PARENT = "<reminder-1@tdc.example.vn>"
BODY = ("I. Kết quả triển khai\n1. Về công tác tham mưu\n"
        "Tây Ninh tham mưu UBND tỉnh ban hành kế hoạch nâng cao năng suất năm 2024.\n")


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    a = App.load(str(write_config(tmp_path, db_url)))
    yield a
    a.close()


def _arrive(app: App, tmp_path: Path, *, kind: str, agency: str | None = None, year: int | None = None,
            references: str | None = None, body: str = "") -> tuple[int, str, Path]:
    """Record one message (raw bytes on disk, Reply-To in the sender's domain); (id, Message-ID, raw path)."""
    u = understanding(tmp_path, agency, year, ON_TIME, kind=kind, reply_to=REPLY_TO)
    assert u.envelope is not None and u.blob.path is not None
    if references:
        u.envelope.headers["references"] = [references]
        u.blob.path.write_bytes(u.raw.raw.replace(b"\r\n\r\n", f"\r\nReferences: {references}\r\n\r\n".encode(), 1))
    u.envelope.text_body = body
    with app.db.transaction() as session:
        result = record(session, u, RecordContext(roster=app.roster, campaigns=app.campaigns,
                                                  reply_address=BOT_ADDRESS, domain="tdc.example.vn", now=ON_TIME))
    return result.message_id, u.envelope.message_id or "", u.blob.path


def _ack(app: App, key: str) -> models.OutboxEmail:
    with app.db.sessions() as session:
        row = session.scalar(select(models.OutboxEmail).where(models.OutboxEmail.dedupe_key == key))
    assert row is not None, key
    return row


def _assign(app: App, message_id: int) -> None:
    with app.db.transaction() as session:
        assign(session, ctx(app, LATE), message_id, "tay-ninh", 2024, "thư của Sở KH&CN Tây Ninh")


@pytest.mark.parametrize("references", [None, PARENT], ids=["plain path", "full path (refers to a message)"])
def test_an_assigned_message_is_acknowledged_from_its_row_when_the_raw_file_is_gone(app, tmp_path, references):
    """Old code re-read Reply-To and References from the raw file: with it gone, the ack went to From, bare."""
    mid, msgid, raw = _arrive(app, tmp_path, kind="other", references=references)
    raw.unlink()
    _assign(app, mid)
    ack = _ack(app, f"ack:{mid}")
    assert ack.recipients == [REPLY_TO]
    assert ack.in_reply_to == msgid
    assert ack.references == " ".join(filter(None, [references, msgid]))


def test_a_resent_ack_carries_the_references_without_the_raw_file(app, tmp_path):
    mid, msgid, raw = _arrive(app, tmp_path, kind="report", agency="tay-ninh", year=2024, references=PARENT)
    first = _ack(app, f"ack:{mid}")
    assert (first.recipients, first.references) == ([REPLY_TO], f"{PARENT} {msgid}")
    raw.unlink()
    with app.db.transaction() as session:
        resend_ack(session, ctx(app, LATE), mid, "tỉnh báo chưa nhận được")
    again = _ack(app, f"ack:{mid}:resend:1")
    assert (again.recipients, again.in_reply_to, again.references) == ([REPLY_TO], msgid, f"{PARENT} {msgid}")


def test_a_row_recorded_before_0018_reads_its_raw_headers_through_the_legacy_path(app, tmp_path):
    """NULL columns: Reply-To, References and whom the mail speaks for (0019) come from the raw file, as they
    did before the migrations."""
    mid, msgid, raw = _arrive(app, tmp_path, kind="other", references=PARENT)
    with app.db.transaction() as session:
        session.execute(update(models.Message).where(models.Message.id == mid)
                        .values(reply_to=None, references=None, body_text=None, speaker=None, from_device=None))
    assert b"Reply-To: " + REPLY_TO.encode() in raw.read_bytes()
    _assign(app, mid)
    ack = _ack(app, f"ack:{mid}")
    assert (ack.recipients, ack.references) == ([REPLY_TO], f"{PARENT} {msgid}")


def test_the_row_keeps_what_answers_need_bounded(app, tmp_path):
    mid, _, _ = _arrive(app, tmp_path, kind="other", references=" ".join(f"<{i}@x.vn>" for i in range(5000)))
    with app.db.sessions() as session:
        row = session.get(models.Message, mid)
        assert row is not None
        assert row.reply_to == [REPLY_TO]
        assert 19_000 < len(row.references) <= 20_000 and row.references.endswith(">")  # whole ids only
        assert row.references.startswith("<0@x.vn> <1@x.vn>")
        assert row.body_text == ""


def test_the_national_report_quotes_the_body_from_the_row_not_the_raw_file(app, tmp_path):
    """Old code parsed the raw file again for the body: with it gone, the body's sections were lost."""
    mid, _, raw = _arrive(app, tmp_path, kind="report", agency="tay-ninh", year=2024, body=BODY)
    raw.unlink()
    with app.db.sessions() as session:
        report = compile_report(session, app.roster, app.campaigns[2024])
    quoted = [e.text for s in report.sections for e in s.extracts if e.slug == "tay-ninh"]
    assert any("tham mưu UBND tỉnh ban hành kế hoạch" in text for text in quoted), quoted
    with app.db.sessions() as session:
        assert session.get(models.Message, mid).body_text == BODY


def test_a_legacy_row_without_a_stored_body_is_read_from_its_raw_file(app, tmp_path):
    mid, _, raw = _arrive(app, tmp_path, kind="report", agency="tay-ninh", year=2024)
    raw.write_bytes(raw.read_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + BODY.replace("\n", "\r\n").encode())
    with app.db.transaction() as session:
        session.execute(update(models.Message).where(models.Message.id == mid).values(body_text=None))
    with app.db.sessions() as session:
        report = compile_report(session, app.roster, app.campaigns[2024])
    quoted = [e.text for s in report.sections for e in s.extracts if e.slug == "tay-ninh"]
    assert any("tham mưu UBND tỉnh ban hành kế hoạch" in text for text in quoted), quoted


# --- structure, read from the source ------------------------------------------------------------------------
def _tree(relative: str) -> ast.Module:
    return ast.parse((ROOT / relative).read_text(encoding="utf-8"), relative)


def _imported(tree: ast.Module) -> set[str]:
    """Every module an import anywhere in ``tree`` names (function bodies and TYPE_CHECKING blocks too)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_fast_recording_path_and_the_shared_rows_do_not_import_the_full_path():
    for module in ("workflow/season/record_plain.py", "workflow/season/message_rows.py"):
        assert "workflow.season.submissions" not in _imported(_tree(module)), module


def test_recording_modules_import_nothing_inside_functions():
    """A lazy import would be the sign of a cycle dodged rather than removed."""
    for module in ("workflow/season/record_plain.py", "workflow/season/message_rows.py",
                   "workflow/season/acknowledgements.py", "workflow/season/stored_mail.py"):
        lazy = [node.lineno for fn in ast.walk(_tree(module)) if isinstance(fn, ast.FunctionDef)
                for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)]
        assert lazy == [], (module, lazy)


def _ack_calls() -> list[tuple[str, str]]:
    """(module, enclosing function) of every ``queue_email(...)`` call that queues an ack, in the application."""
    found: list[tuple[str, str]] = []
    for path in sorted([*ROOT.glob("workflow/**/*.py"), *ROOT.glob("interfaces/**/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for call in ast.walk(fn):
                if not (isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", None))
                        == "queue_email"):
                    continue
                values = {k.arg: k.value for k in call.keywords}
                if any(isinstance(value := values.get(key), ast.Constant) and value.value == "ack"
                       for key in ("kind", "template")):
                    found.append((str(path.relative_to(ROOT)), fn.name))
    return found


def test_one_function_queues_every_acknowledgement():
    assert _ack_calls() == [("workflow/season/acknowledgements.py", "queue_ack")]
