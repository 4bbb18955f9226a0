"""Campaigns by reporting year: dispatch, deadline in Vietnam's time, and the outline."""
from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from reference.campaigns import (
    CampaignError,
    campaign_for_dispatch,
    load_campaigns,
    load_outline,
)
from reference.text import words

CONFIG = Path(__file__).resolve().parent.parent / "config"
ICT = timezone(timedelta(hours=7))
OUTLINE_CODES = ["I", "I.1", "I.2", "I.2.1", "I.2.2", "I.2.3", "I.2.4", "I.2.5", "I.2.6",
                 "II", "II.1", "II.2", "II.3", "III", "III.1", "III.2", "IV"]


def test_years_2021_to_2026_are_present(campaigns):
    assert set(range(2021, 2027)) <= set(campaigns)


def test_known_dispatches_and_unknown_ones_left_empty_with_a_note(campaigns):
    assert (campaigns[2022].dispatch, campaigns[2022].dispatch_date) == ("3705/BKHCN-TĐC", date(2022, 12, 8))
    assert (campaigns[2023].dispatch, campaigns[2023].dispatch_date) == ("4258/BKHCN-TĐC", date(2023, 11, 17))
    for year in (2021, 2024, 2025):
        assert campaigns[year].dispatch is None and campaigns[year].dispatch_date is None
        assert "Chưa xác định" in campaigns[year].notes


def test_default_deadline_is_30_november(campaigns):
    for year, campaign in campaigns.items():
        assert campaign.deadline == date(year, 11, 30)


def test_deadline_at_is_the_next_midnight_in_vietnam(campaigns):
    at = campaigns[2024].deadline_at()
    assert at == datetime(2024, 12, 1, 0, 0, tzinfo=ICT)
    assert at.utcoffset() == timedelta(hours=7)
    assert at.isoformat() == "2024-12-01T00:00:00+07:00"


def test_is_on_time_around_midnight(campaigns):
    campaign = campaigns[2024]
    assert campaign.is_on_time(datetime(2024, 11, 30, 23, 59, tzinfo=ICT))
    assert not campaign.is_on_time(datetime(2024, 12, 1, 0, 1, tzinfo=ICT))
    assert not campaign.is_on_time(datetime(2024, 12, 1, 0, 0, tzinfo=ICT))
    # the same instants seen from UTC: what counts is Vietnam's day
    assert campaign.is_on_time(datetime(2024, 11, 30, 16, 59, tzinfo=UTC))
    assert not campaign.is_on_time(datetime(2024, 11, 30, 17, 1, tzinfo=UTC))


def test_is_on_time_refuses_a_naive_time(campaigns):
    with pytest.raises(ValueError, match="timezone-aware"):
        campaigns[2024].is_on_time(datetime(2024, 11, 30, 12, 0))


@pytest.mark.parametrize("text,year", [
    ("Thực hiện Công văn số 4258/BKHCN-TĐC ngày 17/11/2023 của Bộ KH&CN", 2023),
    ("theo công văn 4258/BKHCN-TDC", 2023),
    ("Căn cứ văn bản số 4258 /BKHCN - TĐC", 2023),
    ("CV SỐ 4258/BKHCN–TĐC", 2023),
    ("công văn số\n3705/BKHCN-TĐC ngày 08/12/2022", 2022),
    ("công văn 3705/BKHCN-TĐC và 4258/BKHCN-TĐC", 2022),
    ("Số 14258/BKHCN-TĐC", None),
    ("4258/BKHCN-TĐCT", None),
    ("4258/UBND-KT", None),
    ("Quyết định 1322/QĐ-TTg", None),
    ("", None),
])
def test_campaign_for_dispatch(campaigns, text, year):
    found = campaign_for_dispatch(campaigns, text)
    assert (found.year if found else None) == year


def test_outline_follows_the_annex_of_4258(campaigns):
    outline = campaigns[2023].outline
    assert [s.code for s in outline] == OUTLINE_CODES
    by_code = {s.code: s for s in outline}
    assert by_code["I.2.2"].title == "Tăng cường công tác thông tin, truyền thông về năng suất chất lượng"
    assert by_code["IV"].title == "Đề xuất, kiến nghị"
    assert all(s.keywords and all(k == words(k) for k in s.keywords) for s in outline)
    assert {s.code for s in outline if s.required} == {"I", "I.2", "II", "III"}


def test_outline_titles_are_written_for_the_campaign_year(campaigns):
    i2 = {s.code: s for s in campaigns[2024].outline}
    assert "năm 2024 và lũy kế" in i2["I.2"].title
    assert "năm 2025 và những năm tiếp theo" in i2["III"].title
    assert all("{" not in s.title for s in campaigns[2024].outline)
    assert load_outline("nscl-annual", 2030)[0].code == "I"


def best_section(outline, heading: str) -> str | None:
    """Longest keyword phrase found in the heading: the simplest matcher the keywords must serve."""
    text = f" {words(heading)} "
    hits = [(len(k), s.code) for s in outline for k in s.keywords if f" {k} " in text]
    return max(hits)[1] if hits else None


