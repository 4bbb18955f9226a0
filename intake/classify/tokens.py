"""Word tokens that compare Vietnamese names with and without diacritics.

Folding everything to ASCII makes "năm định kỳ" (periodic year) look like
"Nam Định" and "hòa bình" (peace) like "Hòa Bình". So a token written *with*
diacritics is compared on its letters (tone marks dropped, so "Hoà" and
"Hòa" agree, but ă/â/ê/ô/ơ/ư/đ kept), and only a token written without any
diacritic falls back to the folded comparison.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from reference.text import fold, nfc

# Vietnamese tone marks: grave, acute, tilde, hook above, dot below.
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=16384)  # words recur from message to message; tokenising a report calls this thousands of times
def strip_tones(text: str) -> str:
    """'Thanh Hoá' -> 'thanh hoa', 'Nội' -> 'nôi': tones go, vowel shapes stay."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))


@dataclass(frozen=True)
class Token:
    text: str  # as written (NFC)
    start: int
    end: int
    toneless: str  # strip_tones(text)
    folded: str  # fold(text)

    @property
    def is_ascii(self) -> bool:
        return self.text.isascii()

    @property
    def is_upper(self) -> bool:
        return self.text.isupper()

    @property
    def is_capitalised(self) -> bool:
        return self.text[:1].isupper() or self.text[:1].isdigit()


def tokenize(text: str) -> list[Token]:
    text = nfc(text)
    out: list[Token] = []
    for m in _WORD.finditer(text):
        word = m.group()
        out.append(Token(word, m.start(), m.end(), strip_tones(word), fold(word)))
    return out


def same_word(token: Token, name_toneless: str, name_folded: str) -> bool:
    """Does a written token spell one word of a name?"""
    if token.is_ascii:
        return token.folded == name_folded
    return token.toneless == name_toneless
