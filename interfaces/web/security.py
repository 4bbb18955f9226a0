"""What keeps the board safe on a government network: sessions, CSRF, login limits, bodies, headers.

* **Sessions** are kept on the server (``workflow.accounts``, table
  ``web_sessions``); the cookie is signed (itsdangerous, timestamped, so it
  expires after ``[web] session_hours`` even if the browser keeps it),
  HttpOnly, SameSite=Lax, and Secure whenever the request came over HTTPS —
  directly, or through a proxy listed in ``trusted_proxies`` that says so with
  X-Forwarded-Proto. It holds the session's random token, a CSRF token and
  flash messages, never who is logged in: that is read from the server's row
  at every request, so logout, a new password or ``users remove`` end the
  session at once, for every copy of the cookie.
* **The signing key** is 0600 and owned by the board's user, or the board
  refuses to start; it is never in a backup (``workflow.operations.backup``).
* **CSRF**: every POST carries the session's token in a hidden ``csrf_token``
  field, compared in constant time; a cross-site Origin is refused as well.
* **Login attempts** are counted per account (the address as the roster
  normalises it, so ``Tên <A@X.VN>`` and ``a@x.vn`` are one account) and per
  client IP. An attempt is counted *before* its password is checked, so
  sixty guesses sent at once get the same few checks as sixty in a row; past
  the limit each further attempt is refused for a delay that doubles.
* **Bodies** are capped before anything reads them, before the login gate:
  a few KB for the login form, 1 MB for every other form.
* **Headers**: a CSP that allows no inline script (the board has no script at
  all), framing denied, no MIME sniffing, no referrer sent off-site.
"""
from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from intake.store import make_dirs
from workflow import accounts

COOKIE = "tdc_session"
MIN_SECRET_BYTES = 32

CSP = ("default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecretKeyError(ValueError):
    """The signing key cannot be trusted (or made); the text says why and what to do, in Vietnamese."""


def load_secret(env_name: str | None, file_name: str | None, store_root: Path) -> bytes:
    """The signing key: from the environment, a file, or one generated once beside the store (0600).

    A key file anyone else could read, or that belongs to another user, is
    refused rather than used: whoever reads it can sign a cookie, and a file
    someone else owns may have been put there for the board to trust.
    """
    if env_name:
        value = os.environ.get(env_name, "")
        if len(value) < MIN_SECRET_BYTES:
            raise SecretKeyError(f"web.secret_key_env: biến môi trường {env_name} chưa đặt hoặc ngắn hơn "
                                 f"{MIN_SECRET_BYTES} ký tự")
        return value.encode()
    path = accounts.signing_key_path(store_root, file_name)
    try:
        return _read_private_key(path)
    except FileNotFoundError:
        pass
    make_dirs(path.parent)
    key = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key)
    finally:
        os.close(fd)
    return key


def _read_private_key(path: Path) -> bytes:
    """The key in ``path`` if it is a regular file of ours, 0600 or stricter, long enough; FileNotFoundError if none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SecretKeyError(f"khóa ký phiên {path} là một liên kết tượng trưng: hãy trỏ cấu hình thẳng tới "
                                 "tệp khóa") from None
        raise SecretKeyError(f"không mở được khóa ký phiên {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretKeyError(f"khóa ký phiên {path} không phải tệp thường")
        if info.st_uid != os.geteuid():
            raise SecretKeyError(f"khóa ký phiên {path} thuộc người dùng khác (uid {info.st_uid}), không phải "
                                 f"người dùng chạy bảng theo dõi (uid {os.geteuid()}): đổi chủ tệp bằng chown")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise SecretKeyError(f"khóa ký phiên {path} có quyền {stat.S_IMODE(info.st_mode):04o}, người khác "
                                 f"đọc được: đặt lại bằng `chmod 600 {path}`")
        with os.fdopen(os.dup(fd), "rb") as fh:
            key = fh.read(4096).strip()
    finally:
        os.close(fd)
    if len(key) < MIN_SECRET_BYTES:
        raise SecretKeyError(f"khóa ký phiên {path} ngắn hơn {MIN_SECRET_BYTES} byte")
    return key


class SessionMiddleware:
    """A signed-cookie session in ``scope["session"]`` (a dict), written back only when it changed."""

    def __init__(self, app: ASGIApp, secret: bytes, max_age_seconds: int) -> None:
        self.app = app
        self.max_age = max_age_seconds
        self.serializer = URLSafeTimedSerializer(secret, salt="tdc-web-session")

    def _load(self, scope: Scope) -> dict[str, Any]:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookie = SimpleCookie()
                try:
                    cookie.load(value.decode("latin-1"))
                except Exception:  # noqa: BLE001, S112 - a malformed Cookie header is a stranger's problem, not a crash
                    continue
                if COOKIE in cookie:
                    try:
                        data = self.serializer.loads(cookie[COOKIE].value, max_age=self.max_age)
                    except BadSignature:
                        return {}
                    return data if isinstance(data, dict) else {}
        return {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = self._load(scope)
        before = json.dumps(session, sort_keys=True)
        had_cookie = bool(session)
        scope["session"] = session

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                current = scope["session"]
                if json.dumps(current, sort_keys=True) != before or (had_cookie and not current):
                    secure = "; Secure" if scope.get("scheme") == "https" else ""
                    if current:
                        value = self.serializer.dumps(current)
                        header = f"{COOKIE}={value}; Path=/; Max-Age={self.max_age}; HttpOnly; SameSite=Lax{secure}"
                    else:
                        header = f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"
                    message.setdefault("headers", []).append((b"set-cookie", header.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class SecurityHeadersMiddleware:
    """The same protective headers on every response, pages and files alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- CSRF ------------------------------------------------------------------------------------
