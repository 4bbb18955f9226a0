"""How a composed email leaves the building: SMTP, or .eml files in a folder.

Every failure is sorted into one of two kinds, because the outbox treats
them differently:

* ``TransientSendError``: trying again later may work (server down, timeout,
  4xx reply, and also configuration problems such as a refused login or an
  unverifiable certificate: they are not the row's fault, so the row waits
  for an administrator instead of failing; the error text says what to fix).
  ``scope`` says whether the whole server is unusable ("connection") or only
  this message was deferred ("message").
* ``PermanentSendError``: the server refused this message for good (5xx for
  all recipients, 5xx to DATA); sending the same bytes again is pointless.

The SMTP password is held privately and scrubbed from every error text:
exception messages end up in the database (``last_error``) and in logs.
"""
from __future__ import annotations

import base64
import logging
import os
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

from intake.sources.net_errors import reason
from intake.store import make_dirs
from notifier.files import save_atomically
from notifier.header_encoding import SMTP_EXACT

log = logging.getLogger(__name__)

Scope = Literal["connection", "message"]
Refused = dict[str, tuple[int, str]]
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SendError(Exception):
    """A send failed; the text is safe to store and show (no secrets)."""

    transient = False


class TransientSendError(SendError):
    transient = True

    def __init__(self, message: str, scope: Scope = "connection"):
        super().__init__(message)
        self.scope: Scope = scope


class PermanentSendError(SendError):
    transient = False


class Transport(Protocol):
    def send(self, msg: EmailMessage, recipients: list[str], envelope_from: str) -> Refused:
        """Deliver ``msg``; return the recipients refused while others were accepted (empty if none)."""
        ...


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"[:300]


