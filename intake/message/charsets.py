"""Bytes to text for Vietnamese mail: raw 8-bit header bytes and body parts.

Vietnamese government mail arrives from old clients that write raw 8-bit
headers or legacy windows-1258 bodies, and from mailers that declare one
charset and send another. A declared charset is trusted only when it decodes
cleanly and is not the classic lie (Latin-1 declared, UTF-8 sent); what had
to be guessed is said, so the parser can list it among the message's defects.
"""
from __future__ import annotations

from charset_normalizer import from_bytes

from reference.text import nfc

LEGACY_FALLBACK = "cp1258"  # Vietnamese Windows code page: the usual legacy culprit
_LATIN_DECLARED = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}


def decode_8bit(data: bytes) -> tuple[str, str | None]:
    """Raw 8-bit header bytes: UTF-8 if valid, else the Vietnamese legacy code page.

    Too short for statistical detection to be reliable, so the choice is made
    by what Vietnamese senders actually use.
    """
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return nfc(data.decode(LEGACY_FALLBACK)), f"8-bit header decoded as {LEGACY_FALLBACK}"
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), "8-bit header decoded as utf-8 with replacement characters"


def _charset_ok(name: str | None) -> bool:
    if not name:
        return False
    try:
        "".encode(name)
        return True
    except (LookupError, ValueError):
        return False


def _looks_vietnamese(text: str) -> bool:
    """Every non-ASCII letter is a Latin letter Vietnamese uses (no CJK, no box drawing...)."""
    others = [ch for ch in text if ord(ch) > 127]
    return bool(others) and all("\u00c0" <= ch <= "\u01b0" or "\u1ea0" <= ch <= "\u1ef9" for ch in others)


def _guess_text(data: bytes) -> tuple[str, str]:
    """What Vietnamese mail really is first, then statistical detection.

    Short Vietnamese texts fool statistical detectors (windows-1258 bytes
    come out as big5 or cp932), so two cheap, specific checks go first:
    UTF-8 damaged in a few places (a cut quoted-printable line) stays UTF-8,
    and bytes that read as Vietnamese in windows-1258 are windows-1258.
    """
    try:
        legacy = nfc(data.decode(LEGACY_FALLBACK))
    except UnicodeDecodeError:
        legacy = ""
    if _looks_vietnamese(legacy):
        return legacy, LEGACY_FALLBACK
    lenient = data.decode("utf-8", "replace")
    broken = lenient.count("\ufffd")
    if broken and (broken <= 2 or broken * 10 <= sum(1 for ch in lenient if ord(ch) > 127)):
        return lenient, "utf-8 with replacement characters"
    matches = list(from_bytes(data))
    if not matches:
        return data.decode("utf-8", "replace"), "utf-8 with replacement characters"
    chosen = next((m for m in matches[:5] if m.encoding == LEGACY_FALLBACK), matches[0])
    return str(chosen), chosen.encoding


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Body bytes to NFC text; the second value says what had to be repaired.

    Trusts the declared charset only when it decodes cleanly and is not the
    classic lie (Latin-1 declared, UTF-8 sent).
    """
    declared = (declared or "").strip().strip('"').lower() or None
    note: str | None = None
    if declared and _charset_ok(declared):
        try:
            text = data.decode(declared)
        except UnicodeDecodeError:
            text, guessed = _guess_text(data)
            note = f"declared charset {declared} does not fit; decoded as {guessed}"
        else:
            if declared in _LATIN_DECLARED and not data.isascii():
                try:
                    text = data.decode("utf-8")
                    note = f"declared charset {declared} but content is utf-8"
                except UnicodeDecodeError:
                    pass
        return nfc(text), note
    if data.isascii():
        return data.decode("ascii"), None if not declared else f"unknown charset {declared}; content is ASCII"
    try:
        text, guessed = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, guessed = _guess_text(data)
    what = f"unknown charset {declared}" if declared else "no charset declared"
    return nfc(text), f"{what}; decoded as {guessed}"
