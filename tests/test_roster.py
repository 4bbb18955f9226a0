"""The roster of agencies by year: the shipped data and the loader's checks."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from reference.roster import Agency, RosterError, load_roster
from reference.text import fold, slugify

MINISTRIES_2024 = {
    "bo-cong-thuong",
    "bo-nong-nghiep-va-phat-trien-nong-thon",
    "bo-y-te",
    "bo-xay-dung",
    "bo-giao-thong-van-tai",
    "bo-thong-tin-va-truyen-thong",
}
MINISTRIES_2025 = {"bo-cong-thuong", "bo-y-te", "bo-xay-dung", "bo-nong-nghiep-va-moi-truong"}
# The 34 provincial units from 1 July 2025 (reference provinces_34.csv).
PROVINCES_2025 = {
    "ha-noi", "cao-bang", "tuyen-quang", "dien-bien", "lai-chau", "son-la", "lao-cai", "thai-nguyen",
    "lang-son", "quang-ninh", "bac-ninh", "phu-tho", "hai-phong", "hung-yen", "ninh-binh", "thanh-hoa",
    "nghe-an", "ha-tinh", "quang-tri", "hue", "da-nang", "quang-ngai", "gia-lai", "khanh-hoa", "dak-lak",
    "lam-dong", "dong-nai", "ho-chi-minh", "tay-ninh", "dong-thap", "vinh-long", "an-giang", "can-tho",
    "ca-mau",
}


def slug_rule(name: str) -> str:
    """The rule as the brief states it, written independently of the loader."""
    bare = re.sub(r"^\s*(Tỉnh|Thành phố)\s+", "", name)
    return slugify(bare)


# --- the shipped data ----------------------------------------------------------------
def test_2024_is_63_provinces_and_the_six_ministries_of_dispatch_4258(roster):
    owing = roster.owing(2024)
    assert len(owing) == 69
    assert {a.slug for a in owing if a.kind == "ministry"} == MINISTRIES_2024
    provinces = [a for a in owing if a.kind == "province"]
    assert len(provinces) == 63
    assert "thua-thien-hue" in {a.slug for a in provinces}
    assert "hue" not in {a.slug for a in provinces}


def test_2025_is_the_34_merged_units_and_the_merged_ministries(roster):
    owing = roster.owing(2025)
    assert {a.slug for a in owing if a.kind == "province"} == PROVINCES_2025
    assert {a.slug for a in owing if a.kind == "ministry"} == MINISTRIES_2025
    assert len(owing) == 38


def test_the_first_year_is_data_and_years_after_2025_keep_the_2025_roster(roster):
    assert {a.slug for a in roster.owing(2020)} == {a.slug for a in roster.owing(2024)}
    assert roster.owing(2019) == []
    assert {a.slug for a in roster.owing(2026)} == {a.slug for a in roster.owing(2025)}


def test_every_slug_follows_the_rule_and_is_unique(roster):
    agencies = roster.all()
    assert len({a.slug for a in agencies}) == len(agencies)
    for agency in agencies:
        assert agency.slug == slug_rule(agency.name), agency
        assert agency.kind in ("province", "ministry")
        if agency.kind == "ministry":
            assert agency.slug == slugify(agency.short_name)


@pytest.mark.parametrize("slug", [
    "tay-ninh", "ho-chi-minh", "ba-ria-vung-tau", "dak-lak", "bo-y-te",
    "bo-nong-nghiep-va-phat-trien-nong-thon", "bo-nong-nghiep-va-moi-truong", "hue", "thua-thien-hue",
])
def test_named_slugs_exist(roster, slug):
    assert roster.get(slug).slug == slug


def test_unknown_slug_is_a_key_error(roster):
    with pytest.raises(KeyError):
        roster.get("sai-gon")


def test_ordering_ministries_first_then_provinces_by_the_code_of_that_year(roster):
    for year in (2024, 2025):
        owing = roster.owing(year)
        kinds = [a.kind for a in owing]
        assert kinds == sorted(kinds, key=lambda k: k != "ministry")
        codes = [int(a.code) for a in owing if a.kind == "province"]
        assert codes == sorted(codes) and len(set(codes)) == len(codes)
    assert [a.slug for a in roster.owing(2024)][:2] == ["bo-cong-thuong", "bo-nong-nghiep-va-phat-trien-nong-thon"]
    assert roster.owing(2024)[6].slug == "ha-noi"


def test_views_by_year_carry_that_years_code_and_absorbed_units(roster):
    assert roster.get("tay-ninh", 2024).code == "72"
    assert roster.get("tay-ninh", 2024).absorbed == ()
    assert roster.get("tay-ninh", 2025).code == "80"
    assert roster.get("tay-ninh", 2025).absorbed == ("long-an",)
    # the same code names another province after the merger
    assert roster.get("bac-giang", 2024).code == "24"
    assert roster.get("bac-ninh", 2025).code == "24"
    both = roster.get("tay-ninh", 2024), roster.get("tay-ninh", 2025)
    assert all(a.owes(2024) and a.owes(2025) for a in both)


def test_merged_units_absorb_every_old_province_exactly_once(roster):
    old = {a.slug for a in roster.owing(2024) if a.kind == "province"}
    covered: list[str] = []
    for agency in roster.owing(2025):
        if agency.kind == "province":
            covered += [s for s in (agency.slug, *agency.absorbed) if s in old]
    assert sorted(covered) == sorted(old)


def test_successor(roster):
    assert roster.successor("long-an", 2025) == "tay-ninh"
    assert roster.successor("thua-thien-hue", 2025) == "hue"
    assert roster.successor("ha-giang", 2024) == "ha-giang"
    assert roster.successor("ha-giang", 2025) == "tuyen-quang"
    assert roster.successor("tay-ninh", 2025) == "tay-ninh"
    assert roster.successor("bo-giao-thong-van-tai", 2025) == "bo-xay-dung"
    assert roster.successor("bo-nong-nghiep-va-phat-trien-nong-thon", 2025) == "bo-nong-nghiep-va-moi-truong"
    # merged into the collecting ministry itself: nobody reports for it
    assert roster.successor("bo-thong-tin-va-truyen-thong", 2025) is None
    assert "Khoa học và Công nghệ" in roster.get("bo-thong-tin-va-truyen-thong").notes
    # a unit that replaced one predecessor answers for it in earlier years
    assert roster.successor("hue", 2024) == "thua-thien-hue"
    assert roster.successor("long-an", 2019) is None


def test_names_include_aliases_and_abbreviations(roster):
    hcm = roster.get("ho-chi-minh")
    assert hcm.name == "Thành phố Hồ Chí Minh"
    folded = {fold(n) for n in hcm.names()}
    assert {"tp.hcm", "tphcm", "hcm", "sai gon", "ho chi minh"} <= folded
    assert "BR-VT" in roster.get("ba-ria-vung-tau").names()
    assert "Huế" in roster.get("hue").names()
    assert roster.get("bo-y-te").names()[0] == "Bộ Y tế"


def test_doubts_are_recorded_in_notes(roster):
    assert "Chưa chắc chắn" in roster.get("bo-nong-nghiep-va-moi-truong").notes
    assert "Chưa chắc chắn" in roster.get("hue").notes


# --- sender lookup -------------------------------------------------------------------
@pytest.mark.parametrize("address,year,expected", [
    ("skhcn@tayninh.gov.vn", 2024, "tay-ninh"),
    ("vanthu@skhcn.tayninh.gov.vn", 2024, "tay-ninh"),
    ("Sở KH&CN <ChiCuc@TDC.TayNinh.gov.vn>", 2024, "tay-ninh"),
    ("a@sokhcn.longan.gov.vn", 2024, "long-an"),
    ("a@sokhcn.longan.gov.vn", 2025, "tay-ninh"),
    ("a@tdc.thuathienhue.gov.vn", 2025, "hue"),
    ("a@hue.gov.vn", 2024, "thua-thien-hue"),
    ("a@sokhcn.baria-vungtau.gov.vn", 2025, "ho-chi-minh"),
    ("a@tphcm.gov.vn", 2024, "ho-chi-minh"),
    ("vp@mt.gov.vn", 2025, "bo-xay-dung"),
    ("vp@moh.gov.vn", 2025, "bo-y-te"),
])
def test_by_address_matches_domains_and_subdomains(roster, address, year, expected):
    agency = roster.by_address(address, year)
    assert agency is not None and agency.slug == expected


@pytest.mark.parametrize("address", [
    "someone@gmail.com", "someone@yahoo.com.vn", "x@outlook.com",
    "x@gov.vn", "x@chinhphu.vn", "x@mail.chinhphu.vn",
    "x@xtayninh.gov.vn", "x@tayninh.gov.vn.example.com", "not an address", "",
])
def test_by_address_never_guesses_from_shared_or_lookalike_domains(roster, address):
    assert roster.by_address(address, 2024) is None


def test_by_address_is_none_when_nobody_owes_for_the_sender(roster):
    assert roster.by_address("vp@mic.gov.vn", 2024).slug == "bo-thong-tin-va-truyen-thong"
    assert roster.by_address("vp@mic.gov.vn", 2025) is None


def test_learned_personal_addresses_identify_agencies_through_successor(roster):
    learned = roster.with_learned({"NguyenVanA@Gmail.com": "long-an", "cv@skhcn.tayninh.gov.vn": "ca-mau"})
    assert learned.by_address("nguyenvana@gmail.com", 2024).slug == "long-an"
    assert learned.by_address("Anh A <nguyenvana@gmail.com>", 2025).slug == "tay-ninh"
    assert learned.by_address("someone.else@gmail.com", 2024) is None
    # an exact learned address beats the domain
    assert learned.by_address("cv@skhcn.tayninh.gov.vn", 2024).slug == "ca-mau"
    assert learned.by_address("other@skhcn.tayninh.gov.vn", 2024).slug == "tay-ninh"
    # the original roster is untouched
    assert roster.by_address("nguyenvana@gmail.com", 2024) is None


def test_unusable_learned_entries_are_recorded_not_raised(roster):
    learned = roster.with_learned({"a@gmail.com": "khong-co", "garbage": "tay-ninh", "b@gmail.com": "tay-ninh"})
    assert len(learned.learned_problems) == 2
    assert any("khong-co" in p for p in learned.learned_problems)
    assert learned.by_address("b@gmail.com", 2024).slug == "tay-ninh"
    assert learned.by_address("a@gmail.com", 2024) is None


# --- loader checks on broken data ------------------------------------------------------
def agency_toml(slug: str, name: str, *, kind: str = "province", extra: str = "") -> str:
    short = re.sub(r"^(Tỉnh|Thành phố) ", "", name)
    return (f'[[agency]]\nslug = "{slug}"\nname = "{name}"\nshort_name = "{short}"\n'
            f'kind = "{kind}"\nfrom = 2020\n{extra}\n')


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_error(path: Path, where: Path, agency: str, reason: str) -> None:
    with pytest.raises(RosterError) as info:
        load_roster(path)
    message = str(info.value)
    assert str(where) in message and f"'{agency}'" in message and reason in message, message


def test_a_small_valid_roster_loads(tmp_path):
    write(tmp_path, "a.toml",
          agency_toml("an-giang", "Tỉnh An Giang", extra='code = "89"\ndomains = ["angiang.gov.vn"]')
          + agency_toml("kien-giang", "Tỉnh Kiên Giang",
                        extra='code = "91"\nuntil = 2024\naddresses = ["vt@gmail.com"]'))
    roster = load_roster(tmp_path)
    assert [a.slug for a in roster.owing(2024)] == ["an-giang", "kien-giang"]
    assert roster.by_address("VT@gmail.com", 2024).slug == "kien-giang"
    assert roster.by_address("vt2@gmail.com", 2024) is None
    assert isinstance(roster.get("an-giang"), Agency)


def test_duplicate_slug_across_files(tmp_path):
    write(tmp_path, "a.toml", agency_toml("an-giang", "Tỉnh An Giang"))
    second = write(tmp_path, "b.toml", agency_toml("an-giang", "Tỉnh An Giang"))
    assert_error(tmp_path, second, "an-giang", "slug bị trùng, đã có trong")


def test_bad_slug(tmp_path):
    path = write(tmp_path, "a.toml", agency_toml("tinh-an-giang", "Tỉnh An Giang"))
    assert_error(path, path, "tinh-an-giang",
                 "'slug' = 'tinh-an-giang' không đúng quy tắc: với tên 'Tỉnh An Giang', slug phải là 'an-giang'")


def test_bad_ministry_slug(tmp_path):
    path = write(tmp_path, "m.toml", agency_toml("y-te", "Bộ Y tế", kind="ministry"))
    assert_error(path, path, "y-te", "'slug' = 'y-te' không đúng quy tắc: với tên 'Bộ Y tế', slug phải là 'bo-y-te'")


def test_unknown_absorbed_slug(tmp_path):
    path = write(tmp_path, "a.toml", agency_toml("an-giang", "Tỉnh An Giang", extra='absorbed = ["kien-gang"]'))
    assert_error(path, path, "an-giang", "slug 'kien-gang' trong 'absorbed' không có trong danh sách đơn vị")


def test_absorbed_unit_must_have_stopped_owing(tmp_path):
    path = write(tmp_path, "a.toml",
                 agency_toml("kien-giang", "Tỉnh Kiên Giang")
                 + agency_toml("an-giang", "Tỉnh An Giang",
                               extra='[[agency.change]]\nfrom = 2025\nabsorbed = ["kien-giang"]'))
    assert_error(path, path, "an-giang", "sáp nhập 'kien-giang' ('absorbed') từ năm 2025, nhưng 'kien-giang' vẫn "
                                         "phải báo cáo năm 2025 (đặt until = 2024 cho 'kien-giang')")


@pytest.mark.parametrize("extra,reason", [
    ('domains = ["gmail.com"]',
     "tên miền 'gmail.com' trong 'domains' dùng chung cho nhiều người gửi nên không xác định được đơn vị"),
    ('domains = ["gov.vn"]', "tên miền 'gov.vn' trong 'domains' dùng chung cho nhiều người gửi"),
    ('domains = ["not a domain"]', "'not a domain' trong 'domains' không giống tên miền"),
    ('domains = [{ name = "angiang.gov.vn", evidence = "C" }]',
     "tên miền 'angiang.gov.vn' trong 'domains': 'evidence' phải là 'A' hoặc 'B', không phải 'C'"),
    ('addresses = ["vt.angiang.gov.vn"]', "địa chỉ 'vt.angiang.gov.vn' trong 'addresses' không giống địa chỉ email"),
    ('addresses = ["Văn thư <vt@angiang.gov.vn>"]', "chỉ ghi địa chỉ email, không kèm tên"),
    ("until = 2019", "'until' (2019) sớm hơn 'from' (2020)"),
    ("until = 3000", "'until' phải là năm từ 2000 đến 2100, không phải 3000"),
    ('kind_of = "x"', "khóa không có trong [[agency]]: 'kind_of'"),
    ('code = "A1"', "mã thống kê 'code' = 'A1' phải gồm 1 đến 3 chữ số"),
    ('[[agency.change]]\nfrom = 2019', "bảng [[agency.change]] thứ 1: 'from' = 2019 phải sau năm 2020"),
])
def test_field_checks_name_file_agency_and_reason(tmp_path, extra, reason):
    path = write(tmp_path, "a.toml", agency_toml("an-giang", "Tỉnh An Giang", extra=extra))
    assert_error(path, path, "an-giang", reason)


def test_wrong_kind_for_name(tmp_path):
    path = write(tmp_path, "a.toml", agency_toml("bo-y-te", "Bộ Y tế", kind="province"))
    assert_error(path, path, "bo-y-te", "phải bắt đầu bằng 'Tỉnh' hoặc 'Thành phố', không phải 'Bộ Y tế'")


def test_same_name_for_two_agencies_in_one_year(tmp_path):
    path = write(tmp_path, "a.toml",
                 agency_toml("an-giang", "Tỉnh An Giang", extra='aliases = ["AG"]')
                 + agency_toml("kien-giang", "Tỉnh Kiên Giang", extra='aliases = ["ag"]'))
    assert_error(path, path, "kien-giang", "tên 'ag' trong 'aliases' trùng với đơn vị 'an-giang' trong năm 2020")


def test_unreadable_toml_names_the_file(tmp_path):
    path = write(tmp_path, "a.toml", "[[agency]\nslug = ")
    with pytest.raises(RosterError, match=re.escape(str(path))):
        load_roster(tmp_path)


def test_missing_or_empty_roster_dir(tmp_path):
    with pytest.raises(RosterError, match="không có tệp"):
        load_roster(tmp_path)
    with pytest.raises(RosterError, match="không tìm thấy thư mục hay tệp danh sách đơn vị"):
        load_roster(tmp_path / "nope")
