"""Corpus shapes of issue 24: submissions that come without an ordinary attachment, and mail
that looks like the annual report and is not.

Each case states, as ``tests/corpus/build.py`` does, what a careful coordinator
would say about the message, and also how the report came (``delivery``), the
links it names, the further readings of the same mail (another year's file),
the files the main reading stands on and the office the mail was addressed to
when this mailbox was only copied. Written in the style of real provincial
mail (an e-office notice, a Google Drive share, a copier's scan, Outlook's
winmail.dat); real ones are stranger.

    python -m tests.corpus.shapes DEST     # writes NNN-name.eml and labels.json
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from intake.model import BODY, FILE, LINK, PHOTOS
from tests.corpus.build import BOT, Case, docx_att, mail, utc, write_corpus
from tests.corpus.docs import (
    PROGRAMME,
    docx_bytes,
    plain_docx,
    province_report,
    text_pdf,
)
from tests.corpus.pictures import logo_png, page_rows, photo_page, winmail


@dataclass
class Shape(Case):
    """A corpus case with the rest of the expected reading (``intake.model.Classification``)."""

    delivery: str = FILE
    links: list[str] = field(default_factory=list)
    also: list[dict] = field(default_factory=list)  # {"year": …, "documents": […]} per further reading
    documents: list[str] = field(default_factory=list)
    copied_to: str | None = None
    reason: str | None = None  # a phrase (folded words) the reasons must contain

    def label(self) -> dict:
        return {**super().label(), "delivery": self.delivery, "links": self.links, "also": self.also,
                "documents": self.documents, "copied_to": self.copied_to, "reason": self.reason}


SHAPES: list[Callable[[], Shape]] = []


def shape(fn: Callable[[], Shape]) -> Callable[[], Shape]:
    SHAPES.append(fn)
    return fn


# ---------------------------------------------------------------- a link instead of a file

ONEDRIVE = "https://1drv.ms/b/c/4f2a9c1d7e3b8a60/EYx3kQ2m9RlJm7tVb0pQ4ZkBq1n8c2vWcX5s_yT9uP0aHg?e=Kp2dQx"
SHAREPOINT = ("https://gialaigovvn-my.sharepoint.com/:b:/g/personal/qlcn_skhcn_gialai_gov_vn/"
              "EaT7cP0kq3ZLm2R9sV8xW1ABc4dEfGhIjKlMnOpQrStUvW?e=4hT7Lm")


@shape
def onedrive_link_too_large() -> Shape:
    when = utc(2025, 11, 27, 8)
    body = ("Kính gửi: Ủy ban Tiêu chuẩn Đo lường Chất lượng quốc gia\n\n"
            "Thực hiện Công văn của Bộ Khoa học và Công nghệ về việc báo cáo kết quả thực hiện Chương trình "
            "năm 2025, Sở Khoa học và Công nghệ tỉnh Gia Lai gửi Báo cáo kết quả thực hiện Chương trình quốc "
            "gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng sản phẩm, hàng hóa năm 2025.\n\n"
            "Do tệp báo cáo kèm các phụ lục (bản scan đã ký số) có dung lượng khoảng 38 MB, vượt quá giới "
            "hạn của hệ thống thư công vụ, Sở xin gửi qua đường link dưới đây, đề nghị Quý Ủy ban tải về:\n"
            f"{ONEDRIVE}\n\n"
            f"Trường hợp không mở được, xin tải theo link dự phòng: {SHAREPOINT}\n\n"
            "Trân trọng./.\n--\nNguyễn Thị Hồng\nPhòng Quản lý công nghệ - Sở KH&CN Gia Lai\nĐT: 0269 3824 xxx\n")
    msg = mail("Phòng QLCN - Sở KH&CN Gia Lai <qlcn.skhcn@gialai.gov.vn>",
               "V/v gửi Báo cáo kết quả thực hiện Chương trình NSCL năm 2025 (tệp dung lượng lớn)", body, when)
    return Shape("onedrive-link-too-large", msg.as_bytes(), "report", "gia-lai", 2025, when,
                 "the report is too large for mail: OneDrive link and a SharePoint fallback",
                 delivery=LINK, links=[ONEDRIVE, SHAREPOINT])


DRIVE_FOLDER = "https://drive.google.com/drive/folders/1Qw8ErTy2UiOp4AsDf6GhJk0LzXcVbNm7?usp=sharing"


@shape
def drive_folder_link_in_html() -> Shape:
    when = utc(2024, 11, 29, 9)
    html = ("<div dir=\"ltr\"><div>Kính gửi Ủy ban TĐC quốc gia,</div><div><br></div>"
            "<div>Sở KH&amp;CN tỉnh Đắk Lắk gửi Báo cáo kết quả thực hiện Chương trình NSCL năm 2024 và các phụ "
            "lục số liệu. Do các tệp phụ lục là bản scan dung lượng lớn nên Sở gửi qua Google Drive:</div>"
            f"<div><a href=\"{DRIVE_FOLDER}\" target=\"_blank\">Báo cáo NSCL 2024 - Đắk Lắk (thư mục)</a></div>"
            "<div><br></div><div>Trân trọng,</div><div>--</div><div>Trần Văn Thành</div>"
            "<div>Chi cục TĐC - Sở KH&amp;CN Đắk Lắk</div>"
            "<div><img src=\"https://ci3.googleusercontent.com/meips/logo-skhcn.png\" width=\"80\"></div></div>")
    msg = mail("Trần Văn Thành <tdc@daklak.gov.vn>", "Báo cáo NSCL năm 2024 - Sở KH&CN Đắk Lắk", "", when, html=html)
    return Shape("drive-folder-link-in-html", msg.as_bytes(), "report", "dak-lak", 2024, when,
                 "a Google Drive folder behind the anchor text of an HTML body; a remote logo is no link",
                 delivery=LINK, links=[DRIVE_FOLDER])


DROPBOX = "https://www.dropbox.com/scl/fi/8h3k2l9m4n5p6q7r/BC-NSCL-2024-BXD.pdf?rlkey=a1b2c3d4e5f6g7h8&dl=0"


@shape
def dropbox_link_from_a_ministry_gmail() -> Shape:
    when = utc(2024, 12, 3, 2)
    body = ("Kính gửi Ủy ban Tiêu chuẩn Đo lường Chất lượng quốc gia,\n\n"
            "Vụ Khoa học công nghệ và Môi trường - Bộ Xây dựng gửi Báo cáo kết quả thực hiện năm 2024 của "
            "Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng sản phẩm, hàng hóa "
            "(Chương trình 1322). Tệp đính kèm quá dung lượng nên xin gửi link tải:\n"
            f"{DROPBOX}\n\nTrân trọng,\nPhạm Quốc Bảo\nVụ KHCN&MT - Bộ Xây dựng\n")
    msg = mail("Pham Quoc Bao <baopq.vukhcn@gmail.com>", "Bộ Xây dựng gửi báo cáo Chương trình 1322 năm 2024",
               body, when)
    return Shape("dropbox-link-ministry-gmail", msg.as_bytes(), "report", "bo-xay-dung", 2024, when,
                 "a ministry official's gmail with a Dropbox link; the ministry only named in the text",
                 delivery=LINK, links=[DROPBOX])


EOFFICE = "https://qlvb.tayninh.gov.vn/vbdi/chi-tiet?id=8812345&key=3f9a1c0e7b"


@shape
def eoffice_notice() -> Shape:
    when = utc(2025, 11, 26, 1)
    html = (
        "<html><body><p><b>HỆ THỐNG QUẢN LÝ VĂN BẢN VÀ ĐIỀU HÀNH TỈNH TÂY NINH</b></p>"
        "<p>Thông báo văn bản điện tử gửi đến đơn vị: Ủy ban Tiêu chuẩn Đo lường Chất lượng quốc gia</p>"
        "<table border=\"1\" cellpadding=\"4\">"
        "<tr><td>Đơn vị ban hành</td><td>Sở Khoa học và Công nghệ tỉnh Tây Ninh</td></tr>"
        "<tr><td>Số/Ký hiệu</td><td>Số: 1234/SKHCN-QLKH</td></tr>"
        "<tr><td>Ngày ban hành</td><td>25/11/2025</td></tr>"
        "<tr><td>Loại văn bản</td><td>Báo cáo</td></tr>"
        "<tr><td>Trích yếu</td><td>Báo cáo kết quả triển khai nhiệm vụ của Chương trình quốc gia hỗ trợ doanh "
        "nghiệp nâng cao năng suất và chất lượng sản phẩm, hàng hóa năm 2025 trên địa bàn tỉnh Tây Ninh</td></tr>"
        "<tr><td>Người ký</td><td>Nguyễn Văn Hùng - Phó Giám đốc</td></tr>"
        "<tr><td>Độ khẩn</td><td>Thường</td></tr></table>"
        f"<p>Xem và tải văn bản tại: <a href=\"{EOFFICE}\">{EOFFICE}</a></p>"
        "<p><i>Đây là thư tự động từ hệ thống, vui lòng không trả lời thư này.</i></p></body></html>")
    msg = mail("Hệ thống QLVB Tây Ninh <noreply.qlvb@tayninh.gov.vn>",
               "[QLVB] Văn bản đi số 1234/SKHCN-QLKH ngày 25/11/2025", "", when, html=html)
    return Shape("eoffice-notice", msg.as_bytes(), "report", "tay-ninh", 2025, when,
                 "the province's e-office system: document number, trích yếu naming the programme and year, a link",
                 delivery=LINK, links=[EOFFICE])


DRIVE_DOC = "https://docs.google.com/document/d/1x8QkR2vTn5bLp0mWc7YdZs3uHfGjA9eKq4iO6rE2tYw/edit?usp=sharing_eil_se_dm&ts=673f1c2a"


def drive_share(sharer: str, sharer_addr: str, title: str, note: str, when: datetime, to: str = BOT) -> EmailMessage:
    """A Google Drive share notification: Google's no-reply sender on the official's behalf, Reply-To the official."""
    text = (f"{sharer} đã chia sẻ một tài liệu\n\n"
            f"{sharer} ({sharer_addr}) đã mời bạn chỉnh sửa tài liệu sau:\n\n{note}\n\n{title}\n{DRIVE_DOC}\n\nMở\n\n"
            "Nếu bạn không muốn nhận tệp từ người này, hãy chặn người gửi trên Drive\n"
            "Google LLC, 1600 Amphitheatre Parkway, Mountain View, CA 94043, USA\n"
            f"Bạn đã nhận được email này vì {sharer_addr} đã chia sẻ một tài liệu với bạn từ Google Tài liệu.\n")
    html = ("<html><body><table><tr><td><img src=\"https://ssl.gstatic.com/docs/documents/share/images/services/"
            f"document-2.png\" alt=\"Logo for Google Docs\"></td></tr><tr><td>{sharer} ({sharer_addr}) đã mời bạn "
            f"chỉnh sửa tài liệu sau:</td></tr><tr><td><p>{note}</p></td></tr>"
            f"<tr><td><a href=\"{DRIVE_DOC}\">{title}</a></td></tr>"
            f"<tr><td><a href=\"{DRIVE_DOC}\" style=\"background:#1a73e8\">Mở</a></td></tr>"
            "<tr><td><a href=\"https://support.google.com/drive/answer/10854746\">chặn người gửi</a> · "
            "<a href=\"https://www.google.com/policies/privacy/\">Chính sách quyền riêng tư</a></td></tr>"
            "<tr><td>Google LLC, 1600 Amphitheatre Parkway, Mountain View, CA 94043, USA</td></tr>"
            "</table></body></html>")
    msg = mail(f"\"{sharer} (via Google Drive)\" <drive-shares-dm-noreply@google.com>",
               f"Tài liệu được chia sẻ với bạn: \"{title}\"", text, when, to=to,
               headers={"Reply-To": f"{sharer} <{sharer_addr}>"})
    msg.add_alternative(html, subtype="html")
    return msg


@shape
def google_drive_share_notice() -> Shape:
    when = utc(2025, 11, 28, 7)
    msg = drive_share("Lê Thị Mai", "mailt.skhcn@quangtri.gov.vn",
                      "Báo cáo kết quả thực hiện Chương trình NSCL năm 2025 - Sở KH&CN Quảng Trị",
                      "Kính gửi Ủy ban TĐC, Sở KH&CN Quảng Trị gửi báo cáo năm 2025 (bản có phụ lục), "
                      "nhờ anh chị xem giúp ạ.", when)
    return Shape("google-drive-share", msg.as_bytes(), "report", "quang-tri", 2025, when,
                 "Google's no-reply sender on the official's behalf; the official in Reply-To; the title names the "
                 "report",
                 delivery=LINK, links=[DRIVE_DOC], reason="mailt skhcn quangtri gov vn")


# ---------------------------------------------------------------- the report written in the body

def _indicator_table(year: int) -> str:
    rows = [
        ("1", "Số doanh nghiệp được hỗ trợ áp dụng hệ thống quản lý, công cụ cải tiến năng suất chất lượng",
         "Doanh nghiệp", "20", "18", "90"),
        ("2", "Số lượt người được đào tạo, tập huấn về năng suất chất lượng", "Lượt người", "300", "282", "94"),
        ("3", "Số tin, bài, phóng sự tuyên truyền về năng suất chất lượng", "Tin, bài", "50", "61", "122"),
    ]
    head = (f"<tr><th>STT</th><th>Nội dung</th><th>ĐVT</th><th>Kế hoạch năm {year}</th>"
            f"<th>Thực hiện năm {year}</th><th>Tỷ lệ (%)</th></tr>")
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border=\"1\" style=\"border-collapse:collapse\">{head}{body}</table>"


def body_report_html(province: str, year: int) -> str:
    """A report typed straight into an Outlook/webmail body: the outline's sections and an HTML indicator table."""
    doc = province_report(province, "tỉnh", year)
    paragraphs = []
    for line in doc.lines():
        paragraphs.append(f"<p class=MsoNormal>{line.replace('&', '&amp;')}</p>")
        if line.startswith("I. "):
            paragraphs.append(f"<p class=MsoNormal>Bảng 1. Kết quả thực hiện các chỉ tiêu năm {year}</p>")
            paragraphs.append(_indicator_table(year))
    return "<html><body>" + "\n".join(paragraphs) + "</body></html>"