class SmtpTransport:
    """smtplib over implicit TLS, STARTTLS (required, never optional) or plain text.

    One connection per message: the bot sends a few hundred emails a year,
    and a fresh connection makes every send independent of the last one's fate.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Literal["ssl", "starttls", "none"],
        username: str | None,
        password: str | None,
        ca_file: str | None = None,
        timeout: float = 60,
        local_hostname: str | None = None,
    ) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"unknown SMTP security {security!r}; use ssl, starttls or none")
        self.host = host
        self.port = port
        self.security = security
        self.username = username or None
        self.__password = password or None
        self.ca_file = ca_file
        self.timeout = timeout
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpTransport({self.host}:{self.port}, security={self.security}, user={self.username!r})"

    # -- public -------------------------------------------------------------------

    def send(self, msg: EmailMessage, recipients: list[str], envelope_from: str) -> Refused:
        try:
            return self._send(msg, recipients, envelope_from)
        except SendError:
            raise
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError) as exc:
            raise TransientSendError(self._scrub(
                f"máy chủ gửi thư {self.host}:{self.port} từ chối phiên làm việc: "
                f"{_reply_text(exc.smtp_code, exc.smtp_error)}"
            )) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientSendError(self._scrub(
                f"máy chủ gửi thư {self.host}:{self.port} từ chối đăng nhập {self.username!r} "
                f"({_reply_text(exc.smtp_code, exc.smtp_error)}); kiểm tra smtp.username và mật khẩu"
            )) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._all_refused(exc.recipients) from None
        except smtplib.SMTPSenderRefused as exc:
            raise TransientSendError(self._scrub(
                f"máy chủ gửi thư từ chối địa chỉ gửi {envelope_from!r}: "
                f"{_reply_text(exc.smtp_code, exc.smtp_error)}; kiểm tra smtp.from"
            )) from None
        except smtplib.SMTPDataError as exc:
            text = self._scrub(f"máy chủ gửi thư từ chối thư: {_reply_text(exc.smtp_code, exc.smtp_error)}")
            if 400 <= exc.smtp_code < 500:
                raise TransientSendError(text, scope="message") from None
            raise PermanentSendError(text) from None
        except smtplib.SMTPResponseException as exc:  # STARTTLS, AUTH, RSET...: about the server, not the row
            raise TransientSendError(self._scrub(
                f"máy chủ gửi thư {self.host}:{self.port} báo lỗi: {_reply_text(exc.smtp_code, exc.smtp_error)}"
            )) from None
        except ssl.SSLCertVerificationError as exc:
            raise TransientSendError(self._scrub(
                f"không xác minh được chứng chỉ TLS của máy chủ gửi thư {self.host}:{self.port} "
                f"({exc.verify_message or exc.reason}); nếu máy chủ dùng CA riêng, đặt smtp.ca_file"
            )) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, timeout, TLS, disconnect, DNS
            raise TransientSendError(self._scrub(
                f"không gửi được qua {self.host}:{self.port}: {reason(exc)}"
            )) from None

    # -- private ------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout, context=self._context()
            )
        client = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
        if self.security == "starttls":
            try:
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise TransientSendError(
                        f"máy chủ gửi thư {self.host}:{self.port} không hỗ trợ STARTTLS; không gửi thư không mã hóa "
                        "(sửa máy chủ, hoặc đặt security = \"ssl\")"
                    )
                client.starttls(context=self._context())
                client.ehlo()
            except BaseException:
                client.close()
                raise
        return client

    def _send(self, msg: EmailMessage, recipients: list[str], envelope_from: str) -> Refused:
        client = self._connect()
        try:
            if self.username:
                self._login(client, self.username)
            refused = client.send_message(msg, from_addr=envelope_from, to_addrs=recipients)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
        return {addr: (code, _reply_text(code, text)) for addr, (code, text) in refused.items()}

    def _login(self, client: smtplib.SMTP, username: str) -> None:
        """Log in; a non-ASCII password goes as UTF-8 AUTH PLAIN (RFC 4616), which smtplib's login() cannot send."""
        password = self.__password or ""
        if (username + password).isascii():
            client.login(username, password)
            return
        client.ehlo_or_helo_if_needed()
        if not client.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
        code, reply = client.docmd("AUTH", f"PLAIN {token}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _all_refused(self, refused: dict[str, tuple[int, bytes]]) -> SendError:
        details = "; ".join(f"{addr}: {_reply_text(code, text)}" for addr, (code, text) in refused.items())
        text = self._scrub(f"máy chủ từ chối mọi người nhận ({details})")
        if any(400 <= code < 500 for code, _ in refused.values()):
            return TransientSendError(text, scope="message")
        return PermanentSendError(text)

    def _scrub(self, text: str) -> str:
        if self.__password:
            text = text.replace(self.__password, "***")
        return text


class FileTransport:
    """Write each email as one .eml file instead of sending it (the embedded defaults, and tests).

    The write is atomic (temporary file, fsync, rename, fsync of the folder):
    a reader never sees half a message, and a crash leaves either the whole
    file or none. The envelope is recorded as X-Envelope-* lines on top, the
    way a delivery agent records it.
    """

    def __init__(self, outbox_dir: str | os.PathLike[str]) -> None:
        self.outbox_dir = Path(outbox_dir)

    def __repr__(self) -> str:
        return f"FileTransport({str(self.outbox_dir)!r})"

    def send(self, msg: EmailMessage, recipients: list[str], envelope_from: str) -> Refused:
        for value in [envelope_from, *recipients]:
            if "\r" in value or "\n" in value:
                raise PermanentSendError(f"địa chỉ phong bì có ký tự xuống dòng: {value!r}")
        name = self.file_name(msg)
        head = f"X-Envelope-From: <{envelope_from}>\r\nX-Envelope-To: {', '.join(f'<{r}>' for r in recipients)}\r\n"
        data = head.encode("utf-8") + msg.as_bytes(policy=SMTP_EXACT)  # Subject/names decode back exactly
        try:
            make_dirs(self.outbox_dir)
            _write_bytes(self.outbox_dir / name, data)
        except OSError as exc:
            raise TransientSendError(f"không ghi được {self.outbox_dir / name}: {exc.strerror or exc}") from None
        log.info("wrote %s", self.outbox_dir / name)
        return {}

    @staticmethod
    def file_name(msg: EmailMessage) -> str:
        """``<UTC timestamp>-<Message-ID made file-safe>.eml``: sorted by time, traceable to the row."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        ident = _FILE_UNSAFE.sub("_", str(msg.get("Message-ID", "")).strip("<> ")).strip("._")[:120] or "message"
        return f"{stamp}-{ident}.eml"


def _write_bytes(target: Path, data: bytes) -> None:
    save_atomically(target, lambda tmp: Path(tmp).write_bytes(data))


class SmtpSettings(Protocol):
    """The [smtp] settings a transport is built from (workflow.settings.SmtpConfig has them)."""

    transport: str
    outbox_dir: str
    host: str
    effective_port: int
    security: Literal["ssl", "starttls", "none"]
    username: str
    ca_file: str | None
    timeout: float


def make_transport(smtp_config: SmtpSettings, password: str | None) -> Transport:
    """The transport the configuration asks for; the password comes resolved from the loader."""
    if smtp_config.transport == "file":
        return FileTransport(smtp_config.outbox_dir)
    if smtp_config.transport == "smtp":
        return SmtpTransport(
            host=smtp_config.host,
            port=smtp_config.effective_port,
            security=smtp_config.security,
            username=smtp_config.username or None,
            password=password,
            ca_file=smtp_config.ca_file,
            timeout=smtp_config.timeout,
        )
    raise ValueError(f"unknown smtp.transport {smtp_config.transport!r}; use smtp or file")
