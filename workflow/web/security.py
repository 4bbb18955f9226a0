"""What keeps the board safe on a government network: sessions, CSRF, login limits, headers.

* **Sessions** are a signed cookie (itsdangerous, timestamped, so it expires
  after ``[web] session_hours`` even if the browser keeps it), HttpOnly,
  SameSite=Lax, and Secure whenever the request came over HTTPS — directly, or
  through a proxy listed in ``trusted_proxies`` that says so with
  X-Forwarded-Proto (uvicorn applies that header only for those addresses).
  The cookie holds the coordinator's e-mail and a CSRF token, nothing secret;
  every request re-checks that the account still exists, so ``users remove``
  ends a session at its next click.
* **CSRF**: every POST carries the session's token in a hidden ``csrf_token``
  field, compared in constant time; a cross-site Origin is refused as well.
* **Login attempts** are counted per address and per client IP; past the limit
  each further attempt is refused for a delay that doubles, without even
  checking the password.
* **Headers**: a CSP that allows no inline script (the board has no script at
  all), framing denied, no MIME sniffing, no referrer sent off-site.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "tdc_session"
SECRET_FILE = "web-secret.key"

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


def load_secret(env_name: str | None, file_name: str | None, store_root: Path) -> bytes:
    """The signing key: from the environment, a file, or one generated once beside the store (0600)."""
    if env_name:
        value = os.environ.get(env_name, "")
        if len(value) < 32:
            raise ValueError(f"web.secret_key_env: {env_name} is unset or shorter than 32 characters")
        return value.encode()
    path = Path(file_name) if file_name else store_root / SECRET_FILE
    if path.is_file():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
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
                except Exception:  # a malformed Cookie header is a stranger's problem, not a crash
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


class LoginLimiter:
    """Failed logins per key ('addr:…', 'ip:…'); past ``attempts`` in ``window`` s, waits double.

    In memory, per process: it slows a guesser down, and a restart forgetting
    it is acceptable (the Argon2 hash is the real defence). The IP limit is a
    few times the address limit, so colleagues behind one proxy do not lock
    each other out over one typo each.
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

    def wait_seconds(self, keys: Iterable[str]) -> float:
        """How long the caller must wait before another attempt is even checked (0: go ahead)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                over = len(times) - self._limit(key)
                if over >= 0:
                    pause = min(self.delay * (2 ** over), self.window)
                    wait = max(wait, times[-1] + pause - now)
        return max(wait, 0.0)

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, _Failures()).times.append(now)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                if key.startswith("addr:"):
                    self._failures.pop(key, None)


def login_keys(email: str, ip: str) -> list[str]:
    return [f"addr:{email.strip().lower()}", f"ip:{ip}"]


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
