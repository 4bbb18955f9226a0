"""Authentication-Results read as RFC 8601 writes them, believed only from our server (issue 21 §2).

Each case is an attack that made a forged mail "verified" before: a split on
";" read an injected result out of a quoted string or an echoed MAIL FROM in
a comment, and any header in the trusted server's name counted wherever it
stood. Now ``authres`` parses the grammar, only fields above our server's own
Received line count (its stamp zone, ``intake.sender.trusted_server``: above that line
and the run of verdict fields its milter writes directly under it), and
contradicting results vouch for nothing.
"""
from __future__ import annotations

import pytest

from intake.message.parse import parse
from intake.sender.identity import FAIL, PASS, check_sender

TRUSTED = frozenset({"mx.tdc.example.vn"})
AGENCY = "skhcn.tayninh.gov.vn"
OURS = ("Received: from mail.tayninh.gov.vn (mail.tayninh.gov.vn [203.0.113.5])\r\n\tby mx.tdc.example.vn (Postfix) "
        "with ESMTPS id 4XyZ for <baocao@tdc.example.vn>; Wed, 20 Nov 2024 09:00:00 +0700")
SENDERS = ("Received: from client.attacker.test (client.attacker.test [198.51.100.9]) by mail.attacker.test "
           "(Postfix) with ESMTP id 77; Wed, 20 Nov 2024 08:59:00 +0700")


def message(*fields: str, sender: str = f"vanthu@{AGENCY}") -> bytes:
    """The fields in order (top first), then the message the sender wrote."""
    head = "".join(f"{f}\r\n" for f in fields)
    return (head + f"From: Sở KH&CN <{sender}>\r\nTo: baocao@tdc.example.vn\r\nSubject: Báo cáo 2024\r\n"
            "Message-ID: <r1@tayninh.gov.vn>\r\n\r\nKính gửi Bộ.\r\n").encode()


def verdict(raw: bytes):  # type: ignore[no-untyped-def]
    return check_sender(parse(raw), TRUSTED)


def test_an_aligned_pass_above_our_received_line_is_believed():
    found = verdict(message(f"Authentication-Results: mx.tdc.example.vn; dkim=pass header.d={AGENCY} header.s=s1; "
                            f"spf=pass smtp.mailfrom=vanthu@{AGENCY}; dmarc=pass (p=reject) header.from={AGENCY}",
                            OURS))
    assert found.status == PASS and found.forgery_signs == ()


def test_escaped_parentheses_folding_and_case_are_read_as_the_grammar_says():
    found = verdict(message("Authentication-Results: MX.TDC.EXAMPLE.VN;\r\n\tdkim=pass (good \\(2048-bit\\) key)\r\n\t"
                            f"header.d={AGENCY.upper()}", OURS))
    assert found.status == PASS and found.method == "dkim"


@pytest.mark.parametrize("value", [
    # the MTA echoed MAIL FROM:<"a); dmarc=pass header.from=<agency>; (b"@x> into a comment
    f'mx.tdc.example.vn; spf=fail (sender MAIL FROM:<"a); dmarc=pass header.from={AGENCY}; (b"@x>) '
    f'smtp.mailfrom=x@attacker.test; dmarc=fail header.from={AGENCY}',
    # a quoted local part that contains a whole result
    f'mx.tdc.example.vn; spf=pass smtp.mailfrom="a;dmarc=pass header.from={AGENCY} x"@attacker.test; '
    f'dmarc=fail header.from={AGENCY}',
    # a value with \" inside a quoted string, then an injected result
    f'mx.tdc.example.vn; spf=pass smtp.mailfrom="a\\";dmarc=pass header.from={AGENCY}"@attacker.test',
    # two answers to one question: the injected pass beside the verifier's own fail
    f"mx.tdc.example.vn; dmarc=pass header.from={AGENCY}; dmarc=fail (p=reject) header.from={AGENCY}",
    # a signature only in the agency's name by header.i, signed by another domain
    f"mx.tdc.example.vn; dkim=pass header.i=@{AGENCY} header.d=attacker.test",
    # "no signature at all" beside a claimed pass
    f"mx.tdc.example.vn; dkim=none (no signature); dkim=pass header.d={AGENCY}",
])
def test_injected_or_contradicting_results_never_verify(value):
    assert verdict(message(f"Authentication-Results: {value}", OURS)).status == FAIL


@pytest.mark.parametrize("forged", [
    "mx.tdc.example.vn",
    "(relay)mx.tdc.example.vn",
    "MX.TDC.Example.VN",
    "mx.tdc.example.vn\r\n\t",  # folded
])
def test_a_verdict_in_our_name_outside_our_stamp_zone_came_with_the_message(forged):
    """Below the sender's own trace (not in the run our server writes under its Received line): the sender's."""
    raw = message(OURS, SENDERS, f"Authentication-Results: {forged}; dmarc=pass header.from={AGENCY}")
    found = verdict(raw)
    assert found.status == FAIL
    assert any("nhân danh máy chủ nhận thư" in sign for sign in found.forgery_signs), found


def test_a_forged_pass_beside_the_genuine_verdict_vouches_for_nothing():
    """With the milter's genuine header right under our Received line and a forged one the MX did not strip
    next to it, both stand in the stamp zone: the contradiction makes neither count."""
    raw = message(OURS,
                  f"Authentication-Results: mx.tdc.example.vn; dkim=none; dmarc=fail (p=reject) header.from={AGENCY}",
                  f"Authentication-Results: mx.tdc.example.vn; dmarc=pass header.from={AGENCY}", SENDERS)
    assert verdict(raw).status == FAIL


def test_verdicts_above_our_received_line_count_too():
    """A verifier that prepends (above the MTA's own line) is believed as well."""
    raw = message(f"Authentication-Results: mx.tdc.example.vn; dmarc=pass header.from={AGENCY}", OURS, SENDERS)
    assert verdict(raw).status == PASS


def test_a_suffix_of_our_name_is_another_server():
    raw = message(f"Authentication-Results: mx.tdc.example.vn.attacker.test; dmarc=pass header.from={AGENCY}", OURS)
    assert verdict(raw).status == FAIL


def test_without_our_received_line_nothing_the_message_says_is_believed():
    raw = message(f"Authentication-Results: mx.tdc.example.vn; dmarc=pass header.from={AGENCY}", SENDERS)
    found = verdict(raw)
    assert found.status == FAIL and any("không đi qua máy chủ nhận thư" in s for s in found.forgery_signs)


def test_failures_are_listed_for_the_coordinator():
    found = verdict(message(f"Authentication-Results: mx.tdc.example.vn; spf=softfail smtp.mailfrom={AGENCY}; "
                            f"dkim=fail header.d={AGENCY}; dmarc=fail (p=none) header.from={AGENCY}", OURS))
    assert found.failures == (f"spf=softfail smtp.mailfrom={AGENCY}", f"dkim=fail header.d={AGENCY}",
                              f"dmarc=fail header.from={AGENCY}")
    passing_second = verdict(message(f"Authentication-Results: mx.tdc.example.vn; dkim=fail header.d=old.vn; "
                                     f"dkim=pass header.d={AGENCY}; dmarc=pass header.from={AGENCY}", OURS))
    assert passing_second.status == PASS and passing_second.failures == ()


def test_unconfigured_verification_lists_failures_from_any_header_but_vouches_for_nobody():
    found = check_sender(parse(message(f"Authentication-Results: whoever; dmarc=fail header.from={AGENCY}")), None)
    assert found.status == "unchecked" and found.failures == (f"dmarc=fail header.from={AGENCY}",)
