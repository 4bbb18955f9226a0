"""§4 / issue 21 §5 unit proofs for the precheck: what the parser will build is counted however it is written,
and ordinary mail, large or odd, is not mistaken for it.

Verdicts only: what it costs is measured in a child process (the last test here, and
tests/security/test_budget.py through the real daemon) and by bench/precheck.py.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from email.message import EmailMessage

import pytest

from intake.limits import Limits
from intake.precheck import (
    header_work_reason,
    precheck,
    too_deep_reason,
    too_many_body_lines_reason,
    too_many_header_lines_reason,
    too_many_parts_reason,
)
from tests import hostile_mime, mailfactory

LIMITS = Limits()
PARTS = too_many_parts_reason(LIMITS.max_parts)
LINES = too_many_header_lines_reason(LIMITS.max_header_lines)
OVER = 1_500  # parts or lines: over the budget of 1,000 parts / 5,000 lines once multiplied where needed


def test_ordinary_mail_passes():
    assert precheck(mailfactory.report_email(), LIMITS) is None


def test_a_realistic_report_with_attachments_passes():
    msg = EmailMessage()
    msg["From"], msg["To"] = "Sở KH&CN Tây Ninh <vanthu@skhcn.tayninh.gov.vn>", "baocao@tdc.example.vn"
    msg["Subject"] = "Báo cáo kết quả thực hiện Chương trình 1322 năm 2024"
    msg.set_content("Kính gửi Bộ,\n\n-- \nVăn thư Sở\n")
    msg.add_alternative("<p>Kính gửi Bộ,</p>", subtype="html")
    msg.add_attachment(mailfactory.report_docx(extra_paragraphs=200), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename="Báo cáo NSCL năm 2024 của tỉnh Tây Ninh, bản ký số chính thức gửi Bộ.docx")
    msg.add_attachment(os.urandom(3_000_000), maintype="application", subtype="pdf", filename="Phụ lục 1.pdf")
    msg.add_attachment(b"STT;Ten;So luong\r\n" * 20_000, maintype="text", subtype="csv", filename="Số liệu.csv")
    forwarded = EmailMessage()
    forwarded["From"], forwarded["Subject"] = "pgd@tayninh.gov.vn", "Fwd: số liệu"
    forwarded.set_content("Gửi anh số liệu.")
    msg.add_attachment(forwarded)
    assert precheck(msg.as_bytes(), LIMITS) is None


def test_many_parts_are_refused():
    assert precheck(hostile_mime.multipart(b'multipart/mixed; boundary="p"', b"p", OVER), LIMITS) == PARTS


@pytest.mark.parametrize("build", [hostile_mime.rfc2231_boundary, hostile_mime.long_boundary,
                                   hostile_mime.quoted_pair_boundary],
                         ids=["rfc2231-sections", "250-characters", "quoted-pair"])
def test_the_boundary_is_the_one_the_parser_uses(build):
    """RFC 2231 sections, a boundary over 200 characters, ``\\"`` in it: the old pattern found none of them."""
    assert precheck(build(OVER), LIMITS) == PARTS
    assert precheck(build(900), LIMITS) is None  # and the parts are counted, not guessed


def test_header_lines_are_counted_however_far_the_block_goes():
    """The old count looked 256 KB into a header block; the parser reads all of it."""
    assert precheck(hostile_mime.header_lines_after_a_long_one(6_000), LIMITS) == LINES
    assert precheck(hostile_mime.header_lines_after_a_long_one(4_000), LIMITS) is None


def test_a_bare_cr_ends_a_header_line():
    assert precheck(hostile_mime.bare_cr_header_lines(6_000), LIMITS) == LINES


def test_the_header_lines_of_the_message_and_of_a_part_are_counted():
    top = hostile_mime.HEAD + b"X-Pad: a\r\n" * 20_000 + b"\r\nbody\r\n"
    part = (hostile_mime.HEAD + b"Content-Type: multipart/mixed; BOUNDARY=b\r\n\r\n--b\r\n" + b"X-Pad: a\r\n" * 20_000
            + b"\r\nbody\r\n--b--\r\n")
    assert precheck(top, LIMITS) == precheck(part, LIMITS) == LINES


@pytest.mark.parametrize("build", [hostile_mime.digest_enclosures,
                                   lambda n: hostile_mime.enclosure(n, b"partial"),
                                   lambda n: hostile_mime.enclosure(n, b"news", levels=3),
                                   lambda n: hostile_mime.enclosure(n, b"rfc822", levels=5)],
                         ids=["digest-default-type", "message-partial", "message-news-3-deep", "message-rfc822-5-deep"])
def test_parts_inside_enclosures_are_counted(build):
    """Every message/* is a message to the parser, and a digest's parts are messages by default."""
    assert precheck(build(OVER), LIMITS) == PARTS


