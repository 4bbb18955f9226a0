"""Text normalisation for matching Vietnamese with and without diacritics.

Senders write "Tây Ninh", "Tay Ninh", "TÂY NINH" or "tay  ninh"; every
matcher compares folded forms so they all agree.
"""
from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

_SPACE = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lower-case ASCII form with single spaces: 'Đắk  Lắk' -> 'dak lak'."""
    return _SPACE.sub(" ", anyascii(nfc(text)).lower()).strip()


def slugify(text: str) -> str:
    """The roster's slug rule: ASCII, lower-case, runs of other characters -> '-'."""
    return _NON_ALNUM.sub("-", anyascii(nfc(text)).lower()).strip("-")


def words(text: str) -> str:
    """Folded text with punctuation turned into spaces, for phrase search."""
    return _NON_ALNUM.sub(" ", fold(text)).strip()
