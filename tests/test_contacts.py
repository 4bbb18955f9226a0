"""The contact book (#13): importing the coordinators' spreadsheet, carry-over after the 2025 merger,
round trips, bounces and replies to reminders, and the roster's sender lookup.

Agency names are resolved against the shipped roster; databases run on SQLite and
PostgreSQL (``db_url``); mail goes through the real intake (Maildir source, the
same ``understand``/``record`` as the daemon).
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import Boolean, Integer, String, column, select, table
from sqlalchemy.orm import Session

from intake.sources.maildir import deliver
from tests.cli_helpers import run_cli
from tests.test_digest import cli_config
from tests.test_reminders import YEAR, vn
from workflow.app import App
from workflow.db import models
from workflow.db.engine import Database
from workflow.runtime.intake_cycle import IntakeCycle, build_source
from workflow.season import contact_sheet, contacts
from workflow.season.digest import build_digest, queue_digest
from workflow.season.reminders import reminder_recipients, send_reminders

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 11, 1, 9, 0, tzinfo=VN)

# A coordinators' sheet as it comes: a title row, Vietnamese headers, ';', a BOM, names written
# four ways, one bad address, one ambiguous ministry name, one duplicate line, a blank line.
MESSY = (
    "\ufeffDANH SÁCH ĐẦU MỐI BÁO CÁO CHƯƠNG TRÌNH 1322;;;;;\r\n"
    "Đơn vị;Họ và tên;Vai trò;Email;Điện thoại;Kính gửi\r\n"
    "TP. Hồ Chí Minh;Nguyễn Văn An;Đầu mối;An.Nguyen@HCM.example.org;0283 000 001;Sở Khoa học và Công nghệ Thành phố "
    "Hồ Chí Minh\r\n"
    "Tinh Tay Ninh;Trần Thị Bình;dau moi;binh.tran@tayninh.example.org;;Sở Khoa học và Công nghệ tỉnh Tây Ninh\r\n"
    "Bộ Y tế;Lê Văn Cường;văn thư;vanthu@moh.example.org;;\r\n"
    "bo-y-te;Phạm Thị Dung;Đầu mối;dung.pham@moh.example.org;;\r\n"
    ";;;;;\r\n"
    "Bắc Ninh;Hoàng Văn Em;đầu mối;hoang van em at bacninh.example.org;;\r\n"
    "Bộ Nông nghiệp;Vũ Thị Giang;đầu mối;giang@agri.example.org;;\r\n"
    "Bộ Y tế;Lê Văn Cường;văn thư;vanthu@moh.example.org;;\r\n"
)
MESSY_ERRORS = [
    "dòng 8: địa chỉ email không hợp lệ: 'hoang van em at bacninh.example.org' (invalid address)",
    "dòng 9: tên 'Bộ Nông nghiệp' không rõ là đơn vị nào: bo-nong-nghiep-va-moi-truong, "
    "bo-nong-nghiep-va-phat-trien-nong-thon (ambiguous agency)",
    "dòng 10: vanthu@moh.example.org trùng với dòng 5 (duplicate)",
]
GOOD = {("ho-chi-minh", "an.nguyen@hcm.example.org"), ("tay-ninh", "binh.tran@tayninh.example.org"),
        ("bo-y-te", "vanthu@moh.example.org"), ("bo-y-te", "dung.pham@moh.example.org")}


def shipped_config(tmp_path: Path, db_url: str) -> Path:
    """The shipped roster and campaigns, reminders on, a file outbox."""
    path = tmp_path / "tdc.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[storage]\npath = "{tmp_path / "store"}"\n'
        f'[mailbox]\nsource = "maildir"\nmaildir = "{tmp_path / "mail"}"\n'
        f'[smtp]\ntransport = "file"\noutbox_dir = "{tmp_path / "outbox"}"\n'
        f'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\n'
        f'[coordinators]\nemails = ["dpv@tdc.example.vn"]\n',
        encoding="utf-8",
    )
    return path


def test_messy_spreadsheet_lists_every_problem_and_imports_nothing(tmp_path: Path, roster) -> None:  # type: ignore[no-untyped-def]
    sheet = tmp_path / "dau-moi.csv"
    sheet.write_bytes(MESSY.encode("utf-8"))
    checked = contact_sheet.check_table(roster, contact_sheet.read_table(sheet))
    assert checked.problems == MESSY_ERRORS
    assert {(c.agency, c.email) for c in checked.lines} == GOOD
    hcm = next(c for c in checked.lines if c.agency == "ho-chi-minh")
    assert (hcm.name, hcm.role, hcm.unit, hcm.line) == (
        "Nguyễn Văn An", "đầu mối", "Sở Khoa học và Công nghệ Thành phố Hồ Chí Minh", 3)

    config = shipped_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    proc = run_cli("contacts", "import", str(sheet), config=config, check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[1:] == [f"  {e}" for e in MESSY_ERRORS]
    assert json.loads(run_cli("contacts", "list", "--json", config=config).stdout) == []

    dry = json.loads(run_cli("contacts", "import", str(sheet), "--skip-bad", "--dry-run", "--json",
                             config=config).stdout)
    assert dry["problems"] == MESSY_ERRORS and dry["dry_run"] is True
    assert {(c["agency"], c["email"]) for c in dry["changes"] if c["action"] == "add"} == GOOD
    assert json.loads(run_cli("contacts", "list", "--json", config=config).stdout) == []

    run_cli("contacts", "import", str(sheet), "--skip-bad", config=config)
    listed = json.loads(run_cli("contacts", "list", "--json", config=config).stdout)
    assert {(r["agency"], r["email"]) for r in listed} == GOOD
    assert all(r["source"] == "imported" and r["confirmed"] is True for r in listed)
    assert {r["email"] for r in listed if r["role"] == "đầu mối"} == {
        "an.nguyen@hcm.example.org", "binh.tran@tayninh.example.org", "dung.pham@moh.example.org"}
    again = json.loads(run_cli("contacts", "import", str(sheet), "--skip-bad", "--json", config=config).stdout)
    assert again["imported"] == 0  # importing the same sheet twice changes nothing


def test_xlsx_sheet_with_numbers_and_a_header_below_a_title(tmp_path: Path, roster) -> None:  # type: ignore[no-untyped-def]
    book = Workbook()
    sheet = book.active
    sheet.append(["Danh sách đầu mối"])
    sheet.append(["agency", "email", "name", "role", "phone", "unit", "from_year"])
    sheet.append(["Thành phố Hà Nội", "skhcn@hanoi.example.org", "Đỗ Hà", "lãnh đạo", 912345678, None, 2024])
    sheet.append(["Hà Nội", "skhcn@hanoi.example.org", None, None, None, None, None])
    sheet.append(["Tây Nin", "x@example.org", None, None, None, None, "năm 2024"])
    path = tmp_path / "dau-moi.xlsx"
    book.save(path)
    checked = contact_sheet.check_table(roster, contact_sheet.read_table(path))
    assert checked.problems == [
        "dòng 4: skhcn@hanoi.example.org trùng với dòng 3 (duplicate)",
        "dòng 5: không tìm thấy đơn vị 'Tây Nin' (unknown agency)",
        "dòng 5: cột from_year: 'năm 2024' không phải là năm (not a year)",
    ]
    (line,) = checked.lines
    assert (line.agency, line.phone, line.role, line.from_year) == ("ha-noi", "912345678", "lãnh đạo", 2024)


def test_export_then_import_round_trip(tmp_path: Path, db_url: str, roster) -> None:  # type: ignore[no-untyped-def]
    config = shipped_config(tmp_path, db_url)
    app = App.load(str(config))
    try:
        with app.db.transaction() as session:
            contacts.add(session, roster, "Tỉnh Long An", "daumoi@longan.example.org", actor="ĐPV", now=NOW,
                         name="Nguyễn Long", role="Đầu mối", phone="0272 3",
                         unit="Sở Khoa học và Công nghệ tỉnh Long An",
                         from_year=2023)
            contacts.add(session, roster, "long-an", "vanthu@longan.example.org", actor="ĐPV", now=NOW, role="văn thư")
            contacts.add(session, roster, "Bộ Y tế", "vanthu@moh.example.org", actor="ĐPV", now=NOW,
                         name="Lê; \"Cường\"", role="chuyên viên, phụ trách")
            contacts.carry_over(session, roster, 2025, now=NOW)  # Tây Ninh is offered Long An's, unconfirmed
        with app.db.sessions() as session:
            before = contacts.list_contacts(session, roster)
    finally:
        app.close()
    assert len(before) == 5
    keys = ("agency", "email", "name", "role", "phone", "unit", "source", "confirmed", "from_year", "until_year")
    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"danh-ba.{suffix}"
        run_cli("contacts", "export", "--out", str(out), config=config)
        fresh = tmp_path / f"fresh-{suffix}"
        fresh.mkdir()
        other = shipped_config(fresh, f"sqlite:///{fresh / 'tdc.db'}")
        result = json.loads(run_cli("contacts", "import", str(out), "--json", config=other).stdout)
        assert result["problems"] == [] and result["imported"] == 5
        after = json.loads(run_cli("contacts", "list", "--json", config=other).stdout)
        project = lambda rows: sorted(tuple(r[k] for k in keys) for r in rows)  # noqa: E731
        assert project(after) == project(before), suffix


def test_2025_carry_over_offers_long_an_contacts_to_tay_ninh_unconfirmed(tmp_path: Path, db_url: str) -> None:
    config = shipped_config(tmp_path, db_url)
    app = App.load(str(config))
    try:
        roster = app.roster_base
        with app.db.transaction() as session:
            contacts.add(session, roster, "Long An", "daumoi@longan.example.org", actor="ĐPV", now=NOW, role="đầu mối",
                         unit="Sở Khoa học và Công nghệ tỉnh Long An")
            contacts.add(session, roster, "Tây Ninh", "daumoi@tayninh.example.org", actor="ĐPV", now=NOW,
                         role="đầu mối")
            offered = contacts.carry_over(session, roster, 2025, now=NOW)
            assert contacts.carry_over(session, roster, 2025, now=NOW) == []  # once
        assert [(c.agency, c.email, c.fields) for c in offered] == [
            ("tay-ninh", "daumoi@longan.example.org", {"from": "long-an"})]
        with app.db.sessions() as session:
            rows = contacts.list_contacts(session, roster, year=2025, agency="Tỉnh Tây Ninh")
            carried = next(r for r in rows if r["email"] == "daumoi@longan.example.org")
            assert (carried["source"], carried["confirmed"], carried["carried_from"]) == ("carried over", False,
                                                                                          "long-an")
            assert carried["unit"] == "Sở Khoa học và Công nghệ tỉnh Long An"
            # Not written to until confirmed; the digest names the unit.
            assert reminder_recipients(session, roster, ["tay-ninh"],
                                       2025)["tay-ninh"].to == ("daumoi@tayninh.example.org",)
            digest = build_digest(session, app.roster, app.campaigns, 2025, datetime(2025, 11, 20, 7, 30, tzinfo=VN))
            assert digest.unconfirmed_contacts == [
                {"agency": "tay-ninh", "name": "Tỉnh Tây Ninh", "emails": ["daumoi@longan.example.org"]}]
        run_cli("contacts", "confirm", "tay-ninh", "daumoi@longan.example.org", config=config)
        with app.db.sessions() as session:
            assert reminder_recipients(session, roster, ["tay-ninh"], 2025)["tay-ninh"].to == (
                "daumoi@tayninh.example.org", "daumoi@longan.example.org")
        # A removed carried-over address is not offered again.
        run_cli("contacts", "remove", "tay-ninh", "daumoi@longan.example.org", config=config)
        with app.db.transaction() as session:
            assert contacts.carry_over(session, roster, 2025, now=NOW) == []
            left = contacts.list_contacts(session, roster, year=2025, agency="tay-ninh", with_suggestions=False)
            assert [r["email"] for r in left] == ["daumoi@tayninh.example.org"]
    finally:
        app.close()


def test_a_confirmed_contact_identifies_its_agency(tmp_path: Path, db_url: str) -> None:
    config = shipped_config(tmp_path, db_url)
    app = App.load(str(config))
    try:
        assert app.roster.by_address("daumoi@longan.example.org", 2024) is None
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "Long An", "daumoi@longan.example.org", actor="ĐPV", now=NOW)
        assert app.roster.by_address("DauMoi@LongAn.example.org", 2024).slug == "long-an"
        # After the merger the same address reports for Tây Ninh.
        assert app.roster.by_address("daumoi@longan.example.org", 2025).slug == "tay-ninh"
    finally:
        app.close()


# -- bounces and replies, through the real intake ---------------------------------------------


def _dsn(reminder: models.OutboxEmail, failed: str, when: datetime) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.tayninh.example.org>\r\n"
        "To: baocao@tdc.example.vn\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0700')}\r\n"
        "Message-ID: <dsn.1@mx.tayninh.example.org>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHộp thư người nhận đã đầy.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.tayninh.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: baocao@tdc.example.vn\r\n"
        f"To: {', '.join(reminder.recipients)}\r\n"
        f"Message-ID: {reminder.message_id_header}\r\n"
        f"Subject: {reminder.subject.encode('ascii', 'replace').decode()}\r\n"
        "--b1--\r\n"
    ).encode()


def _reply(reminder: models.OutboxEmail, sender: str, when: datetime) -> bytes:
    return (
        f"From: Trần Thị Bình <{sender}>\r\nTo: baocao@tdc.example.vn\r\n"
        "Subject: =?utf-8?b?" + __import__("base64").b64encode(f"Re: {reminder.subject}".encode()).decode() + "?=\r\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0700')}\r\n"
        "Message-ID: <tra-loi.1@tayninh.example.org>\r\n"
        f"In-Reply-To: {reminder.message_id_header}\r\nReferences: {reminder.message_id_header}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Kính gửi Bộ KH&CN,\r\nSở sẽ gửi báo cáo trước ngày 5/12. Đề nghị cho Sở gia hạn đến ngày 05/12/2024.\r\n"
    ).encode("utf-8")


def _reminder(app: App, agency: str, stage: str) -> models.OutboxEmail:
    with app.db.sessions() as session:
        return session.scalars(select(models.OutboxEmail).where(
            models.OutboxEmail.dedupe_key == f"reminder:{agency}:{YEAR}:{stage}")).one()


def test_bounced_reminder_marks_the_contact_and_the_next_stage_skips_it(tmp_path: Path, db_url: str) -> None:
    app = App.load(str(cli_config(tmp_path, db_url)))
    try:
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "tay-ninh", "binh.tran@tayninh.example.org", actor="ĐPV", now=NOW,
                         role="đầu mối", unit="Sở Khoa học và Công nghệ tỉnh Tây Ninh")
            contacts.add(session, app.roster_base, "tay-ninh", "vanthu@tayninh.example.org", actor="ĐPV", now=NOW,
                         role="văn thư")
        send_reminders(app, YEAR, vn(2024, 11, 23))
        first = _reminder(app, "tay-ninh", "d-7")
        # To the focal point, Cc the others (the roster's address among them), addressed to the unit.
        assert first.recipients == ["binh.tran@tayninh.example.org"]
        assert first.cc == ["skhcn@tayninh.gov.vn", "vanthu@tayninh.example.org"]
        assert "Kính gửi: Sở Khoa học và Công nghệ tỉnh Tây Ninh." in first.body_text

        deliver(Path(app.settings.mailbox.maildir), _dsn(first, "vanthu@tayninh.example.org", vn(2024, 11, 23, 8, 5)),
                when=vn(2024, 11, 23, 8, 5))
        stats = IntakeCycle(app, build_source(app), clock=lambda: vn(2024, 11, 23, 8, 10)).run_once()
        assert stats.ignored == 1
        with app.db.sessions() as session:
            bounced = session.scalars(select(models.Contact).where(
                models.Contact.email == "vanthu@tayninh.example.org")).one()
            response = session.scalars(select(models.ReminderResponse)).one()
        assert bounced.failing is True and "5.2.2" in bounced.bounce_reason
        assert (response.kind, response.outbox_id, response.addresses) == ("bounce", first.id,
                                                                           ["vanthu@tayninh.example.org"])

        digest = queue_digest(app, YEAR, vn(2024, 11, 24, 7, 30))
        assert [(b["agency"], b["email"]) for b in digest.data.bounced] == [("tay-ninh", "vanthu@tayninh.example.org")]
        with app.db.sessions() as session:
            text = session.scalars(select(models.OutboxEmail.body_text).where(
                models.OutboxEmail.dedupe_key == digest.dedupe_key)).one()
        assert "Địa chỉ bị trả lại (1)" in text and "vanthu@tayninh.example.org – lý do:" in text

        send_reminders(app, YEAR, vn(2024, 11, 27))
        second = _reminder(app, "tay-ninh", "d-3")
        assert second.recipients == ["binh.tran@tayninh.example.org"] and second.cc == ["skhcn@tayninh.gov.vn"]
        listed = {r["email"]: r for r in json.loads(run_cli(
            "contacts", "list", "--agency", "Tây Ninh", "--json", config=tmp_path / "tdc.toml").stdout)}
        assert listed["vanthu@tayninh.example.org"]["failing"] is True
    finally:
        app.close()


def test_a_reply_asking_for_an_extension_is_linked_and_shows_in_the_digest(tmp_path: Path, db_url: str) -> None:
    config = cli_config(tmp_path, db_url)
    app = App.load(str(config))
    try:
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "Tây Ninh", "binh.tran@tayninh.example.org", actor="ĐPV", now=NOW,
                         role="đầu mối")
        send_reminders(app, YEAR, vn(2024, 11, 27))
        reminder = _reminder(app, "tay-ninh", "d-3")
        deliver(Path(app.settings.mailbox.maildir), _reply(reminder, "binh.tran@tayninh.example.org",
                                                           vn(2024, 11, 27, 9)), when=vn(2024, 11, 27, 9))
        stats = IntakeCycle(app, build_source(app), clock=lambda: vn(2024, 11, 27, 9, 5)).run_once()
        assert stats.recorded == 1
        with app.db.sessions() as session:
            msg = session.scalars(select(models.Message)).one()
            response = session.scalars(select(models.ReminderResponse)).one()
            sub = session.scalars(select(models.Submission).where(models.Submission.agency_slug == "tay-ninh")).first()
        assert (msg.kind, msg.agency_slug, msg.year) == ("other", "tay-ninh", YEAR)
        assert (response.kind, response.outbox_id) == ("reply", reminder.id)
        assert sub is None or sub.state == models.MISSING  # a reply is not a report

        digest = queue_digest(app, YEAR, vn(2024, 11, 28, 7, 30))
        (reply,) = digest.data.reminder_replies
        assert reply["agency"] == "tay-ninh" and reply["from_addr"] == "binh.tran@tayninh.example.org"
        with app.db.sessions() as session:
            text = session.scalars(select(models.OutboxEmail.body_text).where(
                models.OutboxEmail.dedupe_key == digest.dedupe_key)).one()
        assert "Phản hồi nhắc nhở (1)" in text and "Tỉnh Tây Ninh: «Re: Đề nghị khẩn trương gửi báo cáo" in text
        review = json.loads(run_cli("review", "list", "--year", str(YEAR), "--json", config=config).stdout)
        assert [(r["agency"], r["from"]) for r in review["reminder_replies"]] == [
            ("tay-ninh", "binh.tran@tayninh.example.org")]
        assert review["messages"] == []  # not left unplaced
    finally:
        app.close()


def test_reminders_never_use_unconfirmed_or_suggested_addresses(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'tdc.db'}")
    from reference.roster import load_roster
    from tests.test_reminders import write_data

    roster = load_roster(write_data(tmp_path / "data")[0])
    try:
        with database.transaction() as session:
            session.add(models.Contact(agency_slug="long-an", email="chua@longan.example.org", source="carried over",
                                       confirmed=False, failing=False, name="", role="", phone="", unit=""))
        with database.sessions() as session:
            assert reminder_recipients(session, roster, ["long-an"], YEAR)["long-an"].all == []
    finally:
        database.dispose()


def test_a_reminder_reaches_its_cc_over_real_smtp(tmp_path: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from notifier.transports import SmtpTransport
    from workflow.runtime.outbox_flush import flush

    app = App.load(str(cli_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")))
    try:
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "tay-ninh", "binh.tran@tayninh.example.org", actor="ĐPV", now=NOW,
                         role="đầu mối", unit="Sở Khoa học và Công nghệ tỉnh Tây Ninh")
        send_reminders(app, YEAR, vn(2024, 11, 23))
        row = _reminder(app, "tay-ninh", "d-7")
        transport = SmtpTransport(smtp_server.host, smtp_server.port, security="none", username=None, password=None,
                                  timeout=10, local_hostname="localhost")
        result = flush(app.db, transport, app.settings.smtp.from_, now=vn(2024, 11, 23, 8, 1))
        assert result.failed == 0 and result.sent >= 1
        (got,) = [m for m in smtp_server.messages if m.message()["Message-ID"] == row.message_id_header]
        assert sorted(got.rcpt_tos) == ["binh.tran@tayninh.example.org", "skhcn@tayninh.gov.vn"]
        msg = got.message()
        assert msg["To"] == "binh.tran@tayninh.example.org" and msg["Cc"] == "skhcn@tayninh.gov.vn"
        assert "Kính gửi: Sở Khoa học và Công nghệ tỉnh Tây Ninh." in msg.get_body(("plain",)).get_content()
    finally:
        app.close()


def test_migration_copies_taught_addresses_into_the_book(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from workflow.db.engine import alembic_config, make_engine

    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0001")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO learned_addresses (address, agency_slug, taught_by, created_at) "
                              "VALUES ('thuky.la@yahoo.com', 'long-an', 'ĐPV', :at)"), {"at": datetime(2024, 1, 2)})
        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()
    database = Database(db_url)
    try:
        with database.sessions() as session:
            (row,) = session.scalars(select(models.Contact)).all()
            assert (row.agency_slug, row.email, row.source, row.confirmed, row.failing, row.created_by) == (
                "long-an", "thuky.la@yahoo.com", "learned", True, False, "ĐPV")
            assert contacts.confirmed_addresses(session) == {"thuky.la@yahoo.com": "long-an"}
    finally:
        database.dispose()


# -- 0017: one table of trusted addresses -----------------------------------------------------

_OLD_CONTACTS = table("contacts", column("id", Integer), column("agency_slug", String), column("email", String),
                      column("name", String), column("role", String), column("phone", String),
                      column("unit", String), column("source", String), column("confirmed", Boolean),
                      column("until_year", Integer), column("failing", Boolean), column("created_by", String),
                      column("created_at", models.UtcDateTime()), column("updated_at", models.UtcDateTime()))
_OLD_LEARNED = table("learned_addresses", column("address", String), column("agency_slug", String),
                     column("taught_by", String), column("created_at", models.UtcDateTime()))
UTC_ = ZoneInfo("UTC")


def _old_contact(agency: str, email: str, source: str, confirmed: bool, at: datetime,
                 until_year: int | None = None) -> dict[str, object]:
    return {"agency_slug": agency, "email": email, "name": "", "role": "", "phone": "", "unit": "",
            "source": source, "confirmed": confirmed, "until_year": until_year, "failing": False,
            "created_by": "sheet", "created_at": at, "updated_at": at}


def seed_0016(db_url: str) -> None:
    """A database as the release before 0017 left it: learned_addresses beside the book, overlapping it.

    * vanthu@… is both an imported contact of Tây Ninh and learned for it (the duplicate: nothing added);
    * chi.mai@gmail.com is learned only (a new contact);
    * thuky.la@yahoo.com was removed from Long An's book, then taught again by ``assign`` (revived);
    * chung@gmail.com is Cần Thơ's imported contact, later taught to Cà Mau (the learned tie wins the lookup).
    """
    from alembic import command

    from workflow.db.engine import alembic_config, make_engine

    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0016")
        with engine.begin() as conn:
            conn.execute(_OLD_CONTACTS.insert(), [
                _old_contact("tay-ninh", "vanthu@skhcn.tayninh.gov.vn", "imported", True,
                             datetime(2024, 9, 1, tzinfo=UTC_)),
                _old_contact("long-an", "thuky.la@yahoo.com", "learned", False, datetime(2024, 9, 2, tzinfo=UTC_),
                             until_year=contacts.REMOVED_UNTIL),
                _old_contact("can-tho", "chung@gmail.com", "imported", True, datetime(2024, 9, 3, tzinfo=UTC_)),
            ])
            conn.execute(_OLD_LEARNED.insert(), [
                {"address": "vanthu@skhcn.tayninh.gov.vn", "agency_slug": "tay-ninh", "taught_by": "ĐPV",
                 "created_at": datetime(2024, 10, 1, tzinfo=UTC_)},
                {"address": "chi.mai@gmail.com", "agency_slug": "tay-ninh", "taught_by": "nguyen.van.a",
                 "created_at": datetime(2024, 11, 20, 3, 15, tzinfo=UTC_)},
                {"address": "thuky.la@yahoo.com", "agency_slug": "long-an", "taught_by": "ĐPV",
                 "created_at": datetime(2024, 10, 5, tzinfo=UTC_)},
                {"address": "chung@gmail.com", "agency_slug": "ca-mau", "taught_by": "ĐPV",
                 "created_at": datetime(2024, 8, 1, tzinfo=UTC_)},
            ])
    finally:
        engine.dispose()


def assert_folded(session: Session) -> None:
    """What 0017 makes of ``seed_0016``'s rows."""
    rows = {(c.agency_slug, c.email): c for c in session.scalars(select(models.Contact))}
    assert len(rows) == 5
    kept = rows["tay-ninh", "vanthu@skhcn.tayninh.gov.vn"]
    assert (kept.source, kept.created_by, kept.confirmed) == ("imported", "sheet", True)  # the duplicate: untouched
    new = rows["tay-ninh", "chi.mai@gmail.com"]
    assert (new.source, new.confirmed, new.failing, new.created_by, new.created_at, new.until_year) == (
        "learned", True, False, "nguyen.van.a", datetime(2024, 11, 20, 3, 15, tzinfo=UTC_), None)
    revived = rows["long-an", "thuky.la@yahoo.com"]
    assert (revived.confirmed, revived.until_year, revived.updated_at) == (
        True, None, datetime(2024, 10, 5, tzinfo=UTC_))
    assert (rows["ca-mau", "chung@gmail.com"].source, rows["can-tho", "chung@gmail.com"].confirmed) == (
        "learned", True)
    (confirmed,) = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "contact_confirmed"))
    assert (confirmed.actor, confirmed.at, confirmed.agency_slug) == (
        "ĐPV", datetime(2024, 10, 5, tzinfo=UTC_), "long-an")
    assert confirmed.reason.startswith("thuky.la@yahoo.com (learned); ")
    (confirmed,) = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "contact_confirmed"))
    assert (confirmed.actor, confirmed.at, confirmed.agency_slug) == ("ĐPV", datetime(2024, 10, 5, tzinfo=UTC_),
                                                                      "long-an")
    assert confirmed.reason.startswith("thuky.la@yahoo.com (learned); ")
    assert contacts.confirmed_addresses(session) == {
        "vanthu@skhcn.tayninh.gov.vn": "tay-ninh", "chi.mai@gmail.com": "tay-ninh",
        "thuky.la@yahoo.com": "long-an", "chung@gmail.com": "ca-mau"}


def test_0017_folds_learned_addresses_into_the_book_and_back(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from workflow.db.engine import alembic_config, make_engine

    seed_0016(db_url)
    database = Database(db_url)  # migrates to the head, as every command does
    try:
        assert "learned_addresses" not in inspect(database.engine).get_table_names()
        with database.sessions() as session:
            assert_folded(session)
    finally:
        database.dispose()

    engine = make_engine(db_url)
    try:
        command.downgrade(alembic_config(engine), "0016")
        with engine.connect() as conn:
            back = {r.address: (r.agency_slug, r.taught_by) for r in conn.execute(select(_OLD_LEARNED))}
        # The learned contacts, one agency per address; the imported one was never only learned.
        # The revived one was added by the sheet: its teacher is in the audit log, not on the row.
        assert back == {"chi.mai@gmail.com": ("tay-ninh", "nguyen.van.a"), "thuky.la@yahoo.com": ("long-an", "sheet"),
                        "chung@gmail.com": ("ca-mau", "ĐPV")}
        command.upgrade(alembic_config(engine), "head")  # and up again: nothing doubled
        with Session(engine) as session:
            assert_folded(session)
    finally:
        engine.dispose()
