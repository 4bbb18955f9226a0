"""Issue 24, the reading: each shape of submission through ``understand()``, and the mail that only looks like one.

Every case is a message from tests/corpus/shapes.py (or a variant built
beside it) read by the whole chain (parse → guards → documents → classify →
outline and indicators), so each test proves what the workflow will receive.
"""
from __future__ import annotations

import socket
from datetime import datetime
from email.message import EmailMessage

import pytest

from intake.classify.copier import copier_sender
from intake.classify.links import report_links
from intake.classify.programme import mentions_programme
from intake.classify.sharing import shared_by
from intake.classify.year import reported_years
from intake.documents import read_attachment, sniff_format, tnef
from intake.documents.body import BODY_NAME
from intake.documents.sandbox import needs_child
from intake.machine.guards import check
from intake.message.parse import parse
from intake.model import BODY, FILE, LINK, PHOTOS, RawMessage
from intake.pipeline import IntakeContext, Understanding, understand
from reference.text import words
from tests.corpus import shapes
from tests.corpus.build import BOT, docx_att, mail, reading_context, utc
from tests.corpus.docs import docx_bytes, province_report
from tests.corpus.pictures import page_rows, photo_page, winmail


@pytest.fixture(scope="module")
def ctx(roster, campaigns) -> IntakeContext:
    return reading_context(roster, campaigns, own_domain="tcvn.gov.vn")


def read(message: bytes | EmailMessage, when: datetime, ctx: IntakeContext) -> Understanding:
    raw = message.as_bytes() if isinstance(message, EmailMessage) else message
    return understand(RawMessage("test:1", raw, when, "test"), ctx, store=None)


def read_case(case: shapes.Shape, ctx: IntakeContext) -> Understanding:
    return read(case.message, case.arrived_at, ctx)


def folded_reasons(u: Understanding) -> str:
    return words(" ".join(u.reading().reasons + u.review_reasons))


# ---------------------------------------------------------------- a link instead of a file

def test_a_link_instead_of_a_file_is_a_report_delivered_by_link(ctx):
    case = shapes.onedrive_link_too_large()
    u = read_case(case, ctx)
    cls = u.reading()
    assert (cls.kind, cls.agency, cls.year, cls.delivery) == ("report", "gia-lai", 2025, LINK)
    assert cls.links == [shapes.ONEDRIVE, shapes.SHAREPOINT]
    assert u.outline is None  # nothing to check yet: no section is reported missing for a link
    assert not any("thieu muc" in words(r) for r in u.review_reasons)


def test_links_are_recorded_never_followed(ctx, monkeypatch):
    """Reading a link mail opens no connection: the URL is text, whatever it points to."""
    def refuse(*args, **kwargs):
        raise AssertionError("a link from a message was followed")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    for make in (shapes.onedrive_link_too_large, shapes.drive_folder_link_in_html, shapes.eoffice_notice,
                 shapes.google_drive_share_notice):
        assert read_case(make(), ctx).reading().delivery == LINK


def test_only_links_that_can_hold_the_report_are_kept():
    """The Drive folder behind anchor text is kept; the signature's remote logo, Google's help and privacy pages
    are not."""
    env = parse(shapes.drive_folder_link_in_html().message)
    assert report_links(env) == [shapes.DRIVE_FOLDER]
    share = parse(shapes.google_drive_share_notice().message)
    assert report_links(share) == [shapes.DRIVE_DOC]
    plain = parse(mail("a@gmail.com", "Hỏi", "Xem https://www.google.com/search?q=nscl và https://tayninh.gov.vn/tin-tuc",
                       utc(2024, 11, 1)).as_bytes())
    assert report_links(plain) == []  # a gov.vn page counts only in an e-office notice


def test_an_eoffice_notice_is_the_report_by_link(ctx):
    case = shapes.eoffice_notice()
    cls = read_case(case, ctx).reading()
    assert (cls.kind, cls.agency, cls.year, cls.delivery) == ("report", "tay-ninh", 2025, LINK)
    assert cls.links == [shapes.EOFFICE]


def test_a_report_link_from_an_unknown_gmail_names_the_ministry_from_the_text(ctx):
    cls = read_case(shapes.dropbox_link_from_a_ministry_gmail(), ctx).reading()
    assert (cls.kind, cls.agency, cls.year, cls.delivery, cls.links) == (
        "report", "bo-xay-dung", 2024, LINK, [shapes.DROPBOX])
    assert cls.confidence < 0.6  # a stranger's address: a coordinator confirms


