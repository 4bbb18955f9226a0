"""Bounces are decided in one place (issue 23): ``intake.machine.bounces`` gives one verdict, the rest acts on it.

The verdict is checked on real bounces of ``../shared/realmail`` read by the
real pipeline: a DSN sent to the bot's per-email return path (VERP) with the
bot's acknowledgement's headers returned, Office 365's and an old
Exchange server's non-delivery reports, a delay warning (not permanent), a
layout only flufl.bounce knows, and a person's mail (no verdict). The source
check keeps the decision in that one module: nobody else imports flufl.bounce
or defines bounce signs, and the workflow never compares a kind to "bounce".
"""
from __future__ import annotations

import ast
import email
from datetime import UTC, datetime
from email.policy import compat32
from pathlib import Path

import pytest

from intake.documents.budget import DocLimits
from intake.limits import Limits
from intake.machine.bounces import NOT_RETURNED
from intake.model import RawMessage
from intake.pipeline import IntakeContext, Understanding, understand
from reference.addresses import VERP_SEPARATOR
from tests.test_realmail import REALMAIL
from tests.test_self_bounce import disguise

ROOT = Path(__file__).resolve().parent.parent
BOT, OWN_DOMAIN = "baocao.nscl@tcvn.gov.vn", "tcvn.gov.vn"
TOKEN = "3f9a0c17be42d865"
ACK_ID = "<tdc.ack.2024.hcm.7@tcvn.gov.vn>"


def _real(name: str) -> bytes:
    path = REALMAIL / name
    if not path.is_file():
        pytest.skip(f"real-mail corpus not found at {REALMAIL}")
    return path.read_bytes()


@pytest.fixture(scope="module")
def ctx(roster, campaigns) -> IntakeContext:  # type: ignore[no-untyped-def]
    return IntakeContext(roster=roster, campaigns=campaigns, limits=Limits(), doc_limits=DocLimits(),
                         own_addresses=frozenset({BOT}), own_domain=OWN_DOMAIN, review_threshold=0.6)


def _read(raw: bytes, ctx: IntakeContext) -> Understanding:
    return understand(RawMessage("test:1", raw, datetime(2024, 11, 20, 3, tzinfo=UTC), "test"), ctx, store=None)


def test_a_dsn_to_our_return_path_names_our_email_and_the_failed_recipient(ctx: IntakeContext) -> None:
    # Sendmail's DSN for an unknown user, addressed (as every DSN is) to the return path of the
    # email that failed: here one of ours, whose Message-ID the returned headers carry.
    local, _, domain = BOT.partition("@")
    raw = _real("flufl/flufl__bounce__tests__data__dsn_11.txt").replace(
        b"To: <mailman-developers-bounces@python.org>", f"To: <{local}{VERP_SEPARATOR}{TOKEN}@{domain}>".encode()
    ).replace(b"<mailman.0.1035637201.19036.mailman-developers@python.org>", ACK_ID.encode())
    u = _read(raw, ctx)
    bounce = u.bounce
    assert u.verdict is not None and u.verdict.kind == "bounce" and u.status == "ignored"
    assert bounce.bounced and bounce.permanent and not bounce.by_layout
    assert bounce.verp_tokens == (TOKEN,)
    assert bounce.own_message_ids == (ACK_ID,)
    assert [(r.address, r.status) for r in bounce.failed_recipients()] == [("joem@example.com", "5.1.1")]


def test_an_office365_ndr_is_a_permanent_bounce_for_its_recipient(ctx: IntakeContext) -> None:
    u = _read(_real("flanker/tests__fixtures__messages__bounce__office365.eml"), ctx)
    bounce = u.bounce
    assert bounce.kind == "bounce" and bounce.permanent
    [failed] = bounce.failed_recipients()
    assert (failed.address, failed.action, failed.status) == ("noname@example.com", "failed", "5.1.10")
    assert "RecipientNotFound" in failed.diagnostic
    assert bounce.verp_tokens == () and bounce.own_message_ids == ()  # not ours: nothing to match


