"""Guards (RFC 3834 and friends), Authentication-Results, and container bomb checks."""
from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest

from intake.documents.containers import check_zip, has_macros, inspect, is_encrypted_office
from intake.limits import Limits
from intake.machine.guards import check
from intake.message.parse import parse

OWN = {"nscl@tcvn.gov.vn"}
OWN_DOMAIN = "tcvn.gov.vn"


def message(subject: str = "Báo cáo kết quả thực hiện Chương trình 1322 năm 2024",
            sender: str = "Sở KH&CN Tây Ninh <skhcn@tayninh.gov.vn>",
            headers: dict[str, str] | None = None,
            attach: bool = False) -> EmailMessage:
    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = "nscl@tcvn.gov.vn"
    msg["Subject"] = subject
    msg["Message-ID"] = "<r1@tayninh.gov.vn>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content("Kính gửi Bộ Khoa học và Công nghệ, Sở gửi báo cáo năm 2024.")
    if attach:
        msg.add_attachment(b"PK\x03\x04", maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                           filename="Báo cáo 2024.docx")
    return msg


def verdict(msg: EmailMessage):
    return check(parse(msg.as_bytes()), OWN, OWN_DOMAIN)


def test_a_normal_report_is_accepted() -> None:
    v = verdict(message(attach=True, headers={"Auto-Submitted": "no", "Return-Path": "<skhcn@tayninh.gov.vn>"}))
    assert (v.action, v.kind, v.reasons) == ("accept", None, [])


def test_report_subject_mentioning_absence_words_only_inside_other_words_is_accepted() -> None:
    assert verdict(message(subject="Báo cáo năm 2024 (bản trả lời công văn 4258)")).action == "accept"


@pytest.mark.parametrize(
    ("headers", "reason_part"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Auto-Submitted": "auto-generated (vacation)"}, "Auto-Submitted"),
        ({"X-Autoreply": "yes"}, "x-autoreply"),
        ({"X-Autorespond": "Out of office"}, "x-autorespond"),
        ({"X-Auto-Response-Suppress": "DR, OOF, AutoReply"}, "X-Auto-Response-Suppress"),
        ({"X-Auto-Response-Suppress": "All"}, "X-Auto-Response-Suppress"),
        ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"X-MS-Exchange-Inbox-Rules-Loop": "vanthu@tayninh.gov.vn"}, "x-ms-exchange-inbox-rules-loop"),
        ({"X-MS-Exchange-Generated-Message-Source": "Mailbox Rules Agent"}, "generated-message-source"),
    ],
)
def test_auto_reply_headers(headers: dict[str, str], reason_part: str) -> None:
    v = verdict(message(subject="Re: Công văn 4258", headers=headers))
    assert (v.action, v.kind) == ("ignore", "auto_reply")
    assert any(reason_part in r for r in v.reasons)


@pytest.mark.parametrize(
    "subject",
    [
        "Trả lời tự động: Công văn 4258/BKHCN-TĐC",
        "Tra loi tu dong: Cong van 4258",
        "TỰ ĐỘNG TRẢ LỜI: V/v báo cáo",
        "Vắng mặt: Báo cáo năm 2024",
        "[Đi công tác] Re: báo cáo",
        "Out of Office: Report",
        "Automatic reply: Báo cáo 2024",
        "Auto: Công văn 4258",
        "Autoreply: your message",
    ],
)
def test_auto_reply_subjects_with_and_without_diacritics(subject: str) -> None:
    v = verdict(message(subject=subject))
    assert (v.action, v.kind) == ("ignore", "auto_reply")
    assert v.reasons == [f"tiêu đề: {subject}"]


def test_automatic_looking_message_with_a_document_goes_to_a_person() -> None:
    v = verdict(message(subject="Trả lời tự động: Báo cáo năm 2024", attach=True))
    assert (v.action, v.kind) == ("quarantine", "auto_reply")