@shape
def report_in_html_body_with_table() -> Shape:
    when = utc(2024, 11, 25, 4)
    msg = mail("Sở KH&CN Bắc Giang <skhcn@bacgiang.gov.vn>", "Báo cáo kết quả thực hiện Chương trình NSCL năm 2024",
               "", when, html=body_report_html("Bắc Giang", 2024))
    return Shape("report-in-html-body-with-table", msg.as_bytes(), "report", "bac-giang", 2024, when,
                 "the whole report typed into an HTML body, its indicator table an HTML <table>, no attachment",
                 delivery=BODY)


# ---------------------------------------------------------------- photos of the signed pages

def _photo_mail(sender: str, subject: str, intro: str, pages: list[bytes], when: datetime) -> EmailMessage:
    """An HTML body with the pages pasted in (multipart/related, each JPEG referenced by cid:) and a signature logo."""
    msg = mail(sender, subject, intro, when)
    ids = [make_msgid(domain="mail.gov.vn")[1:-1] for _ in pages]
    logo_id = make_msgid(domain="mail.gov.vn")[1:-1]
    images = "".join(f"<p><img src=\"cid:{cid}\" width=\"620\"></p>" for cid in ids)
    html = (f"<html><body><p>{intro.replace(chr(10), '<br>')}</p>{images}"
            f"<p>--<br><img src=\"cid:{logo_id}\" width=\"96\"> Văn thư Sở KH&amp;CN</p></body></html>")
    msg.add_alternative(html, subtype="html")
    related = msg.get_payload()[1]
    for number, (cid, data) in enumerate(zip(ids, pages, strict=False), start=1):
        related.add_related(data, maintype="image", subtype="jpeg", cid=f"<{cid}>",
                            filename=f"image{number:03d}.jpg", disposition="inline")
    related.add_related(logo_png(), maintype="image", subtype="png", cid=f"<{logo_id}>", filename="logo.png",
                        disposition="inline")
    return msg


