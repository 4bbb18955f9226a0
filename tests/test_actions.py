"""Coordinator actions on a real database (SQLite and PostgreSQL), directly and through `tdc-bot`."""
from __future__ import annotations

import email
import email.policy
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.model import Classification, Envelope, GuardVerdict, RawMessage
from intake.pipeline import StoredAttachment, Understanding
from intake.report.indicators import IndicatorRow
from intake.store import StoredBlob
from tests.cli_helpers import cli_json, run_cli, write_config
from workflow.app import App
from workflow.db import models
from workflow.season.action_context import ActionContext, ActionError
from workflow.season.actions import accept, assign, exempt, extend, reopen, request_resubmission, resend_ack
from workflow.season.states import IllegalTransition
from workflow.season.submissions import RecordContext, record

BOT_ADDRESS = "baocao@tdc.example.vn"
ON_TIME = datetime(2024, 11, 25, 3, 0, tzinfo=UTC)  # 25/11/2024 10:00 in Vietnam
LATE = datetime(2024, 12, 2, 3, 0, tzinfo=UTC)  # 02/12/2024, after the 30/11 deadline
SENDER = "vanthu@skhcn.tayninh.gov.vn"


# --- helpers ---------------------------------------------------------------------------------
def understanding(tmp_path: Path, agency: str | None, year: int | None, arrived_at: datetime, *,
                  sender: str = SENDER, kind: str = "report", review: list[str] | None = None,
                  reply_to: str | None = None, indicators: list[IndicatorRow] | None = None) -> Understanding:
    """What intake would hand the workflow for one message, built by hand (raw bytes on disk)."""
    token = uuid.uuid4().hex
    msgid = f"<{token}@mail.example.vn>"
    headers = [f"From: Văn thư <{sender}>", f"Subject: Báo cáo kết quả năm {year or ''}", f"Message-ID: {msgid}"]
    if reply_to:
        headers.append(f"Reply-To: {reply_to}")
    raw_bytes = ("\r\n".join(headers) + "\r\n\r\nKính gửi Bộ KH&CN.\r\n").encode("utf-8")
    path = tmp_path / "raw" / f"{token}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw_bytes)
    sha = hashlib.sha256(raw_bytes).hexdigest()
    env = Envelope(message_id=msgid, subject=f"Báo cáo kết quả năm {year or ''}", from_addr=sender, from_name="Văn thư",
                   reply_to=[reply_to] if reply_to else [], headers={"message-id": [msgid]})
    return Understanding(
        raw=RawMessage(source_key=f"test:{token}", raw=raw_bytes, arrived_at=arrived_at, mailbox="test"),
        blob=StoredBlob(sha256=sha, path=path, size=len(raw_bytes)),
        envelope=env,
        attachments=[StoredAttachment(filename="Báo cáo NSCL.docx", safe_name="bao-cao-nscl.docx",
                                      content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                      size=12345, sha256=sha, path="", from_forward=False)],
        verdict=GuardVerdict("accept"),
        classification=Classification(kind=kind, agency=agency, year=year, confidence=0.9 if agency else 0.2,
                                      reasons=["test fixture"]),
        review_reasons=list(review or []),
        indicators=list(indicators or []),
    )


def arrive(app: App, tmp_path: Path, agency: str | None, year: int | None, arrived_at: datetime, **kw) -> int:
    """Record one message through the real `record` in one transaction; returns its message id."""
    u = understanding(tmp_path, agency, year, arrived_at, **kw)
    with app.db.transaction() as session:
        result = record(session, u, RecordContext(roster=app.roster, campaigns=app.campaigns,
                                                  reply_address=BOT_ADDRESS, domain="tdc.example.vn", now=arrived_at))
    return result.message_id


def ctx(app: App, now: datetime, actor: str = "nguyen.van.a") -> ActionContext:
    return ActionContext(roster=app.roster, campaigns=app.campaigns, now=now, actor=actor, domain="tdc.example.vn",
                         reply_address=BOT_ADDRESS, own_addresses=frozenset({BOT_ADDRESS}))