@pytest.mark.parametrize("build", [lambda n: hostile_mime.encoded_forward(n, "base64"),
                                   lambda n: hostile_mime.encoded_forward(n, "quoted-printable"),
                                   hostile_mime.unusable_boundary],
                         ids=["base64-forward", "quoted-printable-forward", "guessed-boundary"])
def test_what_intake_parse_parses_again_is_counted(build):
    """A forward it decodes, a multipart whose boundary it guesses: parsed again, so counted again."""
    assert precheck(build(OVER), LIMITS) == PARTS
    assert precheck(build(900), LIMITS) is None


def test_the_repaired_second_parse_is_counted():
    """The first parse sees one text part; the repaired header block makes it a multipart."""
    assert precheck(hostile_mime.repaired_header(OVER), LIMITS) == PARTS
    assert precheck(hostile_mime.repaired_header(900), LIMITS) is None


def test_an_empty_enclosed_message_is_two_parts_not_a_thousand():
    """Issue 20: a message/rfc822 part with no content sent the old count back to the message's start."""
    assert precheck(hostile_mime.empty_enclosure(), LIMITS) is None
    empty_at_top = hostile_mime.HEAD + b"Content-Type: message/rfc822\r\n\r\n"
    assert precheck(empty_at_top, LIMITS) is None


def test_the_parsers_quadratic_header_work_is_refused():
    """A 2 MB Content-Type read again for each of 900 parts: minutes in the parser, within the part budget."""
    assert precheck(hostile_mime.long_content_type(900, 2_000_000), LIMITS) == header_work_reason()
    assert precheck(hostile_mime.long_content_type(900, 2_000), LIMITS) is None
    semicolons = hostile_mime.HEAD + b'Content-Disposition: attachment; x="' + b";" * 200_000 + b'"\r\n\r\nx\r\n'
    assert precheck(semicolons, LIMITS) == header_work_reason()


def test_multiparts_open_deeper_than_the_limit_are_refused():
    assert precheck(hostile_mime.nested_multiparts(LIMITS.max_open_multiparts + 1), LIMITS) == \
        too_deep_reason(LIMITS.max_open_multiparts)
    assert precheck(hostile_mime.nested_multiparts(40), LIMITS) is None  # read in part, as tests/badmail.py expects


def test_body_lines_the_parser_would_hold_or_test_too_often_are_refused():
    """The parser keeps every body line as a string and tests it against every open delimiter: 58 MB of empty
    lines took 2.4 GB, and under 64 open multiparts each line costs 65 tests. A large 8-bit attachment passes."""
    reason = too_many_body_lines_reason(LIMITS.max_body_line_checks)
    assert precheck(hostile_mime.HEAD + b"\r\n" + b"\r\n" * 12_000_000, LIMITS) == reason
    assert precheck(hostile_mime.nested_multiparts(64) + (b"x" * 70 + b"\r\n-- sig\r\n") * 100_000, LIMITS) == reason
    csv = (hostile_mime.HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/csv\r\n'
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + b"12345;Nguyen Van A;99\r\n" * 2_500_000 + b"--b--\r\n")
    assert len(csv) > 55_000_000 and precheck(csv, LIMITS) is None


def test_a_large_attachment_and_dash_lines_in_a_body_are_not_parts():
    body = base64.encodebytes(os.urandom(3_000_000))
    dashes = "-- chữ ký\r\n".encode() * 3_000  # lines starting with "--" that are not this message's delimiter
    raw = (hostile_mime.HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
           b"\r\n" + dashes + b"--bx\r\n" * 3_000 + b"\r\n--b\r\nContent-Type: application/pdf\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--b--\r\n")
    assert precheck(raw, LIMITS) is None


def test_over_the_size_limit_or_empty_is_left_to_the_parser():
    """intake.message.parse refuses these itself without parsing them; nothing to count."""
    small = Limits(max_message_bytes=1_000)
    assert precheck(hostile_mime.multipart(b'multipart/mixed; boundary="p"', b"p", OVER), small) is None
    assert precheck(b"\r\n \r\n", LIMITS) is None


_MEASURE = r"""
import json, resource, sys, time
from intake.limits import Limits
from intake.precheck import precheck
raw = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF)
cpu = time.process_time()
reason = precheck(raw, Limits())
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"reason": reason, "cpu": time.process_time() - cpu,
                  "grew_mb": (after.ru_maxrss - before.ru_maxrss) / 1024}))
"""


@pytest.mark.slow
def test_a_58_mb_message_of_a_million_and_a_half_parts_is_refused_in_bounded_time_and_memory(tmp_path):
    """Measured in a child process (its peak RSS is its own): the old count missed this one, and the parser
    then ran 491 s at 1.2 GB. Bounds are generous; bench/precheck.py gives the figures."""
    raw = hostile_mime.rfc2231_boundary(1_500_000)
    assert 55_000_000 < len(raw) < LIMITS.max_message_bytes
    path = tmp_path / "huge.eml"
    path.write_bytes(raw)
    del raw
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["reason"] == PARTS
    assert result["cpu"] < 5 and result["grew_mb"] < 50, result
