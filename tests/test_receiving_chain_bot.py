"""The bot behind a real verifier (issue 21 §3, issue 20): what it believes of mail that came through the chain.

Mail is sent over SMTP to a private Postfix whose rspamd milter checks SPF,
DKIM and DMARC against the loopback DNS and stamps Authentication-Results
(``tests/servers/``); Dovecot takes it by LMTP and the real ``tdc-bot run
--once`` reads it over IMAP with ``trusted_authserv_id = "mx.tdc.test"``.
Nothing here writes a verdict by hand: every header the bot judges was
written by the chain or by the attacker.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import cli_json, run_cli, status_row
from tests.reliability import IMAP_PW_ENV, write_config
from tests.servers.dns import AGENCY_DOMAIN, AGENCY_SENDER, ATTACKER_DOMAIN, MX_HOSTNAME, to_crlf
from tests.servers.postfix import ReceivingChain, lmtp_port_of, running_postfix
from tests.servers.rspamd import TEST_SPAM_MARK, running_rspamd

pytestmark = pytest.mark.mta
ATTACKER = f"mallory@{ATTACKER_DOMAIN}"


def _bot(tmp_path: Path, chain: ReceivingChain, extra: str = "") -> tuple[Path, dict[str, str]]:
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}", dovecot=chain.mailbox,
                          mailbox_extra=f'trusted_authserv_id = "{MX_HOSTNAME}"\n', extra=extra)
    return config, {IMAP_PW_ENV: chain.mailbox.password}


def test_a_genuinely_signed_agency_report_is_verified_and_counted(tmp_path, receiving_chain):
    signed = receiving_chain.dns.domains[AGENCY_DOMAIN].sign(receiving_chain.report())
    receiving_chain.deliver(signed, mail_from=AGENCY_SENDER, helo=f"mail.{AGENCY_DOMAIN}")
    config, env = _bot(tmp_path, receiving_chain)
    run_cli("run", "--once", config=config, env=env)
    row = status_row(config, env=env)
    assert row["state"] == "acknowledged" and row["sender_note"] is None  # verified: no "chưa được xác thực"


def test_a_forged_own_domain_report_is_an_unverified_claim_and_not_counted(tmp_path, receiving_chain):
    receiving_chain.deliver(receiving_chain.report(), mail_from=ATTACKER, helo=f"mail.{ATTACKER_DOMAIN}")
    config, env = _bot(tmp_path, receiving_chain)
    run_cli("run", "--once", config=config, env=env)
    assert status_row(config, env=env)["state"] == "missing"
    [claim] = cli_json("review", "list", config=config, env=env)["messages"]
    assert claim["unverified_claim"] and claim["agency_guess"] == "tay-ninh"
    assert any("dmarc=fail" in note for note in claim["notes"]), claim


def test_a_pass_injected_through_mail_from_or_a_header_is_not_believed(tmp_path, receiving_chain):
    """The sender's MAIL FROM echoed by the verifier, and a forged header in the MX's name: neither verifies."""
    injected_from = f'"a);dmarc=pass header.from={AGENCY_DOMAIN};(b"@{ATTACKER_DOMAIN}'
    receiving_chain.deliver(receiving_chain.report(message_id="<inj-1@x>"), mail_from=injected_from,
                            helo=f"mail.{ATTACKER_DOMAIN}")
    forged = (f"Authentication-Results: {MX_HOSTNAME}; dkim=pass header.d={AGENCY_DOMAIN}; "
              f"spf=pass smtp.mailfrom={AGENCY_SENDER}; dmarc=pass header.from={AGENCY_DOMAIN}\r\n").encode()
    receiving_chain.deliver(forged + to_crlf(receiving_chain.report(message_id="<inj-2@x>")), mail_from=ATTACKER,
                            helo=f"mail.{ATTACKER_DOMAIN}")
    config, env = _bot(tmp_path, receiving_chain)
    run_cli("run", "--once", config=config, env=env)
    assert status_row(config, env=env)["state"] == "missing"
    claims = cli_json("review", "list", config=config, env=env)["messages"]
    assert len(claims) == 2 and all(c["unverified_claim"] for c in claims), claims


@pytest.fixture(scope="module")
def unstripped_chain(dns_server, dovecot_server):  # type: ignore[no-untyped-def]
    """A verifier that does not strip incoming Authentication-Results, as some are configured."""
    with running_rspamd(dns_server, strip_authentication_results=False) as rspamd, \
            running_postfix(rspamd.milter, lmtp_port_of(dovecot_server)) as postfix:
        yield postfix


def test_without_stripping_a_forged_pass_beside_the_genuine_fail_is_not_believed(tmp_path, unstripped_chain, dovecot,
                                                                                  dns_server):
    chain = ReceivingChain(unstripped_chain, dovecot, dns_server)
    forged = f"Authentication-Results: {MX_HOSTNAME}; dmarc=pass header.from={AGENCY_DOMAIN}\r\n".encode()
    below = f"Received: from pc.{ATTACKER_DOMAIN} by mail.{ATTACKER_DOMAIN}; Wed, 20 Nov 2024 08:00:00 +0700\r\n"
    chain.deliver(forged + to_crlf(chain.report(message_id="<f-1@x>")), mail_from=ATTACKER,
                  helo=f"mail.{ATTACKER_DOMAIN}")
    chain.deliver(below.encode() + forged + to_crlf(chain.report(message_id="<f-2@x>")), mail_from=ATTACKER,
                  helo=f"mail.{ATTACKER_DOMAIN}")
    config, env = _bot(tmp_path, chain)
    run_cli("run", "--once", config=config, env=env)
    assert status_row(config, env=env)["state"] == "missing"
    claims = cli_json("review", "list", config=config, env=env)["messages"]
    assert len(claims) == 2 and all(c["unverified_claim"] for c in claims), claims
    signs = [n for c in claims for n in c["notes"] if "nhân danh máy chủ nhận thư" in n]
    assert len(signs) == 1  # the one below the sender's own trace is named as a forgery sign


def test_the_filters_own_junk_verdict_sets_spam_aside(tmp_path, receiving_chain):
    """rspamd's "add header" verdict through the chain, bound to Postfix's queue id at the end of the header
    block, is believed (trust_headers); the "no spam" the sender wrote into the message is not."""
    spam = ("From: Ban quảng cáo <ads@" + ATTACKER_DOMAIN + ">\r\nTo: " + receiving_chain.address + "\r\n"
            "X-Spamd-Result: default: False [0.00 / 15.00];\r\nX-Rspamd-Action: no action\r\n"
            f"Subject: Khuyến mãi {TEST_SPAM_MARK}\r\nMessage-ID: <spam-1@x>\r\n\r\nMua ngay!\r\n").encode()
    stored = receiving_chain.deliver(spam, mail_from=ATTACKER, helo=f"mail.{ATTACKER_DOMAIN}")
    assert b"X-Rspamd-Action: add header" in stored
    config, env = _bot(tmp_path, receiving_chain, extra='[junk]\ntrust_headers = ["rspamd"]\n')
    run_cli("run", "--once", config=config, env=env)
    [junk] = cli_json("junk", "list", config=config, env=env)
    assert "rspamd (máy chủ nhận thư)" in junk["reason"]
    assert sum(cli_json("stats", config=config, env=env)["outbox"].values()) == 0