def submission(app: App, agency: str, year: int) -> models.Submission | None:
    with app.db.sessions() as session:
        return session.scalar(select(models.Submission).where(models.Submission.agency_slug == agency,
                                                              models.Submission.year == year))


def audits(app: App, action: str) -> list[models.AuditEntry]:
    with app.db.sessions() as session:
        return list(session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)
                                    .order_by(models.AuditEntry.id)))


def outbox(app: App, prefix: str) -> list[models.OutboxEmail]:
    with app.db.sessions() as session:
        return list(session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.dedupe_key.like(f"{prefix}%"))
                                    .order_by(models.OutboxEmail.id)))


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    return write_config(tmp_path, db_url)


@pytest.fixture
def app(config: Path) -> Iterator[App]:
    a = App.load(str(config))
    yield a
    a.close()


# --- accept ----------------------------------------------------------------------------------
def test_accept_moves_to_accepted_with_audit_and_is_idempotent(app, tmp_path):
    mid = arrive(app, tmp_path, "tay-ninh", 2024, ON_TIME)
    assert submission(app, "tay-ninh", 2024).state == models.ACKNOWLEDGED
    with app.db.transaction() as s:
        result = accept(s, ctx(app, LATE), "tay-ninh", 2024, "đủ nội dung theo đề cương")
    assert (result.from_state, result.to_state, result.changed) == ("acknowledged", "accepted", True)
    assert submission(app, "tay-ninh", 2024).state == models.ACCEPTED
    [entry] = audits(app, "accept")
    assert (entry.actor, entry.from_state, entry.to_state, entry.reason, entry.message_id) == (
        "nguyen.van.a", "acknowledged", "accepted", "đủ nội dung theo đề cương", mid)
    assert entry.at == LATE
    with app.db.transaction() as s:
        again = accept(s, ctx(app, LATE), "tay-ninh", 2024)
    assert not again.changed
    assert len(audits(app, "accept")) == 1


def test_accept_without_a_report_is_refused_in_both_languages(app, config):
    with pytest.raises(IllegalTransition) as err, app.db.transaction() as s:
        accept(s, ctx(app, LATE), "tay-ninh", 2024)
    assert str(err.value) == ("Không thể chấp nhận báo cáo của Tỉnh Tây Ninh năm 2024: trạng thái hiện tại là "
                              "'chưa nộp' (missing). Cannot accept: nothing was received.")
    proc = run_cli("accept", "tay-ninh", "--year", "2024", config=config, check=False)
    assert proc.returncode == 1
    assert "Không thể chấp nhận báo cáo của Tỉnh Tây Ninh năm 2024" in proc.stderr
    assert submission(app, "tay-ninh", 2024) is None  # the refusal left nothing behind


def test_unknown_agency_exits_1_with_close_matches(config):
    proc = run_cli("accept", "tay-nin", "--year", "2024", config=config, check=False)
    assert proc.returncode == 1
    assert "Unknown agency 'tay-nin'" in proc.stderr and "tay-ninh" in proc.stderr
    proc = run_cli("show", "tien-gian/2024", config=config, check=False)
    assert proc.returncode == 1 and "tien-giang" in proc.stderr


def test_agency_that_no_longer_reports_is_refused_with_its_successor(app):
    with pytest.raises(ActionError, match="tay-ninh"), app.db.transaction() as s:
        exempt(s, ctx(app, LATE), "long-an", 2025, "đã hợp nhất")


