"""Issue 24's shapes through the real daemon: what each does to the season's ledger and who is answered.

The corpus messages (``tests/corpus/shapes.py``) are delivered to a Maildir and
read by ``tdc-bot run --once`` on SQLite. A link is a submission received with
its file to fetch (and ``attach`` completes it); a mail with two years' reports
files each for its year; a periodic or a sub-unit's report fills no annual slot
and is listed for a coordinator; a Drive share is the sharer's; a copier's scan
is acknowledged to the agency's people, not to the copier.
"""
from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from intake.pipeline import LINK_REASON
from intake.sources.maildir import deliver
from tests.cli_helpers import cli_json, run_cli, status_row, write_config
from tests.corpus import shapes
from tests.fixtures.real_tables import report_with_table


@pytest.fixture
def config(tmp_path):  # type: ignore[no-untyped-def]
    return write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}")


BOT = "baocao@tdc.example.vn"  # the address of the test configuration (the corpus writes to its own)


def _read(config: Path, *cases: shapes.Shape) -> None:
    for case in cases:
        deliver(config.parent / "mail", case.message.replace(shapes.BOT.encode(), BOT.encode()), when=case.arrived_at)
    run_cli("run", "--once", config=config)


def _acks(config: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for p in sorted((config.parent / "outbox").rglob("*.eml"))]


def _text(msg: email.message.EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]


def test_a_link_is_a_report_received_with_its_file_to_fetch_and_attach_completes_it(config, tmp_path):
    case = shapes.onedrive_link_too_large()
    _read(config, case)
    row = status_row(config, "gia-lai", 2025)
    assert row["state"] in ("received", "acknowledged", "needs_review") and row["state"] != "missing"
    assert LINK_REASON in row["review_reasons"]
    [ack] = _acks(config)
    assert "Hệ thống đã nhận đường liên kết tới báo cáo" in _text(ack)
    assert shapes.ONEDRIVE not in _text(ack)  # a link is never echoed back, never followed
    downloaded = tmp_path / "BC NSCL 2025 Gia Lai.docx"
    downloaded.write_bytes(report_with_table("Gia Lai", 2025, [["1", "Số lượt doanh nghiệp được hỗ trợ",
                                                                 "100 lượt doanh nghiệp", "30 lượt doanh nghiệp",
                                                                 "70 lượt doanh nghiệp", "70 %"]]))
    run_cli("attach", "gia-lai/2025", str(downloaded), "--actor", "dieuphoi", config=config)
    assert LINK_REASON not in status_row(config, "gia-lai", 2025)["review_reasons"]
    shown = cli_json("show", "gia-lai/2025", config=config)
    [version] = shown["versions"]
    assert [a["filename"] for a in version["attachments"]] == [downloaded.name]
    assert version["indicators"][0]["result"] == 30.0
    assert any(e["action"] == "file_attached" and e["actor"] == "dieuphoi" for e in shown["audit"])


def test_two_years_in_one_mail_are_two_submissions_each_for_its_year(config):
    _read(config, shapes.two_years_older_first())
    this_year, last_year = status_row(config, "binh-phuoc", 2024), status_row(config, "binh-phuoc", 2023)
    assert this_year["state"] != "missing" and last_year["state"] != "missing"
    assert last_year["on_time"] is False  # filed a year late
    older = cli_json("show", "binh-phuoc/2023", config=config)["versions"][0]
    assert [a["filename"] for a in older["attachments"]] == ["BC NSCL 2023 - bo sung.docx"]
    newer = cli_json("show", "binh-phuoc/2024", config=config)["versions"][0]
    assert [a["filename"] for a in newer["attachments"]] == ["BC NSCL 2024.docx"]
    [ack] = _acks(config)  # one answer naming both
    assert "Email cũng kèm báo cáo năm 2023 (BC NSCL 2023 - bo sung.docx)" in _text(ack)


@pytest.mark.parametrize("case, slug, year, phrase", [
    (shapes.six_month_report, "hung-yen", 2025, "6 tháng"),
    (shapes.district_report_to_its_province, "tay-ninh", 2024, "đồng gửi"),
])
def test_what_only_looks_like_the_annual_report_fills_no_slot_and_waits_for_a_look(config, case, slug, year, phrase):
    _read(config, case())
    assert status_row(config, slug, year)["state"] == "missing"
    [mail] = cli_json("review", "list", config=config)["agency_mail"]
    assert mail["agency"] == slug and any(phrase in r.lower() for r in mail["reasons"]), mail


