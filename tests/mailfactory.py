"""Small builders for realistic test messages (reports, machine mail), made from code."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from docx import Document

# Our receiving server, as the test configurations trust it ([mailbox] trusted_authserv_id), and the trace
# line it writes: what stands above that line is what our server says of a mail; below it, what anyone says.
OUR_SERVER = "mx.tdc.example.vn"
OUR_RECEIVED = (f"Received: from mail.example.net (mail.example.net [198.51.100.4]) by {OUR_SERVER} (Postfix) "
                "with ESMTP id 4XyQ7; Wed, 20 Nov 2024 09:00:00 +0700")
SPAM_VERDICT = "X-Spam-Status: Yes, score=14.2 required=5.0 tests=GTUBE,MISSING_DATE autolearn=no"  # SpamAssassin's

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TAY_NINH_SENDER = "vanthu@skhcn.tayninh.gov.vn"

TAY_NINH_TITLE = ("Kết quả triển khai nhiệm vụ của Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất "
                  "và chất lượng sản phẩm, hàng hóa năm {year} trên địa bàn tỉnh {province}")


def report_docx(province: str = "Tây Ninh", year: int = 2024, extra_paragraphs: int = 0) -> bytes:
    """A short report in the shape of the Tây Ninh reference document."""
    doc = Document()
    doc.add_paragraph("SỞ KHOA HỌC VÀ CÔNG NGHỆ")
    doc.add_paragraph(f"{province}, ngày 20 tháng 11 năm {year}")
    doc.add_paragraph("BÁO CÁO")
    doc.add_paragraph(TAY_NINH_TITLE.format(year=year, province=province))
    doc.add_paragraph("Kính gửi: Bộ Khoa học và Công nghệ")
    doc.add_paragraph("I. Kết quả triển khai")
    doc.add_paragraph("1. Về công tác tham mưu")
    doc.add_paragraph(f"Sở KH&CN đã tham mưu UBND tỉnh ban hành Kế hoạch năm {year}.")
    doc.add_paragraph("2.1. Tăng cường công tác thông tin truyền thông về năng suất, chất lượng")
    doc.add_paragraph("Tổ chức 01 hội nghị với 48 người tham dự.")
    doc.add_paragraph("2.2. Đào tạo nguồn nhân lực cho hoạt động nâng cao năng suất chất lượng")
    doc.add_paragraph("Tổ chức 01 khóa đào tạo với 82 người tham dự.")
    doc.add_paragraph("II. Đánh giá, nhận xét")
    doc.add_paragraph("1. Mặt làm được")
    doc.add_paragraph("2. Mặt tồn tại, hạn chế, nguyên nhân")
    doc.add_paragraph(f"III. Phương hướng triển khai trong năm {year + 1}")
    for i in range(extra_paragraphs):
        doc.add_paragraph(f"Nội dung bổ sung {i}.")
    doc.add_paragraph("GIÁM ĐỐC")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def report_email(sender: str = "vanthu@skhcn.tayninh.gov.vn", province: str = "Tây Ninh", year: int = 2024,
                 to: str = "baocao@tdc.example.vn", date: datetime | None = None, with_docx: bool = True,
                 subject: str | None = None, message_id: str | None = None, filename: str | None = None) -> bytes:
    """An agency's report as its clerk mails it: the .docx attached (named ``filename``), a short covering text."""
    msg = EmailMessage()
    msg["From"] = f"Sở KH&CN {province} <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject or f"Báo cáo kết quả thực hiện Chương trình 1322 năm {year} của tỉnh {province}"
    msg["Date"] = format_datetime(date or datetime(year, 11, 20, 9, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=sender.split("@")[1])
    msg.set_content(
        f"Kính gửi Bộ Khoa học và Công nghệ,\n\nSở Khoa học và Công nghệ tỉnh {province} xin gửi báo cáo kết quả "
        f"triển khai Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng năm {year} "
        "(tệp đính kèm).\n\nTrân trọng.\n"
    )
    if with_docx:
        msg.add_attachment(report_docx(province, year), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                           filename=filename or f"Báo cáo NSCL năm {year}.docx")
    return msg.as_bytes()


def auto_reply(sender: str = "vanthu@skhcn.tayninh.gov.vn", to: str = "baocao@tdc.example.vn") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "Trả lời tự động: Đã nhận báo cáo năm 2024"
    msg["Auto-Submitted"] = "auto-replied"
    msg["Message-ID"] = make_msgid(domain="skhcn.tayninh.gov.vn")
    msg.set_content("Tôi đang đi công tác đến hết ngày 30/11. Xin cảm ơn.")
    return msg.as_bytes()


def bounce(to: str = "baocao@tdc.example.vn") -> bytes:
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.vn>\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.vn>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe mail could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.vn\r\n\r\n"
        "Final-Recipient: rfc822; nobody@example.vn\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b1--\r\n"
    )
    return raw.encode()


