"""The receiving-chain environment itself (issue 21 §3, issue 20): what the bot will be able to rely on.

Mail is sent over SMTP to a private Postfix, checked by rspamd (its milter stamps
Authentication-Results against the loopback DNS's SPF, DKIM and DMARC records),
delivered to Dovecot by LMTP and read back over IMAP, as the bot reads it. These
tests prove the environment works and record where each header lands, which is
what the bot's rule for believing an Authentication-Results header depends on:

* the genuine header sits directly BELOW Postfix's own ``Received: ... by mx.tdc.test``
  line (rspamd inserts it at milter header index 1, after that line), above every
  header the sender wrote; Dovecot's LMTP adds Return-Path, Delivered-To and its
  own Received line above all of them;
* rspamd (default ``remove = 0``) deletes every Authentication-Results the message
  arrived with, whatever its authserv-id;
* if the milter cannot be reached (``milter_default_action = accept``) a forged
  header arrives in exactly the genuine one's place, so position alone cannot tell
  them apart: the MX must also strip its own authserv-id (Postfix ``header_checks``,
  which leaves milter-added headers alone), as shown below.
"""
from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator

import pytest

from tests import mailfactory
from tests.servers.common import free_port
from tests.servers.dns import (
    AGENCY_DOMAIN,
    AGENCY_SENDER,
    ATTACKER_DOMAIN,
    DKIM_SELECTOR,
    MAILBOX_DOMAIN,
    MX_HOSTNAME,
    LoopbackDNS,
    to_crlf,
)
from tests.servers.dovecot import DovecotServer, DovecotUser
from tests.servers.postfix import PostfixServer, ReceivingChain, lmtp_port_of, running_postfix
from tests.servers.rspamd import RspamdServer, running_rspamd

pytestmark = pytest.mark.mta

ATTACKER_SENDER = f"mallory@{ATTACKER_DOMAIN}"
FORGED_OWN_ID = f"Authentication-Results: {MX_HOSTNAME}; dmarc=pass header.from={AGENCY_DOMAIN}"
FORGED_OTHER_ID = "Authentication-Results: mx.other.example; dkim=pass header.d=skhcn.tayninh.gov.vn"
# What an MX should do with incoming headers that carry its own authserv-id (Postfix regexp table, case-insensitive).
STRIP_OWN_ID = rf"/^Authentication-Results:[[:space:]]*{re.escape(MX_HOSTNAME)}([[:space:]]|;|$)/ IGNORE"