def test_an_old_exchange_ndr_without_a_dsn_is_a_bounce_by_its_sender_and_subject(ctx: IntakeContext) -> None:
    u = _read(_real("flufl/flufl__bounce__tests__data__microsoft_01.txt"), ctx)
    bounce = u.bounce
    assert bounce.bounced and bounce.permanent and not bounce.by_layout
    assert any("postmaster@ikon.com" in r for r in bounce.reasons), bounce.reasons
    assert any(r.startswith("tiêu đề: Undeliverable") for r in bounce.reasons), bounce.reasons


def test_a_delay_warning_is_not_a_permanent_bounce(ctx: IntakeContext) -> None:
    u = _read(_real("flufl/flufl__bounce__tests__data__dsn_06.txt"), ctx)
    bounce = u.bounce
    assert u.verdict is not None and u.verdict.kind == "delay"
    assert bounce.kind == "delay" and not bounce.bounced and not bounce.permanent
    assert [(r.address, r.action, r.status) for r in bounce.recipients] == [
        ("hao-nghi.au@fr.thalesgroup.com", "delayed", "4.4.0")]
    assert bounce.failed_recipients() == []  # nobody is marked failing by a delay


def test_a_layout_only_flufl_bounce_knows_is_a_bounce_by_layout(ctx: IntakeContext) -> None:
    # A French MTA's plain-text bounce, its sender and subject made a person's (as test_self_bounce
    # disguises them): no guard knows it, flufl.bounce's detectors do.
    raw = disguise(email.message_from_bytes(_real("flufl/flufl__bounce__tests__data__simple_20.txt")))
    u = _read(raw.as_bytes(policy=compat32), ctx)
    bounce = u.bounce
    assert bounce.by_layout and bounce.permanent
    assert u.verdict is not None and u.verdict.kind == "bounce" and u.verdict.reasons == list(bounce.reasons)
    assert bounce.reasons[0].startswith("thư báo lỗi gửi (flufl.bounce)")
    assert [(r.address, r.diagnostic) for r in bounce.failed_recipients()] == [("duke@ald.socgen.com", "flufl.bounce")]


def test_a_persons_mail_has_no_bounce_verdict(ctx: IntakeContext) -> None:
    raw = (f"From: Văn thư <vanthu@hochiminhcity.gov.vn>\r\nTo: {BOT}\r\nSubject: Hỏi về đề cương\r\n"
           "Message-ID: <q1@hochiminhcity.gov.vn>\r\nDate: Wed, 20 Nov 2024 09:00:00 +0700\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nXin hỏi mẫu đề cương năm nay.\r\n").encode()
    u = _read(raw, ctx)
    assert u.bounce == NOT_RETURNED and not u.bounce.permanent and u.bounce.verp_tokens == ()


# ------------------------------------------------------------------ the decision stays in one module

_PACKAGES = ("intake", "workflow", "interfaces", "notifier", "reference")
_BOUNCES = Path("intake/machine/bounces.py")
# Names of bounce signs and of what a bounce returns: defined in intake.machine.bounces only.
_BOUNCE_WORDS = ("bounce", "verp", "returned_recipient", "return_kinds", "null_return_path", "delivery_status",
                 "delay_subject", "carries_own_mail", "returned_own")


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path.relative_to(ROOT), ast.parse(path.read_text(encoding="utf-8")))
            for package in _PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def _defined(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def test_only_the_bounces_module_reads_bounces() -> None:
    found = []
    for path, tree in _modules():
        if path == _BOUNCES:
            continue
        for node in ast.walk(tree):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path}: imports {m}" for m in modules if m.split(".")[0] == "flufl"]
        if path.parts[0] == "intake":
            found += [f"{path}: defines {name}" for name in _defined(tree)
                      if any(word in name.lower() for word in _BOUNCE_WORDS)]
    assert found == []


def test_the_workflow_acts_on_the_verdict_and_never_calls_a_message_a_bounce_itself() -> None:
    found = []
    for path, tree in _modules():
        if path.parts[0] not in ("workflow", "interfaces"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                constants = [c for c in (node.left, *node.comparators) if isinstance(c, ast.Constant)]
                constants += [e for c in node.comparators if isinstance(c, ast.Tuple | ast.Set | ast.List)
                              for e in c.elts if isinstance(e, ast.Constant)]
                if any(c.value in ("bounce", "feedback", "delay") for c in constants):
                    found.append(f"{path}:{node.lineno}")
    assert found == []