@shape
def photos_of_signed_pages() -> Shape:
    when = utc(2025, 4, 21, 2)  # arrival alone would say 2025: the year is only in the pictures
    doc = province_report("Lào Cai", "tỉnh", 2024, date="15 tháng 4", extra=[
        ("Phối hợp với Đài Phát thanh - Truyền hình tỉnh thực hiện 04 phóng sự, 12 tin bài về năng suất chất lượng; "
        "đăng tải 25 tin trên Cổng thông tin điện tử của Sở."),
        ("Tổ chức 01 khóa đào tạo chuyên gia năng suất nội bộ cho 35 học viên của 14 doanh nghiệp chế biến nông sản, "
        "chè và dược liệu trên địa bàn tỉnh."),
        ("Hỗ trợ 03 doanh nghiệp áp dụng công cụ hỗ trợ sản xuất thông minh (phần mềm quản lý sản xuất, truy xuất "
        "nguồn gốc), kinh phí hỗ trợ 450 triệu đồng từ nguồn sự nghiệp khoa học và công nghệ của tỉnh.")])
    doc.place_date = "Lào Cai, ngày 15 tháng 4 năm 2025"
    first, second = page_rows(doc.lines())
    pages = [photo_page(first, angle=3.0, dark_corner=0), photo_page(second, angle=-2.5, dark_corner=2)]
    msg = _photo_mail("Văn thư Sở KH&CN Lào Cai <vanthu.skhcn@laocai.gov.vn>",
                      "Sở KH&CN Lào Cai gửi báo cáo Chương trình NSCL",
                      "Kính gửi Ủy ban TĐC quốc gia,\nSở xin gửi ảnh chụp báo cáo đã ký (bản chính gửi theo đường "
                      "bưu điện).\nTrân trọng.", pages, when)
    return Shape("photos-of-signed-pages", msg.as_bytes(), "report", "lao-cai", 2024, when,
                 "two tilted, unevenly lit photos pasted inline (cid:), year only in the pictures; a small logo too",
                 delivery=PHOTOS, documents=["image001.jpg", "image002.jpg"])


