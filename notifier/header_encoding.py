"""Subject and display names that every mail client decodes to exactly the text we meant.

Why not the standard library's encoder: Python 3.11/3.12's header folder,
when it splits non-ASCII text into several RFC 2047 encoded words, can put
a space *between* two encoded words instead of inside one; decoders must
drop whitespace between adjacent encoded words (RFC 2047 §6.2), so
"Tỉnh Đắk Nông" arrives as "TỉnhĐắk Nông". Here the text is cut into
UTF-8 chunks of whole characters, each chunk base64-encoded with its spaces
inside it, and the words are folded with CRLF + space, which decoders drop.
An ASCII tail (the reference ``[TDC-2024-000123]``) stays plain text after
one real space, so it remains readable and searchable in raw mail.

:class:`ExactHeaderPolicy` applies this to Subject and to the display names
of address headers when a message is written; anything else is folded by
the standard policy.
"""
from __future__ import annotations

import base64
import re
from email.policy import EmailPolicy
from email.utils import formataddr

# Encoded text per word: 39 bytes -> 52 base64 characters -> a 64-character word, so even
# "Reply-To: " + a word stays within the 78-character line RFC 5322 recommends.
_CHUNK_BYTES = 39
_ENCODED_NAMES = {"subject"}
_ADDRESS_NAMES = {"from", "to", "cc", "reply-to", "sender"}


def _chunks(text: str) -> list[str]:
    out: list[str] = []
    current = ""
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if current and size + n > _CHUNK_BYTES:
            out.append(current)
            current, size = "", 0
        current += ch
        size += n
    if current:
        out.append(current)
    return out


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 'B' encoded words whose decoded concatenation is exactly ``text``."""
    return ["=?utf-8?b?" + base64.b64encode(c.encode("utf-8")).decode("ascii") + "?=" for c in _chunks(text)]


def encode_text(text: str) -> str:
    """A header value (unfolded lines joined by CRLF + space) that decodes to exactly ``text``.

    ASCII text is returned folded at spaces; otherwise the part up to the
    last non-ASCII word is encoded and an ASCII tail follows after a space.
    """
    if text.isascii():
        return _fold_ascii(text)
    last = max(i for i, ch in enumerate(text) if not ch.isascii())
    space = text.find(" ", last)
    head, tail = (text, "") if space < 0 else (text[:space], text[space + 1:])
    if tail and (tail.startswith(" ") or tail.endswith(" ") or "  " in tail):
        head, tail = text, ""  # runs of spaces would be collapsed by a decoder: encode them
    words = encoded_words(head)
    value = "\r\n ".join(words)
    if tail:
        value += "\r\n " + _fold_ascii(tail) if len(words[-1]) + len(tail) > 60 else " " + _fold_ascii(tail)
    return value


def _fold_ascii(text: str, width: int = 70) -> str:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n ".join(lines)


_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


def encode_phrase(name: str) -> str:
    """A display name that decodes exactly, with RFC 2047 decoders and Python's address parser alike.

    The two disagree about whitespace between two adjacent encoded words
    (RFC 2047 drops it; Python's parser keeps it), so two encoded words are
    never adjacent here: each maximal run of words that need encoding becomes
    ONE encoded word, spaces inside it, and plain ASCII words stand between
    runs. A very long run makes an encoded word longer than RFC 2047's 75
    characters, which decoders accept; a wrong name they would not.
    """
    tokens = name.split(" ")
    if any(not t for t in tokens):  # leading, trailing or double spaces: keep them inside one word
        return "=?utf-8?b?" + base64.b64encode(name.encode("utf-8")).decode("ascii") + "?="
    out: list[str] = []
    run: list[str] = []
    for token in tokens + [None]:
        if token is not None and not (_ATEXT.fullmatch(token) and not token.startswith("=?")):
            run.append(token)
            continue
        if run:
            out.append("=?utf-8?b?" + base64.b64encode(" ".join(run).encode("utf-8")).decode("ascii") + "?=")
            run = []
        if token is not None:
            out.append(token)
    return _fold_ascii(" ".join(out))


def encode_address(name: str, addr: str) -> str:
    """One mailbox with its display name encoded exactly (quoted when ASCII needs it)."""
    if not name:
        return addr
    if name.isascii():
        return formataddr((name, addr))
    return f"{encode_phrase(name)} <{addr}>"


class ExactHeaderPolicy(EmailPolicy):
    """The standard policy, except Subject and display names are written by :func:`encode_text`."""

    def _exact(self, name: str, value: object) -> str | None:
        key = name.lower()
        text = str(value)
        if key in _ENCODED_NAMES and not (text.isascii() and len(text) + len(name) < 76):
            return f"{name}: {encode_text(text)}{self.linesep}"
        addresses = getattr(value, "addresses", None)
        if key in _ADDRESS_NAMES and addresses and not text.isascii():
            mailboxes = [encode_address(a.display_name, a.addr_spec) for a in addresses]
            return f"{name}: " + f",{self.linesep} ".join(mailboxes) + self.linesep
        return None

    def fold(self, name: str, value: str) -> str:
        exact = self._exact(name, value)
        return exact.replace("\r\n", self.linesep) if exact is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        exact = self._exact(name, value)
        if exact is None:
            return super().fold_binary(name, value)
        return exact.replace("\r\n", self.linesep).encode("ascii")


SMTP_EXACT = ExactHeaderPolicy(linesep="\r\n", cte_type="7bit")
