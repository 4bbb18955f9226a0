"""§4 unit proofs for the raw-byte pre-check: the shapes that starve the MIME parser are refused in
milliseconds, and ordinary large mail is not mistaken for them."""
from __future__ import annotations

import base64
import os
import time

from intake.limits import Limits
from intake.precheck import precheck
from tests import mailfactory

HEAD = b"From: a@b.vn\r\nSubject: x\r\nMIME-Version: 1.0\r\n"


def _many_parts(n: int, boundary: bytes = b"p") -> bytes:
    parts = b"".join(b"--" + boundary + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(n))
    return HEAD + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + parts + b"--" + boundary + b"--\r\n"


def _timed(raw: bytes, limits: Limits | None = None) -> tuple[str | None, float]:
    started = time.perf_counter()
    reason = precheck(raw, limits or Limits())
    return reason, time.perf_counter() - started


def test_ordinary_mail_passes():
    assert precheck(mailfactory.report_email(), Limits()) is None


def test_many_parts_are_refused_fast():
    reason, seconds = _timed(_many_parts(200_000))
    assert reason and "phần MIME" in reason and seconds < 1


def test_parts_hidden_in_a_forwarded_message_are_counted():
    inner = _many_parts(5_000)
    raw = (HEAD + b'Content-Type: multipart/mixed; boundary="out"\r\n\r\n--out\r\n'
           b"Content-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--out--\r\n")
    assert "phần MIME" in (precheck(raw, Limits()) or "")


def test_header_lines_of_the_message_and_of_a_part_are_counted():
    top = HEAD + b"X-Pad: a\r\n" * 20_000 + b"\r\nbody\r\n"
    part = (HEAD + b'Content-Type: multipart/mixed; BOUNDARY=b\r\n\r\n--b\r\n' + b"X-Pad: a\r\n" * 20_000
            + b"\r\nbody\r\n--b--\r\n")
    for raw in (top, part):
        reason, seconds = _timed(raw)
        assert reason and "dòng tiêu đề" in reason and seconds < 1


def test_a_large_attachment_and_dash_lines_in_a_body_are_not_parts():
    body = base64.encodebytes(os.urandom(3_000_000))
    dashes = "-- chữ ký\r\n".encode() * 3_000  # lines starting with "--" that are not this message's delimiter
    raw = (HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
           + dashes + b"\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + body + b"\r\n--b--\r\n")
    reason, seconds = _timed(raw)
    assert reason is None and seconds < 1