# ---------------------------------------------------------------- Google Drive share notification

def test_a_drive_share_is_read_from_the_official_in_reply_to(ctx):
    case = shapes.google_drive_share_notice()
    u = read_case(case, ctx)
    cls = u.reading()
    assert u.verdict is not None and u.verdict.action == "accept"  # not set aside as no-reply mail
    assert (cls.kind, cls.agency, cls.year, cls.delivery, cls.links) == (
        "report", "quang-tri", 2025, LINK, [shapes.DRIVE_DOC])
    assert u.envelope is not None and u.envelope.reply_to == ["mailt.skhcn@quangtri.gov.vn"]
    assert "reply to" in folded_reasons(u) and "mailt skhcn quangtri gov vn" in folded_reasons(u)


def test_a_drive_share_from_a_gmail_passes_the_guards_because_it_names_the_programme(ctx):
    """Neither the robot nor a gmail Reply-To is an agency's: the programme in the title keeps it from the
    no-reply rule."""
    msg = shapes.drive_share("Nguyễn Văn An", "annv.tdc@gmail.com",
                             "BC kết quả thực hiện Chương trình NSCL năm 2025 - Sở KH&CN tỉnh Cà Mau",
                             "Em gửi báo cáo ạ.", utc(2025, 11, 27))
    env = parse(msg.as_bytes())
    assert check(env, {BOT}, "tcvn.gov.vn").kind == "noreply"  # what the heuristics alone would do
    assert mentions_programme(env)
    assert check(env, {BOT}, "tcvn.gov.vn", about_programme=True).action == "accept"
    assert shared_by(env) is not None and shared_by(env).name == "Nguyễn Văn An"
    cls = read(msg, utc(2025, 11, 27), ctx).reading()
    assert (cls.kind, cls.agency, cls.year, cls.delivery) == ("report", "ca-mau", 2025, LINK)


def test_google_mail_without_a_reply_to_names_no_sharer():
    msg = mail("Google <drive-shares-dm-noreply@google.com>", "Tài liệu được chia sẻ với bạn", "x", utc(2025, 1, 2))
    assert shared_by(parse(msg.as_bytes())) is None


# ---------------------------------------------------------------- the report written in the body

def test_a_report_in_the_html_body_is_read_as_the_document(ctx):
    u = read_case(shapes.report_in_html_body_with_table(), ctx)
    cls = u.reading()
    assert (cls.kind, cls.agency, cls.year, cls.delivery) == ("report", "bac-giang", 2024, BODY)
    assert [row.result for row in u.indicators] == [18.0, 282.0, 61.0]  # the HTML <table>, read as a grid
    assert u.outline is not None and "I" in u.outline.present and "III" in u.outline.present
    assert all(d.filename != BODY_NAME for d in u.documents)  # the attachments' list stays the attachments'


# ---------------------------------------------------------------- photos of the signed pages

def test_photos_pasted_in_the_body_are_read_with_ocr(ctx):
    u = read_case(shapes.photos_of_signed_pages(), ctx)
    cls = u.reading()
    assert (cls.kind, cls.agency, cls.year, cls.delivery) == ("report", "lao-cai", 2024, PHOTOS)
    assert cls.documents == ["image001.jpg", "image002.jpg"]  # the logo is not read
    assert [d.filename for d in u.documents] == ["image001.jpg", "image002.jpg"]


def test_photos_in_mail_that_is_not_a_report_are_not_ocrd(ctx):
    """Pictures of an event, no word of a report: the inline images are never given to OCR."""
    first, _ = page_rows(["Hội nghị tập huấn doanh nghiệp tại Sa Pa"] * 3 + [""] * 40)
    pages = [photo_page(first), photo_page(first, angle=-2)]
    msg = shapes._photo_mail("Văn thư <vanthu.skhcn@laocai.gov.vn>", "Ảnh hội nghị tập huấn",
                             "Gửi anh chị ảnh hội nghị hôm qua.", pages, utc(2024, 10, 2))
    u = read(msg, utc(2024, 10, 2), ctx)
    assert u.documents == [] and u.reading().kind == "other"


