"""A private Postfix MX for the receiving-chain tests (pytest plugin).

Why a real Postfix: what the bot may believe about a sender depends on where the
receiving chain puts its headers — the verifier's Authentication-Results, Postfix's
own Received line, Dovecot's — and on what it does with a header an attacker
already put in the message. Only the real programs answer that.

The instance is ``postfix -c <dir>``: its own main.cf and master.cf, queue and data
directories under a temporary folder, one smtpd on 127.0.0.1:<free port>, every
service unchrooted (the queue is not a chroot jail), logging to a file through
postlogd (there is no syslog in the test machines). It is the MX of the mailbox
domain only (``tdc.test``): mail for it goes to the session Dovecot by LMTP, any
other recipient is refused at RCPT (no relaying), local delivery is off and the
default transport is ``error:`` so nothing can leave the machine. The session
rspamd is its milter; ``milter_default_action = accept`` keeps mail flowing if
rspamd is down, as production should (the bot then sees no verdict, not a bounce).

Postfix and a non-default configuration directory: ``postfix -c`` run by root is
accepted without ``alternate_config_directories`` in /etc/postfix/main.cf (that
list only guards the set-gid programs, postdrop and postqueue, run by other users),
so the system's configuration is never touched. The queue must belong to the
``postfix`` account: ``postfix check`` (run by ``start``) creates and owns the queue
subdirectories from /etc/postfix/postfix-files.
"""
from __future__ import annotations

import os
import pwd
import signal
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.common import free_port, require_binary, started, wait_for_port
from tests.servers.dns import MAILBOX_DOMAIN, MX_HOSTNAME, LoopbackDNS
from tests.servers.dovecot import LMTP_BINARY, LMTP_INSTALL_HINT, DovecotServer, DovecotUser
from tests.servers.rspamd import RspamdServer

INSTALL_HINT = ("echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections "
                "&& apt-get install -y postfix")

MAIN_CF = """\
# Generated for one pytest session; see tests/servers/postfix.py.
compatibility_level = 3.6
queue_directory = {queue_dir}
data_directory = {data_dir}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {log_path}
maillog_file_prefixes = {root}
myhostname = {hostname}
mydomain = {domain}
myorigin = $mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP

# Final destination for the mailbox domain only, delivered to Dovecot by LMTP.
mydestination =
local_recipient_maps =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = static:mailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}

# Nothing else: no relaying, and no transport that could reach another host.
relayhost =
relay_domains =
smtpd_relay_restrictions = reject_unauth_destination
default_transport = error:the test MX relays nowhere
relay_transport = error:the test MX relays nowhere
smtpd_peername_lookup = no
biff = no
{header_checks}
# The verifier: rspamd's proxy worker in milter mode (tests/servers/rspamd.py).
smtpd_milters = {milter}
non_smtpd_milters =
milter_default_action = accept
milter_protocol = 6
milter_mail_macros = i {{mail_addr}} {{client_addr}} {{client_name}} {{auth_authen}}
"""

# Postfix's own services, none in a chroot; the smtpd listens on the test port only.
MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


@dataclass(frozen=True)
class SentMessage:
    """What the test handed to Postfix: the envelope and the queue id Postfix answered with."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    queue_id: str | None


class PostfixServer:
    """One private Postfix: ``host``/``port`` for SMTP, ``send()`` to submit, the mail log for diagnosis."""

    host = "127.0.0.1"

    def __init__(self, root: Path, binary: str, *, milter: str, lmtp_port: int, hostname: str = MX_HOSTNAME,
                 domain: str = MAILBOX_DOMAIN, header_checks: Iterable[str] = ()) -> None:
        self.root = root
        self.binary = binary
        self.hostname = hostname
        self.domain = domain
        self.port = free_port()
        self.config_dir = root / "etc"
        self.queue_dir = root / "spool"
        self.data_dir = root / "lib"
        self.log_path = root / "maillog"
        self._header_checks = list(header_checks)
        self._started = False
        self.started_in: float | None = None
        self._prepare(milter, lmtp_port)

    def _prepare(self, milter: str, lmtp_port: int) -> None:
        for folder in (self.config_dir, self.queue_dir, self.data_dir):
            folder.mkdir(mode=0o755, parents=True)
        os.chmod(self.root, 0o755)  # the postfix account walks to its queue
        if os.geteuid() == 0:  # postfix-script refuses a data directory it does not own (master.lock lives there)
            account = pwd.getpwnam("postfix")
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        header_checks = ""
        if self._header_checks:
            table = self.config_dir / "header_checks"
            table.write_text("".join(f"{line}\n" for line in self._header_checks), encoding="utf-8")
            header_checks = f"header_checks = regexp:{table}\n"
        (self.config_dir / "main.cf").write_text(MAIN_CF.format(
            root=self.root, queue_dir=self.queue_dir, data_dir=self.data_dir, log_path=self.log_path,
            hostname=self.hostname, domain=self.domain, lmtp_port=lmtp_port, milter=milter,
            header_checks=header_checks), encoding="utf-8")
        (self.config_dir / "master.cf").write_text(MASTER_CF.format(smtp_port=self.port), encoding="utf-8")
        # Postfix waits (in 0.3 s steps, ~2 s) for a table or main.cf written "in this second" to settle;
        # these files are complete, so date them in the past.
        past = time.time() - 60
        for written in self.config_dir.iterdir():
            os.utime(written, (past, past))

    def _postfix(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, "-c", str(self.config_dir), *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self) -> None:
        """``postfix start``: checks and owns the queue, then the master daemonises; wait for the smtpd port."""
        began = time.monotonic()
        result = self._postfix("start")
        if result.returncode != 0:
            raise RuntimeError(f"postfix start failed ({result.returncode}): {result.stderr}\n{self.log()}")
        self._started = True
        try:
            wait_for_port(self.port, timeout=30)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"Postfix did not start: {exc}\n{self.log()}") from exc
        self.started_in = time.monotonic() - began

    def stop(self) -> None:
        """SIGTERM the master, as ``postfix stop`` does (the master takes its children down), without its 1 s polls.

        SIGKILL to the master's process group if it lingers.
        """
        if not self._started:
            return
        self._started = False
        pid = self.master_pid()
        if pid is None or not _alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid):
            if time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                break
            time.sleep(0.02)

    def master_pid(self) -> int | None:
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no Postfix log)"

    def send(self, message: bytes, *, mail_from: str, rcpt_to: Iterable[str], helo: str = "mail.example.test",
             timeout: float = 30) -> SentMessage:
        """Submit over SMTP as a remote MTA would; returns the queue id from Postfix's 250 answer.

        The whole reply is kept: a refusal (from Postfix or a milter) raises smtplib's exception with it.
        """
        recipients = tuple(rcpt_to)
        with smtplib.SMTP(self.host, self.port, local_hostname=helo, timeout=timeout) as client:
            client.ehlo(helo)
            client.mail(mail_from)
            for rcpt in recipients:
                code, reply = client.rcpt(rcpt)
                if code != 250:
                    raise smtplib.SMTPRecipientsRefused({rcpt: (code, reply)})
            code, reply = client.data(message)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        text = reply.decode(errors="replace")
        queue_id = text.rsplit("queued as ", 1)[1].strip() if "queued as " in text else None
        return SentMessage(mail_from, recipients, queue_id)

    def wait_delivered(self, queue_id: str, timeout: float = 30) -> str:
        """Wait for the mail log's final word on a queue id; returns that line (status=sent / bounced / ...)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log().splitlines():
                if f"{queue_id}: " in line and " status=" in line:
                    return line
            time.sleep(0.05)
        raise TimeoutError(f"no delivery status for {queue_id} after {timeout}s\n{self.log()[-3000:]}")