def test_a_drive_share_is_the_sharers_and_is_answered_to_the_sharer(config):
    _read(config, shapes.google_drive_share_notice())
    row = status_row(config, "quang-tri", 2025)
    assert row["state"] != "missing" and LINK_REASON in row["review_reasons"]
    [ack] = _acks(config)
    assert ack["To"].addresses[0].addr_spec == "mailt.skhcn@quangtri.gov.vn"  # never Google's robot


def test_a_copiers_scan_is_acknowledged_to_the_agencys_people(config):
    run_cli("contacts", "add", "ha-tinh", "tranvan.b@skhcn.hatinh.gov.vn", "--role", "đầu mối", "--actor", "dp",
            config=config)
    _read(config, shapes.copier_scan_to_email())
    assert status_row(config, "ha-tinh", 2024)["state"] != "missing"
    [ack] = _acks(config)
    assert ack["To"].addresses[0].addr_spec == "tranvan.b@skhcn.hatinh.gov.vn"  # not scanner@…


def _waiting_after_reading(config: Path, case: shapes.Shape, address: str, instead: str) -> dict:
    """The shape with one address changed (to one the roster does not know), read: the one report it leaves
    waiting for a coordinator."""
    deliver(config.parent / "mail", case.message.replace(shapes.BOT.encode(), BOT.encode())
            .replace(address.encode(), instead.encode()), when=case.arrived_at)
    run_cli("run", "--once", config=config)
    [waiting] = cli_json("review", "list", "--year", str(case.year), config=config)["messages"]
    return waiting


def test_a_robots_notice_placed_by_a_coordinator_is_acknowledged_to_the_agencys_people(config):
    """An e-office robot whose domain the roster does not know: nobody is answered when it is recorded (a robot
    reads nothing), and when a coordinator places it, the agency's people are — as recording answers a robot of
    a known domain (`messages.from_device`), never the robot."""
    run_cli("contacts", "add", "tay-ninh", "vanthu@skhcn.tayninh.gov.vn", "--role", "đầu mối", "--actor", "dp",
            config=config)
    robot = "noreply@qlvb-hethong.vn"
    waiting = _waiting_after_reading(config, shapes.eoffice_notice(), "noreply.qlvb@tayninh.gov.vn", robot)
    assert waiting["from"] == robot and waiting["agency_guess"] == "tay-ninh"
    assert _acks(config) == []
    out = cli_json("assign", str(waiting["id"]), "--agency", "tay-ninh", "--year", "2025", "--reason",
                   "hệ thống quản lý văn bản của Sở", "--actor", "dp", config=config)
    assert out["queued"] == [f"ack:{waiting['id']}"]
    assert any("không học địa chỉ " + robot in note for note in out["notes"]), out["notes"]  # a robot is no contact
    assert robot not in [c["email"] for c in cli_json("contacts", "list", "--json", config=config)]  # nor suggested
    run_cli("run", "--once", config=config)  # the outbox is sent by the cycle
    [ack] = _acks(config)
    assert [a.addr_spec for a in ack["To"].addresses] == ["vanthu@skhcn.tayninh.gov.vn"]


def test_placing_a_drive_share_learns_the_sharer_never_googles_robot(config):
    """A share whose sharer writes from a personal mailbox waits for a coordinator; placing it ties the sharer to
    the agency. Tying Google's share robot instead would file every later share, from anyone, under it."""
    sharer = "lethimai.qt@gmail.com"
    waiting = _waiting_after_reading(config, shapes.google_drive_share_notice(), "mailt.skhcn@quangtri.gov.vn", sharer)
    assert waiting["from"] == "drive-shares-dm-noreply@google.com"
    out = cli_json("assign", str(waiting["id"]), "--agency", "quang-tri", "--year", "2025", "--reason",
                   "chị Mai, Sở KH&CN", "--actor", "dp", config=config)
    assert f"đã học địa chỉ {sharer} → quang-tri" in out["notes"], out["notes"]
    listed = [c["email"] for c in cli_json("contacts", "list", "--json", config=config)]
    assert sharer in listed and "drive-shares-dm-noreply@google.com" not in listed
