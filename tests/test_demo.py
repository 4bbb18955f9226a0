"""`tdc-bot demo`: the made-up season replays through the real daemon and ends where it should."""
from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select

from workflow.app import App
from workflow.db import models
from workflow.operations.demo import DemoError, DemoResult, run_demo
from workflow.operations.demo.documents import ReportStyle, pdf_available, report_lines, report_pdf
from workflow.operations.demo.season import build_season
from workflow.season.reminders import campaign_opens

YEAR = 2024


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    out = io.StringIO()
    console = Console(file=out, width=120)  # not a terminal: plain lines, no progress bar
    result = run_demo(tmp_path_factory.mktemp("demo") / "demo", year=YEAR, agencies=12, seed=3, console=console)
    return result, out.getvalue()


def _by_label(result: DemoResult, label: str) -> list[str]:
    return [m.agency for m in result.plan.mails if m.label.startswith(label) and m.agency]


# Reports from a personal Gmail address do not count for the agency they name until a coordinator
# assigns them (issue #10): those agencies stay owing and the messages wait in the review list.
FROM_STRANGERS = ("chuyển tiếp từ Gmail", "người gửi Gmail lạ")


def _unplaced(result: DemoResult) -> dict[str | None, list[models.Message]]:
    app = App.load(str(result.config_path), migrate=False)
    try:
        with app.db.sessions() as session:
            rows = list(session.scalars(select(models.Message).where(
                models.Message.kind == "report", models.Message.submission_id.is_(None))))
            session.expunge_all()
    finally:
        app.close()
    out: dict[str | None, list[models.Message]] = {}
    for m in rows:
        out.setdefault(m.agency_slug, []).append(m)
    return out


def test_every_reporting_agency_ends_with_a_report(demo) -> None:
    result, _ = demo
    status = {r.agency: r for r in result.status}
    waiting = {slug for label in FROM_STRANGERS for slug in _by_label(result, label)}
    for agency in result.plan.participants:
        if agency.slug in waiting:
            assert status[agency.slug].state == models.MISSING, agency.slug
        else:
            assert status[agency.slug].state != models.MISSING, agency.slug
    for agency in result.plan.silent:
        assert status[agency.slug].state == models.MISSING


def test_deadline_is_the_end_of_30_11_vietnam_time(demo) -> None:
    result, _ = demo
    status = {r.agency: r for r in result.status}
    (just_in_time,) = _by_label(result, "báo cáo lúc 23:47")
    (minute_late,) = _by_label(result, "báo cáo lúc 00:20")
    assert status[just_in_time].on_time is True
    assert status[minute_late].on_time is False
    for slug in _by_label(result, "báo cáo muộn"):
        assert status[slug].on_time is False


def test_unknown_gmail_sender_waits_for_a_coordinator(demo) -> None:
    result, _ = demo
    (slug,) = _by_label(result, "người gửi Gmail lạ")
    assert {r.agency: r for r in result.status}[slug].state == models.MISSING
    [msg] = _unplaced(result)[slug]
    assert msg.from_addr.endswith("@gmail.com")


def test_machine_mail_is_recorded_and_never_answered(demo) -> None:
    result, _ = demo
    app = App.load(str(result.config_path), migrate=False)
    try:
        with app.db.sessions() as session:
            ignored = list(session.scalars(select(models.Message).where(models.Message.status == "ignored")))
            acked = set(session.scalars(select(models.OutboxEmail.related_message_id)
                                        .where(models.OutboxEmail.kind == "ack")))
            sent = session.scalar(select(func.count()).select_from(models.OutboxEmail)
                                  .where(models.OutboxEmail.state == models.SENT))
            versions = {m.agency_slug: m for m in session.scalars(select(models.Message)
                                                                  .where(models.Message.submission_id.is_not(None)))}
    finally:
        app.close()
    subjects = " | ".join(m.subject for m in ignored)
    assert "Trả lời tự động" in subjects and "Undelivered Mail" in subjects and "Bản tin" in subjects
    assert not acked & {m.id for m in ignored}
    # Everything the bot decided to send went out as a file, once.
    assert sent == result.outbox_files > 0
    assert versions  # reports are linked to submissions


