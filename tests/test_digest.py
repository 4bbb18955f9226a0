"""The coordinators' digest: its content, its .docx table, and its delivery through the real CLI."""
from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import docx
import pytest
from docx.enum.section import WD_ORIENT
from docx.shared import Mm, Pt
from sqlalchemy import select

from notifier.digest_docx import COLUMNS, status_table_docx
from notifier.render import render_email
from reference.campaigns import load_campaigns
from reference.roster import load_roster
from tests.cli_helpers import run_cli
from tests.test_reminders import (  # shared builders, not tests
    SLUGS,
    YEAR,
    action_ctx,
    record_report,
    report,
    vn,
    write_data,
)
from workflow.db import models
from workflow.db.engine import Database
from workflow.season.actions import extend
from workflow.season.digest import build_digest, digest_key
from workflow.season.status import season_status


@pytest.fixture
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    roster_dir, campaigns_file = write_data(tmp_path / "data")
    database = Database(f"sqlite:///{tmp_path / 'tdc.db'}")
    yield database, load_roster(roster_dir), load_campaigns(campaigns_file)
    database.dispose()


def digest_at(database, roster, campaigns, moment):  # type: ignore[no-untyped-def]
    with database.sessions() as session:
        return build_digest(session, roster, campaigns, YEAR, moment)


def test_quiet_day_before_the_season_runs_is_one_line_not_silence(env) -> None:  # type: ignore[no-untyped-def]
    database, roster, campaigns = env
    with database.transaction() as session:
        for slug in SLUGS:
            session.add(models.Submission(agency_slug=slug, year=YEAR, state=models.ACCEPTED, review_reasons=[],
                                          outline_missing=[]))
    data = digest_at(database, roster, campaigns, vn(2024, 12, 2, 7, 30))
    assert data.one_line and data.counts == {models.ACCEPTED: 5} and data.missing == []
    rendered = render_email("digest", **data.template_context())
    assert "không có việc mới" in rendered.subject and "02/12/2024" in rendered.subject