def newsletter(to: str = "baocao@tdc.example.vn") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Bản tin NSCL <bantin@nscl.example.vn>"
    msg["To"] = to
    msg["Subject"] = "Bản tin năng suất chất lượng số 11/2024"
    msg["List-Id"] = "<bantin.nscl.example.vn>"
    msg["List-Unsubscribe"] = "<mailto:unsubscribe@nscl.example.vn>"
    msg["Message-ID"] = make_msgid(domain="nscl.example.vn")
    msg.set_content("Tin tức về Chương trình năng suất chất lượng năm 2024 trên cả nước.")
    return msg.as_bytes()


def agency_question() -> bytes:
    """Tây Ninh's clerk asking about the form by mail: the agency's own mail that is not its report."""
    msg = EmailMessage()
    msg["From"] = "Văn thư Sở KH&CN <vanthu@skhcn.tayninh.gov.vn>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = "Hỏi về mẫu biểu"
    msg["Date"] = format_datetime(datetime(2024, 11, 18, 2, 0, tzinfo=UTC))
    msg["Message-ID"] = "<hoi-1@skhcn.tayninh.gov.vn>"
    msg.set_content("Kính gửi anh chị, cho em hỏi mẫu biểu năm nay có thay đổi gì không ạ. Em cảm ơn.")
    return msg.as_bytes()


def with_headers(raw: bytes, *fields: str) -> bytes:
    """``fields`` above the mail's own header lines, first one on top, as each server on the way adds its own."""
    return "".join(f"{f}\r\n" for f in fields).encode() + raw


def vouched(raw: bytes, domain: str, broken_dkim: bool = False) -> bytes:
    """``raw`` as our receiving server passes it on after DMARC passed for ``domain`` (and maybe a DKIM
    signature broke on the way): its Authentication-Results above its own Received line."""
    broken = f"; dkim=fail (body hash did not verify) header.d={domain}" if broken_dkim else ""
    return with_headers(raw, f"Authentication-Results: {OUR_SERVER}; dmarc=pass header.from={domain}{broken}",
                        OUR_RECEIVED)


def disguised_report(sender: str = "nguyenvana.work@gmail.com",
                     date: datetime = datetime(2024, 11, 20, 2, 0, tzinfo=UTC)) -> bytes:
    """A real report whose mail says nothing of the programme: only the attached document does."""
    msg = EmailMessage()
    msg["From"] = f"Nguyễn Văn A <{sender}>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = "Gửi anh chị tài liệu"
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = "<tl-1@gmail.com>"
    msg.set_content("Em gửi anh chị tài liệu đính kèm.")
    msg.add_attachment(report_docx(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="tai-lieu.docx")
    return msg.as_bytes()


def attachment_mail(filename: str, data: bytes, ctype: str = DOCX_TYPE,
                    subject: str = "Báo cáo kết quả Chương trình 1322 năm 2024", sender: str = TAY_NINH_SENDER,
                    body: str = "Kính gửi Bộ Khoa học và Công nghệ, xin gửi báo cáo năm 2024 (tệp đính kèm).") -> bytes:
    """Tây Ninh's clerk sending one file, whatever its bytes: the carrier for odd and hostile attachments."""
    msg = EmailMessage()
    msg["From"] = f"Văn thư <{sender}>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 20 Nov 2024 09:00:00 +0700"
    msg["Message-ID"] = make_msgid(domain="skhcn.tayninh.gov.vn")
    msg.set_content(body)
    maintype, subtype = ctype.split("/", 1)
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