def _dsn() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Mail Delivery System <MAILER-DAEMON@mx.tayninh.gov.vn>"
    msg["To"] = "nscl@tcvn.gov.vn"
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg.set_content("This is the mail system at host mx.tayninh.gov.vn.")
    status = EmailMessage()
    status.set_content("Reporting-MTA: dns; mx.tayninh.gov.vn\n\nFinal-Recipient: rfc822; x@tayninh.gov.vn\nAction: "
                       "failed\nStatus: 5.1.1\n")
    msg.add_attachment(status)
    msg.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b1"')
    return msg


def test_dsn_is_a_bounce() -> None:
    v = verdict(_dsn())
    assert (v.action, v.kind) == ("ignore", "bounce")
    assert "multipart/report (delivery-status)" in v.reasons
    assert "người gửi: mailer-daemon@mx.tayninh.gov.vn" in v.reasons


@pytest.mark.parametrize(
    ("sender", "subject", "headers"),
    [
        ("postmaster@tayninh.gov.vn", "Thư báo", {}),
        ("hethong@tayninh.gov.vn", "Delivery Status Notification (Failure)", {}),
        ("hethong@tayninh.gov.vn", "Không gửi được thư: Báo cáo", {}),
        ("hethong@tayninh.gov.vn", "Khong gui duoc thu", {}),
        ("hethong@tayninh.gov.vn", "Thông báo", {"Return-Path": "<>"}),
    ],
)
def test_bounce_senders_subjects_and_null_return_path(sender: str, subject: str, headers: dict[str, str]) -> None:
    v = verdict(message(subject=subject, sender=sender, headers=headers))
    assert (v.action, v.kind) == ("ignore", "bounce")


def test_auto_reply_with_null_return_path_is_reported_as_auto_reply() -> None:
    v = verdict(message(subject="Out of Office", headers={"Return-Path": "<>"}))
    assert v.kind == "auto_reply"


@pytest.mark.parametrize("header", ["List-Id", "List-Unsubscribe", "List-Post"])
def test_mailing_list_mail(header: str) -> None:
    v = verdict(message(headers={header: "<tin-tuc.example.vn>"}))
    assert (v.action, v.kind) == ("ignore", "list")
    assert v.reasons[0].startswith(header.lower())


def test_own_address_is_own_mail() -> None:
    v = verdict(message(sender="Hệ thống NSCL <NSCL@tcvn.gov.vn>"))
    assert (v.action, v.kind) == ("ignore", "own")


def test_bot_header_with_own_message_id_domain_is_own_mail() -> None:
    msg = message(sender="noreply-other@tcvn.gov.vn", headers={"X-TDC-Bot": "ack"})
    msg.replace_header("Message-ID", "<ack.123@tcvn.gov.vn>")
    v = verdict(msg)
    assert (v.action, v.kind) == ("ignore", "own")


def test_bot_header_coming_back_from_elsewhere_is_a_loop() -> None:
    v = verdict(message(headers={"X-TDC-Bot": "ack"}))
    assert (v.action, v.kind) == ("ignore", "loop")


def test_human_reply_to_our_ack_is_accepted() -> None:
    v = verdict(message(subject="Re: Xác nhận đã nhận báo cáo", headers={"In-Reply-To": "<ack.1@tcvn.gov.vn>"}))
    assert v.action == "accept"


@pytest.mark.parametrize("sender", ["", "undisclosed-recipients:;", "khong co dia chi"])
def test_no_usable_sender_is_quarantined(sender: str) -> None:
    v = verdict(message(sender=sender))
    assert (v.action, v.kind) == ("quarantine", "no_sender")


# ------------------------------------------------------------------ containers


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _docx(extra: dict[str, bytes] | None = None) -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>",
                 "word/document.xml": b"<w:document>" + b"x" * 2000 + b"</w:document>",
                 **(extra or {})})


def test_a_plain_docx_has_no_problems() -> None:
    assert check_zip(_docx()) == []
    assert inspect("Báo cáo.docx", _docx()) == []


def test_zip_bomb_ratio_is_flagged() -> None:
    bomb = _zip({"zeros.bin": b"\0" * (50 * 1024 * 1024)})
    assert len(bomb) < 200_000
    problems = check_zip(bomb, Limits())
    assert any("compression ratio" in p for p in problems)