def csrf_token(session: dict[str, Any]) -> str:
    """The session's token, created on first use (the login form gets one before any login)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, Any], submitted: object) -> bool:
    expected = session.get("csrf")
    return (isinstance(expected, str) and isinstance(submitted, str) and bool(submitted)
            and hmac.compare_digest(expected.encode(), submitted.encode()))


def same_origin(headers: dict[str, str], scheme: str) -> bool:
    """False only when the browser says the form came from another site (Origin or Sec-Fetch-Site)."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    host = headers.get("host", "")
    return origin in (f"{scheme}://{host}", f"http://{host}", f"https://{host}")


# --- login attempts --------------------------------------------------------------------------
@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Attempt:
    """One login attempt as the limiter saw it: ``wait`` > 0 means refused without checking the password."""

    keys: tuple[str, ...]
    at: float
    wait: float


class LoginLimiter:
    """Attempts per key ('addr:…', 'ip:…'); past ``attempts`` in ``window`` s, waits double.

    An attempt is counted when it starts and forgotten only if the password
    was right: counting it after the (slow) password check let every guess
    sent at the same moment through. In memory, per process: it slows a
    guesser down, and a restart forgetting it is acceptable (the Argon2 hash
    is the real defence). The IP limit is a few times the address limit, so
    colleagues behind one proxy do not lock each other out over one typo each.
    """

    def __init__(self, attempts: int, window: float, delay: float, ip_factor: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts, self.window, self.delay, self.ip_factor, self.clock = attempts, window, delay, ip_factor, clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def _limit(self, key: str) -> int:
        return self.attempts * (self.ip_factor if key.startswith("ip:") else 1)

    def _recent(self, key: str, now: float) -> list[float]:
        entry = self._failures.get(key)
        if entry is None:
            return []
        entry.times = [t for t in entry.times if now - t < self.window]
        if not entry.times:
            del self._failures[key]
        return entry.times

    def _wait(self, keys: Iterable[str], now: float) -> float:
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            over = len(times) - self._limit(key)
            if over >= 0:
                pause = min(self.delay * (2 ** over), self.window)
                wait = max(wait, times[-1] + pause - now)
        return max(wait, 0.0)

    def attempt(self, keys: Iterable[str]) -> Attempt:
        """Check and count in one step: either the attempt may go on (and is counted) or it must wait."""
        keys = tuple(keys)
        now = self.clock()
        with self._lock:
            wait = self._wait(keys, now)
            if wait <= 0:
                for key in keys:
                    self._failures.setdefault(key, _Failures()).times.append(now)
        return Attempt(keys, now, wait)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account starts afresh, the IP forgets this one attempt."""
        with self._lock:
            for key in attempt.keys:
                if key.startswith("addr:"):
                    self._failures.pop(key, None)
                elif key in self._failures and attempt.at in self._failures[key].times:
                    self._failures[key].times.remove(attempt.at)


def login_keys(email: str, ip: str) -> list[str]:
    """The limiter's keys: the account as the roster normalises an address, and the client's IP.

    Text that is not an address cannot log in anyone, but is still counted
    (folded, without spaces) so it gets no free guesses.
    """
    try:
        account = accounts.normalise_email(email)
    except accounts.AccountError:
        account = "".join(email.split()).casefold()
    return [f"addr:{account}", f"ip:{ip}"]


def loggable_login(email: str) -> str:
    """What the log may say about the text typed into the e-mail box: the address, never anything else.

    People type their password into the wrong box; a log line must not keep it.
    """
    try:
        return accounts.normalise_email(email)
    except accounts.AccountError:
        return "<not an e-mail address>"


def from_trusted_proxy(ip: str | None, proxies: Iterable[str]) -> bool:
    """Is the direct peer one of the configured reverse proxies? (trusted-header login only then)."""
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(p, strict=False) for p in proxies)


class TrustedProxyMiddleware:
    """Believe X-Forwarded-For / X-Forwarded-Proto only from the configured proxies.

    Done here rather than by uvicorn's ``proxy_headers`` so the direct peer is
    kept (``scope["tdc.peer"]``): the trusted-header login must check the
    proxy's own address, not the client address the proxy reports.
    """

    def __init__(self, app: ASGIApp, proxies: Iterable[str]) -> None:
        self.app = app
        self.proxies = list(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = (scope.get("client") or (None, None))[0]
            scope["tdc.peer"] = peer
            if self.proxies and from_trusted_proxy(peer, self.proxies):
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
                proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
                forwarded = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
                if forwarded:
                    scope["client"] = (forwarded[-1], 0)
        await self.app(scope, receive, send)


# --- trusted-header login ------------------------------------------------------------------------
PROXY_SECRET_HEADER = b"x-tdc-proxy-secret"


def last_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    """The value a proxy *appended* for ``name``: the last header of that name, its last comma-separated part.

    A client can send the header itself; a proxy that adds rather than
    replaces puts its own after it (as another header, or after a comma), so
    only the last value is the proxy's.
    """
    values = [v.decode("latin-1") for k, v in headers if k == name]
    return values[-1].rsplit(",", 1)[-1].strip() if values else ""


def proxy_vouches(headers: Iterable[tuple[bytes, bytes]], secret: bytes) -> bool:
    """Did the request pass through our proxy? It carries the shared secret only the proxy adds.

    The proxy's address alone proves nothing when the proxy runs on the same
    machine: any local program can connect from 127.0.0.1 too.
    """
    given = last_header(headers, PROXY_SECRET_HEADER).encode("latin-1")
    return bool(secret) and bool(given) and hmac.compare_digest(given, secret)


# --- request bodies ----------------------------------------------------------------------------
KiB = 1024
LOGIN_BODY_BYTES = 8 * KiB  # e-mail, password, CSRF token and the page to return to
FORM_BODY_BYTES = 1024 * KiB  # the largest decision form holds a reason of a few thousand characters


class BodyTooLarge(Exception):
    """The client sent more than the path allows; answered 413."""


def body_limit(path: str) -> int:
    """How many bytes a request to ``path`` may carry (the login form: a few KB; any other form: 1 MB)."""
    return LOGIN_BODY_BYTES if path == "/login" else FORM_BODY_BYTES


TOO_LARGE_PAGE = ("<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>Dữ liệu gửi lên quá lớn</title>"
                  "<h1>Dữ liệu gửi lên quá lớn</h1><p>Biểu mẫu gửi lên vượt quá giới hạn cho phép. "
                  "Vui lòng quay lại và thử lại.</p></html>").encode()


class BodyLimitMiddleware:
    """Cap every request body by its path before the session, the login gate or a handler reads it.

    A declared Content-Length over the cap is answered 413 at once, nothing
    read; a chunked body is counted as it streams and stops at the cap.
    """

    def __init__(self, app: ASGIApp, limit: Callable[[str], int] = body_limit) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.limit(scope["path"])
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None and (not declared.strip().isdigit() or int(declared) > cap):
            await _too_large(send)
            return
        received = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(f"{scope['path']}: more than {cap} bytes")
            return message

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(send)


async def _too_large(send: Send) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(TOO_LARGE_PAGE)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": TOO_LARGE_PAGE})