# ---------------------------------------------------------------- Outlook's winmail.dat

@shape
def winmail_wrapping_the_docx() -> Shape:
    when = utc(2025, 4, 16, 3)  # late: arrival alone would say 2025
    doc = province_report("Nghệ An", "tỉnh", 2024, place="Vinh")
    doc.place_date = "Vinh, ngày 14 tháng 4 năm 2025"
    stream = winmail({"Báo cáo NSCL năm 2024 - Nghệ An.docx": docx_bytes(doc)})
    msg = mail("Sở KH&CN Nghệ An <skhcn@nghean.gov.vn>", "Báo cáo Chương trình NSCL",
               "Kính gửi Ủy ban TĐC,\nSở gửi báo cáo (đính kèm).\nTrân trọng.", when,
               [("winmail.dat", "application/ms-tnef", stream)])
    return Shape("winmail-wrapping-the-docx", msg.as_bytes(), "report", "nghe-an", 2024, when,
                 "Outlook 'Rich Text': the .docx only inside winmail.dat; the year only in the document")


# ---------------------------------------------------------------- the office copier's scan

def _ocr_slips(line: str) -> str:
    """What a copier's OCR makes of a typed page: broken diacritics, l for 1, O for 0, Ð for Đ."""
    for good, slipped in (("ất", "ầt"), ("ỉnh", "lnh"), ("ọc", "qc"), ("ệ", "ẹ"), ("Đ", "Ð"), ("ả", "à"),
                          ("ương", "u'o'ng"), ("1322", "l322"), ("2021", "2O21")):
        line = line.replace(good, slipped)
    return line