# --- request resubmission --------------------------------------------------------------------
def test_request_resubmission_queues_one_email_and_the_next_report_decides_on_time(app, config, tmp_path):
    from notifier.transports import FileTransport
    from workflow.runtime.outbox_flush import flush

    first = arrive(app, tmp_path, "tay-ninh", 2024, ON_TIME, reply_to="baocao@skhcn.tayninh.gov.vn")
    assert submission(app, "tay-ninh", 2024).on_time is True
    args = ("request-resubmission", "tay-ninh", "--year", "2024", "--reason", "Thiếu phụ lục số liệu chỉ tiêu",
            "--actor", "tran.thi.b", "--now", "2024-12-01T09:00")
    out = cli_json(*args, config=config)
    assert out["to_state"] == "resubmission_requested" and out["queued"] == [f"resubmission:tay-ninh:2024:{first}"]
    again = cli_json(*args, config=config)
    assert again["changed"] is False and again["queued"] == []
    [row] = outbox(app, "resubmission:")
    assert set(row.recipients) == {"baocao@skhcn.tayninh.gov.vn", SENDER}
    assert "Thiếu phụ lục số liệu chỉ tiêu" in row.body_text and f"TDC-2024-{first:06d}" in row.subject
    sub = submission(app, "tay-ninh", 2024)
    assert sub.state == models.RESUBMISSION_REQUESTED
    assert sub.on_time is None and sub.first_received_at is None  # the rejected version no longer counts
    [entry] = audits(app, "request_resubmission")
    assert (entry.actor, entry.from_state, entry.message_id) == ("tran.thi.b", "acknowledged", first)
    with app.db.sessions() as s:
        assert s.get(models.Message, first).rejected is True

    # Deliver it for real through the file transport.
    for old in outbox(app, "ack:"):  # the ack is not what this test is about; mark it out of the way
        with app.db.transaction() as s:
            s.get(models.OutboxEmail, old.id).state = models.SENT
    result = flush(app.db, FileTransport(tmp_path / "sent"), "Hệ thống <baocao@tdc.example.vn>", now=LATE)
    assert result.sent == 1
    [eml] = list((tmp_path / "sent").glob("*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("Đề nghị gửi lại báo cáo năm 2024 – Tỉnh Tây Ninh")

    second = arrive(app, tmp_path, "tay-ninh", 2024, LATE)
    sub = submission(app, "tay-ninh", 2024)
    assert sub.state == models.ACKNOWLEDGED and sub.current_message_id == second
    assert sub.on_time is False and sub.first_received_at == LATE  # decided by the new, late report

    # A later request about the new version is a new decision: a second email.
    with app.db.transaction() as s:
        request_resubmission(s, ctx(app, LATE), "tay-ninh", 2024, "Số liệu chưa khớp")
    assert [r.dedupe_key for r in outbox(app, "resubmission:")] == [
        f"resubmission:tay-ninh:2024:{first}", f"resubmission:tay-ninh:2024:{second}"]


def test_request_resubmission_needs_a_reason_and_a_report(app, config):
    proc = run_cli("request-resubmission", "tay-ninh", "--year", "2024", config=config, check=False)
    assert proc.returncode == 2 and "--reason" in proc.stderr
    proc = run_cli("request-resubmission", "tay-ninh", "--year", "2024", "--reason", "x", config=config, check=False)
    assert proc.returncode == 1 and "Cannot request a resubmission: nothing was received" in proc.stderr
    assert outbox(app, "resubmission:") == []


# --- exempt / reopen -------------------------------------------------------------------------
def test_exempt_then_reopen_returns_to_what_the_versions_imply(app, config, tmp_path):
    out = cli_json("exempt", "bo-y-te", "--year", "2024", "--reason", "Bộ đề nghị miễn theo công văn", config=config,
                   env={"TDC_ACTOR": "le.van.c"})
    assert (out["from_state"], out["to_state"]) == ("missing", "exempt")
    assert audits(app, "exempt")[0].actor == "le.van.c"
    out = cli_json("reopen", "bo-y-te", "--year", "2024", config=config)
    assert out["to_state"] == "missing"
    proc = run_cli("reopen", "bo-y-te", "--year", "2024", config=config, check=False)
    assert proc.returncode == 1 and "only an exempt submission can be reopened" in proc.stderr

    arrive(app, tmp_path, "tay-ninh", 2024, ON_TIME)
    with app.db.transaction() as s:
        exempt(s, ctx(app, LATE), "tay-ninh", 2024, "miễn")
    assert submission(app, "tay-ninh", 2024).state == models.EXEMPT
    with app.db.transaction() as s:
        result = reopen(s, ctx(app, LATE), "tay-ninh", 2024, "nhầm")
    assert (result.from_state, result.to_state) == ("exempt", "acknowledged")
    assert [(a.from_state, a.to_state) for a in audits(app, "reopen")] == [("exempt", "missing"),
                                                                           ("exempt", "acknowledged")]
    assert run_cli("exempt", "bo-y-te", "--year", "2024", config=config, check=False).returncode == 2  # no --reason


# --- assign ----------------------------------------------------------------------------------
def test_assign_places_an_unplaced_report_and_learns_the_sender(app, config, tmp_path):
    personal = "nguyenthimai.tn@gmail.com"
    mid = arrive(app, tmp_path, None, None, ON_TIME, sender=personal)
    assert app.roster.by_address(personal, 2024) is None
    queue = cli_json("review", "list", "--year", "2024", config=config)
    assert [m["id"] for m in queue["messages"]] == [mid] and queue["messages"][0]["from"] == personal

    out = cli_json("assign", str(mid), "--agency", "tay-ninh", "--year", "2024", "--reason", "chị Mai, Sở KH&CN",
                   "--actor", "nguyen.van.a", config=config)
    assert out["to_state"] == "acknowledged"  # the ack had already gone when the message was recorded
    assert out["queued"] == []
    # The sender is now a confirmed contact of the agency, in the one book (`contacts list`).
    (listed,) = [c for c in cli_json("contacts", "list", "--agency", "tay-ninh", "--json", config=config)
                 if c["email"] == personal]
    assert (listed["agency"], listed["source"], listed["confirmed"]) == ("tay-ninh", "learned", True)
    with app.db.sessions() as s:
        contact = s.scalars(select(models.Contact).where(models.Contact.email == personal)).one()
        assert (contact.agency_slug, contact.created_by) == ("tay-ninh", "nguyen.van.a")
        msg = s.get(models.Message, mid)
        assert (msg.agency_slug, msg.year, msg.kind) == ("tay-ninh", 2024, "report")
    assert app.roster.by_address(personal, 2024).slug == "tay-ninh"
    sub = submission(app, "tay-ninh", 2024)
    assert (sub.current_message_id, sub.on_time, sub.first_received_at) == (mid, True, ON_TIME)
    assert len(audits(app, "address_learned")) == 1
    assert cli_json("review", "list", "--year", "2024", config=config)["messages"] == []
    again = cli_json("assign", str(mid), "--agency", "tay-ninh", "--year", "2024", config=config)
    assert again["changed"] is False and len(audits(app, "message_assigned")) == 1

    # The next report from that address is placed by itself.
    nxt = arrive(app, tmp_path, "tay-ninh", 2024, LATE, sender=personal)
    assert submission(app, "tay-ninh", 2024).current_message_id == nxt


def test_assign_a_message_read_as_other_queues_its_ack_once(app, tmp_path):
    mid = arrive(app, tmp_path, "tay-ninh", 2024, ON_TIME, kind="other")
    assert outbox(app, "ack:") == [] and submission(app, "tay-ninh", 2024) is None
    with app.db.transaction() as s:
        result = assign(s, ctx(app, LATE), mid, "tay-ninh", 2024, "đây là báo cáo")
    assert result.queued == [f"ack:{mid}"] and result.to_state == models.ACKNOWLEDGED
    assert [(a.from_state, a.to_state) for a in audits(app, "assign") + audits(app, "ack_queued")] == [
        ("missing", "received"), ("received", "acknowledged")]
    with app.db.transaction() as s:
        assign(s, ctx(app, LATE), mid, "tay-ninh", 2024)
    assert len(outbox(app, "ack:")) == 1
    # The domain of the sender is already the agency's: nothing new to learn.
    assert audits(app, "address_learned") == []


def test_assign_elsewhere_detaches_and_never_learns_the_bots_own_address(app, tmp_path):
    mid = arrive(app, tmp_path, "tay-ninh", 2024, ON_TIME, sender=BOT_ADDRESS)
    with app.db.transaction() as s:
        result = assign(s, ctx(app, LATE), mid, "bo-y-te", 2024, "nhầm đơn vị")
    assert submission(app, "tay-ninh", 2024).state == models.MISSING
    assert submission(app, "tay-ninh", 2024).current_message_id is None
    assert submission(app, "bo-y-te", 2024).current_message_id == mid
    assert [(a.from_state, a.to_state) for a in audits(app, "detached")] == [("acknowledged", "missing")]
    assert any("địa chỉ của hệ thống" in n for n in result.notes)
    with app.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(models.Contact)) == 0


def test_assign_to_another_agency_moves_a_learned_sender(app, tmp_path):
    # A personal address first tied to Tây Ninh by mistake, then to Bộ Y tế: the roster names one agency,
    # Tây Ninh's learned contact is removed (audited), the next mail lands at Bộ Y tế.
    personal = "chuyenvien.ts@gmail.com"
    first = arrive(app, tmp_path, None, None, ON_TIME, sender=personal)
    with app.db.transaction() as s:
        assign(s, ctx(app, LATE), first, "tay-ninh", 2024, "nhầm")
    assert app.roster.by_address(personal, 2024).slug == "tay-ninh"
    with app.db.transaction() as s:
        result = assign(s, ctx(app, LATE), first, "bo-y-te", 2024, "chị Thu, Bộ Y tế")
    assert result.notes[-1] == f"đã học địa chỉ {personal} → bo-y-te"
    assert app.roster.by_address(personal, 2024).slug == "bo-y-te"
    with app.db.sessions() as s:
        book = {(c.agency_slug, c.confirmed, c.until_year) for c in
                s.scalars(select(models.Contact).where(models.Contact.email == personal))}
    assert book == {("tay-ninh", False, 0), ("bo-y-te", True, None)}
    assert [a.reason for a in audits(app, "address_learned")][-1] == (
        f"{personal} → bo-y-te: chị Thu, Bộ Y tế; trước đây gắn với tay-ninh")
    assert any(a.agency_slug == "tay-ninh" and a.reason.startswith(personal) for a in audits(app, "contact_removed"))
    nxt = arrive(app, tmp_path, "bo-y-te", 2024, LATE, sender=personal)  # counted: no longer Tây Ninh's
    assert submission(app, "bo-y-te", 2024).current_message_id == nxt


def test_assign_after_a_removal_trusts_the_sender_again(app, tmp_path):
    # A coordinator removed the contact, then ties a message from it to the agency: the tie is the later word.
    from workflow.season import contacts

    personal = "thuky.tn@yahoo.com"
    mid = arrive(app, tmp_path, None, None, ON_TIME, sender=personal)
    with app.db.transaction() as s:
        contacts.add(s, app.roster_base, "tay-ninh", personal, actor="ĐPV", now=ON_TIME)
    with app.db.transaction() as s:
        contacts.remove(s, app.roster_base, "tay-ninh", personal, actor="ĐPV", now=ON_TIME)
    assert app.roster.by_address(personal, 2024) is None
    with app.db.transaction() as s:
        assign(s, ctx(app, LATE), mid, "tay-ninh", 2024, "chị Lan gọi điện xác nhận")
    assert app.roster.by_address(personal, 2024).slug == "tay-ninh"
    with app.db.sessions() as s:
        assert [c["email"] for c in contacts.list_contacts(s, app.roster_base, agency="tay-ninh",
                                                           with_suggestions=False)] == [personal]


def test_assign_refuses_quarantined_mail(app, tmp_path):
    u = understanding(tmp_path, None, None, ON_TIME)
    u.quarantine_reason = "tệp đính kèm quá lớn"
    with app.db.transaction() as s:
        mid = record(s, u, RecordContext(app.roster, app.campaigns, BOT_ADDRESS, "tdc.example.vn", ON_TIME)).message_id
    with pytest.raises(ActionError, match="cách ly"), app.db.transaction() as s:
        assign(s, ctx(app, LATE), mid, "tay-ninh", 2024)


# --- extend ----------------------------------------------------------------------------------
def test_extend_makes_a_late_report_on_time(app, config, tmp_path):
    arrive(app, tmp_path, "tay-ninh", 2024, LATE)
    arrive(app, tmp_path, "bo-y-te", 2024, LATE, sender="vanphong@moh.gov.vn")
    assert submission(app, "tay-ninh", 2024).on_time is False
    out = cli_json("extend", "--year", "2024", "--agency", "tay-ninh", "--until", "01/12/2024",
                   "--reason", "Lỗi máy chủ thư của tỉnh", config=config)
    assert out["changed"] is True
    assert submission(app, "tay-ninh", 2024).on_time is False  # 02/12 is still after the end of 01/12
    cli_json("extend", "--year", "2024", "--agency", "tay-ninh", "--until", "2024-12-02",
             "--reason", "Lỗi máy chủ thư của tỉnh", config=config)
    assert submission(app, "tay-ninh", 2024).on_time is True
    assert submission(app, "bo-y-te", 2024).on_time is False  # an extension for one agency only
    [changed] = audits(app, "on_time_recomputed")
    assert changed.agency_slug == "tay-ninh" and "muộn → đúng hạn" in changed.reason
    with app.db.sessions() as s:
        ext = s.scalars(select(models.DeadlineExtension).order_by(models.DeadlineExtension.id)).all()[-1]
        assert ext.until_at == datetime(2024, 12, 2, 17, 0, tzinfo=UTC)  # 03/12 00:00 in Vietnam
    with app.db.transaction() as s:
        extend(s, ctx(app, LATE), 2024, date(2024, 12, 5), "gia hạn chung")
    assert submission(app, "bo-y-te", 2024).on_time is True


def test_extend_refuses_a_date_before_the_deadline_and_a_bad_date(app, config):
    with pytest.raises(ActionError, match="30/11/2024"), app.db.transaction() as s:
        extend(s, ctx(app, LATE), 2024, date(2024, 11, 20), "sớm")
    proc = run_cli("extend", "--year", "2024", "--until", "31/02/2024", "--reason", "x", config=config, check=False)
    assert proc.returncode == 2 and "DD/MM/YYYY" in proc.stderr


# --- resend-ack ------------------------------------------------------------------------------
def test_resend_ack_queues_a_new_email_each_time(app, config, tmp_path):
    mid = arrive(app, tmp_path, "tay-ninh", 2024, ON_TIME, reply_to="baocao@skhcn.tayninh.gov.vn")
    cli_json("resend-ack", str(mid), "--reason", "tỉnh báo chưa nhận được", config=config)
    with app.db.transaction() as s:
        resend_ack(s, ctx(app, LATE), mid)
    rows = outbox(app, f"ack:{mid}")
    assert [r.dedupe_key for r in rows] == [f"ack:{mid}", f"ack:{mid}:resend:1", f"ack:{mid}:resend:2"]
    assert all(r.recipients == ["baocao@skhcn.tayninh.gov.vn"] for r in rows)
    assert "Tỉnh Tây Ninh" in rows[-1].body_text and f"TDC-2024-{mid:06d}" in rows[-1].subject
    assert len(audits(app, "ack_resent")) == 2


# --- show ------------------------------------------------------------------------------------
def test_show_lists_versions_indicators_and_the_audit_trail(app, config, tmp_path):
    rows = [IndicatorRow("Số doanh nghiệp được hỗ trợ", "doanh nghiệp", 100, 30, 80, 80.0)]
    first = arrive(app, tmp_path, "tay-ninh", 2024, ON_TIME, indicators=rows)
    with app.db.transaction() as s:
        request_resubmission(s, ctx(app, LATE), "tay-ninh", 2024, "Thiếu số liệu")
    second = arrive(app, tmp_path, "tay-ninh", 2024, LATE)
    for target in ("tay-ninh/2024", str(second)):
        data = cli_json("show", target, config=config)
        assert data["state"] == "acknowledged" and data["name"] == "Tỉnh Tây Ninh"
        assert [v["id"] for v in data["versions"]] == [first, second]
        assert [v["rejected"] for v in data["versions"]] == [True, False]
        assert data["versions"][0]["attachments"][0]["filename"] == "Báo cáo NSCL.docx"
        assert data["versions"][0]["indicators"][0]["cumulative"] == 80
        actions = [a["action"] for a in data["audit"]]
        assert actions.count("report_received") == 2 and "request_resubmission" in actions
    text = run_cli("show", "tay-ninh/2024", config=config).stdout
    assert "Số doanh nghiệp được hỗ trợ" in text and "Thiếu số liệu" in text
    assert run_cli("show", "tay-ninh-2024", config=config, check=False).returncode == 1