def test_digest_lists_new_reports_missing_review_failures_and_quarantine(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    database, roster, campaigns = env
    # Yesterday's digest went out at 07:30 on 24/11; what came after it is "new" today.
    with database.transaction() as session:
        session.add(models.OutboxEmail(dedupe_key="digest:2024-11-24", kind="digest", recipients=["dpv@tdc.example.vn"],
                                       subject="Bản tin", body_text=".", message_id_header="<d1@tdc.example.vn>",
                                       state=models.SENT, created_at=vn(2024, 11, 24, 7, 30)))
    record_report(database, roster, campaigns,
                  report(tmp_path, "bac-ninh", vn(2024, 11, 24, 7), "sokhcn@bacninh.gov.vn", "old"))
    record_report(database, roster, campaigns,
                  report(tmp_path, "hai-phong", vn(2024, 11, 24, 15), "skhcn@haiphong.gov.vn", "hp"))
    record_report(database, roster, campaigns,
                  report(tmp_path, "tay-ninh", vn(2024, 11, 24, 16), "skhcn@tayninh.gov.vn", "tn",
                                                      review_reasons=["thiếu mục II của đề cương"]))
    record_report(database, roster, campaigns, report(tmp_path, None, vn(2024, 11, 24, 17), "ai.do@gmail.com", "unk"))
    with database.transaction() as session:
        session.add(models.Message(sha256="q" * 64, source_key="q", mailbox="test", raw_path="", size=10,
                                   from_addr="la@example.com", subject="Tệp nén lạ", arrived_at=vn(2024, 11, 24, 18),
                                   recorded_at=vn(2024, 11, 24, 18), status="quarantined",
                                   quarantine_reason="tệp nén vượt giới hạn"))
        session.add(models.Message(sha256="o" * 64, source_key="o", mailbox="test", raw_path="", size=10,
                                   from_addr="cu@example.com", subject="Cũ", arrived_at=vn(2024, 11, 10),
                                   recorded_at=vn(2024, 11, 10), status="quarantined", quarantine_reason="cũ"))
        session.add(models.OutboxEmail(dedupe_key="reminder:bo-y-te:2024:d-7", kind="reminder",
                                       recipients=["vanthu@moh.gov.vn"], subject="Nhắc gửi báo cáo", body_text=".",
                                       message_id_header="<r1@tdc.example.vn>", state=models.FAILED,
                                       last_error="550 5.1.1 mailbox unavailable", created_at=vn(2024, 11, 23)))
        extend(session, action_ctx(roster, campaigns, vn(2024, 11, 24)), YEAR, date(2024, 12, 6), "Gia hạn",
               agency="bo-y-te")

    data = digest_at(database, roster, campaigns, vn(2024, 11, 25, 7, 30))
    assert data.since == vn(2024, 11, 24, 7, 30)
    assert not data.one_line
    assert [(r.get("agency"), r.get("state")) for r in data.new_since_yesterday] == [
        ("hai-phong", models.ACKNOWLEDGED), ("tay-ninh", models.NEEDS_REVIEW), (None, None)]
    assert data.new_since_yesterday[0]["on_time"] is True
    assert data.counts == {models.ACKNOWLEDGED: 2, models.NEEDS_REVIEW: 1, models.MISSING: 2}
    assert {m["slug"]: m["days_left"] for m in data.missing} == {"bo-y-te": 11, "long-an": 5}
    review = {r.get("agency"): r for r in data.needs_review}
    assert review["tay-ninh"]["reasons"] == ["thiếu mục II của đề cương"]
    assert review[None]["from_addr"] == "ai.do@gmail.com" and review[None]["reasons"]
    assert [f["dedupe_key"] for f in data.outbox_failed] == ["reminder:bo-y-te:2024:d-7"]
    assert [q["reason"] for q in data.quarantine] == ["tệp nén vượt giới hạn"]
    assert data.no_address == [{"agency": "long-an", "name": "Tỉnh Long An"}]

    rendered = render_email("digest", **data.template_context())
    assert "25/11/2024" in rendered.subject
    for needle in ("Thành phố Hải Phòng", "còn 5 ngày", "thiếu mục II", "550 5.1.1", "tệp nén vượt giới hạn",
                   "Tỉnh Long An",
                   "thư từ ai.do@gmail.com"):
        assert needle in rendered.text
    assert "#fdecea" in rendered.html  # missing rows are coloured


def test_days_late_are_counted_from_each_agency_deadline(env) -> None:  # type: ignore[no-untyped-def]
    database, roster, campaigns = env
    data = digest_at(database, roster, campaigns, vn(2024, 12, 4, 7, 30))
    assert {m["days_left"] for m in data.missing} == {-4}
    assert "quá hạn 4 ngày" in render_email("digest", **data.template_context()).text


def test_status_table_docx_is_a_landscape_a4_annex(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    database, roster, campaigns = env
    record_report(database, roster, campaigns,
                  report(tmp_path, "tay-ninh", vn(2024, 12, 1, 9), "skhcn@tayninh.gov.vn", "late"))
    with database.sessions() as session:
        rows = season_status(session, roster, YEAR)
    path = status_table_docx(rows, YEAR, date(2024, 12, 2), tmp_path / "out" / "digest-2024-12-02.docx")
    document = docx.Document(str(path))
    section = document.sections[0]
    assert section.orientation == WD_ORIENT.LANDSCAPE
    assert abs(section.page_width - Mm(297)) < Mm(1) and abs(section.page_height - Mm(210)) < Mm(1)
    assert document.styles["Normal"].font.name == "Times New Roman"
    assert document.styles["Normal"].font.size == Pt(13)
    text = "\n".join(p.text for p in document.paragraphs)
    assert "PHỤ LỤC" in text and "TÌNH HÌNH GỬI BÁO CÁO NĂM 2024" in text and "02/12/2024" in text
    (table,) = document.tables
    assert tuple(c.text for c in table.rows[0].cells) == COLUMNS
    body = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert len(body) == len(roster.owing(YEAR))
    tay_ninh = next(r for r in body if r[1] == "Tỉnh Tây Ninh")
    assert tay_ninh[2:5] == ["Đã báo nhận", "01/12/2024", "Muộn"]
    assert [r[0] for r in body] == [str(i) for i in range(1, len(body) + 1)]
    assert not list(path.parent.glob(".digest-*"))  # no temporary file left behind


# -- through the real CLI -----------------------------------------------------------------


def cli_config(tmp_path: Path, db_url: str, smtp: str = "", coordinators: str = '["dpv@tdc.example.vn"]') -> Path:
    roster_dir, campaigns_file = write_data(tmp_path / "data")
    smtp = smtp or f'transport = "file"\noutbox_dir = "{tmp_path / "outbox"}"\n'
    path = tmp_path / "tdc.toml"
    path.write_text(
        f'roster_dir = "{roster_dir}"\ncampaigns_file = "{campaigns_file}"\n'
        f'[database]\nurl = "{db_url}"\n[storage]\npath = "{tmp_path / "store"}"\n'
        f'[mailbox]\nsource = "maildir"\nmaildir = "{tmp_path / "mail"}"\n'
        f'[smtp]\n{smtp}from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\n'
        f'[coordinators]\nemails = {coordinators}\n',
        encoding="utf-8",
    )
    return path


def test_cli_digest_dry_run_json_queues_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tdc.db'}"
    config = cli_config(tmp_path, url)
    out = json.loads(run_cli("digest", "--dry-run", "--json", "--now", "2024-11-28T07:30", config=config).stdout)
    assert out["dry_run"] is True and out["queued"] is False and out["dedupe_key"] == "digest:2024-11-28"
    assert out["recipients"] == ["dpv@tdc.example.vn"]
    assert out["digest"]["date"] == "28/11/2024" and out["digest"]["year"] == YEAR
    assert {m["slug"]: m["days_left"] for m in out["digest"]["missing"]} == {s: 2 for s in SLUGS}
    assert "5 chưa nộp" in out["subject"]
    database = Database(url)
    with database.sessions() as session:
        assert session.scalar(select(models.OutboxEmail.id)) is None
    database.dispose()
    assert not (tmp_path / "store" / "generated").exists()


def test_cli_digest_without_coordinators_builds_but_queues_nothing(tmp_path: Path) -> None:
    config = cli_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}", coordinators="[]")
    proc = run_cli("digest", "--json", "--now", "2024-11-28T07:30", config=config)
    out = json.loads(proc.stdout)
    assert out["queued"] is False and "no coordinators" in out["note"]
    assert len(out["digest"]["missing"]) == 5


def test_cli_digest_is_delivered_with_its_docx_table(tmp_path: Path, smtp_server, db_url: str) -> None:  # type: ignore[no-untyped-def]
    smtp = (f'transport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_server.port}\nsecurity = "none"\n'
            f'timeout = 10\n')
    config = cli_config(tmp_path, db_url, smtp=smtp, coordinators='["Điều phối viên <dpv@tdc.example.vn>"]')
    database = Database(db_url)
    roster = load_roster(tmp_path / "data" / "roster")
    campaigns = load_campaigns(tmp_path / "data" / "campaigns.toml")
    record_report(database, roster, campaigns,
                  report(tmp_path, "hai-phong", vn(2024, 11, 27, 15), "skhcn@haiphong.gov.vn", "hp"))
    database.dispose()

    out = json.loads(run_cli("digest", "--send", "--json", "--now", "2024-11-28T07:30", config=config).stdout)
    assert out["queued"] is True and out["sent"] >= 1
    received = [m for m in smtp_server.wait_for(1) if "dpv@tdc.example.vn" in m.rcpt_tos]
    assert len(received) == 1
    msg = received[0].message()
    assert "28/11/2024" in str(msg["Subject"])
    assert msg["Auto-Submitted"] == "auto-generated"
    (attachment,) = [p for p in msg.iter_attachments() if p.get_filename().endswith(".docx")]
    document = docx.Document(io.BytesIO(attachment.get_content()))
    (table,) = document.tables
    assert len(table.rows) == len(roster.owing(YEAR)) + 1
    names = {row.cells[1].text: row.cells[2].text for row in table.rows[1:]}
    assert names["Thành phố Hải Phòng"] == "Đã báo nhận" and names["Tỉnh Long An"] == "Chưa nộp"
    text = msg.get_body(("plain",)).get_content()
    assert "Thành phố Hải Phòng" in text and "còn 2 ngày" in text
    # The chart is shown, not attached: an image in a multipart/related beside the HTML, named by its Content-ID.
    html_part = msg.get_body(("html",))
    cid = re.search(r'src="cid:([^"]+)"', html_part.get_content()).group(1)
    related = msg.get_body(("related",))
    assert related is not None
    (image,) = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == f"<{cid}>"
    assert image.get_content().startswith(b"\x89PNG\r\n")

    # Same day again: already queued, nothing more is sent.
    again = json.loads(run_cli("digest", "--send", "--json", "--now", "2024-11-28T18:00", config=config).stdout)
    assert again["queued"] is False and again["note"] == "already queued today"
    database = Database(db_url)
    with database.sessions() as session:
        rows = session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.kind == "digest")).all()
    database.dispose()
    assert [r.dedupe_key for r in rows] == [digest_key(date(2024, 11, 28))]
    assert rows[0].state == models.SENT and rows[0].attachments[0]["path"].endswith("tong-hop-2024-11-28.docx")
    assert rows[0].attachments[0]["filename"] == "tong-hop-2024-11-28.docx"  # named by its date (issue 22)
    assert timedelta(0) <= rows[0].created_at - vn(2024, 11, 28, 7, 30) < timedelta(seconds=1)