@shape
def copier_scan_to_email() -> Shape:
    when = utc(2024, 11, 28, 8)
    doc = province_report("Hà Tĩnh", "tỉnh", 2024)
    doc.title_word = "BẢO CÁO"
    lines = [_ocr_slips(ln) for ln in doc.lines()]
    msg = mail("RICOH MP 3055 <scanner@skhcn.hatinh.gov.vn>", "Scanned from MFP",
               "This E-mail was sent from \"RNP00267332A1F3\" (MP 3055).\n\nScan Date: 28.11.2024 15:23:10 (+0700)\n"
               "Queries to: scanner@skhcn.hatinh.gov.vn\n", when,
               [("20241128152310.pdf", "application/pdf", text_pdf(lines))])
    return Shape("copier-scan-to-email", msg.as_bytes(), "report", "ha-tinh", 2024, when,
                 "the office copier's own mailbox, a generic subject, a searchable PDF full of OCR slips",
                 reason="may photocopy")


# ---------------------------------------------------------------- look like the annual report, are not

@shape
def two_years_older_first() -> Shape:
    when = utc(2024, 12, 5, 2)
    old = province_report("Bình Phước", "tỉnh", 2023, place="Đồng Xoài", date="20 tháng 11")
    new = province_report("Bình Phước", "tỉnh", 2024, place="Đồng Xoài")
    msg = mail("Sở KH&CN Bình Phước <skhcn@binhphuoc.gov.vn>",
               "Gửi báo cáo NSCL năm 2024 và báo cáo năm 2023 (gửi bổ sung)",
               "Kính gửi Ủy ban TĐC,\nSở gửi báo cáo kết quả năm 2024 và gửi bổ sung báo cáo năm 2023 (năm trước "
               "gửi nhầm địa chỉ).\nTrân trọng.", when,
               [docx_att("BC NSCL 2023 - bo sung.docx", docx_bytes(old)),
                docx_att("BC NSCL 2024.docx", docx_bytes(new))])
    return Shape("two-years-older-first", msg.as_bytes(), "report", "binh-phuoc", 2024, when,
                 "this year's report and last year's overdue one, the older attached first",
                 documents=["BC NSCL 2024.docx"], also=[{"year": 2023, "documents": ["BC NSCL 2023 - bo sung.docx"]}])


