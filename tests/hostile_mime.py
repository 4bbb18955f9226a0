"""Messages whose MIME structure is too big for the parser, in the shapes that hid it from a count of lines.

Issue 21 §5: the precheck counted ``--boundary`` lines and header lines in
the raw bytes, and missed what the standard library's parser reads another
way: an RFC 2231 boundary in sections, one of any length, one with a quoted
pair, header lines past the window it looked at, enclosures it did not open.
Each builder here makes ``parts`` MIME parts (or ``lines`` header lines)
that the parser will build, hidden one of those ways. Used by
tests/security/test_precheck.py, test_budget.py and bench/precheck.py.
"""
from __future__ import annotations

import base64
import quopri

HEAD = (b"From: vanthu@skhcn.tayninh.gov.vn\r\nTo: baocao@tdc.example.vn\r\nSubject: Bao cao 2024\r\n"
        b"Date: Wed, 20 Nov 2024 09:00:00 +0700\r\nMessage-ID: <hostile@x>\r\nMIME-Version: 1.0\r\n")


def parts_of(boundary: bytes, parts: int, eol: bytes = b"\r\n") -> bytes:
    """``parts`` one-line text parts and the close delimiter: 39 bytes a part with CRLF."""
    part = b"--" + boundary + eol + b"Content-Type: text/plain" + eol + eol + b"x" + eol
    return part * parts + b"--" + boundary + b"--" + eol


def multipart(content_type: bytes, boundary: bytes, parts: int, head: bytes = HEAD) -> bytes:
    return head + b"Content-Type: " + content_type + b"\r\n\r\n" + parts_of(boundary, parts)


def rfc2231_boundary(parts: int) -> bytes:
    """``boundary*0="pa"; boundary*1="rt"``: the boundary is ``part``, which no ``boundary=`` pattern finds."""
    return multipart(b'multipart/mixed; boundary*0="pa"; boundary*1="rt"', b"part", parts)


def long_boundary(parts: int, length: int = 250) -> bytes:
    boundary = (b"0123456789abcdef" * (length // 16 + 1))[:length]
    return multipart(b'multipart/mixed; boundary="' + boundary + b'"', boundary, parts)


def quoted_pair_boundary(parts: int) -> bytes:
    """``boundary="a\\"b"`` is ``a"b`` to the parser."""
    return multipart(b'multipart/mixed; boundary="a\\"b"', b'a"b', parts)


def header_lines_after_a_long_one(lines: int, first_line_bytes: int = 300 * 1024) -> bytes:
    """One header line longer than 256 KB, then ``lines`` short ones: all in the same header block."""
    return HEAD + b"X-Long: " + b"a" * first_line_bytes + b"\r\n" + b"X-Pad: a\r\n" * lines + b"\r\nxin chao\r\n"


def bare_cr_header_lines(lines: int) -> bytes:
    """Header lines ended by a bare ``\\r``: lines to the parser, one line to a count of ``\\n``."""
    return HEAD + b"X-Pad: a\r" * lines + b"\r\nxin chao\r\n"


def digest_enclosures(parts: int) -> bytes:
    """A digest's part without Content-Type is a ``message/rfc822``: the message inside has the parts."""
    inner = multipart(b'multipart/mixed; boundary="p"', b"p", parts)
    return HEAD + b'Content-Type: multipart/digest; boundary="d"\r\n\r\n--d\r\n\r\n' + inner + b"--d--\r\n"


def enclosure(parts: int, subtype: bytes = b"partial", levels: int = 1) -> bytes:
    """``message/<subtype>`` enclosures, ``levels`` deep, around a multipart: the parser opens every message/*."""
    inner = multipart(b'multipart/mixed; boundary="p"', b"p", parts)
    for _ in range(levels):
        inner = HEAD + b"Content-Type: message/" + subtype + b"\r\n\r\n" + inner
    return inner


def encoded_forward(parts: int, encoding: str = "base64") -> bytes:
    """A forward sent base64- or quoted-printable-encoded: intake.message.parse decodes it and parses what is inside."""
    inner = multipart(b'multipart/mixed; boundary="p"', b"p", parts)
    body = base64.encodebytes(inner) if encoding == "base64" else quopri.encodestring(inner)
    return (HEAD + b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\n'
            b"Chuyen tiep.\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: "
            + encoding.encode() + b"\r\n\r\n" + body + b"\r\n--o--\r\n")


def unusable_boundary(parts: int) -> bytes:
    """A multipart whose declared boundary is never used: intake.message.parse guesses ``pp`` and parses it again."""
    return multipart(b'multipart/mixed; boundary="not-used"', b"pp", parts)


def repaired_header(parts: int) -> bytes:
    """A junk line ends the header block before the Content-Type and the sender: intake.message.parse repairs the block
    and parses the message again, now a multipart."""
    return (b"Subject: Bao cao 2024\r\nX-Brightmail-Tracker: H4sIAAAAAAAAA\r\nAAAAAAAA==\r\n"
            b'Content-Type: multipart/mixed; boundary="p"\r\nFrom: vanthu@skhcn.tayninh.gov.vn\r\n\r\n'
            + parts_of(b"p", parts))


def long_content_type(parts: int, size: int) -> bytes:
    """A multipart's Content-Type of ``size`` bytes: the parser reads it again for each of its ``parts``."""
    return multipart(b'multipart/mixed; boundary="p"; x="' + b"a" * size + b'"', b"p", parts)


def nested_multiparts(levels: int) -> bytes:
    """``levels`` multiparts, each the first part of the one around it, never closed."""
    return HEAD + b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i)
                           for i in range(levels)) + b"Content-Type: text/plain\r\n\r\nx\r\n"


def empty_enclosure() -> bytes:
    """A ``message/rfc822`` part with nothing in it (issue 20): one part, and one empty message inside."""
    return (HEAD + b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\n'
            b"Xem thu dinh kem.\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n--o--\r\n")
