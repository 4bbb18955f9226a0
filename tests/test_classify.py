"""Unit tests for the classifier's tricky rules, on hand-built envelopes.

The roster and campaigns are the project's real configuration: the rules
are about real names (Hà Nam / Hà Nội, Long An → Tây Ninh), so a fake
roster would test nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.classify import classify
from intake.classify.names import NameIndex
from intake.classify.year import reported_years
from intake.classify.zones import split_inline_forward
from intake.model import DocumentText, Envelope, GuardVerdict
from tests.corpus.texts import DISPATCH_4258, HAI_PHONG_NOTICE, TAY_NINH_2024

PROGRAMME = "Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và chất lượng sản phẩm, hàng hóa"


@pytest.fixture(scope="module")
def index(roster):
    return NameIndex(roster.all())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def envelope(sender: str = "someone@gmail.com", subject: str = "Gửi báo cáo", body: str = "", **kw) -> Envelope:
    return Envelope(message_id=None, subject=subject, from_addr=sender, from_name="", text_body=body, **kw)


def report_doc(place: str, year: int, title: str | None = None, extra: str = "", prefix: str = "tỉnh") -> DocumentText:
    title = title or f"Kết quả thực hiện {PROGRAMME} năm {year} trên địa bàn {prefix} {place}"
    text = "\n".join([
        f"UBND {prefix.upper()} {place.upper()} | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "SỞ KHOA HỌC VÀ CÔNG NGHỆ | Độc lập - Tự do - Hạnh phúc",
        f"Số: 12/BC-SKHCN | {place}, ngày 20 tháng 11 năm {year}",
        "BÁO CÁO", title, "Kính gửi: Bộ Khoa học và Công nghệ",
        "I. Kết quả triển khai",
        "Tổ chức hội nghị về năng suất chất lượng, hỗ trợ doanh nghiệp áp dụng ISO 9001. " * 4,
        extra,
        "II. Phương hướng năm tiếp theo", "Tiếp tục triển khai Chương trình.",
        "Nơi nhận:", "- Như trên;", "GIÁM ĐỐC",
    ])
    return DocumentText(filename="bc.docx", format="docx", text=text)


def slugs(index: NameIndex, text: str, proper_only: bool = True) -> list[str]:
    return [m.slug for m in index.find(text) if m.proper or not proper_only]


# ------------------------------------------------------------------ year

def test_title_year_beats_plan_year_and_programme_period():
    title = ("Báo cáo kết quả thực hiện năm 2024 và phương hướng nhiệm vụ năm 2025 "
             "Chương trình NSCL giai đoạn 2021-2030")
    assert reported_years(title, latest=2025) == [2024]
    assert reported_years("Kết quả giai đoạn 2021 – 2025 của Chương trình", latest=2025) == []


def test_dates_and_document_numbers_are_not_years():
    text = "Nghị quyết số 41/2022/NQ-HĐND ngày 07/5/2024; Tây Ninh, ngày 20 tháng 11 năm 2024"
    assert reported_years(text, latest=2024) == []


def test_result_of_a_plan_is_still_the_result_year():
    assert reported_years("Kết quả thực hiện Kế hoạch năm 2023 triển khai Chương trình", 2024) == [2023]
    assert reported_years("Kế hoạch năm 2025 triển khai Chương trình", 2025) == []


def test_future_year_cannot_be_reported(roster, campaigns):
    doc = report_doc("Tây Ninh", 2024, title=f"Kết quả thực hiện {PROGRAMME} năm 2025 trên địa bàn tỉnh Tây Ninh")
    result = classify(envelope("skhcn@tayninh.gov.vn"), [doc], roster, campaigns, utc(2024, 11, 20))
    assert result.year == 2024  # from the document date: a report cannot be about next year


def test_year_only_in_attachment(roster, campaigns):
    env = envelope("skhcn@caobang.gov.vn", "Gửi báo cáo", "Sở gửi báo cáo theo yêu cầu.")
    result = classify(env, [report_doc("Cao Bằng", 2022)], roster, campaigns, utc(2023, 6, 1))
    assert (result.kind, result.agency, result.year) == ("report", "cao-bang", 2022)
    assert any("'năm 2022'" in r and "tệp đính kèm" in r for r in result.reasons)


def test_year_from_cited_dispatch(roster, campaigns):
    doc = report_doc("Cà Mau", 2023, title=f"Kết quả thực hiện {PROGRAMME} trên địa bàn tỉnh Cà Mau",
                     extra="Thực hiện Công văn số 4258/BKHCN-TĐC của Bộ KH&CN.")
    doc.text = doc.text.replace("ngày 20 tháng 11 năm 2023", "ngày 20 tháng 4 năm 2024")
    result = classify(envelope("skhcn@camau.gov.vn"), [doc], roster, campaigns, utc(2024, 4, 25))
    assert result.year == 2023
    assert any("4258/BKHCN-TĐC" in r for r in result.reasons)


@pytest.mark.parametrize("arrived, expected", [
    (utc(2024, 12, 31, 18, 0), 2024),  # 01/01/2025 01:00 in Hà Nội: January → previous year
    (utc(2024, 3, 31, 17, 30), 2024),  # 01/04/2024 00:30 in Hà Nội: April → this year
    (utc(2024, 3, 31, 16, 30), 2023),  # 31/03/2024 23:30 in Hà Nội: still March
])
def test_arrival_year_in_vietnam_time(roster, campaigns, arrived, expected):
    doc = report_doc("Sơn La", 2024, title=f"Kết quả thực hiện {PROGRAMME} trên địa bàn tỉnh Sơn La")
    doc.text = doc.text.replace("ngày 20 tháng 11 năm 2024", "ngày tháng")
    result = classify(envelope("skhcn@sonla.gov.vn", "Báo cáo NSCL"), [doc], roster, campaigns, arrived)
    assert result.year == expected
    assert any("theo ngày nhận" in r for r in result.reasons)


# ------------------------------------------------------------------ names

def test_ha_nam_is_not_ha_noi(index):
    assert slugs(index, "UBND TỈNH HÀ NAM") == ["ha-nam"]
    assert slugs(index, "Thành phố Hà Nội") == ["ha-noi"]
    assert slugs(index, "So KHCN tinh Ha Nam gui bao cao") == ["ha-nam"]
    assert slugs(index, "Ha Noi, ngay 20") == ["ha-noi"]


def test_common_words_are_not_places(index):
    assert slugs(index, "báo cáo hàng năm định kỳ") == []  # năm ≠ Nam
    assert slugs(index, "tỉnh Nam Định") == ["nam-dinh"]
    assert slugs(index, "thị trường Thái Bình Dương") == []
    assert slugs(index, "vì một thế giới hòa bình") == []  # peace, lower case
    assert slugs(index, "tỉnh Hòa Bình") == ["hoa-binh"]


def test_ministries_by_name_and_acronym(index):
    assert slugs(index, "BỘ Y TẾ") == ["bo-y-te"]
    assert slugs(index, "Vụ KHCN - BYT gửi") == ["bo-y-te"]
    assert slugs(index, "Sở Công Thương Hải Phòng") == ["hai-phong"]  # not Bộ Công Thương
    assert slugs(index, "TP.HCM") == ["ho-chi-minh"]


def test_report_citing_other_provinces_is_its_authors(roster, campaigns):
    extra = "Học tập kinh nghiệm tỉnh Long An, tỉnh Bình Dương. " * 10
    result = classify(envelope(), [report_doc("Tây Ninh", 2024, extra=extra)], roster, campaigns, utc(2024, 11, 20))
    assert result.agency == "tay-ninh"
    assert any("'tỉnh Tây Ninh' → tay-ninh" in r for r in result.reasons)


def test_header_beats_place_line_for_ministries(roster, campaigns):
    text = "\n".join(["BỘ CÔNG THƯƠNG | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Hà Nội, ngày 20 tháng 11 năm 2024",
                      "BÁO CÁO", f"Kết quả thực hiện {PROGRAMME} năm 2024", "Nội dung về năng suất chất lượng. " * 20])
    result = classify(envelope(), [DocumentText("bct.docx", "docx", text)], roster, campaigns, utc(2024, 11, 20))
    assert result.agency == "bo-cong-thuong"


# ------------------------------------------------------------------ merger

def test_old_address_after_merger_maps_to_successor(roster, campaigns):
    doc = report_doc("Long An", 2025)
    result = classify(envelope("skhcn@longan.gov.vn"), [doc], roster, campaigns, utc(2025, 11, 20))
    assert (result.agency, result.year) == ("tay-ninh", 2025)
    assert any("sáp nhập vào Tây Ninh từ 01/07/2025" in r for r in result.reasons)


def test_old_address_before_merger_is_the_old_province(roster, campaigns):
    doc = report_doc("Long An", 2024)
    result = classify(envelope("skhcn@longan.gov.vn"), [doc], roster, campaigns, utc(2025, 2, 10))
    assert (result.agency, result.year) == ("long-an", 2024)


def test_old_name_after_merger_maps_to_successor(roster, campaigns):
    result = classify(envelope(), [report_doc("Hà Giang", 2025)], roster, campaigns, utc(2025, 11, 20))
    assert result.agency == "tuyen-quang"


# ------------------------------------------------------------------ kind and confidence

def test_empty_message_is_never_a_report(roster, campaigns):
    for env in (Envelope(None, "", "", ""), envelope("x@gmail.com", "Báo cáo kết quả NSCL năm 2024", "")):
        result = classify(env, [], roster, campaigns, utc(2024, 11, 20), GuardVerdict("accept"))
        assert result.kind == "other"


def test_unknown_gmail_sender_naming_a_province_is_below_threshold(roster, campaigns):
    doc = report_doc("Tây Ninh", 2024)
    personal = classify(envelope("nguyenvana@gmail.com"), [doc], roster, campaigns, utc(2024, 11, 20))
    official = classify(envelope("skhcn@tayninh.gov.vn"), [doc], roster, campaigns, utc(2024, 11, 20))
    assert personal.agency == official.agency == "tay-ninh"
    assert personal.confidence < 0.6 <= official.confidence
    assert any("dưới ngưỡng" in r for r in personal.reasons)


def test_reference_report_and_notice(roster, campaigns):
    report = DocumentText("bc.docx", "docx", TAY_NINH_2024)
    result = classify(envelope("skhcn@tayninh.gov.vn"), [report], roster, campaigns, utc(2024, 11, 25))
    assert (result.kind, result.agency, result.year) == ("report", "tay-ninh", 2024)
    notice = envelope("soct@haiphong.gov.vn", "Thông tin về Chương trình năng suất chất lượng",
                      HAI_PHONG_NOTICE)
    result = classify(notice, [], roster, campaigns, utc(2023, 4, 18))
    assert (result.kind, result.agency, result.year) == ("other", "hai-phong", None)


def test_the_ministry_dispatch_is_not_a_report(roster, campaigns):
    dispatch = DocumentText("4258.pdf", "pdf", DISPATCH_4258)
    result = classify(envelope(subject="Fwd: V/v báo cáo kết quả năm 2023"), [dispatch], roster, campaigns,
                      utc(2023, 11, 20))
    assert result.kind == "other"


def test_guard_verdicts_decide_machine_mail(roster, campaigns):
    env = envelope("skhcn@daklak.gov.vn", "Trả lời tự động: Báo cáo NSCL 2024")
    auto = classify(env, [], roster, campaigns, utc(2024, 11, 20), GuardVerdict("ignore", "auto_reply", ["x"]))
    assert (auto.kind, auto.agency, auto.year) == ("auto_reply", "dak-lak", None)
    listed = classify(envelope(), [report_doc("Tây Ninh", 2024)], roster, campaigns, utc(2024, 11, 20),
                      GuardVerdict("ignore", "list", ["List-Id"]))
    assert listed.kind == "list"  # stored as what it is (issue 20)


def test_forwarded_original_sender_counts(roster, campaigns):
    inner = envelope("skhcn@dongthap.gov.vn", "Báo cáo NSCL năm 2023")
    outer = envelope("coordinator@gmail.com", "Fwd: Báo cáo NSCL năm 2023", forwarded=[inner])
    result = classify(outer, [report_doc("Đồng Tháp", 2023)], roster, campaigns, utc(2023, 11, 25))
    assert result.agency == "dong-thap"
    assert any("người gửi gốc" in r for r in result.reasons)
    assert result.confidence >= 0.6


def test_inline_forward_is_split():
    own, fwd = split_inline_forward("FYI\n---------- Forwarded message ---------\nFrom: A <a@longan.gov.vn>\n"
                                    "Subject: Bao cao\n\nNoi dung")
    assert own.strip() == "FYI"
    assert (fwd.from_addr, fwd.subject, fwd.body.strip()) == ("a@longan.gov.vn", "Bao cao", "Noi dung")


def test_classify_is_deterministic(roster, campaigns):
    doc = report_doc("Hà Nam", 2023, extra="Hợp tác với Hà Nội, Nam Định.")
    first = classify(envelope(), [doc], roster, campaigns, utc(2023, 11, 20))
    assert classify(envelope(), [doc], roster, campaigns, utc(2023, 11, 20)) == first