@shape
def six_month_report() -> Shape:
    when = utc(2025, 7, 10, 3)
    doc = province_report("Hưng Yên", "tỉnh", 2025, date="08 tháng 7",
                          title=f"Kết quả thực hiện {PROGRAMME} 6 tháng đầu năm 2025 trên địa bàn tỉnh Hưng Yên")
    msg = mail("Sở KH&CN Hưng Yên <skhcn@hungyen.gov.vn>", "Báo cáo 6 tháng đầu năm 2025 Chương trình NSCL",
               "Kính gửi Ủy ban TĐC,\nSở gửi báo cáo kết quả 6 tháng đầu năm 2025.\nTrân trọng.", when,
               [docx_att("BC 6 thang 2025.docx", docx_bytes(doc))])
    return Shape("six-month-report", msg.as_bytes(), "periodic", "hung-yen", None, when,
                 "a six-month report, the annual report's title shape", reason="6 thang")


@shape
def quarterly_report_subject_only() -> Shape:
    when = utc(2024, 10, 8, 3)
    doc = province_report("Thái Nguyên", "tỉnh", 2024, date="05 tháng 10",
                          title=f"Kết quả triển khai {PROGRAMME} quý III năm 2024")
    msg = mail("Chi cục TĐC Thái Nguyên <cctdc@thainguyen.gov.vn>", "BC quý III/2024 - NSCL Thái Nguyên",
               "Kính gửi,\nChi cục gửi báo cáo quý III năm 2024.\nTrân trọng.", when,
               [docx_att("BC_quy_III_2024.docx", docx_bytes(doc))])
    return Shape("quarterly-report", msg.as_bytes(), "periodic", "thai-nguyen", None, when,
                 "a quarterly report ('quý III')", reason="quy iii")


def _district_report() -> bytes:
    lines = ["UBND THÀNH PHỐ TÂY NINH", "PHÒNG KINH TẾ", "Số: 312/BC-KT", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
             "Độc lập - Tự do - Hạnh phúc", "Thành phố Tây Ninh, ngày 18 tháng 11 năm 2024", "BÁO CÁO",
             f"Kết quả thực hiện {PROGRAMME} năm 2024 trên địa bàn thành phố Tây Ninh",
             "Kính gửi: Sở Khoa học và Công nghệ tỉnh Tây Ninh.",
             ("Thực hiện Công văn số 1520/SKHCN-TĐC của Sở Khoa học và Công nghệ về việc báo cáo kết quả thực hiện "
             "Chương trình năng suất chất lượng năm 2024, Phòng Kinh tế thành phố báo cáo như sau:"),
             "I. Kết quả triển khai",
             "Phối hợp với Sở KH&CN tuyên truyền, hướng dẫn 12 doanh nghiệp, hợp tác xã trên địa bàn thành phố đăng "
             "ký tham gia Chương trình; 03 doanh nghiệp được hỗ trợ áp dụng công cụ 5S, Kaizen. " * 2,
             "II. Khó khăn, vướng mắc", "Doanh nghiệp nhỏ, siêu nhỏ còn ít quan tâm đến năng suất chất lượng.",
             "III. Đề xuất, kiến nghị", "Đề nghị Sở KH&CN tiếp tục hỗ trợ kinh phí đào tạo cho doanh nghiệp.",
             "Nơi nhận:", "- Như trên;", "- Lưu: VT.", "TRƯỞNG PHÒNG", "Lê Minh Tâm"]
    return plain_docx(lines)


