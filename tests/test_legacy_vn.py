"""Legacy Vietnamese encodings (TCVN3/ABC, VNI) read back as exact Unicode."""
from __future__ import annotations

import pytest

from intake.documents import legacy_vn, read_attachment
from tests.fixtures.documents import legacy_docx, reference_text

ALL_LETTERS = legacy_vn._VOWELS + legacy_vn._VOWELS.upper() + "đĐ"  # noqa: SLF001 - the table under test


def _sentences() -> list[str]:
    """Real sentences from the Tây Ninh report: capitals with accents, “quotes”, dashes, numbers."""
    lines = [line.strip() for line in reference_text().splitlines() if line.strip()]
    wanted = [lines[2],  # BÁO CÁO
              next(line for line in lines if line.startswith("Căn cứ Quyết định số 1322")),
              next(line for line in lines if line.startswith("- Ủy ban nhân dân")),
              next(line for line in lines if line.startswith("2. Mặt tồn tại")),
              next(line for line in lines if line.startswith("Chưa tham gia các hội nghị"))]
    assert wanted[0] == "BÁO CÁO"
    return wanted


def test_vni_table_round_trips_every_letter():
    encoded = legacy_vn.unicode_to_vni(ALL_LETTERS)
    assert encoded.isascii() is False and all(ord(ch) <= 0xFF for ch in encoded)
    assert legacy_vn.vni_to_unicode(encoded) == ALL_LETTERS


def test_tcvn3_table_round_trips_every_letter_in_both_fonts():
    lower = legacy_vn._VOWELS + "đ"  # noqa: SLF001
    encoded = legacy_vn.unicode_to_tcvn3(lower)
    assert all(ord(ch) <= 0xFF for ch in encoded)
    assert legacy_vn.tcvn3_to_unicode(encoded) == lower
    # .VnTimeH: the same codes drawn as capitals
    assert legacy_vn.tcvn3_to_unicode(legacy_vn.unicode_to_tcvn3_upper(ALL_LETTERS), upper=True) == ALL_LETTERS.upper()


@pytest.mark.parametrize("code, expected", [
    ("B¸o c¸o", "Báo cáo"), ("M\u00adêng Kh\u00ad¬ng", "Mường Khương"), ("§µ N½ng", "Đà Nẵng"),
    ("n¨ng suÊt vµ chÊt l­îng", "năng suất và chất lượng"),
])
def test_tcvn3_known_words(code, expected):
    assert legacy_vn.tcvn3_to_unicode(code) == expected


@pytest.mark.parametrize("code, expected", [
    ("Baùo caùo", "Báo cáo"), ("Ñaø Naüng", "Đà Nẵng"), ("naêng suaát vaø chaát löôïng", "năng suất và chất lượng"),
    ("AÁn ÑOÄ", "Ấn ĐỘ"), ("Aán", "Ấn"),
])
def test_vni_known_words(code, expected):
    assert legacy_vn.vni_to_unicode(code) == expected


@pytest.mark.parametrize("font, expected", [
    (".VnTime", legacy_vn.LegacyFont("tcvn3")), (".VnTimeH", legacy_vn.LegacyFont("tcvn3", upper=True)),
    (".VnArial", legacy_vn.LegacyFont("tcvn3")), ("VNI-Times", legacy_vn.LegacyFont("vni")),
    ("VNI-Helve", legacy_vn.LegacyFont("vni")), ("Times New Roman", None), (None, None), ("Verdana", None),
])
def test_font_names(font, expected):
    assert legacy_vn.font_encoding(font) == expected


@pytest.mark.parametrize("font_in", ["run", "style"])
def test_tcvn3_docx_reads_as_exact_unicode(font_in):
    sentences = _sentences()
    doc = read_attachment("bao-cao.docx", "", legacy_docx(sentences, legacy_vn.TCVN3, font_in))[0]
    assert doc.text.split("\n") == sentences
    assert "đã chuyển mã TCVN3 (ABC) sang Unicode" in doc.notes


@pytest.mark.parametrize("font_in", ["run", "style"])
def test_vni_docx_reads_as_exact_unicode(font_in):
    sentences = _sentences()
    doc = read_attachment("bao-cao.docx", "", legacy_docx(sentences, legacy_vn.VNI, font_in))[0]
    assert doc.text.split("\n") == sentences
    assert "đã chuyển mã VNI sang Unicode" in doc.notes


@pytest.mark.parametrize("encoding", [legacy_vn.TCVN3, legacy_vn.VNI])
def test_legacy_text_without_font_name_is_caught_by_statistics(encoding):
    sentences = _sentences()
    doc = read_attachment("bao-cao.docx", "", legacy_docx(sentences, encoding, "none"))[0]
    # Without the .VnTimeH font, capitals typed in it are only known as lower-case codes.
    expected = sentences if encoding == legacy_vn.VNI else [s.lower() for s in sentences]
    got = doc.text.split("\n") if encoding == legacy_vn.VNI else doc.text.lower().split("\n")
    assert got == expected


def test_unicode_text_in_stale_vntime_font_is_not_converted():
    """Text converted to Unicode by a tool that kept the .VnTime font name stays as it is."""
    import docx

    from tests.fixtures.documents import docx_bytes

    document = docx.Document()
    sentences = _sentences()
    for sentence in sentences:
        document.add_paragraph().add_run(sentence).font.name = ".VnTime"
    doc = read_attachment("a.docx", "", docx_bytes(document))[0]
    assert doc.text.split("\n") == sentences
    assert not any("chuyển mã" in note for note in doc.notes)


@pytest.mark.parametrize("text", [
    "Báo cáo kết quả năm 2024 của Sở Khoa học và Công nghệ tỉnh Tây Ninh.",
    "Công ty ABC® và Microsoft© — báo cáo năm 2024 (Tây Ninh)",
    "Plain ASCII text with no accents at all.",
    "Café, crème brûlée, naïve",  # Latin-1 letters, no legacy marks pattern
])
def test_detection_leaves_unicode_alone(text):
    assert legacy_vn.detect_encoding(text) is None
    assert legacy_vn.repair_text(text) == (text, None)


def test_detection_and_repair_of_plain_text():
    sentences = _sentences()[1:]
    tcvn3 = "\n".join(legacy_vn.unicode_to_tcvn3(s.lower()) for s in sentences)
    vni = "\n".join(legacy_vn.unicode_to_vni(s) for s in sentences)
    assert legacy_vn.repair_text(tcvn3) == ("\n".join(s.lower() for s in sentences), legacy_vn.TCVN3)
    assert legacy_vn.repair_text(vni) == ("\n".join(sentences), legacy_vn.VNI)


def test_repair_keeps_lines_that_are_already_unicode():
    legacy = legacy_vn.unicode_to_tcvn3("báo cáo kết quả triển khai nhiệm vụ năm 2024 của sở")
    mixed = f"{legacy}\nTây Ninh, ngày 20 tháng 11 năm 2024"
    text, encoding = legacy_vn.repair_text(mixed)
    assert encoding == legacy_vn.TCVN3
    assert text == "báo cáo kết quả triển khai nhiệm vụ năm 2024 của sở\nTây Ninh, ngày 20 tháng 11 năm 2024"


def test_capitals_without_a_tcvn3_code_are_refused_by_the_encoder():
    with pytest.raises(ValueError):
        legacy_vn.unicode_to_tcvn3("Ủy ban")