# -- reading what arrived ----------------------------------------------------------------


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """The message's header fields in order, unfolded, as (name, value)."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b" " + line.strip()
        else:
            fields.append(line)
    pairs = []
    for field in fields:
        name, _, value = field.partition(b":")
        pairs.append((name.decode("ascii").strip(), value.decode("utf-8", "replace").strip()))
    return pairs


def values(raw: bytes, name: str) -> list[str]:
    return [value for field, value in header_fields(raw) if field.lower() == name.lower()]


def auth_results(value: str) -> tuple[str, dict[str, str]]:
    """(authserv-id, {method: "result and properties"}) from one Authentication-Results value.

    Enough for the verifier's own output (its comments hold no ';'); the bot has its own parser.
    """
    authserv_id, *clauses = [part.strip() for part in value.split(";")]
    results = {}
    for clause in clauses:
        method, _, rest = clause.partition("=")
        results[method.strip()] = rest.strip()
    return authserv_id, results


def verdict(raw: bytes) -> dict[str, str]:
    """The one Authentication-Results header the chain stamped (asserts there is exactly one)."""
    stamped = values(raw, "Authentication-Results")
    assert len(stamped) == 1, stamped
    authserv_id, results = auth_results(stamped[0])
    assert authserv_id == MX_HOSTNAME
    return results


def result_of(clause: str) -> str:
    return clause.split(None, 1)[0]


def with_headers_on_top(raw: bytes, *lines: str) -> bytes:
    """The message as the sender wrote it, with these header lines first (an injection)."""
    return mailfactory.with_headers(to_crlf(raw), *lines)


# -- (a) genuine, (b) forged ------------------------------------------------------------------


def test_dkim_signed_report_from_the_agency_is_verified(receiving_chain: ReceivingChain) -> None:
    signed = receiving_chain.dns.domains[AGENCY_DOMAIN].sign(receiving_chain.report())
    stored = receiving_chain.deliver(signed, mail_from=AGENCY_SENDER, helo=f"mail.{AGENCY_DOMAIN}")

    results = verdict(stored)
    assert result_of(results["dkim"]) == "pass"
    assert f"header.d={AGENCY_DOMAIN}" in results["dkim"] and f"header.s={DKIM_SELECTOR}" in results["dkim"]
    assert result_of(results["spf"]) == "pass" and f"smtp.mailfrom={AGENCY_SENDER}" in results["spf"]
    assert result_of(results["dmarc"]) == "pass" and f"header.from={AGENCY_DOMAIN}" in results["dmarc"]
    # The key and the policy came from the loopback DNS, not from anywhere else.
    assert receiving_chain.dns.questions[(f"{DKIM_SELECTOR}._domainkey.{AGENCY_DOMAIN}", "TXT")] >= 1
    assert receiving_chain.dns.questions[(f"_dmarc.{AGENCY_DOMAIN}", "TXT")] >= 1


def test_the_spam_headers_come_with_the_verdict(receiving_chain: ReceivingChain) -> None:
    signed = receiving_chain.dns.domains[AGENCY_DOMAIN].sign(receiving_chain.report())
    stored = receiving_chain.deliver(signed, mail_from=AGENCY_SENDER, helo=f"mail.{AGENCY_DOMAIN}")

    postfix_line = values(stored, "Received")[1]
    queue_id = re.search(r"with ESMTP id (\w+)", postfix_line).group(1)
    assert values(stored, "X-Rspamd-Queue-Id") == [queue_id]  # the milter saw this very transaction
    assert values(stored, "X-Rspamd-Server") == [MX_HOSTNAME]
    assert values(stored, "X-Rspamd-Action") == ["no action"]
    assert re.fullmatch(r"No, score=-?\d+\.\d+", values(stored, "X-Spam-Status")[0])
    spamd_result = values(stored, "X-Spamd-Result")[0]
    assert spamd_result.startswith("default: False [")
    assert "R_DKIM_ALLOW" in spamd_result and "DMARC_POLICY_ALLOW" in spamd_result


def test_forged_own_domain_report_gets_dmarc_fail(receiving_chain: ReceivingChain) -> None:
    """The agency's From, no signature, the envelope at a domain whose SPF passes: SPF is not aligned."""
    stored = receiving_chain.deliver(receiving_chain.report(), mail_from=ATTACKER_SENDER,
                                     helo=f"mail.{ATTACKER_DOMAIN}")

    results = verdict(stored)
    assert result_of(results["dmarc"]) == "fail" and f"header.from={AGENCY_DOMAIN}" in results["dmarc"]
    assert result_of(results["spf"]) == "pass" and f"smtp.mailfrom={ATTACKER_SENDER}" in results["spf"]
    assert result_of(results["dkim"]) == "none"


def test_forged_mailbox_domain_sender_gets_dmarc_fail(receiving_chain: ReceivingChain) -> None:
    """Mail in the name of the mailbox's own domain (a coordinator, the bot) from outside fails DMARC too."""
    raw = receiving_chain.report(sender=f"baocao@{MAILBOX_DOMAIN}")
    stored = receiving_chain.deliver(raw, mail_from=ATTACKER_SENDER, helo=f"mail.{ATTACKER_DOMAIN}")

    results = verdict(stored)
    assert result_of(results["dmarc"]) == "fail" and f"header.from={MAILBOX_DOMAIN}" in results["dmarc"]


def test_attackers_own_signature_does_not_align(receiving_chain: ReceivingChain) -> None:
    """A valid DKIM signature, but for attacker.test: dkim passes for that domain, DMARC fails for the From."""
    signed = receiving_chain.dns.domains[ATTACKER_DOMAIN].sign(receiving_chain.report())
    stored = receiving_chain.deliver(signed, mail_from=ATTACKER_SENDER, helo=f"mail.{ATTACKER_DOMAIN}")

    results = verdict(stored)
    assert result_of(results["dkim"]) == "pass" and f"header.d={ATTACKER_DOMAIN}" in results["dkim"]
    assert result_of(results["dmarc"]) == "fail" and f"header.from={AGENCY_DOMAIN}" in results["dmarc"]