@shape
def district_report_to_its_province() -> Shape:
    when = utc(2024, 11, 19, 2)
    msg = mail("Phòng Kinh tế TP Tây Ninh <phongkinhte.tptn@tayninh.gov.vn>",
               "Báo cáo kết quả thực hiện Chương trình NSCL năm 2024 - TP Tây Ninh",
               "Kính gửi Sở KH&CN tỉnh Tây Ninh,\nPhòng Kinh tế thành phố gửi báo cáo (đính kèm), đồng gửi Ủy ban TĐC "
               "để biết.\nTrân trọng.", when,
               [docx_att("BC NSCL 2024 TP Tay Ninh.docx", _district_report())], to="skhcn@tayninh.gov.vn",
               headers={"Cc": BOT})
    return Shape("district-report-to-its-province", msg.as_bytes(), "other", "tay-ninh", None, when,
                 "a city's report To the province's department, this mailbox only in Cc",
                 copied_to="skhcn@tayninh.gov.vn", reason="dong gui")


def _national_task_report() -> bytes:
    lines = ["CÔNG TY CỔ PHẦN TƯ VẤN NĂNG SUẤT VIỆT", "Số: 45/BC-NSV", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
             "Độc lập - Tự do - Hạnh phúc", "Hà Nội, ngày 12 tháng 6 năm 2025", "BÁO CÁO",
             f"Kết quả thực hiện nhiệm vụ thuộc {PROGRAMME} năm 2024",
             ("Tên nhiệm vụ: Xây dựng và áp dụng mô hình điểm về cải tiến năng suất chất lượng cho doanh nghiệp "
             "chế biến nông sản vùng đồng bằng sông Hồng"),
             "Mã số: NSCL.2024.05",
             "Tổ chức chủ trì: Công ty Cổ phần Tư vấn Năng suất Việt",
             "Kính gửi: Văn phòng Chương trình quốc gia nâng cao năng suất và chất lượng",
             "I. Kết quả thực hiện",
             "Đã khảo sát 24 doanh nghiệp tại các tỉnh Bắc Ninh, Hưng Yên, Hải Phòng và Ninh Bình; lựa chọn 06 doanh "
             "nghiệp xây dựng mô hình điểm áp dụng Lean, 5S. Tổ chức 02 lớp đào tạo tại Bắc Ninh và Hưng Yên. " * 2,
             "II. Tiến độ so với hợp đồng", ("Hoàn thành 60% khối lượng; nội dung 3 chậm 01 tháng do doanh nghiệp tại "
             "Ninh Bình thay đổi kế hoạch sản xuất."),
             "III. Kiến nghị", "Đề nghị Văn phòng Chương trình cho phép điều chỉnh tiến độ nội dung 3.",
             "Nơi nhận:", "- Như trên;", "- Lưu: VT.", "TỔNG GIÁM ĐỐC", "Đỗ Thanh Hải"]
    return plain_docx(lines)


@shape
def national_task_progress() -> Shape:
    when = utc(2025, 6, 13, 4)
    msg = mail("Công ty CP Tư vấn Năng suất Việt <vanphong@nangsuatviet.com.vn>",
               "Báo cáo kết quả thực hiện nhiệm vụ NSCL.2024.05 thuộc Chương trình NSCL",
               "Kính gửi Văn phòng Chương trình,\nCông ty gửi báo cáo kết quả thực hiện nhiệm vụ mã số NSCL.2024.05 "
               "(đính kèm).\nTrân trọng.", when, [docx_att("BC nhiem vu NSCL.2024.05.docx", _national_task_report())])
    return Shape("national-task-progress", msg.as_bytes(), "other", None, None, when,
                 "a national task's report (task code, a company as host, several provinces named)",
                 reason="nscl 2024 05")


def build(dest: Path) -> list[tuple[Path, dict]]:
    """Write every shape as NNN-name.eml plus labels.json; return (path, label) pairs."""
    return write_corpus(dest, SHAPES)


if __name__ == "__main__":  # pragma: no cover
    for path, label in build(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus-shapes")):
        print(path.name, label["kind"], label["agency"], label["year"], label["delivery"])
