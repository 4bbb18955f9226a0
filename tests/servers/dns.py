"""An authoritative DNS server on loopback for the receiving-chain tests (pytest plugin).

Why: SPF, DKIM and DMARC are DNS lookups. A verifier that stamps
Authentication-Results (rspamd here) must find the test domains' records
somewhere, and nothing may leave the machine, so the tests answer those
lookups themselves: a dnslib server on a free 127.0.0.1 port (UDP and TCP on
the same number), one per test session, whose records tests can add or remove
while it runs. Every name it does not know gets NXDOMAIN at once, so the
verifier's blocklist (RBL/SURBL) and map look-ups fail fast instead of timing
out.

Each mail domain gets SPF ``v=spf1 ip4:127.0.0.1 -all``, a DKIM key pair made
for this session (openssl) published at ``<selector>._domainkey.<domain>``, and
a DMARC record ``_dmarc.<domain>``; ``MailDomain.sign`` signs a message with
that key through dkimpy, as the agency's own server would. Keys are made on
first use (2048-bit RSA costs ~0.5 s of CPU each), so the server starts at once.
"""
from __future__ import annotations

import base64
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.servers.common import in_ci, require_binary

INSTALL_HINT = "pip install dnslib dkimpy (the project's [test] extra)"

# The roster's Tây Ninh agency (config/roster/provinces.toml: tayninh.gov.vn) and a
# department under it, so the bot's own tests can use a sender the roster knows.
AGENCY_ORG_DOMAIN = "tayninh.gov.vn"
AGENCY_DOMAIN = "skhcn.tayninh.gov.vn"
AGENCY_SENDER = f"vanthu@{AGENCY_DOMAIN}"
# Someone with a domain of their own, whose SPF passes from 127.0.0.1 too.
ATTACKER_DOMAIN = "attacker.test"
# The mailbox's own domain; its MX is the private Postfix (tests/servers/postfix.py).
MAILBOX_DOMAIN = "tdc.test"
MX_HOSTNAME = f"mx.{MAILBOX_DOMAIN}"
SPF_LOOPBACK = "v=spf1 ip4:127.0.0.1 -all"
DKIM_SELECTOR = "tdc2025"
DKIM_BITS = 2048
# The server speaks for every name (the root zone, as far as its clients know).
SOA_MNAME = "ns.loopback.test."
SOA_RNAME = "hostmaster.loopback.test."


def _import_dnslib():
    """dnslib is a test extra: skip locally without it, fail under CI=true."""
    try:
        import dnslib
        import dnslib.server  # noqa: F401
    except ImportError:
        message = f"dnslib is not installed; run: {INSTALL_HINT}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return dnslib


def _normal(name: str) -> str:
    """Names compare case-insensitively and without the root dot."""
    return name.rstrip(".").lower()


def txt_strings(text: str) -> list[bytes]:
    """Split a TXT value into the 255-byte character-strings DNS requires (a 2048-bit DKIM key is ~400)."""
    raw = text.encode("ascii")
    return [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]


