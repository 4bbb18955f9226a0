"""Builders for machine mail in the forms real senders use (issue 20), written from their specifications.

Each builder returns raw bytes as the sending software writes them: a Microsoft
JMRP complaint (no ARF part), Outlook read receipts (plain text and inside
winmail.dat), ezmlm and Mailman list mail, bug-tracker and help-desk notices,
a bulk-mail service's newsletter and a shop's transactional notice without
list headers, and an Exchange DSN kept with blank lines before its headers.
"""
from __future__ import annotations

import struct
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

TO = "baocao@tdc.example.vn"
WHEN = format_datetime(datetime(2024, 11, 21, 2, 0, tzinfo=UTC))


def _message(sender: str, subject: str, body: str, headers: dict[str, str] | None = None,
             html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = TO
    msg["Subject"] = subject
    msg["Date"] = WHEN
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or "example.com")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


# ------------------------------------------------------------------ TNEF (MS-OXTNEF)

_LEVEL_MESSAGE, _LEVEL_ATTACHMENT = 1, 2
_ATT_TNEF_VERSION, _ATT_OEM_CODEPAGE, _ATT_MESSAGE_CLASS = 0x00089006, 0x00069007, 0x00078008
_ATT_RENDDATA, _ATT_TITLE, _ATT_DATA = 0x00069002, 0x00018010, 0x0006800F


def _attribute(level: int, ident: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, ident, len(data)) + data + struct.pack("<H", checksum)


def tnef(message_class: str, files: dict[str, bytes] | None = None) -> bytes:
    """A winmail.dat stream: version, code page, message class, then each file (title + data)."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _attribute(_LEVEL_MESSAGE, _ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
    out += _attribute(_LEVEL_MESSAGE, _ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0))
    out += _attribute(_LEVEL_MESSAGE, _ATT_MESSAGE_CLASS, message_class.encode("ascii") + b"\x00")
    for name, data in (files or {}).items():
        out += _attribute(_LEVEL_ATTACHMENT, _ATT_RENDDATA, b"\x01\x00" + b"\xff" * 12)
        out += _attribute(_LEVEL_ATTACHMENT, _ATT_TITLE, name.encode("cp1252") + b"\x00")
        out += _attribute(_LEVEL_ATTACHMENT, _ATT_DATA, data)
    return out


def with_winmail(sender: str, subject: str, body: str, stream: bytes) -> bytes:
    msg = _message(sender, subject, body)
    msg.add_attachment(stream, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return msg.as_bytes()


# ------------------------------------------------------------------ complaints and receipts

def jmrp_complaint() -> bytes:
    """Microsoft's Junk Mail Reporting Program: the complained-of message enclosed, no ARF part."""
    inner = _message("Hệ thống tiếp nhận báo cáo <baocao@tdc.example.vn>", "Nhắc hạn báo cáo năm 2024",
                     "Kính gửi Sở KH&CN ...", {"X-HmXmrOriginalRecipient": "someone@hotmail.com",
                                               "X-Reporter-IP": "203.0.113.77"})
    msg = _message("staff@hotmail.com", "complaint about message from 203.0.113.10", "")
    msg.clear_content()
    msg.set_type("multipart/mixed")
    part = EmailMessage()
    part["Content-Type"] = "message/rfc822"
    part["Content-Disposition"] = "inline"
    part.set_payload([inner])
    msg.attach(part)
    return msg.as_bytes()


def outlook_read_receipt() -> bytes:
    return _message("Nguyễn Văn A <vana@congty.example.com>", "Read: Báo cáo kết quả năm 2024",
                    "Your message\n\n  To: baocao@tdc.example.vn\n  Subject: Báo cáo kết quả năm 2024\n"
                    "  Sent: 20/11/2024 9:00 AM\n\nwas read on 20/11/2024 10:15 AM.\n").as_bytes()


def winmail_read_receipt() -> bytes:
    return with_winmail("Trần Thị B <tranb@congty.example.com>", "Đã đọc: Nhắc hạn báo cáo",
                        "", tnef("REPORT.IPM.Note.IPNRN"))


def winmail_non_delivery() -> bytes:
    return with_winmail("Microsoft Exchange <postoffice@congty.example.com>", "Nhắc hạn báo cáo",
                        "", tnef("REPORT.IPM.Note.NDR"))


