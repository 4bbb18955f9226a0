"""Headers the standard library gives up on (issue 11 §3): the From is recovered, not quarantined."""
from __future__ import annotations

import pytest

from intake.message.header_repair import repair_header_block, tolerant_address
from intake.message.parse import parse

BODY = b"\r\n\r\nB\xc3\xa1o c\xc3\xa1o k\xc3\xa8m theo.\r\n"


@pytest.mark.parametrize(
    ("head", "name", "addr"),
    [
        # a continuation line without leading whitespace (seen in X-Brightmail-Tracker headers)
        (b"Subject: Bao cao\r\nX-Brightmail-Tracker: H4sIAAAAAAAAA+NgFmpgdGlk\r\nZXRhaWxz\r\n"
         b"From: Van thu <vanthu@skhcn.tayninh.gov.vn>", "Van thu", "vanthu@skhcn.tayninh.gov.vn"),
        # a junk line in the middle of the header block
        (b"Received: from a by b\r\nquite Delivered-To: x@y.vn\r\nFrom: \"Van thu\" <vanthu@tayninh.gov.vn>\r\n"
         b"Subject: Bao cao", "Van thu", "vanthu@tayninh.gov.vn"),
        # RFC 2822 obsolete syntax: spaces before the colon, comments in the address
        (b"From  : John Doe <jdoe@machine(comment).  example>\r\nSubject     : Hello",
         "John Doe", "jdoe@machine.example"),
        # a display name with brackets
        (b"From: Nguyen Van A [EXT] <a@skhcn.cantho.gov.vn>\r\nSubject: Bao cao", "Nguyen Van A [EXT]",
         "a@skhcn.cantho.gov.vn"),
        (b"From: [EXT] =?utf-8?B?UGjDsm5nIFFMIEtI?= <pqlkh@tayninh.gov.vn>\r\nSubject: x",
         "[EXT] Phòng QL KH", "pqlkh@tayninh.gov.vn"),
    ],
)
def test_sender_is_recovered(head: bytes, name: str, addr: str) -> None:
    env = parse(head + BODY)
    assert (env.from_name, env.from_addr) == (name, addr)
    assert "Báo cáo kèm theo." in env.text_body


def test_well_formed_mail_is_not_touched() -> None:
    raw = b"From: A <a@b.vn>\r\nSubject: x\r\n\r\nbody\r\n"
    assert repair_header_block(raw) == (raw, [])
    assert parse(raw).defects == []


def test_repair_says_what_it_did() -> None:
    fixed, notes = repair_header_block(b"From  : a@b.vn\nX: 1\nno colon here\n\nbody")
    assert fixed == b"From: a@b.vn\nX: 1\n no colon here\n\nbody"
    assert len(notes) == 2


def test_truly_no_sender_stays_without_sender() -> None:
    assert parse(b"Subject: x\r\nTo: a@b.vn\r\n\r\nhi").from_addr == ""
    assert tolerant_address("Undisclosed sender") is None