def to_crlf(message: bytes) -> bytes:
    """The wire form: a signature covers CRLF lines, and smtplib sends bare LFs as CRLF anyway."""
    return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Zone:
    """The records served, by (name, type); thread-safe, because the server answers from its own threads."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], list[object]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, rtype: str, rdata: object) -> None:
        with self._lock:
            self._records.setdefault((_normal(name), rtype.upper()), []).append(rdata)

    def set(self, name: str, rtype: str, rdata: object) -> None:
        """Replace every record of this name and type with one."""
        with self._lock:
            self._records[(_normal(name), rtype.upper())] = [rdata]

    def remove(self, name: str, rtype: str | None = None) -> None:
        """Drop one type of record at a name, or every record there (the name then answers NXDOMAIN)."""
        name = _normal(name)
        with self._lock:
            for key in [k for k in self._records if k[0] == name and (rtype is None or k[1] == rtype.upper())]:
                del self._records[key]

    def lookup(self, name: str, rtype: str) -> tuple[bool, list[object]]:
        """(the name exists, the records of that type): NXDOMAIN vs. an empty NOERROR answer."""
        name = _normal(name)
        with self._lock:
            exists = any(key[0] == name for key in self._records)
            return exists, list(self._records.get((name, rtype.upper()), ()))


@dataclass
class DkimKey:
    """An RSA key pair made for this session; its public half is published in the zone."""

    domain: str
    selector: str
    private_pem: bytes
    public_b64: str

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public_b64}"

    @classmethod
    def generate(cls, domain: str, selector: str = DKIM_SELECTOR, bits: int = DKIM_BITS) -> DkimKey:
        """openssl (already needed for the test certificates) rather than a crypto library in the venv."""
        openssl = require_binary("openssl", "apt-get install -y openssl")
        private = subprocess.run([openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}"],
                                 check=True, capture_output=True).stdout
        public_der = subprocess.run([openssl, "pkey", "-pubout", "-outform", "DER"], input=private,
                                    check=True, capture_output=True).stdout
        return cls(domain, selector, private, base64.b64encode(public_der).decode("ascii"))


class MailDomain:
    """A sending domain as published in the loopback DNS: SPF, a DMARC policy, a DKIM key made on first use.

    A 2048-bit key costs ~0.5 s of CPU (several seconds on a loaded machine), so a domain's key is made
    and published the first time someone needs it (``dkim``, ``sign``), never at session start; until
    then its ``<selector>._domainkey`` name answers NXDOMAIN, as for a domain that publishes no key.
    """

    def __init__(self, name: str, *, spf: str, dmarc: str | None, selector: str,
                 publish: Callable[[DkimKey], None], key: DkimKey | None = None) -> None:
        self.name = name
        self.spf = spf
        self.dmarc = dmarc
        self.selector = selector
        self._publish = publish
        self._key = key
        self._lock = threading.Lock()
        if key is not None:
            publish(key)

    @property
    def dkim(self) -> DkimKey:
        with self._lock:
            if self._key is None:
                self._key = DkimKey.generate(self.name, self.selector)
                self._publish(self._key)
            return self._key

    def sign(self, message: bytes, *, signing_domain: str | None = None,
             headers: tuple[bytes, ...] = (b"from", b"to", b"subject", b"date", b"message-id",
                                           b"mime-version", b"content-type")) -> bytes:
        """The message with a DKIM-Signature (relaxed/relaxed, rsa-sha256) prepended, as the domain's MTA would add.

        Only the listed headers that the message has are signed; dkimpy refuses to sign without From.
        """
        import dkim

        message = to_crlf(message)
        present = {line.split(b":", 1)[0].strip().lower() for line in message.split(b"\r\n\r\n", 1)[0].splitlines()
                   if b":" in line and not line[:1].isspace()}
        signature = dkim.sign(message, self.dkim.selector.encode(), (signing_domain or self.name).encode(),
                              self.dkim.private_pem, canonicalize=(b"relaxed", b"relaxed"),
                              include_headers=[h for h in headers if h in present])
        return signature + message


class _Resolver:
    """dnslib resolver over a Zone, counting the questions so tests can see the verifier asked."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.questions: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def resolve(self, request, handler):  # dnslib's interface
        """Answer like a real authoritative server: records, or NXDOMAIN/NODATA with the zone's SOA.

        The SOA (RFC 2308) and the EDNS OPT echoed back are not decoration: rspamd's resolver (rdns)
        drops a reply no longer than 28 bytes, so a bare NXDOMAIN for a short name such as
        ``python.org`` would look to it like a timeout (1 s, then a retransmit).
        """
        from dnslib import EDNS0, QTYPE, RCODE, RR, SOA

        reply = request.reply()  # aa=1, ra=1, the question copied
        qname = str(request.q.qname)
        qtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
        with self._lock:
            self.questions[(_normal(qname), str(qtype))] += 1
        exists, records = self.zone.lookup(qname, str(qtype))
        if not exists:
            reply.header.rcode = RCODE.NXDOMAIN
        for rdata in records:
            reply.add_answer(RR(qname, request.q.qtype, rdata=rdata, ttl=60))
        if not records:
            reply.add_auth(RR(".", QTYPE.SOA, ttl=60, rdata=SOA(SOA_MNAME, SOA_RNAME, (1, 3600, 600, 86400, 60))))
        if any(rr.rtype == QTYPE.OPT for rr in request.ar):
            reply.add_ar(EDNS0(udp_len=1232))
        return reply