def test_report_altered_after_signing_fails_dkim(receiving_chain: ReceivingChain) -> None:
    """The agency's genuine signature over a body someone changed on the way: dkim=fail, DMARC fails."""
    signed = receiving_chain.dns.domains[AGENCY_DOMAIN].sign(receiving_chain.report(with_docx=False))
    head, body = signed.split(b"\r\n\r\n", 1)
    tampered = head + b"\r\n\r\n" + body.replace(body[:8], b"QUFBQUFB", 1)  # base64 text: change the first words
    assert tampered != signed
    stored = receiving_chain.deliver(tampered, mail_from=ATTACKER_SENDER, helo=f"mail.{ATTACKER_DOMAIN}")

    results = verdict(stored)
    assert result_of(results["dkim"]) == "fail" and f"header.d={AGENCY_DOMAIN}" in results["dkim"]
    assert result_of(results["dmarc"]) == "fail"


# -- (c) where the headers land, and what happens to injected ones ---------------------------------

CHAIN_TOP = ["Return-Path", "Delivered-To", "Received", "Received", "Authentication-Results"]
RSPAMD_TAIL = {"X-Rspamd-Action", "X-Spam-Status", "X-Rspamd-Server", "X-Rspamd-Queue-Id", "X-Spamd-Result"}


def assert_chain_top(stored: bytes) -> list[tuple[str, str]]:
    """Dovecot's three lines, Postfix's Received, then the header the chain stamped; returns the fields."""
    fields = header_fields(stored)
    assert [name for name, _ in fields[:3]] == ["Return-Path", "Delivered-To", "Received"]
    assert " with LMTP " in fields[2][1]  # Dovecot's own line
    assert fields[3][0] == "Received" and f" by {MX_HOSTNAME} (Postfix) with ESMTP id " in fields[3][1]
    return fields


def test_injected_authentication_results_are_removed_and_the_genuine_one_sits_below_postfix(
        receiving_chain: ReceivingChain) -> None:
    sent = with_headers_on_top(receiving_chain.report(), FORGED_OWN_ID, FORGED_OTHER_ID)
    stored = receiving_chain.deliver(sent, mail_from=ATTACKER_SENDER, helo=f"mail.{ATTACKER_DOMAIN}")

    fields = assert_chain_top(stored)
    assert [name for name, _ in fields[:5]] == CHAIN_TOP
    assert result_of(auth_results(fields[4][1])[1]["dmarc"]) == "fail"  # rspamd's own, not the forged pass
    # rspamd removed both injected headers, its own authserv-id's and the other one's.
    assert values(stored, "Authentication-Results") == [fields[4][1]]
    # Below it: exactly what the sender wrote (less the removed headers), then rspamd's appended headers.
    sender_wrote = [name for name, _ in header_fields(sent) if name != "Authentication-Results"]
    rest = [name for name, _ in fields[5:]]
    assert rest[:len(sender_wrote)] == sender_wrote
    assert set(rest[len(sender_wrote):]) == RSPAMD_TAIL


@pytest.fixture(scope="module")
def keeping_rspamd(dns_server: LoopbackDNS) -> Iterator[RspamdServer]:
    """A second rspamd told to keep incoming Authentication-Results (as verifiers that do not strip would)."""
    with running_rspamd(dns_server, strip_authentication_results=False) as server:
        yield server


@pytest.fixture(scope="module")
def postfix_keeping(keeping_rspamd: RspamdServer, dovecot_server: DovecotServer) -> Iterator[PostfixServer]:
    with running_postfix(keeping_rspamd.milter, lmtp_port_of(dovecot_server)) as server:
        yield server


def test_without_stripping_the_genuine_header_stands_above_the_forged_one(
        postfix_keeping: PostfixServer, dovecot: DovecotUser, dns_server: LoopbackDNS) -> None:
    chain = ReceivingChain(postfix_keeping, dovecot, dns_server)
    sent = with_headers_on_top(chain.report(), FORGED_OWN_ID)
    stored = chain.deliver(sent, mail_from=ATTACKER_SENDER, helo=f"mail.{ATTACKER_DOMAIN}")

    fields = assert_chain_top(stored)
    assert [name for name, _ in fields[:6]] == CHAIN_TOP + ["Authentication-Results"]
    genuine, forged = fields[4][1], fields[5][1]
    assert result_of(auth_results(genuine)[1]["dmarc"]) == "fail"
    assert forged == FORGED_OWN_ID.split(":", 1)[1].strip()  # where the sender put it: first of its headers
    # Both carry the trusted authserv-id: only the position (topmost, right under Postfix's line) tells them apart.
    assert auth_results(genuine)[0] == auth_results(forged)[0] == MX_HOSTNAME