def test_docx_with_oversize_member_is_flagged() -> None:
    data = _docx({"word/media/huge.bin": b"\0" * 300_000})
    problems = check_zip(data, Limits(zip_max_member_bytes=100_000, zip_max_ratio=1e9))
    assert any("word/media/huge.bin" in p and "100000" in p for p in problems)


def test_lying_declared_size_is_caught_by_the_streaming_read() -> None:
    data = bytearray(_zip({"a.xml": b"A" * 5000}))
    # shrink the declared size in the central directory to 10 bytes
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    problems = check_zip(bytes(data))
    assert problems and "a.xml" in problems[0]


def test_too_many_members_and_total_size() -> None:
    many = _zip({f"f{i}.txt": b"x" for i in range(20)})
    assert any("20 members" in p for p in check_zip(many, Limits(zip_max_members=10)))
    big = _zip({"a": b"y" * 4000, "b": b"z" * 4000}, zipfile.ZIP_STORED)
    assert any("total" in p or "declares" in p for p in check_zip(big, Limits(zip_max_total_bytes=5000)))


def test_dangerous_member_names_and_encryption() -> None:
    data = bytearray(_zip({"../../evil.txt": b"a", "/etc/x": b"b", "ok.txt": b"c"}, zipfile.ZIP_STORED))
    problems = check_zip(bytes(data))
    assert any("../../evil.txt" in p and ".." in p for p in problems)
    assert any("/etc/x" in p and "absolute" in p for p in problems)
    # mark ok.txt encrypted (general purpose flag bit 0) in the central directory
    pos = -1
    while (pos := data.find(b"PK\x01\x02", pos + 1)) != -1:
        name_len = int.from_bytes(data[pos + 28:pos + 30], "little")
        if data[pos + 46:pos + 46 + name_len] == b"ok.txt":
            data[pos + 8] |= 0x1
    assert any("ok.txt: encrypted" in p for p in check_zip(bytes(data)))


def test_nested_archives_are_checked_and_bounded() -> None:
    inner_bomb = _zip({"zeros": b"\0" * (3 * 1024 * 1024)})
    outer = _zip({"phu-luc.zip": inner_bomb}, zipfile.ZIP_STORED)
    assert any(p.startswith("phu-luc.zip/") and "ratio" in p for p in check_zip(outer))
    deep = _zip({"a.zip": _zip({"b.zip": _zip({"c.zip": _zip({"d.txt": b"d"})})})})
    assert any("nested deeper" in p for p in check_zip(deep, Limits(zip_max_nesting=2)))


def test_not_a_zip_is_a_problem_not_a_crash() -> None:
    assert check_zip(b"PK\x03\x04 truncated garbage")[0].startswith("not a readable zip")


def test_encrypted_office_and_macros() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 64
    assert is_encrypted_office(ole)
    assert not is_encrypted_office(_docx())
    assert "password-protected Office document (EncryptedPackage)" in inspect("bc.docx", ole)
    assert has_macros("Báo cáo.docm", b"")
    assert has_macros("bc.docx", _docx({"word/vbaProject.bin": b"vba"}))
    assert not has_macros("bc.docx", _docx())
    assert "contains macros (not executed)" in inspect("bc.docx", _docx({"word/vbaProject.bin": b"vba"}))


def test_bulk_precedence_is_list_mail_recorded_as_other() -> None:
    v = verdict(message(subject="Bản tin tháng 11", headers={"Precedence": "bulk"}))
    assert (v.action, v.kind) == ("ignore", "list")
    assert "thư từ danh sách gửi thư" in v.reasons


def test_a_plain_reply_to_the_bot_is_not_own_mail() -> None:
    """In-Reply-To one of our Message-IDs: a human answering a reminder, read as usual."""
    msg = message(subject="Re: Nhắc nộp báo cáo", headers={"In-Reply-To": "<tdc.reminder.1.2.ab@tcvn.gov.vn>"})
    assert verdict(msg).action == "accept"


def test_a_quoted_acknowledgement_without_a_document_is_never_answered() -> None:
    msg = message(subject="Re: Đã nhận báo cáo năm 2024 [TDC-2024-000012]")
    v = verdict(msg)
    assert (v.action, v.kind) == ("ignore", "returned_own")
