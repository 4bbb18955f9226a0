"""Legacy Vietnamese encodings (TCVN3/ABC and VNI) turned back into Unicode.

Many provincial offices still type in ``.VnTime`` (TCVN3, the "ABC" code) or
``VNI-Times`` fonts. Those documents store Latin-1 code points that only look
Vietnamese through the legacy font, so reading them as Unicode gives mojibake
("B¸o c¸o", "Baùo caùo"). We recognise them by font name first (reliable)
and by character statistics when no font is known (PDF text, antiword output).

Tables: TCVN3 (TCVN 5712:1993, VN3 subset used by the ABC fonts) and VNI
Windows, as used by the Vietnamese keyboard drivers (e.g. xvnkb's tcvn.h /
vni.h tables); checked by the round-trip tests in tests/test_legacy_vn.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TCVN3 = "tcvn3"
VNI = "vni"

# The Vietnamese letters in one canonical order: for each base, the toneless
# form then acute, grave, hook above, tilde, dot below.
_VOWELS = (
    "aáàảãạ" "ăắằẳẵặ" "âấầẩẫậ" "eéèẻẽẹ" "êếềểễệ" "iíìỉĩị"
    "oóòỏõọ" "ôốồổỗộ" "ơớờởỡợ" "uúùủũụ" "ưứừửữự" "yýỳỷỹỵ"
)

# TCVN3 codes for the same letters (lower-case; the "H" fonts such as
# .VnTimeH draw the same codes as capitals). "a", "e"... stay ASCII.
_TCVN3_VOWELS = (
    "a¸µ¶·¹" "¨¾»¼½Æ" "©ÊÇÈÉË" "eÐÌÎÏÑ" "ªÕÒÓÔÖ" "iÝ×ØÜÞ"
    "oãßáâä" "«èåæçé" "¬íêëìî" "uóïñòô" "\u00adøõö÷ù" "yýúûüþ"
)
# Capitals that have a code of their own in the normal (lower-case) fonts.
_TCVN3_CAPITALS = {"¡": "Ă", "¢": "Â", "£": "Ê", "¤": "Ô", "¥": "Ơ", "¦": "Ư", "§": "Đ"}
_TCVN3_D = "®"  # đ

_TCVN3_TO_UNI: dict[str, str] = {
    code: uni for code, uni in zip(_TCVN3_VOWELS, _VOWELS, strict=True) if code != uni
}
_TCVN3_TO_UNI[_TCVN3_D] = "đ"
_TCVN3_TO_UNI.update(_TCVN3_CAPITALS)
_TCVN3_TRANS = str.maketrans(_TCVN3_TO_UNI)

# VNI: base letter + modifier character(s). Per base: toneless, acute, grave,
# hook, tilde, dot.
_VNI_LOWER = (
    ("a", "aù", "aø", "aû", "aõ", "aï"),
    ("aê", "aé", "aè", "aú", "aü", "aë"),
    ("aâ", "aá", "aà", "aå", "aã", "aä"),
    ("e", "eù", "eø", "eû", "eõ", "eï"),
    ("eâ", "eá", "eà", "eå", "eã", "eä"),
    ("i", "í", "ì", "æ", "ó", "ò"),
    ("o", "où", "oø", "oû", "oõ", "oï"),
    ("oâ", "oá", "oà", "oå", "oã", "oä"),
    ("ô", "ôù", "ôø", "ôû", "ôõ", "ôï"),
    ("u", "uù", "uø", "uû", "uõ", "uï"),
    ("ö", "öù", "öø", "öû", "öõ", "öï"),
    ("y", "yù", "yø", "yû", "yõ", "î"),
)

_VNI_TO_UNI: dict[str, str] = {}
for _group_index, _group in enumerate(_VNI_LOWER):
    for _tone, _code in enumerate(_group):
        _uni = _VOWELS[_group_index * 6 + _tone]
        if _code != _uni:
            _VNI_TO_UNI[_code] = _uni
            _VNI_TO_UNI[_code.upper()] = _uni.upper()
_VNI_TO_UNI["ñ"] = "đ"
_VNI_TO_UNI["Ñ"] = "Đ"
# Capital base with a lower-case modifier happens when a typist capitalises
# only the first letter ("AÙ" is canonical, "Aù" is common).
for _code, _uni in list(_VNI_TO_UNI.items()):
    if len(_code) == 2 and _code.islower():
        _VNI_TO_UNI.setdefault(_code[0].upper() + _code[1], _uni.upper())

_VNI_PATTERN = re.compile(
    "|".join(re.escape(code) for code in sorted(_VNI_TO_UNI, key=len, reverse=True))
)

# Font names (lower-cased, spaces removed) that carry each encoding.
_TCVN3_FONT = re.compile(r"^\.?vn[a-z0-9]*$")  # .VnTime, .VnTimeH, .VnArial, .VnArialH...
_VNI_FONT = re.compile(r"^vni[-_ ]?[a-z0-9]*$")  # VNI-Times, VNI-Helve, VNI-Book...


@dataclass(frozen=True)
class LegacyFont:
    """How a font encodes Vietnamese: which table, and whether it draws capitals."""

    encoding: str
    upper: bool = False


def font_encoding(font_name: str | None) -> LegacyFont | None:
    """The legacy encoding a font implies, or None for a Unicode font.

    ABC fonts all start with ".Vn"; their names ending in "H" (.VnTimeH,
    .VnArialH) are the capital-letter variants.
    """
    if not font_name:
        return None
    name = font_name.strip().lower().replace(" ", "")
    if name.startswith(".vn") and _TCVN3_FONT.match(name):
        return LegacyFont(TCVN3, upper=name.endswith("h"))
    if _VNI_FONT.match(name):
        return LegacyFont(VNI)
    return None


def tcvn3_to_unicode(text: str, upper: bool = False) -> str:
    """Decode text typed in an ABC font; ``upper`` for the .VnXxxH fonts."""
    decoded = text.translate(_TCVN3_TRANS)
    return decoded.upper() if upper else decoded


def vni_to_unicode(text: str) -> str:
    """Decode text typed in a VNI font (longest code first: "ôù" before "ô")."""
    return _VNI_PATTERN.sub(lambda m: _VNI_TO_UNI[m.group(0)], text)


def to_unicode(text: str, font: LegacyFont) -> str:
    if font.encoding == TCVN3:
        return tcvn3_to_unicode(text, upper=font.upper)
    return vni_to_unicode(text).upper() if font.upper else vni_to_unicode(text)


# ---- inverse tables: used to build test fixtures and to verify completeness ----

_UNI_TO_TCVN3 = {uni: code for code, uni in zip(_TCVN3_VOWELS, _VOWELS, strict=True) if not uni.isascii()}
_UNI_TO_TCVN3.update({uni: code for code, uni in _TCVN3_CAPITALS.items()})
_UNI_TO_TCVN3["đ"] = _TCVN3_D
_UNI_TO_VNI = {uni: code for code, uni in _VNI_TO_UNI.items() if code.islower()}
_UNI_TO_VNI.update({uni.upper(): code.upper() for uni, code in list(_UNI_TO_VNI.items())})


def unicode_to_tcvn3(text: str) -> str:
    """Encode for a normal ABC font. Capitals without their own code
    (Á, Ệ, Ủ...) cannot be written in .VnTime: they raise ValueError; write
    them in a .VnTimeH run with :func:`unicode_to_tcvn3_upper`."""
    out = []
    for ch in text:
        if ch in _UNI_TO_TCVN3:
            out.append(_UNI_TO_TCVN3[ch])
        elif ch.isascii() or not ch.isalpha():
            out.append(ch)
        else:
            raise ValueError(f"{ch!r} has no code in a lower-case TCVN3 font")
    return "".join(out)


def unicode_to_tcvn3_upper(text: str) -> str:
    """Encode for a .VnXxxH font: the lower-case codes drawn as capitals."""
    return unicode_to_tcvn3(text.lower())


def unicode_to_vni(text: str) -> str:
    return "".join(_UNI_TO_VNI.get(ch, ch) for ch in text)


# ---- detection without font information ----

# Both legacy codes live entirely in Latin-1, so a text holding Vietnamese
# letters beyond it (ạ ả ấ ư ơ đ ...) is already Unicode.
_NATIVE_BEYOND_LATIN1 = {ch for ch in _VOWELS + _VOWELS.upper() + "đĐ" if ord(ch) > 0xFF}
# TCVN3's most frequent codes (á à ả ã ạ, ă â đ ê ô ơ ư): never used by VNI and
# rare in any Unicode text.
_TCVN3_MARKS = set("¸µ¶·¹¨©ª«¬®\u00ad»¾¼½ÐÌÎÏÑÕÒÓÔÖÝ×ØÜÞßäåæçéèëìîïñöø÷þ")
# VNI modifiers and letters that no Unicode Vietnamese text uses.
_VNI_MARKS = set("øûïåäëüæîñöÙØÛÕÏÅÄËÜÆÎÑÖ")
_VNI_PAIR = re.compile("[aeiouyAEIOUYôöÔÖ][ùøûõïâáàåãäêéèúüëÙØÛÕÏÂÁÀÅÃÄÊÉÈÚÜË]")
_TCVN3_STRONG = set("¸µ¶·¹¨©ª«¬®\u00ad»¾¼½")


def detect_encoding(text: str) -> str | None:
    """Guess whether plain text is TCVN3 or VNI mojibake, None when it reads as Unicode.

    Lines holding Vietnamese letters beyond Latin-1 are Unicode already and
    left out (a Unicode header above a legacy body is common). In the rest,
    a few stray symbols ("®", "©") must not trigger a conversion, so legacy
    marks must be several and make up a fair share of the letters.
    """
    rest = "\n".join(line for line in text.split("\n") if not is_unicode_vietnamese(line))
    letters = sum(1 for ch in rest if ch.isalpha()) or 1
    tcvn_strong = sum(1 for ch in rest if ch in _TCVN3_STRONG)
    tcvn = sum(1 for ch in rest if ch in _TCVN3_MARKS)
    vni = sum(1 for ch in rest if ch in _VNI_MARKS)
    vni_pairs = len(_VNI_PAIR.findall(rest))
    if tcvn_strong >= 2 and tcvn >= 3 and tcvn >= 0.03 * letters:
        return TCVN3
    if tcvn_strong == 0 and vni >= 2 and vni_pairs >= 2 and vni + vni_pairs >= 0.03 * letters:
        return VNI
    return None


def is_unicode_vietnamese(text: str) -> bool:
    """True when the text holds Vietnamese letters no legacy code can produce."""
    return any(ch in _NATIVE_BEYOND_LATIN1 for ch in text)


def convert_line(text: str, encoding: str) -> str:
    """Decode one line or cell, unless it already holds proper Vietnamese
    (a document can mix Unicode paragraphs with legacy ones)."""
    if is_unicode_vietnamese(text):
        return text
    return tcvn3_to_unicode(text) if encoding == TCVN3 else vni_to_unicode(text)


def repair_text(text: str) -> tuple[str, str | None]:
    """Convert text that statistics say is legacy-encoded; returns (text, encoding)."""
    encoding = detect_encoding(text)
    if encoding is None:
        return text, None
    return "\n".join(convert_line(line, encoding) for line in text.split("\n")), encoding


def encoding_label(encoding: str) -> str:
    return {TCVN3: "TCVN3 (ABC)", VNI: "VNI"}.get(encoding, encoding)