@pytest.fixture(scope="module")
def postfix_milter_down(dovecot_server: DovecotServer) -> Iterator[PostfixServer]:
    """An MX whose milter address has nothing listening: mail is accepted without a verdict."""
    with running_postfix(f"inet:127.0.0.1:{free_port()}", lmtp_port_of(dovecot_server)) as server:
        yield server


@pytest.fixture(scope="module")
def postfix_stripping_milter_down(dovecot_server: DovecotServer) -> Iterator[PostfixServer]:
    with running_postfix(f"inet:127.0.0.1:{free_port()}", lmtp_port_of(dovecot_server),
                         header_checks=[STRIP_OWN_ID]) as server:
        yield server


@pytest.fixture(scope="module")
def postfix_stripping(rspamd_server: RspamdServer, dovecot_server: DovecotServer) -> Iterator[PostfixServer]:
    with running_postfix(rspamd_server.milter, lmtp_port_of(dovecot_server),
                         header_checks=[STRIP_OWN_ID]) as server:
        yield server


def test_when_the_milter_is_down_a_forged_header_lands_where_the_genuine_one_would(
        postfix_milter_down: PostfixServer, dovecot: DovecotUser, dns_server: LoopbackDNS) -> None:
    chain = ReceivingChain(postfix_milter_down, dovecot, dns_server)
    sent = with_headers_on_top(chain.report(), FORGED_OWN_ID)
    stored = chain.deliver(sent, mail_from=ATTACKER_SENDER, helo=f"mail.{ATTACKER_DOMAIN}")

    fields = assert_chain_top(stored)
    assert [name for name, _ in fields[:5]] == CHAIN_TOP
    assert fields[4][1] == FORGED_OWN_ID.split(":", 1)[1].strip()
    assert not values(stored, "X-Spamd-Result")  # no verdict at all
    assert "warning: connect to Milter service inet:127.0.0.1:" in postfix_milter_down.log()


def test_header_checks_strip_a_forged_own_id_even_when_the_milter_is_down(
        postfix_stripping_milter_down: PostfixServer, dovecot: DovecotUser, dns_server: LoopbackDNS) -> None:
    chain = ReceivingChain(postfix_stripping_milter_down, dovecot, dns_server)
    sent = with_headers_on_top(chain.report(), FORGED_OWN_ID, FORGED_OTHER_ID)
    stored = chain.deliver(sent, mail_from=ATTACKER_SENDER, helo=f"mail.{ATTACKER_DOMAIN}")

    # Only the other server's header is left, and it is not ours to believe.
    assert values(stored, "Authentication-Results") == [FORGED_OTHER_ID.split(":", 1)[1].strip()]


def test_header_checks_leave_the_milters_own_header_alone(
        postfix_stripping: PostfixServer, dovecot: DovecotUser, dns_server: LoopbackDNS) -> None:
    chain = ReceivingChain(postfix_stripping, dovecot, dns_server)
    signed = dns_server.domains[AGENCY_DOMAIN].sign(with_headers_on_top(chain.report(), FORGED_OWN_ID))
    stored = chain.deliver(signed, mail_from=AGENCY_SENDER, helo=f"mail.{AGENCY_DOMAIN}")

    fields = assert_chain_top(stored)
    assert [name for name, _ in fields[:5]] == CHAIN_TOP
    results = auth_results(fields[4][1])[1]
    assert result_of(results["dkim"]) == "pass" and result_of(results["dmarc"]) == "pass"
    assert len(values(stored, "Authentication-Results")) == 1


# -- the MX is no relay ------------------------------------------------------------------------------


def test_mail_for_other_domains_is_refused(postfix_server: PostfixServer) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        postfix_server.send(b"Subject: relay?\r\n\r\nx\r\n", mail_from=ATTACKER_SENDER,
                            rcpt_to=["someone@elsewhere.example"])
    code, reply = refused.value.recipients["someone@elsewhere.example"]
    assert code == 554 and b"Relay access denied" in reply


# -- (d) rspamd's HTTP API, for mail that arrives without a trusted verdict (issue 20) -------------------