def test_outputs_exist_and_are_printed(demo) -> None:
    result, output = demo
    assert result.digest_docx is not None and result.digest_docx.is_file()
    assert f"Thư đã gửi (tệp .eml): {result.outbox_files} trong {result.outbox_dir}" in output
    assert f"Tình hình nộp báo cáo năm {YEAR}" in output
    assert "30/11/2024: " in output  # a plain line per busy day when not on a terminal
    if result.compiled_docx is not None:
        assert result.compiled_docx.is_file()


def test_the_same_seed_gives_the_same_season() -> None:
    app = App.load(None, migrate=False)
    campaign = app.campaigns[YEAR]
    one = build_season(app.roster_base, campaign, "baocao@tdc.example.vn", 15, 7, campaign_opens(campaign))
    two = build_season(app.roster_base, campaign, "baocao@tdc.example.vn", 15, 7, campaign_opens(campaign))
    other = build_season(app.roster_base, campaign, "baocao@tdc.example.vn", 15, 8, campaign_opens(campaign))
    key = lambda plan: [(m.arrives, m.label, m.agency) for m in plan.mails]  # noqa: E731
    assert key(one) == key(two)
    assert key(one) != key(other)
    assert all(a.owes(YEAR) for a in one.participants)


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(DemoError):
        run_demo(tmp_path, console=Console(file=io.StringIO()))
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.skipif(not pdf_available(),
                    reason="fonts-dejavu-core is not installed; run: apt-get install -y fonts-dejavu-core")
def test_pdf_reports_carry_vietnamese_text() -> None:
    from pypdf import PdfReader

    app = App.load(None, migrate=False)
    agency = app.roster_base.get("tay-ninh", YEAR)
    lines = report_lines(agency, YEAR, app.campaigns[YEAR].outline, ReportStyle(indicator_table=True), random.Random(1))
    pages = PdfReader(io.BytesIO(report_pdf(lines, random.Random(1)))).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())  # lines wrap where the PDF wraps
    assert "Kính gửi: Bộ Khoa học và Công nghệ" in text
    assert "tỉnh Tây Ninh" in text
    assert "Tỷ lệ hoàn thành" in text


def test_machine_replies_answer_reminders_the_bot_really_sent(demo) -> None:
    """The auto-reply and the bounce come from agencies the bot reminded, after the reminder went out."""
    result, _ = demo
    machine = [m for m in result.plan.mails if m.label in ("trả lời tự động", "thư báo lỗi (bounce)")]
    assert len(machine) == 2
    app = App.load(str(result.config_path), migrate=False)
    try:
        with app.db.sessions() as session:
            reminders = list(session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.kind == "reminder")))
    finally:
        app.close()
    for mail in machine:
        sent_before = [r for r in reminders if r.agency_slug == mail.agency and r.state == models.SENT
                       and r.created_at.replace(tzinfo=r.created_at.tzinfo or mail.arrives.tzinfo) <= mail.arrives]
        assert sent_before, f"{mail.label} from {mail.agency} answers no reminder"
        reached = [*(sent_before[0].recipients or []), *(sent_before[0].cc or [])]  # To: the focal point, Cc: the rest
        assert result.plan.contacts[mail.agency] in reached


def test_ministry_reports_are_worded_for_a_ministry() -> None:
    from reference.campaigns import load_campaigns
    from reference.roster import load_roster

    roster = load_roster()
    campaign = load_campaigns()[YEAR]
    ministry = next(a for a in roster.owing(YEAR) if a.kind == "ministry")
    for style in (ReportStyle(), ReportStyle(renumbered=True)):
        text = "\n".join(t for _, t in report_lines(ministry, YEAR, campaign.outline, style, random.Random(1)))
        assert "Ủy ban nhân dân" not in text and "Sở Khoa học và Công nghệ" not in text
        assert "địa phương" not in text and "Vụ Khoa học và Công nghệ" in text