class _QuietLogger:
    """dnslib's default logger prints every packet; the tests' output stays clean."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


class LoopbackDNS:
    """The session's DNS server: a zone, UDP and TCP listeners on one free 127.0.0.1 port, helpers for mail domains."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.dnslib = _import_dnslib()
        self.zone = Zone()
        self._resolver = _Resolver(self.zone)
        self._servers: list[object] = []
        self.port = 0
        self.domains: dict[str, MailDomain] = {}

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Bind UDP on an ephemeral port, then TCP on the same number (retrying if that one is taken)."""
        from dnslib.server import DNSServer

        for _ in range(20):
            udp = DNSServer(self._resolver, address=self.host, port=0, logger=_QuietLogger())
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self._resolver, address=self.host, port=port, tcp=True, logger=_QuietLogger())
            except OSError:
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            for server in self._servers:
                server.start_thread()
            return
        raise RuntimeError("no free port for both UDP and TCP DNS")

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
        self._servers = []

    @property
    def nameserver(self) -> str:
        """host:port, the form rspamd's options.dns.nameserver takes."""
        return f"{self.host}:{self.port}"

    @property
    def questions(self) -> Counter[tuple[str, str]]:
        """How often each (name, type) was asked since start."""
        return self._resolver.questions

    # -- records -----------------------------------------------------------------
    def add_txt(self, name: str, text: str) -> None:
        self.zone.add(name, "TXT", self.dnslib.TXT(txt_strings(text)))

    def set_txt(self, name: str, text: str) -> None:
        self.zone.set(name, "TXT", self.dnslib.TXT(txt_strings(text)))

    def add_a(self, name: str, address: str) -> None:
        self.zone.add(name, "A", self.dnslib.A(address))

    def add_mx(self, name: str, exchange: str, preference: int = 10) -> None:
        self.zone.add(name, "MX", self.dnslib.MX(exchange, preference))

    def remove(self, name: str, rtype: str | None = None) -> None:
        self.zone.remove(name, rtype)

    def add_mail_domain(self, name: str, *, spf: str = SPF_LOOPBACK, dmarc: str | None = "v=DMARC1; p=reject",
                        selector: str = DKIM_SELECTOR, key: DkimKey | None = None,
                        mx: str | None = None) -> MailDomain:
        """Publish a sending domain: A/MX (so it "exists" for checks that ask), SPF, DMARC; its DKIM key
        now if given, else when first used (see MailDomain)."""
        self.add_a(name, "127.0.0.1")
        self.add_mx(name, mx or name)
        self.add_txt(name, spf)
        if dmarc is not None:
            self.add_txt(f"_dmarc.{name}", dmarc)
        domain = MailDomain(name, spf=spf, dmarc=dmarc, selector=selector, key=key,
                            publish=lambda made: self.set_txt(made.record_name, made.record))
        self.domains[name] = domain
        return domain

    def resolve(self, name: str, rtype: str = "A", *, tcp: bool = False, timeout: float = 2.0):
        """Ask the server like a client would (tests of the fixture itself); returns the parsed reply."""
        from dnslib import DNSRecord

        query = DNSRecord.question(name, rtype)
        return DNSRecord.parse(query.send(self.host, self.port, tcp=tcp, timeout=timeout))


def session_zone(dns: LoopbackDNS) -> None:
    """The test domains every chain test can rely on (see the module constants); their keys come on first use."""
    dns.add_mail_domain(AGENCY_ORG_DOMAIN)
    dns.add_mail_domain(AGENCY_DOMAIN)
    dns.add_mail_domain(ATTACKER_DOMAIN, dmarc="v=DMARC1; p=none")
    dns.add_mail_domain(MAILBOX_DOMAIN, mx=MX_HOSTNAME)
    dns.add_a(MX_HOSTNAME, "127.0.0.1")


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LoopbackDNS]:
    """The session's loopback DNS with the test domains (Tây Ninh's, attacker.test, tdc.test) published."""
    try:
        import dkim  # noqa: F401
    except ImportError:
        message = f"dkimpy is not installed; run: {INSTALL_HINT}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = LoopbackDNS()
    session_zone(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()