def test_checkv2_answers_action_and_score(rspamd_server: RspamdServer, dns_server: LoopbackDNS) -> None:
    signed = dns_server.domains[AGENCY_DOMAIN].sign(mailfactory.report_email(to="baocao@tdc.test"))
    clean = rspamd_server.check(signed, ip="127.0.0.1", helo=f"mail.{AGENCY_DOMAIN}", mail_from=AGENCY_SENDER,
                                rcpt="baocao@tdc.test", mta_name=MX_HOSTNAME)
    assert clean.action == "no action"
    assert isinstance(clean.score, float) and clean.score < clean.required_score
    assert {"R_DKIM_ALLOW", "R_SPF_ALLOW", "DMARC_POLICY_ALLOW"} <= set(clean.symbols)

    gtube = (b"From: mallory@attacker.test\r\nTo: baocao@tdc.test\r\nSubject: test\r\n\r\n"
             b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
    spam = rspamd_server.check(gtube)
    assert spam.action == "reject" and "GTUBE" in spam.symbols  # the test pattern forces reject


def test_domains_added_at_run_time_are_used(rspamd_server: RspamdServer, dns_server: LoopbackDNS) -> None:
    domain = dns_server.add_mail_domain(f"runtime{free_port()}.test")
    message = (f"From: <vanthu@{domain.name}>\r\nTo: <baocao@tdc.test>\r\nSubject: x\r\n"
               f"Date: Mon, 01 Dec 2025 10:00:00 +0700\r\nMessage-ID: <1@{domain.name}>\r\n\r\nx\r\n").encode()
    checked = rspamd_server.check(domain.sign(message), ip="127.0.0.1", mail_from=f"vanthu@{domain.name}")
    assert {"R_DKIM_ALLOW", "R_SPF_ALLOW", "DMARC_POLICY_ALLOW"} <= set(checked.symbols)
    dns_server.remove(f"_dmarc.{domain.name}")
    unpolicied = rspamd_server.check(domain.sign(message), ip="127.0.0.1", mail_from=f"vanthu@{domain.name}")
    assert "DMARC_NA" in unpolicied.symbols


# -- the loopback DNS -------------------------------------------------------------------------------------


def test_dns_answers_the_zone_and_nxdomain_for_the_rest(dns_server: LoopbackDNS) -> None:
    from dnslib import RCODE

    key = dns_server.domains[AGENCY_DOMAIN].dkim
    for tcp in (False, True):
        reply = dns_server.resolve(key.record_name, "TXT", tcp=tcp)
        assert reply.header.rcode == RCODE.NOERROR
        strings = reply.rr[0].rdata.data
        assert all(len(s) <= 255 for s in strings) and len(strings) > 1  # a 2048-bit key needs several
        assert b"".join(strings).decode() == key.record
    no_aaaa = dns_server.resolve(AGENCY_DOMAIN, "AAAA")
    assert no_aaaa.header.rcode == RCODE.NOERROR and not no_aaaa.rr  # the name exists, that type does not


def test_dns_negative_answers_look_like_a_real_servers(dns_server: LoopbackDNS) -> None:
    """NXDOMAIN with the SOA in the authority section, the client's EDNS echoed (see _Resolver.resolve)."""
    from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

    query = DNSRecord.question("python.org", "TXT")
    query.add_ar(EDNS0(udp_len=1232))
    raw = query.send(dns_server.host, dns_server.port, timeout=2)
    reply = DNSRecord.parse(raw)
    assert reply.header.rcode == RCODE.NXDOMAIN and not reply.rr
    assert [rr.rtype for rr in reply.auth] == [QTYPE.SOA]
    assert [rr.rtype for rr in reply.ar] == [QTYPE.OPT]
    assert len(raw) > 28  # rspamd's resolver drops replies of 28 bytes or less as too short


def test_rspamd_gets_an_answer_for_a_domain_that_does_not_exist(rspamd_server: RspamdServer) -> None:
    """A short unknown name (foo.org): SPF "none" at once, not a DNS failure after rspamd's time-out."""
    message = (b"From: <x@foo.org>\r\nTo: <baocao@tdc.test>\r\nSubject: s\r\nMessage-ID: <1@foo.org>\r\n"
               b"Date: Mon, 01 Dec 2025 10:00:00 +0700\r\n\r\nbody\r\n")
    checked = rspamd_server.check(message, ip="192.0.2.1", mail_from="x@foo.org", helo="mail.foo.org")
    assert "R_SPF_NA" in checked.symbols
    assert "R_SPF_DNSFAIL" not in checked.symbols