# ------------------------------------------------------------------ lists and trackers

def ezmlm_list_mail() -> bytes:
    """ezmlm marks its posts only with ``Mailing-List:`` and ``Delivered-To: mailing list …``."""
    return _message("Người gửi <nguoigui@congty.example.org>", "[qlcl] Thảo luận về tiêu chuẩn", "Nội dung thảo luận.",
                    {"Mailing-List": "contact qlcl-help@example.org; run by ezmlm",
                     "Delivered-To": "mailing list qlcl@example.org"}).as_bytes()


def list_help_only() -> bytes:
    """A list that writes only List-Help and List-Archive (RFC 2369)."""
    return _message("Ban biên tập <bbt@forum.example.org>", "Tổng hợp thảo luận tuần 47", "Các chủ đề trong tuần.",
                    {"List-Help": "<mailto:forum-request@forum.example.org?subject=help>",
                     "List-Archive": "<https://forum.example.org/archive/>"}).as_bytes()


def debian_bts_notice() -> bytes:
    return _message("owner@bugs.debian.org (Debian Bug Tracking System)", "Processed: reassign 126111 to cdimage",
                    "Processing commands for control@bugs.debian.org:\n\n> reassign 126111 cdimage\n",
                    {"X-Debian-PR-Message": "transcript", "X-Loop": "owner@bugs.debian.org"}).as_bytes()


def rt_notice() -> bytes:
    return _message("Hỗ trợ kỹ thuật via RT <helpdesk@it.example.vn>", "[it.example.vn #4521] Đã tiếp nhận yêu cầu",
                    "Yêu cầu của bạn đã được tiếp nhận với mã số #4521.",
                    {"RT-Ticket": "it.example.vn #4521", "Managed-BY": "RT 4.4.4 (http://www.bestpractical.com/rt/)",
                     "RT-Originator": "baocao@tdc.example.vn"}).as_bytes()


def redmine_notice() -> bytes:
    return _message("Redmine <redmine@pm.example.vn>", "[Dự án CNTT - Task #88] Cập nhật giao diện",
                    "Issue #88 has been updated by Lê Văn C.",
                    {"X-Redmine-Project": "du-an-cntt", "X-Redmine-Issue-Id": "88",
                     "X-Redmine-Host": "pm.example.vn"}).as_bytes()


# ------------------------------------------------------------------ newsletters without list headers

def esp_newsletter(sender: str = "Tạp chí Công nghệ <tin@news.techmag.example.com>",
                   subject: str = "Bản tin công nghệ tháng 11", body: str = "Tin nổi bật trong tháng.") -> bytes:
    """A bulk-mail service's campaign: its own headers, a VERP return path, an unsubscribe footer."""
    return _message(sender, subject, body + "\n\nĐể hủy đăng ký nhận bản tin, bấm vào đây.",
                    {"X-Campaign": "2024-11-monthly", "Feedback-ID": "c123:l456:esp",
                     "Return-Path": "<bounce-8812345@mail.esp.example.net>"}).as_bytes()


def shop_notice() -> bytes:
    """A shop's transactional notice: no list header, no ESP header, only its wording and its sender."""
    return _message("orders@shop.example.com", "Your order has been dispatched (#102-55501)",
                    "Thank you for your order. Your order has been dispatched and will arrive soon.\n"
                    "This is an automated message, please do not reply.\n\n"
                    "Privacy policy | Terms of use. All rights reserved.").as_bytes()


def exchange_dsn_with_leading_blank_lines() -> bytes:
    """An Exchange DSN as some archives keep it: an empty line and a line of spaces before the headers."""
    body = ("From: postmaster@congty.example.com\r\nTo: baocao@tdc.example.vn\r\nDate: " + WHEN + "\r\n"
            "Subject: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b9"\r\n\r\n'
            "--b9\r\nContent-Type: text/plain\r\n\r\nDelivery has failed to these recipients.\r\n"
            "--b9\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns;mx.congty.example.com\r\n\r\n"
            "Final-Recipient: rfc822;khongco@congty.example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--b9--\r\n")
    return ("\r\n" + " " * 200 + "\r\n" + body).encode()