def test_photos_beside_an_attached_report_are_not_read(ctx):
    case = shapes.photos_of_signed_pages()
    msg = shapes._photo_mail("Văn thư <vanthu.skhcn@laocai.gov.vn>", "Gửi báo cáo NSCL năm 2024", "Gửi báo cáo.",
                             [photo_page(["ảnh"] * 3)] * 2, case.arrived_at)
    msg.add_attachment(docx_bytes(province_report("Lào Cai", "tỉnh", 2024)), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="BC.docx")
    u = read(msg, case.arrived_at, ctx)
    assert [d.filename for d in u.documents] == ["BC.docx"] and u.reading().delivery == FILE


# ---------------------------------------------------------------- Outlook's winmail.dat

def test_winmail_dat_is_opened_and_its_docx_read(ctx):
    case = shapes.winmail_wrapping_the_docx()
    u = read_case(case, ctx)
    cls = u.reading()
    assert (cls.kind, cls.agency, cls.year) == ("report", "nghe-an", 2024)  # 2024 only in the document
    assert [d.filename for d in u.documents] == ["winmail.dat/Báo cáo NSCL năm 2024 - Nghệ An.docx"]
    assert u.documents[0].format == "docx" and len(u.documents[0].text) > 1000


def _winmail_mail(stream: bytes) -> EmailMessage:
    return mail("Sở KH&CN Nghệ An <skhcn@nghean.gov.vn>", "Báo cáo kết quả Chương trình NSCL năm 2024",
                "Kính gửi Ủy ban TĐC,\nSở gửi báo cáo.\nTrân trọng.", utc(2024, 11, 28),
                [("winmail.dat", "application/ms-tnef", stream)])


def test_an_unopenable_winmail_says_so_and_lists_no_missing_sections(ctx):
    broken = b"\x78\x9f\x3e\x22" + bytes(range(256)) * 4  # the signature, then garbage
    u = read(_winmail_mail(broken), utc(2024, 11, 28), ctx)
    assert u.reading().kind == "report"
    assert [d.needs_review for d in u.documents] == [tnef.UNOPENED]
    assert u.outline is None
    assert any("winmail.dat" in r and "Không mở được" in r for r in u.review_reasons)
    assert not any("thieu muc" in words(r) for r in u.review_reasons)


def test_a_broken_docx_inside_winmail_is_reported_unreadable_not_as_gaps(ctx):
    u = read(_winmail_mail(winmail({"BC NSCL 2024.docx": b"PK\x03\x04 not really a docx"})), utc(2024, 11, 28), ctx)
    assert [d.filename for d in u.documents] == ["winmail.dat/BC NSCL 2024.docx"]
    assert "Không đọc được tệp DOCX" in (u.documents[0].needs_review or "")
    assert u.outline is None and not any("thieu muc" in words(r) for r in u.review_reasons)


def test_winmail_is_read_by_the_document_reader():
    """Direct: read_attachment opens the stream (it runs in the budgeted child, as every heavy format)."""
    stream = winmail({"a.docx": docx_bytes(province_report("Nghệ An", "tỉnh", 2024))})
    assert needs_child(sniff_format("winmail.dat", "application/ms-tnef", stream))
    docs = read_attachment("winmail.dat", "application/ms-tnef", stream)
    assert [d.filename for d in docs] == ["winmail.dat/a.docx"] and "NGHỆ AN" in docs[0].text


# ---------------------------------------------------------------- the office copier

def test_a_copiers_scan_is_the_domains_report_with_a_reason(ctx):
    u = read_case(shapes.copier_scan_to_email(), ctx)
    cls = u.reading()
    assert (cls.kind, cls.agency, cls.year, cls.delivery) == ("report", "ha-tinh", 2024, FILE)
    assert any("máy photocopy" in r and "scanner@skhcn.hatinh.gov.vn" in r for r in cls.reasons)
    assert "tiêu đề (tệp đính kèm '20241128152310.pdf'): 'năm 2024'" in cls.reasons  # the slipped title still says 2024


