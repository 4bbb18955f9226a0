"""A private rspamd for the receiving-chain tests (pytest plugin): one instance, two roles.

Why rspamd: it is Debian's maintained all-in-one verifier and spam filter. Its
proxy worker, in milter mode, stamps Authentication-Results (SPF, DKIM, DMARC)
and its spam headers on mail passing through Postfix (tests/servers/postfix.py);
its normal worker answers the HTTP API (``/checkv2``) that the bot asks about
mail which arrives without a trusted verdict (issue 20). One instance serves both,
as in production, so what the tests learn about one role holds for the other.

The instance is the Debian package's stock configuration (``CONFDIR=/etc/rspamd``)
with a local configuration directory written here, never /etc/rspamd/local.d:

* DNS goes to the session's loopback server only (tests/servers/dns.py), so the
  SPF/DKIM/DMARC records are the test domains' and nothing leaves the machine;
  the remote fuzzy hashes are off, Redis is not configured (Bayes, greylisting,
  rate limits and reputation stay off by themselves).
* SPF, DKIM and DMARC are checked for loopback clients too (rspamd skips "local"
  senders by default, and every test message comes from 127.0.0.1), and the
  milter headers are added for them (``skip_local = false``).
* By default the actions never reject, greylist or rewrite a subject, so a test
  message always reaches the mailbox; ``actions=None`` keeps the stock thresholds
  (the realmail measurement in bench/ uses that).

Start-up: rspamd compiles its URL-suffix and regexp databases with Hyperscan,
~30 s on this 2-core machine when idle (over 100 s under load). The compiled
databases are kept in a cache folder that outlives the session (``RSPAMD_HS_CACHE``,
default ``.cache/rspamd-hs`` in the work tree: one per checkout, not shared between
checkouts), so later sessions start in ~1.5 s. rspamd writes the big databases under
a temporary name and renames them, and checks each file it loads (recompiling a bad
one), so two sessions of the same checkout (pytest-xdist workers) can share the folder.
"""
from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.common import free_port, require_binary, started, wait_for_port
from tests.servers.dns import MX_HOSTNAME, LoopbackDNS

INSTALL_HINT = "apt-get install -y rspamd"
SERVICE_USER = "_rspamd"  # the Debian package's account; rspamd refuses to run its workers as root
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HS_CACHE = REPO_ROOT / ".cache" / "rspamd-hs"

# Actions for the tests: mail is always delivered, only marked (X-Spam header from "add header").
NEVER_REJECT: Mapping[str, float | None] = {"reject": None, "rewrite_subject": None, "greylist": None,
                                            "add_header": 6.0}

TOP_CONFIG = """\
# Generated for one pytest session; see tests/servers/rspamd.py.
.include "$CONFDIR/common.conf"

options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}}

logging {{
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    .include "$CONFDIR/logging.inc"
    level = "{log_level}";
}}

# The scanner: the HTTP API (/checkv2) the bot asks, and the proxy's upstream.
worker "normal" {{
    bind_socket = "127.0.0.1:{http_port}";
    .include "$CONFDIR/worker-normal.inc"
    count = 1;
}}

# The milter Postfix talks to: it hands each message to the scanner above and
# turns the verdict into header edits (milter_headers) and an SMTP answer.
# Written out rather than including $CONFDIR/worker-proxy.inc: that file's upstream
# "localhost" would be merged with this one and win (the default port 11333).
worker "rspamd_proxy" {{
    bind_socket = "127.0.0.1:{milter_port}";
    milter = yes;
    timeout = 120s;
    upstream "local" {{
        default = yes;
        hosts = "127.0.0.1:{http_port}";
    }}
    count = 1;
    max_retries = 5;
    discard_on_reject = false;
    quarantine_on_reject = false;
    spam_header = "X-Spam";
    reject_message = "Spam message rejected";
}}
"""

