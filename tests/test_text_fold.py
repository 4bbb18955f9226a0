"""The fast fold must give exactly what the plain anyascii fold gave.

Every matcher (roster names, programme words, years, outline headings)
compares folded text, so a single character folded differently would
silently change who a report is attributed to. The reference below is the
original definition, kept here on purpose.
"""
from __future__ import annotations

import random
import re
import unicodedata
from pathlib import Path

import pytest
from anyascii import anyascii

from reference import text as text_module
from reference.text import fold, slugify, to_ascii, words

REFERENCE_DIR = Path(__file__).parent / "fixtures" / "reference"

# Vietnamese letters in every case and tone, precomposed and decomposed,
# plus what really turns up in mail: typographic quotes, dashes, NBSP, tabs.
_BASES = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
_TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_CONSONANTS = "bcdđghklmnpqrstvxBCDĐGHKLMNPQRSTVX"
_OTHER = " \t\n\r\x0b\x0c\x1c\x1f\x85\u2028\u00a0\u2002\u3000–—‘’“”…•·№°²ßæøłœﬁ€中国한글Ωшя😀\u200b\u0301"


def _ref_fold(text: str) -> str:
    return re.sub(r"\s+", " ", anyascii(unicodedata.normalize("NFC", text)).lower()).strip()


def _ref_words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", _ref_fold(text)).strip()


def _ref_slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", anyascii(unicodedata.normalize("NFC", text)).lower()).strip("-")


def _random_vietnamese(rng: random.Random, length: int) -> str:
    out = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.45:
            vowel = unicodedata.normalize(rng.choice(["NFC", "NFD"]), rng.choice(_BASES) + rng.choice(_TONES))
            out.append(vowel)
        elif roll < 0.8:
            out.append(rng.choice(_CONSONANTS))
        elif roll < 0.9:
            out.append(" ")
        elif roll < 0.97:
            out.append(rng.choice("0123456789.,;:/()-_'\"!?"))
        else:
            out.append(rng.choice(_OTHER))
    return "".join(out)


def _samples() -> list[str]:
    from reference.roster import load_roster

    samples = [p.read_text(encoding="utf-8") for p in sorted(REFERENCE_DIR.glob("*.txt"))]
    assert samples, "reference documents missing"
    samples += [line for doc in list(samples) for line in doc.splitlines()]
    for agency in load_roster().all():
        samples += [agency.name, agency.short_name, *agency.names(), *agency.aliases]
    rng = random.Random(1322)
    samples += [_random_vietnamese(rng, rng.randint(0, 600)) for _ in range(600)]
    return samples


@pytest.fixture(scope="module")
def samples() -> list[str]:
    return _samples()


def test_sample_is_large_and_vietnamese(samples):
    assert len(samples) > 1000
    joined = "".join(samples)
    assert len(joined) > 200_000
    assert {"đ", "Đ", "ư", "ơ", "ắ", "ệ"} <= set(unicodedata.normalize("NFC", joined))


def test_fold_words_slugify_identical_to_anyascii(samples):
    for sample in samples:
        assert fold(sample) == _ref_fold(sample), sample[:80]
        assert words(sample) == _ref_words(sample), sample[:80]
        assert slugify(sample) == _ref_slugify(sample), sample[:80]
        assert to_ascii(sample) == anyascii(unicodedata.normalize("NFC", sample))


def test_results_do_not_depend_on_memoisation(samples):
    """Long texts skip the memo, short ones use it: the same text gives the same answer either way."""
    for sample in samples[:400]:
        first = (fold(sample), words(sample))
        padded = sample + " " * 1000  # over the memo limit, same folded form
        assert (fold(padded), words(padded)) == first
        assert (fold(sample), words(sample)) == first


def test_examples_of_the_rule():
    assert fold("Đắk  Lắk") == "dak lak"
    assert fold("THỪA THIÊN\u00a0HUẾ") == "thua thien hue"
    assert fold("Tây Ninh") == fold("Tay Ninh") == fold("TÂY  NINH ")
    assert words("Số: 123/BC-UBND, ngày 20/11/2024") == "so 123 bc ubnd ngay 20 11 2024"
    assert slugify("Bà Rịa – Vũng Tàu") == "ba-ria-vung-tau"
    decomposed = unicodedata.normalize("NFD", "Quảng Ngãi")
    assert fold(decomposed) == fold("Quảng Ngãi") == "quang ngai"


def test_table_stays_bounded(monkeypatch):
    """A message full of rare characters must not grow the table without limit."""
    monkeypatch.setattr(text_module, "_TABLE_CAP", len(text_module._TABLE))
    rare = "".join(chr(cp) for cp in range(0x4E00, 0x4E00 + 300))
    before = len(text_module._TABLE)
    assert fold(rare + " " * 500) == _ref_fold(rare)
    assert len(text_module._TABLE) == before