@pytest.mark.parametrize("sender, subject, with_file, copier", [
    ("RICOH MP 3055 <scanner@skhcn.tayninh.gov.vn>", "Scanned from MFP", True, True),
    ("<scan.vanthu@skhcn.hatinh.gov.vn>", "Báo cáo", True, True),
    ("Văn thư Sở <vanthu@skhcn.hatinh.gov.vn>", "Message from KM_C3350", True, True),
    ("Nguyễn Văn Sáng <sangnv@skhcn.hatinh.gov.vn>", "Gửi bản scan báo cáo NSCL", True, False),
    ("Văn thư Sở <vanthu@skhcn.hatinh.gov.vn>", "Scanned from MFP", False, False),  # no file: a person's words
])
def test_the_copier_is_told_from_a_person(sender, subject, with_file, copier):
    files = [("scan.pdf", "application/pdf", b"%PDF-1.4\n")] if with_file else []
    env = parse(mail(sender, subject, "Xem tệp.", utc(2024, 11, 28), files).as_bytes())
    assert (copier_sender(env) is not None) is copier


def test_ocr_slips_in_a_year_are_read_as_the_year():
    assert reported_years("Kết quả triền khai Chương trình giai đoạn 2O21-2030 năm 2024 trên địa bàn", 2025) == [2024]
    assert reported_years("Kết quả thực hiện năm 2O24", 2025) == [2024]


# ---------------------------------------------------------------- two years in one mail

def test_two_years_in_one_mail_each_file_to_its_year(ctx):
    u = read_case(shapes.two_years_older_first(), ctx)
    cls = u.reading()
    assert (cls.kind, cls.agency, cls.year, cls.documents) == ("report", "binh-phuoc", 2024, ["BC NSCL 2024.docx"])
    assert [(a.kind, a.agency, a.year, a.documents) for a in cls.also] == [
        ("report", "binh-phuoc", 2023, ["BC NSCL 2023 - bo sung.docx"])]


def test_two_years_whatever_the_order(ctx):
    old = docx_bytes(province_report("Bình Phước", "tỉnh", 2023, place="Đồng Xoài"))
    new = docx_bytes(province_report("Bình Phước", "tỉnh", 2024, place="Đồng Xoài"))
    msg = mail("skhcn@binhphuoc.gov.vn", "Gửi báo cáo NSCL", "Gửi báo cáo.", utc(2024, 12, 5),
               [docx_att("b.docx", new), docx_att("a.docx", old)])
    cls = read(msg, utc(2024, 12, 5), ctx).reading()
    assert (cls.year, cls.documents, [(a.year, a.documents) for a in cls.also]) == (2024, ["b.docx"],
                                                                                    [(2023, ["a.docx"])])


def test_a_report_and_its_annex_of_the_same_year_are_one_reading(ctx):
    draft = docx_bytes(province_report("Bình Phước", "tỉnh", 2024, place="Đồng Xoài"))
    signed = docx_bytes(province_report("Bình Phước", "tỉnh", 2024, place="Đồng Xoài", number="Số: 216/BC-SKHCN"))
    msg = mail("skhcn@binhphuoc.gov.vn", "Gửi báo cáo NSCL năm 2024", "Gửi báo cáo.", utc(2024, 12, 5),
               [docx_att("bc.docx", draft), docx_att("bc (ban ky).docx", signed)])
    cls = read(msg, utc(2024, 12, 5), ctx).reading()
    assert (cls.year, cls.also, cls.documents) == (2024, [], [])


# ---------------------------------------------------------------- six-month and quarterly reports

@pytest.mark.parametrize("make", [shapes.six_month_report, shapes.quarterly_report_subject_only])
def test_a_periodic_report_is_never_the_annual_report(make, ctx):
    case = make()
    cls = read_case(case, ctx).reading()
    assert (cls.kind, cls.agency, cls.year) == ("periodic", case.agency, None)


def test_a_periodic_subject_over_an_unreadable_file_is_periodic(ctx):
    msg = mail("skhcn@hungyen.gov.vn", "Báo cáo kết quả 6 tháng đầu năm 2025 Chương trình NSCL", "Gửi báo cáo.",
               utc(2025, 7, 10), [("bc.pdf", "application/pdf", b"%PDF-1.4 broken")])
    assert read(msg, utc(2025, 7, 10), ctx).reading().kind == "periodic"


def test_an_annual_report_citing_its_first_half_stays_the_annual_report(ctx):
    doc = province_report("Hưng Yên", "tỉnh", 2024, extra=[
        "Trong 6 tháng đầu năm 2024 đã tổ chức 01 hội nghị; quý III năm 2024 hỗ trợ thêm 02 doanh nghiệp."])
    msg = mail("skhcn@hungyen.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2024", "Gửi báo cáo.",
               utc(2024, 11, 25), [docx_att("bc.docx", docx_bytes(doc))])
    cls = read(msg, utc(2024, 11, 25), ctx).reading()
    assert (cls.kind, cls.year) == ("report", 2024)


