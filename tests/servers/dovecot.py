"""A throwaway Dovecot IMAP server for integration tests (pytest plugin).

One server per test session, on its own loopback ports, with its own config,
``base_dir``, log and TLS material, so it never touches a system Dovecot.
Each test gets a fresh user (its own Maildir), which isolates tests without
having to empty mailboxes between them. The fixed session user lives in a
passwd-file; fresh users are accepted by a second, static passdb with the
same password (Dovecot notices passwd-file edits only about once a second,
which made adding users per test flaky).

When Debian's dovecot-lmtpd is installed, the same server also takes mail by
LMTP on a loopback port, for the private Postfix of the receiving-chain tests
(tests/servers/postfix.py); without it, IMAP works exactly as before.
"""
from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.servers.common import free_port, require_binary, wait_for_port

INSTALL_HINT = "apt-get install -y dovecot-imapd"
LMTP_BINARY = "/usr/lib/dovecot/lmtp"
LMTP_INSTALL_HINT = "apt-get install -y dovecot-lmtpd"
PASSWORD = "Mật-khẩu-thử-1322"  # non-ASCII on purpose: AUTHENTICATE PLAIN must carry UTF-8


CONFIG_TEMPLATE = """\
# Generated for one pytest session; see tests/servers/dovecot.py.
base_dir = {base_dir}
state_dir = {state_dir}
instance_name = tdc-test-{port}
log_path = {log_path}
info_log_path = {log_path}
protocols = {protocols}
listen = 127.0.0.1
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
mail_location = maildir:{maildir}/%u
mail_fsync = never
# IDLE learns of a message another client appended from a change notification; one that lands just before the
# watch is set up is otherwise only noticed at the next check (30 s by default). Loaded CI machines hit that gap.
mailbox_idle_check_interval = 1 secs
mail_plugins =
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
{lmtp}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={maildir}/%u
}}
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """Create a session CA and a server certificate for 127.0.0.1/localhost.

    A separate CA (rather than one self-signed leaf) keeps verification valid
    under the strict X.509 checks newer Pythons enable by default.
    Returns (ca_cert, server_cert, server_key).
    """
    require_binary("openssl", "apt-get install -y openssl")
    ca_key, ca_cert = folder / "ca.key", folder / "ca.pem"
    key, csr, cert, ext = folder / "server.key", folder / "server.csr", folder / "server.pem", folder / "server.ext"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(ca_key), "-out", str(ca_cert), "-days", "2", "-subj", "/CN=tdc-intake test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost", cwd=folder)
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectKeyIdentifier=hash\n"
    )
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(cert), "-days", "2", "-extfile", str(ext), cwd=folder)
    return ca_cert, cert, key


# A recipient user@domain is delivered to the IMAP user "user": the domain is stripped.
LMTP_TEMPLATE = """\
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
protocol lmtp {{
  auth_username_format = %Ln
}}
"""


class DovecotServer:
    """Handle on the session's Dovecot: ports, credentials, lifecycle, log."""

    host = "127.0.0.1"

    def __init__(self, root: Path, binary: str) -> None:
        self.root = root
        self.binary = binary
        self.port = free_port()
        self.ssl_port = free_port()
        # LMTP only where Debian's dovecot-lmtpd is installed: Dovecot refuses a protocol it lacks.
        self.lmtp_port: int | None = free_port() if os.path.isfile(LMTP_BINARY) else None
        self.maildir = root / "mail"
        self.passwd_file = root / "passwd"
        self.log_path = root / "dovecot.log"
        self.config_path = root / "dovecot.conf"
        self.user = "tdc"
        self.password = PASSWORD
        self._process: subprocess.Popen[bytes] | None = None
        self._prepare()

    def _prepare(self) -> None:
        """Lay out folders readable by Dovecot's unprivileged users (pytest's tmp dirs are 0700)."""
        internal = pwd.getpwnam("dovecot")
        for sub in ("run", "state", "tls"):
            (self.root / sub).mkdir(mode=0o755)
        self.maildir.mkdir(mode=0o750)
        os.chown(self.maildir, internal.pw_uid, internal.pw_gid)
        self.cert_path, server_cert, server_key = make_certificates(self.root / "tls")
        self.passwd_file.write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n", encoding="utf-8")
        os.chmod(self.passwd_file, 0o644)
        lmtp = LMTP_TEMPLATE.format(lmtp_port=self.lmtp_port) if self.lmtp_port else ""
        self.config_path.write_text(CONFIG_TEMPLATE.format(
            base_dir=self.root / "run", state_dir=self.root / "state", log_path=self.log_path,
            cert=server_cert, key=server_key, maildir=self.maildir, passwd=self.passwd_file,
            port=self.port, ssl_port=self.ssl_port, password=self.password,
            protocols="imap lmtp" if self.lmtp_port else "imap", lmtp=lmtp,
        ), encoding="utf-8")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        # Own session (process group): Dovecot's children outlive a SIGTERM'd
        # master for a while, and stop() must take all of them down.
        self._process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout=15)
            wait_for_port(self.ssl_port, timeout=15)
            if self.lmtp_port:
                wait_for_port(self.lmtp_port, timeout=15)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"Dovecot did not start: {exc}\n{self.log()}") from exc

    def stop(self) -> None:
        """Stop the master and every process of its group, so a restart really cuts clients off."""
        process, self._process = self._process, None
        if process is None:
            return
        group = process.pid  # session leader: its pid is the group id
        _signal_group(group, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            process.wait(timeout=5)
        deadline = time.monotonic() + 5
        while _group_alive(group):
            if time.monotonic() > deadline:
                _signal_group(group, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.05)
        while any(_port_open(port) for port in self.ports):
            time.sleep(0.05)

    @property
    def ports(self) -> tuple[int, ...]:
        """Every port this server listens on (LMTP's only when it has one)."""
        return tuple(port for port in (self.port, self.ssl_port, self.lmtp_port) if port)

    def restart(self) -> None:
        """Stop and start again on the same ports: every open client connection dies."""
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this session's CA."""
        return ssl.create_default_context(cafile=str(self.cert_path))

    def client(self, user: str | None = None, *, use_ssl: bool = False):
        """A logged-in IMAPClient (plain port unless ``use_ssl``) for setting up and checking."""
        from imapclient import IMAPClient

        if use_ssl:
            client = IMAPClient(self.host, port=self.ssl_port, ssl=True, ssl_context=self.ssl_context(), timeout=15)
        else:
            client = IMAPClient(self.host, port=self.port, ssl=False, timeout=15)
        # LOGIN is ASCII-only in imaplib; AUTHENTICATE PLAIN carries the UTF-8 password.
        client.plain_login(user or self.user, self.password)
        client.normalise_times = False
        return client


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class DovecotUser:
    """One test's own mailbox on the session server."""

    server: DovecotServer
    user: str

    @property
    def password(self) -> str:
        return self.server.password

    def client(self, *, use_ssl: bool = False):
        return self.server.client(self.user, use_ssl=use_ssl)

    def append(self, raw: bytes, folder: str = "INBOX", internaldate: datetime | None = None,
               flags: Iterable[str | bytes] = ()) -> int | None:
        """Deliver a message as another client would; returns its UID (from APPENDUID) when known."""
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            response = c.append(folder, raw, flags=tuple(flags), msg_time=internaldate)
        return _appenduid(response)

    def folder_uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            return sorted(c.search(["ALL"]))

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            return {uid: data[b"FLAGS"] for uid, data in c.fetch("1:*", ["FLAGS"]).items()}


def _appenduid(response: bytes | str) -> int | None:
    """Read the UID from Dovecot's "[APPENDUID <validity> <uid>] ..." reply."""
    text = response.decode() if isinstance(response, bytes) else str(response)
    if "APPENDUID" not in text:
        return None
    try:
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
    except (IndexError, ValueError):
        return None


@pytest.fixture(scope="session")
def dovecot_server():
    binary = require_binary("/usr/sbin/dovecot", INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="tdc-dovecot-"))
    os.chmod(root, 0o755)
    server = DovecotServer(root, binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


_user_counter = itertools.count(1)


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> DovecotUser:
    """A fresh, empty mailbox user for this test (the server is restarted if a test stopped it)."""
    dovecot_server.start()
    user = f"t{os.getpid()}x{next(_user_counter)}"
    return DovecotUser(dovecot_server, user)
