"""What the bot writes reads right, and what it reads keeps its spaces (issue 11 §4).

Every email template is rendered for every agency that owes a report in 2024
and 2025 (and for long subjects cut at every length), composed as the
outbox composes it, written to bytes as the transports write it, and
decoded as mail clients do: ``email.policy.default`` and
``email.header.decode_header`` + ``make_header``. The Subject and the
display names must come back exactly. Incoming display names split across
encoded words at any character must not gain a space.
"""
from __future__ import annotations

import base64
import email
from datetime import UTC, date, datetime
from email import policy
from email.header import decode_header, make_header

import pytest

from intake.message.parse import parse
from notifier.compose import compose
from notifier.header_encoding import SMTP_EXACT, encode_phrase, encode_text
from notifier.render import one_line, render_email
from reference.roster import load_roster
from workflow.db.models import OutboxEmail

FROM_NAME = "Hệ thống tiếp nhận báo cáo NSCL – Tổng cục Tiêu chuẩn Đo lường Chất lượng"
FROM = f"{FROM_NAME} <baocao@tdc.example.vn>"


def _contexts(agency_name: str, year: int) -> dict[str, dict[str, object]]:
    received = datetime(year, 11, 29, 17, 30, tzinfo=UTC)
    reminder = dict(agency_name=agency_name, year=year, deadline=date(year, 11, 30), days_left=7,
                    dispatch="4258/BKHCN-TĐC", dispatch_date=date(year - 1, 11, 17),
                    reporting_address="baocao@example.vn")
    return {
        "ack": dict(agency_name=agency_name, year=year, reference=f"TDC-{year}-000123", received_at=received,
                    on_time=True, deadline=date(year, 11, 30),
                    subject=f"Báo cáo kết quả NSCL năm {year} – {agency_name}",
                    attachments=[], outline_missing=[], needs_review=False, review_reasons=[],
                    reply_address="baocao@example.vn", campaign_dispatch="4258/BKHCN-TĐC"),
        "resubmission": dict(agency_name=agency_name, year=year, reference=f"TDC-{year}-000123",
                             reason="Thiếu mục II.3",
                             received_at=received, deadline=date(year, 11, 30), reply_address="baocao@example.vn",
                             subject="Báo cáo", campaign_dispatch="4258/BKHCN-TĐC"),
        "reminder_notice": reminder,
        "reminder_firm": reminder,
        "reminder_overdue": dict(reminder, days_left=-3),
        "digest": dict(date=date(year, 11, 21), counts={}, new_since_yesterday=[], missing=[], needs_review=[],
                       outbox_failed=[], quarantine=[], no_address=[], one_line=False),
    }


def _render(name: str, context: dict[str, object]) -> str | None:
    try:
        return render_email(name, **context).subject
    except Exception:  # noqa: BLE001 - a template needing more context is covered by the subjects below
        return None


def _written(subject: str, to_name: str) -> bytes:
    row = OutboxEmail(subject=subject, recipients=[f'"{to_name}" <vanthu@example.vn>'], kind="ack",
                      message_id_header="<tdc.ack.1.2.abc@tdc.example.vn>", body_text="x", body_html=None,
                      attachments=[])
    return compose(row, FROM, reply_to=FROM).as_bytes(policy=SMTP_EXACT)


def _raw_header(data: bytes, name: str) -> str:
    msg = email.message_from_bytes(data, policy=policy.compat32)
    return str(msg[name])


def _check(subject: str, to_name: str) -> list[str]:
    expected = one_line(subject)
    data = _written(subject, to_name)
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        assert len(line) <= 998 and line.isascii()
    problems = []
    modern = email.message_from_bytes(data, policy=policy.default)
    if str(modern["Subject"]) != expected:
        problems.append(f"policy.default Subject {str(modern['Subject'])!r} != {expected!r}")
    if modern["To"].addresses[0].display_name != to_name:
        problems.append(f"policy.default To name {modern['To'].addresses[0].display_name!r} != {to_name!r}")
    if modern["From"].addresses[0].display_name != FROM_NAME:
        problems.append(f"policy.default From name {modern['From'].addresses[0].display_name!r}")
    classic = str(make_header(decode_header(_raw_header(data, "Subject"))))
    if classic != expected:
        problems.append(f"decode_header Subject {classic!r} != {expected!r}")
    to_classic = str(make_header(decode_header(_raw_header(data, "To"))))
    if to_classic != f"{to_name} <vanthu@example.vn>":
        problems.append(f"decode_header To {to_classic!r}")
    return problems


@pytest.mark.parametrize("year", [2024, 2025])
def test_every_template_for_every_agency_decodes_exactly(year: int) -> None:
    roster = load_roster()
    agencies = roster.owing(year)
    assert len(agencies) >= 34
    problems: list[str] = []
    checked = 0
    for agency in agencies:
        for name, context in _contexts(agency.name, year).items():
            subject = _render(name, context)
            if subject is None:
                continue
            problems += [f"{agency.slug} {name}: {p}" for p in _check(subject, agency.name)]
            checked += 1
    assert checked == len(agencies) * 6, "a template did not render"
    assert problems == []


def test_long_subjects_cut_at_every_length_decode_exactly() -> None:
    text = ("Đã nhận báo cáo năm 2025 – Ủy ban nhân dân Thành phố Hồ Chí Minh, Sở Khoa học và Công nghệ "
            "Tỉnh Đắk Nông, Thành phố Hà Nội, Bà Rịa – Vũng Tàu [TDC-2025-000042] ")
    problems = []
    for n in range(1, len(text) + 1):
        problems += _check(text[:n], text[:n].strip() or "A")
    assert problems == []


@pytest.mark.parametrize("text", ["Tỉnh Đắk Nông", "Thành phố Hà Nội", "a  b", " x", "NSCL", "Sở KH&CN (Tây Ninh)"])
def test_encoders_decode_back(text: str) -> None:
    assert str(make_header(decode_header(encode_text(text).replace("\r\n", "")))) == text or text.strip() != text
    assert policy.default.header_factory("subject", encode_text(text).replace("\r\n", "")) == text \
        or text.strip() != text
    if " ".join(text.split()) == text:  # display names are single-spaced (one_line) before they are written
        header = policy.default.header_factory("from", f"{encode_phrase(text)} <a@b.vn>".replace("\r\n", ""))
        assert header.addresses[0].display_name == text


def _ew(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


@pytest.mark.parametrize("name", ["Phát triển nông thôn", "Sở Khoa học và Công nghệ Tỉnh Đắk Nông"])
def test_incoming_names_split_at_any_character_keep_their_spaces(name: str) -> None:
    for k in range(1, len(name)):
        for sep in (" ", "\r\n ", "\r\n\t"):
            raw = (f"From: {_ew(name[:k])}{sep}{_ew(name[k:])} <a@b.vn>\r\n"
                   f"Subject: {_ew(name[:k])}{sep}{_ew(name[k:])}\r\n\r\nx").encode()
            env = parse(raw)
            assert (env.from_name, env.subject) == (name, name), (k, sep)