# ---------------------------------------------------------------- a sub-unit's report to its own province

def test_a_districts_report_copied_to_us_is_not_the_provinces(ctx):
    cls = read_case(shapes.district_report_to_its_province(), ctx).reading()
    assert (cls.kind, cls.agency, cls.year, cls.copied_to) == ("other", "tay-ninh", None, "skhcn@tayninh.gov.vn")
    assert "dong gui" in words(cls.reasons[0]) and "so khoa hoc va cong nghe tinh tay ninh" in words(cls.reasons[0])


def test_a_provinces_report_to_the_ministry_with_us_in_cc_stays_a_report(ctx):
    doc = province_report("Tây Ninh", "tỉnh", 2024)
    msg = mail("skhcn@tayninh.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2024", "Kính gửi Bộ KH&CN.",
               utc(2024, 11, 25), [docx_att("bc.docx", docx_bytes(doc))], to="vanthu@most.gov.vn",
               headers={"Cc": BOT})
    cls = read(msg, utc(2024, 11, 25), ctx).reading()
    assert (cls.kind, cls.agency, cls.year, cls.copied_to) == ("report", "tay-ninh", 2024, "vanthu@most.gov.vn")


# ---------------------------------------------------------------- a national task's report

def test_a_national_tasks_report_is_not_a_provinces(ctx):
    cls = read_case(shapes.national_task_progress(), ctx).reading()
    assert (cls.kind, cls.agency, cls.year) == ("other", None, None)
    assert "NSCL 2024 05" in cls.reasons[0] and "Công ty Cổ phần Tư vấn Năng suất Việt" in cls.reasons[0]


def test_a_national_tasks_subject_over_an_unreadable_file_is_not_a_report(ctx):
    msg = mail("vanphong@nangsuatviet.com.vn",
               "Báo cáo kết quả thực hiện nhiệm vụ NSCL.2024.05 thuộc Chương trình NSCL",
               "Gửi báo cáo.", utc(2025, 6, 13), [("bc.pdf", "application/pdf", b"%PDF-1.4 broken")])
    assert read(msg, utc(2025, 6, 13), ctx).reading().kind == "other"


def test_a_province_report_citing_a_national_task_stays_a_report(ctx):
    doc = province_report("Bắc Ninh", "tỉnh", 2024, extra=[
        ("Phối hợp triển khai nhiệm vụ mã số NSCL.2024.05 do Công ty CP Tư vấn Năng suất Việt chủ trì tại 06 doanh "
        "nghiệp trên địa bàn tỉnh.")])
    msg = mail("skhcn@bacninh.gov.vn", "Báo cáo kết quả Chương trình NSCL năm 2024", "Gửi báo cáo.", utc(2024, 11, 25),
               [docx_att("bc.docx", docx_bytes(doc))])
    cls = read(msg, utc(2024, 11, 25), ctx).reading()
    assert (cls.kind, cls.agency, cls.year) == ("report", "bac-ninh", 2024)


# ---------------------------------------------------------------- a known agency's mail that is not a report

def test_a_known_agencys_other_mail_says_what_was_looked_at(ctx):
    from tests.corpus.docs import plain_docx

    letter = plain_docx(["UBND TỈNH TÂY NINH", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "Số: 88/SKHCN-TĐC",
                         "V/v cử cán bộ tham dự lớp tập huấn năng suất chất lượng",
                         "Kính gửi: Ủy ban Tiêu chuẩn Đo lường Chất lượng quốc gia",
                         "Sở KH&CN tỉnh Tây Ninh cử 02 cán bộ tham dự lớp tập huấn. " * 10])
    msg = mail("skhcn@tayninh.gov.vn", "Cử cán bộ dự tập huấn", "Gửi công văn.", utc(2024, 9, 10),
               [docx_att("CV 88.docx", letter), ("scan.pdf", "application/pdf", b"%PDF-1.4 broken")])
    cls = read(msg, utc(2024, 9, 10), ctx).reading()
    assert (cls.kind, cls.agency) == ("other", "tay-ninh")
    seen = cls.reasons[-1]
    assert "Cử cán bộ dự tập huấn" in seen and "CV 88.docx" in seen and "scan.pdf" in seen
    assert "không đọc được" in seen