LOCAL_FILES = {
    "options.inc": """\
dns {{
    nameserver = ["{nameserver}"];
    timeout = 1s;
    retransmits = 1;
}}
hs_cache_dir = "{hs_cache}/";
""",
    # Loopback is a "local" network to rspamd; the tests' mail comes from there but stands for the Internet.
    "spf.conf": "check_local = true;\ncheck_authed = true;\n",
    "dkim.conf": "check_local = true;\ncheck_authed = true;\n",
    "dmarc.conf": "check_local = true;\ncheck_authed = true;\n",
    "arc.conf": "check_local = true;\ncheck_authed = true;\n",
    "milter_headers.conf": """\
use = ["authentication-results", "x-spamd-result", "x-spam-status", "x-rspamd-server",
       "x-rspamd-queue-id", "x-rspamd-action"];
skip_local = false;
skip_authenticated = false;
routines {{
    x-rspamd-server {{
        hostname = "{hostname}";
    }}
    authentication-results {{
        # rspamd's default, 0, removes every Authentication-Results the message came with; false keeps them.
        remove = {ar_remove};
    }}
}}
""",
    "dkim_signing.conf": "enabled = false;\n",
    # Test-only: a subject carrying TEST_SPAM_MARK scores as spam ("add header", over 6, under no reject),
    # so a test can make rspamd call a message junk through the milter. (GTUBE's "add header" variant
    # answers over /checkv2 but not through the milter in rspamd 3.4, and its reject pattern is refused at SMTP.)
    "multimap.conf": """\
tdc_test_spam {{
    type = "header";
    header = "subject";
    regexp = true;
    map = "$LOCAL_CONFDIR/tdc-test-spam.map";
    symbol = "TDC_TEST_SPAM";
    score = 10.0;
    description = "test suite: a message the tests want called spam";
}}
""",
}
TEST_SPAM_MARK = "TDC-TEST-SPAM-7f3a"

# override.d: modules that would reach rspamd.com (fuzzy hashes, rule updates) are off outright.
OVERRIDE_FILES = {
    "fuzzy_check.conf": "enabled = false;\n",
    "rspamd_update.conf": "enabled = false;\n",
}