def _alive(pid: int) -> bool:
    """Running, not merely a zombie: the master daemonised, so its parent is init, which may reap it late."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@contextmanager
def running_postfix(milter: str, lmtp_port: int, **options) -> Iterator[PostfixServer]:
    """A started Postfix in a fresh temporary folder, stopped and removed on exit (options: PostfixServer's)."""
    binary = require_binary("/usr/sbin/postfix", INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="tdc-postfix-"))
    server = PostfixServer(root, binary, milter=milter, lmtp_port=lmtp_port, **options)
    with started(server, server.stop, root):
        yield server


def lmtp_port_of(dovecot_server: DovecotServer) -> int:
    """The session Dovecot's LMTP port; skips (fails under CI) where dovecot-lmtpd is missing."""
    require_binary(LMTP_BINARY, LMTP_INSTALL_HINT)
    assert dovecot_server.lmtp_port is not None
    return dovecot_server.lmtp_port


@dataclass
class ReceivingChain:
    """One test's view of the chain: send as a remote MTA, read what landed in the test's own mailbox."""

    postfix: PostfixServer
    mailbox: DovecotUser
    dns: LoopbackDNS
    rspamd: RspamdServer | None = None

    @property
    def address(self) -> str:
        """The test user's address in the mailbox domain; Dovecot's LMTP strips the domain."""
        return f"{self.mailbox.user}@{self.postfix.domain}"

    def report(self, **kwargs: Any) -> bytes:
        """A real agency report (a .docx attached) addressed to the test's mailbox (``kwargs``: report_email's)."""
        from tests import mailfactory

        return mailfactory.report_email(to=self.address, **kwargs)

    def deliver(self, message: bytes, *, mail_from: str, helo: str = "mail.example.test",
                rcpt_to: Iterable[str] | None = None, timeout: float = 30) -> bytes:
        """Send through Postfix, wait until Dovecot saved it, and return the stored message as IMAP serves it."""
        before = set(self.mailbox.folder_uids())
        sent = self.postfix.send(message, mail_from=mail_from, rcpt_to=rcpt_to or [self.address], helo=helo,
                                 timeout=timeout)
        assert sent.queue_id, "Postfix did not say which queue id it gave the message"
        status = self.postfix.wait_delivered(sent.queue_id, timeout=timeout)
        if "status=sent" not in status:
            raise AssertionError(f"not delivered: {status}")
        with self.mailbox.client() as client:
            client.select_folder("INBOX", readonly=True)
            new = sorted(set(client.search(["ALL"])) - before)
            assert len(new) == 1, f"expected one new message, found {new}"
            return client.fetch(new, ["BODY.PEEK[]"])[new[0]][b"BODY[]"]


@pytest.fixture(scope="session")
def postfix_server(rspamd_server: RspamdServer, dovecot_server: DovecotServer) -> Iterator[PostfixServer]:
    """The session's MX: Postfix → rspamd milter → Dovecot LMTP, for ``<user>@tdc.test``."""
    with running_postfix(rspamd_server.milter, lmtp_port_of(dovecot_server)) as server:
        yield server


@pytest.fixture
def receiving_chain(postfix_server: PostfixServer, dovecot: DovecotUser, dns_server: LoopbackDNS,
                    rspamd_server: RspamdServer) -> ReceivingChain:
    """The whole chain for one test, delivering into that test's own fresh mailbox."""
    return ReceivingChain(postfix_server, dovecot, dns_server, rspamd_server)


# A test that uses any of these is marked ``mta`` (and ``imap`` through Dovecot), so ``make test-fast`` leaves it out.
MTA_FIXTURES = frozenset({"dns_server", "rspamd_server", "postfix_server", "receiving_chain"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MTA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mta)