@pytest.mark.parametrize("heading,code", [
    ("I. Kết quả triển khai", "I"),
    ("1. Về công tác tham mưu", "I.1"),
    ("2. Về triển khai thực hiện nhiệm vụ", "I.2"),
    ("2.1. Tăng cường công tác thông tin truyền thông về năng suất, chất lượng", "I.2.2"),
    ("2.2. Đào tạo nguồn nhân lực cho hoạt động nâng cao năng suất chất lượng", "I.2.4"),
    ("3. Hỗ trợ doanh nghiệp áp dụng tiêu chuẩn, quy chuẩn kỹ thuật; hệ thống quản lý", "I.2.3"),
    ("II. Đánh giá, nhận xét", "II"),
    ("1. Mặt làm được", "II.1"),
    ("2. Mặt tồn tại, hạn chế, nguyên nhân", "II.2"),
    ("III. Phương hướng triển khai trong năm 2025", "III"),
    ("IV. Kiến nghị", "IV"),
    ("HOP TAC QUOC TE", "I.2.6"),
])
def test_keywords_recognise_the_tay_ninh_2024_headings(campaigns, heading, code):
    assert best_section(campaigns[2024].outline, heading) == code


# --- editing and broken files ------------------------------------------------------------
def copy_config(tmp_path: Path, campaigns_text: str) -> Path:
    shutil.copytree(CONFIG / "outlines", tmp_path / "outlines")
    path = tmp_path / "campaigns.toml"
    path.write_text(campaigns_text, encoding="utf-8")
    return path


def test_a_coordinator_can_add_next_years_campaign(tmp_path):
    text = (CONFIG / "campaigns.toml").read_text(encoding="utf-8")
    text += ('\n[[campaign]]\nyear = 2027\ndispatch = "123/BKHCN-TĐC"\ndispatch_date = 2027-10-01\n'
             'deadline = 2027-12-05\nmailbox = "NSCL@Example.gov.vn"\n')
    campaigns = load_campaigns(copy_config(tmp_path, text))
    new = campaigns[2027]
    assert new.deadline_at() == datetime(2027, 12, 6, tzinfo=ICT)
    assert new.mailbox == "nscl@example.gov.vn"
    assert [s.code for s in new.outline] == OUTLINE_CODES
    assert campaign_for_dispatch(campaigns, "Công văn số 123/BKHCN-TĐC") is new


@pytest.mark.parametrize("text,reason", [
    ("[[campaign]]\nyear = 2024\n[[campaign]]\nyear = 2024\n", "year = 2024 đã có ở một bảng [[campaign]] trước đó"),
    ('[[campaign]]\nyear = 2024\ndispatch = "BKHCN-TĐC"\n', "'dispatch' = 'BKHCN-TĐC' không đúng dạng số/ký hiệu"),
    ('[[campaign]]\nyear = 2024\ndeadline = "30/11/2024"\n',
     "'deadline' phải là ngày viết theo TOML, không có dấu nháy và không kèm giờ, ví dụ 2023-11-30; "
     "không phải '30/11/2024'"),
    ("[[campaign]]\nyear = 2024\ndeadline = 2024-11-30T17:00:00\n",
     "không kèm giờ, ví dụ 2023-11-30; không phải 2024-11-30 17:00:00"),
    ("[[campaign]]\nyear = 2024\ndeadline = 2026-11-30\n",
     "'deadline' (30/11/2026) không thuộc năm 2024 hoặc năm 2025"),
    ("[[campaign]]\nyear = 2024\ndispatch_date = 2023-12-01\n", "'dispatch_date' (01/12/2023) không thuộc năm 2024"),
    ('[[campaign]]\nyear = 2024\noutline = "khong-co"\n', "không tìm thấy đề cương 'outline' = 'khong-co'"),
    ('[[campaign]]\nyear = 2024\noutline = "Khong Co"\n', "'outline' = 'Khong Co' chỉ được gồm chữ thường"),
    ('[[campaign]]\nyear = 2024\nmailbox = "tdc.gov.vn"\n', "'mailbox' = 'tdc.gov.vn' không giống địa chỉ email"),
    ('[[campaign]]\nyear = 2024\ndeadlin = 2024-11-30\n', "khóa không có trong [[campaign]]: 'deadlin'"),
    ('[[campaign]]\nyear = 2024\nnotes = 5\n', "'notes' phải là chuỗi ký tự (trong dấu nháy kép), không phải 5"),
    ('[[campaign]]\nyear = 2023\ndispatch = "4258/BKHCN-TĐC"\n'
     '[[campaign]]\nyear = 2024\ndispatch = "4258/BKHCN-TDC"\n',
     "'dispatch' = '4258/BKHCN-TDC' đã là công văn của đợt báo cáo năm 2023"),
])
def test_broken_campaign_files_name_file_year_and_reason(tmp_path, text, reason):
    path = copy_config(tmp_path, text)
    with pytest.raises(CampaignError) as info:
        load_campaigns(path)
    message = str(info.value)
    assert str(path) in message and "đợt báo cáo năm 2024" in message and reason in message, message


def test_broken_outline_is_reported(tmp_path):
    path = copy_config(tmp_path, "[[campaign]]\nyear = 2024\n")
    (tmp_path / "outlines" / "nscl-annual.toml").write_text(
        '[[section]]\ncode = "I.2"\ntitle = "x"\nkeywords = ["x"]\n', encoding="utf-8")
    with pytest.raises(CampaignError, match="đề cương 'nscl-annual': mục I.2: mục cha I phải đứng trước nó"):
        load_campaigns(path)


def test_missing_file_is_a_campaign_error(tmp_path):
    with pytest.raises(CampaignError, match="campaigns.toml: không có tệp này"):
        load_campaigns(tmp_path / "campaigns.toml")
