"""Text normalisation for matching Vietnamese with and without diacritics.

Senders write "Tây Ninh", "Tay Ninh", "TÂY NINH" or "tay  ninh"; every
matcher compares folded forms so they all agree.

Folding runs dozens of times per message over every text zone, so it is
done with ``str.translate`` (C) over a table that is filled, one character
at a time, from ``anyascii`` itself: the result is exactly anyascii's (which
transliterates each character on its own), at a fraction of the cost of its
per-character Python loop.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Distinct characters remembered by the table: Vietnamese needs ~150; the cap
# keeps a message full of rare scripts from growing it without bound.
_TABLE_CAP = 50_000
# Strings up to this length are memoised: roster names, subjects, lines and
# words recur from message to message; long bodies rarely do.
_MEMO_CHARS = 400


class _AsciiTable(dict[int, str]):
    """Code point -> anyascii's transliteration, learned on first sight (``str.translate`` asks ``__missing__``)."""

    def __missing__(self, codepoint: int) -> str:
        ascii_form = anyascii(chr(codepoint))
        if len(self) < _TABLE_CAP:
            self[codepoint] = ascii_form
        return ascii_form


_TABLE = _AsciiTable()


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def to_ascii(text: str) -> str:
    """``anyascii(nfc(text))``, identical result, computed in C for text seen before."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text).translate(_TABLE)


def _fold(text: str) -> str:
    # split()/join() collapse and trim exactly the characters r"\s" matches, faster than a regex
    return " ".join(to_ascii(text).lower().split())


_fold_short = lru_cache(maxsize=8192)(_fold)


def fold(text: str) -> str:
    """Lower-case ASCII form with single spaces: 'Đắk  Lắk' -> 'dak lak'."""
    if len(text) <= _MEMO_CHARS:
        return _fold_short(text)
    return _fold(text)


def slugify(text: str) -> str:
    """The roster's slug rule: ASCII, lower-case, runs of other characters -> '-'."""
    return _NON_ALNUM.sub("-", to_ascii(text).lower()).strip("-")


# Folded text is ASCII: everything but a-z and 0-9 becomes a space.
_PUNCT_TO_SPACE = {c: " " for c in range(128) if not (chr(c).isdigit() or "a" <= chr(c) <= "z")}


def _words(text: str) -> str:
    return " ".join(to_ascii(text).lower().translate(_PUNCT_TO_SPACE).split())


_words_short = lru_cache(maxsize=8192)(_words)


def words(text: str) -> str:
    """Folded text with punctuation turned into spaces, for phrase search."""
    if len(text) <= _MEMO_CHARS:
        return _words_short(text)
    return _words(text)


def clip(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters, cut at a word boundary with "…" (never mid-word).

    What a coordinator reads of a long subject or reason: a word cut in half
    ("Báo cáo kết quả thực hi…") reads as a different word in Vietnamese.
    A single word longer than the limit (a token, an address) is cut where it must be.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[: max(limit - 1, 1)]
    cut = head.rfind(" ")
    if cut >= limit // 2:
        head = head[:cut]
    return head.rstrip(" ,;:.-") + "…"
