"""A real SMTP server (aiosmtpd) on loopback for the notifier's integration tests.

Why a real server and not a mock of smtplib: the outbox's promises (retry on 4xx,
drain after an outage, log in, upgrade to TLS and verify the certificate) are
about what happens on the wire, so the tests talk SMTP to something that
answers like a mail server would.
"""
from __future__ import annotations

import email
import email.message
import email.policy
import hmac
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.common import free_port, require_binary

SMTP_USER = "bot@example.vn"
SMTP_PASSWORD = "s3cret-pass"

FailureStage = Literal["any", "rcpt", "data"]


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it: envelope plus the exact bytes of DATA."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float
    login: str | None = None
    tls: bool = False

    def message(self) -> email.message.EmailMessage:
        """Parse the bytes the way a receiving MUA would, so tests can check headers and parts."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


@dataclass
class _FailurePlan:
    remaining: int = 0
    code: int = 451
    stage: FailureStage = "any"

    def consume(self, stage: Literal["rcpt", "data"]) -> int | None:
        """Return the code to answer with if this command must fail, counting it down."""
        if self.remaining <= 0 or self.stage not in ("any", stage):
            return None
        self.remaining -= 1
        return self.code


def failure_reply(code: int) -> str:
    """An SMTP reply line with a matching enhanced status code (4.x.x temporary, 5.x.x permanent)."""
    return f"{code} {str(code)[0]}.3.0 Requested action not taken (failure injected by the test)"


def make_self_signed_cert(directory: Path, common_name: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a self-signed certificate valid for 127.0.0.1 and localhost; return (cert, key).

    The certificate is its own CA, so a client verifies the server by loading
    the same PEM as its trust anchor (``ssl.create_default_context(cafile=cert)``).
    """
    openssl = require_binary("openssl", "apt-get install -y openssl")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", f"/CN={common_name}",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


class _RecordingHandler:
    """aiosmtpd handler hooks; runs in the controller's thread and reports to its SmtpServer."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        code = self._owner._failure_for("rcpt")
        if code is not None:
            return failure_reply(code)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        code = self._owner._failure_for("data")
        if code is not None:
            return failure_reply(code)
        login = session.login_data.decode("utf-8", "replace") if session.login_data else None
        self._owner._record(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                at=time.time(),
                login=login,
                tls=session.ssl is not None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts.

    ``stop()`` and ``start()`` reuse the same port so a test can simulate an
    outage and check that the application's queue drains when the server is back.
    With credentials, authentication (PLAIN/LOGIN) is *required* before MAIL, so a
    client that forgets to log in is refused. With ``tls_cert``/``tls_key``,
    STARTTLS is offered and, unless ``require_starttls=False``, required before
    AUTH and MAIL.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        require_starttls: bool = True,
        port: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither")
        self.host = host
        self.port = port or free_port()
        self.username = username
        self.password = password
        self.cert_path: Path | None = tls_cert
        self._key_path = tls_key
        self._require_starttls = require_starttls and tls_cert is not None
        self.messages: list[Received] = []
        self.logins: list[str] = []
        self.failed_logins: list[str] = []
        self._cond = threading.Condition()
        self._failures = _FailurePlan()
        self._controller: Controller | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        """Start listening (again) on the same host and port."""
        if self._controller is not None:
            return self
        controller = Controller(
            _RecordingHandler(self),
            hostname=self.host,
            port=self.port,
            ready_timeout=10.0,
            server_hostname="smtp.test.localhost",  # avoids a slow getfqdn() lookup
            **self._smtp_options(),
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening; connections are refused until ``start()``. Recorded messages stay."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _smtp_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"enable_SMTPUTF8": True}
        if self.username is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self._require_starttls,
            )
        if self.cert_path is not None and self._key_path is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cert_path), str(self._key_path))
            options.update(tls_context=context, require_starttls=self._require_starttls)
        return options

    # -- behaviour for tests -----------------------------------------------------

    def fail_next(self, n: int, code: int = 451, stage: FailureStage = "any") -> None:
        """Answer the next ``n`` RCPT/DATA commands (or only those of ``stage``) with ``code``."""
        if n < 0:
            raise ValueError("n must be >= 0")
        if not 400 <= code <= 599:
            raise ValueError("code must be a 4xx or 5xx SMTP reply code")
        with self._cond:
            self._failures = _FailurePlan(remaining=n, code=code, stage=stage)

    @property
    def failures_left(self) -> int:
        with self._cond:
            return self._failures.remaining

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least ``count`` messages arrived; raise TimeoutError naming what did."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} message(s) on {self.host}:{self.port} within {timeout}s, "
                    f"got {len(self.messages)}"
                )
            return list(self.messages)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()
            self.logins.clear()
            self.failed_logins.clear()

    # -- called from the server thread -------------------------------------------

    def _failure_for(self, stage: Literal["rcpt", "data"]) -> int | None:
        with self._cond:
            return self._failures.consume(stage)

    def _record(self, received: Received) -> None:
        with self._cond:
            self.messages.append(received)
            self._cond.notify_all()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accept only the configured login/password (PLAIN or LOGIN); anything else gets 535."""
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        assert self.username is not None and self.password is not None
        login_ok = hmac.compare_digest(auth_data.login, self.username.encode("utf-8"))
        password_ok = hmac.compare_digest(auth_data.password, self.password.encode("utf-8"))
        login = auth_data.login.decode("utf-8", "replace")
        with self._cond:
            (self.logins if login_ok and password_ok else self.failed_logins).append(login)
        if login_ok and password_ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


# -- pytest fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One self-signed certificate per session; generating a key per test would be wasted time."""
    return make_self_signed_cert(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP, no authentication, no TLS."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_server_auth() -> Iterator[SmtpServer]:
    """SMTP that requires AUTH PLAIN/LOGIN as bot@example.vn / s3cret-pass (no TLS: loopback)."""
    with SmtpServer(username=SMTP_USER, password=SMTP_PASSWORD) as server:
        yield server


@pytest.fixture
def smtp_server_tls(smtp_tls_files: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """SMTP that requires STARTTLS and then AUTH; clients verify it with ``.cert_path``."""
    cert, key = smtp_tls_files
    with SmtpServer(username=SMTP_USER, password=SMTP_PASSWORD, tls_cert=cert, tls_key=key) as server:
        yield server


SMTP_FIXTURES = frozenset({"smtp_server", "smtp_server_auth", "smtp_server_tls"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses an SMTP server fixture, so ``-m "not smtp"`` leaves them out."""
    for item in items:
        if SMTP_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.smtp)


def pytest_configure(config: pytest.Config) -> None:
    """The auth-without-TLS server is deliberate (loopback only), so its aiosmtpd warning is noise."""
    config.addinivalue_line("filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning")