def _actions_file(actions: Mapping[str, float | None]) -> str:
    lines = [f"{name} = {'null' if score is None else score};" for name, score in actions.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Verdict:
    """The parts of a /checkv2 answer the tests look at; ``raw`` keeps the whole JSON."""

    action: str
    score: float
    required_score: float
    symbols: dict[str, dict]
    raw: dict

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        return cls(action=data["action"], score=float(data["score"]),
                   required_score=float(data.get("required_score", 0.0)),
                   symbols=dict(data.get("symbols", {})), raw=data)


class RspamdServer:
    """One rspamd: the normal worker's HTTP API at ``http_url``, the proxy's milter at ``milter``."""

    host = "127.0.0.1"

    def __init__(self, root: Path, binary: str, dns: LoopbackDNS, *,
                 actions: Mapping[str, float | None] | None = NEVER_REJECT,
                 hostname: str = MX_HOSTNAME, hs_cache: Path | None = None, log_level: str = "info",
                 strip_authentication_results: bool = True, extra_config: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.binary = binary
        self.dns = dns
        self.actions = actions
        self.hostname = hostname
        self.hs_cache = Path(hs_cache or os.environ.get("RSPAMD_HS_CACHE") or DEFAULT_HS_CACHE)
        self.log_level = log_level
        self.strip_authentication_results = strip_authentication_results
        # More files for the local configuration directory, e.g. {"local.d/hfilter.conf": "..."}
        # (a benchmark's profile).
        self.extra_config = dict(extra_config or {})
        self.http_port = free_port()
        self.milter_port = free_port()
        self.conf_dir = root / "conf"
        self.log_path = root / "log" / "rspamd.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None
        self._prepare()

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def milter(self) -> str:
        """The address in Postfix's notation (``smtpd_milters = inet:host:port``)."""
        return f"inet:{self.host}:{self.milter_port}"

    def _prepare(self) -> None:
        """Write the config and hand the folders to _rspamd (pytest's and mkdtemp's folders are 0700)."""
        for sub in ("conf/local.d", "conf/override.d", "db", "run", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.hs_cache.mkdir(parents=True, exist_ok=True)
        (self.root / "rspamd.conf").write_text(TOP_CONFIG.format(
            http_port=self.http_port, milter_port=self.milter_port, log_level=self.log_level), encoding="utf-8")
        values = {"nameserver": self.dns.nameserver, "hs_cache": self.hs_cache, "hostname": self.hostname,
                  "ar_remove": "0" if self.strip_authentication_results else "false"}
        for name, text in LOCAL_FILES.items():
            (self.conf_dir / "local.d" / name).write_text(text.format(**values), encoding="utf-8")
        (self.conf_dir / "tdc-test-spam.map").write_text(f"/{TEST_SPAM_MARK}/\n", encoding="utf-8")
        for name, text in OVERRIDE_FILES.items():
            (self.conf_dir / "override.d" / name).write_text(text, encoding="utf-8")
        for relative, text in self.extra_config.items():
            (self.conf_dir / relative).write_text(text, encoding="utf-8")
        if self.actions is not None:
            (self.conf_dir / "override.d" / "actions.conf").write_text(_actions_file(self.actions), encoding="utf-8")
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_USER)
            os.chmod(self.root, 0o755)
            for folder in (self.root, self.root / "db", self.root / "run", self.root / "log", self.hs_cache):
                os.chown(folder, account.pw_uid, account.pw_gid)
                os.chmod(folder, 0o755)

    def command(self) -> list[str]:
        variables = {"CONFDIR": "/etc/rspamd", "LOCAL_CONFDIR": self.conf_dir, "DBDIR": self.root / "db",
                     "RUNDIR": self.root / "run", "LOGDIR": self.root / "log"}
        cmd = [self.binary, "-f", "-c", str(self.root / "rspamd.conf")]
        cmd += [f"--var={name}={value}" for name, value in variables.items()]
        if os.geteuid() == 0:
            cmd += ["-u", SERVICE_USER, "-g", SERVICE_USER]
        return cmd

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 300.0) -> None:
        """Start and wait for both workers; a cold Hyperscan cache makes the first start slow (see module doc)."""
        if self.running:
            return
        began = time.monotonic()
        self._process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = began + timeout
            for port in (self.http_port, self.milter_port):
                while True:
                    if self._process.poll() is not None:
                        raise RuntimeError(f"rspamd exited with {self._process.returncode}")
                    try:
                        wait_for_port(port, timeout=0.5)
                        break
                    except RuntimeError:
                        if time.monotonic() > deadline:
                            raise
            self._wait_until_scanning(deadline)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"rspamd did not start: {exc}\n{self.log_tail()}") from exc
        self.started_in = time.monotonic() - began

    def _wait_until_scanning(self, deadline: float) -> None:
        """The socket is bound before the worker has loaded its rules; /ping answers once it serves."""
        while True:
            try:
                with urllib.request.urlopen(f"{self.http_url}/ping", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("rspamd's normal worker does not answer /ping")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no rspamd log)"

    def check(self, message: bytes, *, ip: str | None = None, helo: str | None = None,
              mail_from: str | None = None, rcpt: str | None = None, mta_name: str | None = None,
              timeout: float = 30.0) -> Verdict:
        """POST the message to /checkv2 with the envelope as rspamd's HTTP headers; the JSON verdict."""
        headers = {"Content-Type": "message/rfc822"}
        for name, value in (("IP", ip), ("Helo", helo), ("From", mail_from), ("Rcpt", rcpt),
                            ("MTA-Name", mta_name)):
            if value:
                headers[name] = value
        request = urllib.request.Request(f"{self.http_url}/checkv2", data=message, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Verdict.from_json(json.loads(reply.read()))


@contextmanager
def running_rspamd(dns: LoopbackDNS, **options) -> Iterator[RspamdServer]:
    """A started rspamd in a fresh temporary folder, stopped and removed on exit (options: RspamdServer's)."""
    binary = require_binary("/usr/bin/rspamd", INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="tdc-rspamd-"))
    server = RspamdServer(root, binary, dns, **options)
    with started(server, server.stop, root):
        yield server


@pytest.fixture(scope="session")
def rspamd_server(dns_server: LoopbackDNS) -> Iterator[RspamdServer]:
    """The session's rspamd, its DNS the loopback server; yields ``http_url`` and ``milter``."""
    with running_rspamd(dns_server) as server:
        yield server
