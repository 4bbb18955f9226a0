"""Assembling the board: routes, the login gate, the security layers around them.

Why Starlette: a small, well-kept ASGI toolkit (routing, forms, static and
file responses) without an ORM or a template system of its own to fight, so
the board can use the project's SQLAlchemy session code and Jinja2 filters
as they are; uvicorn serves it. Pages are rendered on the server with plain
HTML forms: they work on a phone, behind strict proxies and with a CSP that
allows no script at all, and there is no JavaScript build step to maintain.

Order of the layers, outermost first: security headers (on every response,
errors included) -> body size cap (before anything reads a byte of it) ->
trusted proxy headers -> signed session -> login gate -> routes.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from anyio import to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from interfaces.web.jobs import CompileJobs
from interfaces.web.pages import Board
from interfaces.web.security import (
    MIN_SECRET_BYTES,
    BodyLimitMiddleware,
    LoginLimiter,
    SecretKeyError,
    SecurityHeadersMiddleware,
    SessionMiddleware,
    TrustedProxyMiddleware,
    from_trusted_proxy,
    last_header,
    load_secret,
    proxy_vouches,
)
from workflow import accounts
from workflow.db.models import utcnow

if TYPE_CHECKING:
    from workflow.app import App

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
OPEN_PATHS = ("/login", "/static/", "/favicon.ico")
# Argon2id holds 64 MiB while it checks one password: two at once keep the board near 200 MB however many
# logins arrive together; the others wait their turn in the event loop, holding no thread.
PASSWORD_CHECKS_AT_ONCE = 2


class LoginGate:
    """Every path but /login and static files needs a logged-in coordinator who still has an account.

    Who is logged in is read from the server's session row (``accounts.session_user``)
    at every request and put in ``scope["tdc.user"]``; the cookie alone proves nothing.

    With ``[web] trusted_header`` set, a request from one of ``trusted_proxies``
    that carries the proxy's shared secret is logged in as the coordinator the
    header names (the proxy has authenticated the person), by the value the proxy
    appended, normalised as every address is; from anywhere else the header is ignored.
    """

    def __init__(self, app: Any, board: Board, trusted_header: str, proxies: list[str],
                 proxy_secret: bytes = b"") -> None:
        self.app, self.board = app, board
        self.header = trusted_header.lower().encode("latin-1")
        self.proxies = proxies
        self.proxy_secret = proxy_secret

    def _session_user(self, token: object) -> str | None:
        with self.board.app.db.sessions() as session:
            return accounts.session_user(session, token, utcnow())

    def _known(self, email: str) -> bool:
        with self.board.app.db.sessions() as session:
            return accounts.user_exists(session, email)

    def _claimed(self, scope: Any) -> str | None:
        """The coordinator our proxy names, normalised; None when the request did not come through it."""
        if not self.header or not from_trusted_proxy(scope.get("tdc.peer"), self.proxies):
            return None
        headers = scope.get("headers", [])
        if not proxy_vouches(headers, self.proxy_secret):
            return None
        try:
            return accounts.normalise_email(last_header(headers, self.header))
        except accounts.AccountError:
            return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/static/", "/favicon.ico")):
            await self.app(scope, receive, send)
            return
        session = scope["session"]
        token = session.get("sid")
        user = await to_thread.run_sync(self._session_user, token) if token else None
        if token and user is None:
            session.clear()  # ended, expired or unknown: the cookie is worth nothing any more
        claimed = self._claimed(scope)
        if claimed and claimed != user and await to_thread.run_sync(self._known, claimed):
            session.clear()
            user = claimed
        scope["tdc.user"] = user
        if user or scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        target = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
        if scope["method"] in ("GET", "HEAD"):
            response = RedirectResponse(f"/login?next={quote(target, safe='/')}", 303)
        else:
            response = RedirectResponse("/login", 303)
        await response(scope, receive, send)


def _proxy_secret(env_name: str | None) -> bytes:
    """The secret our proxy sends with the trusted header (the settings check that it is set and long enough)."""
    value = os.environ.get(env_name or "", "").encode()
    if env_name and len(value) < MIN_SECRET_BYTES:
        raise SecretKeyError(f"web.trusted_header_secret_env: biến môi trường {env_name} chưa đặt hoặc ngắn hơn "
                             f"{MIN_SECRET_BYTES} ký tự")
    return value


def create_app(app: App, clock: Callable[[], datetime] | None = None) -> Starlette:
    """The board's ASGI application over an assembled ``App`` (database migrated, roster loaded)."""
    from notifier.render import TEMPLATES_DIR, make_environment

    web = app.settings.web
    tz = app.tz
    clock = clock or (lambda: datetime.now(tz))
    env = make_environment(TEMPLATES_DIR)
    limiter = LoginLimiter(web.login_attempts, web.login_window_minutes * 60, web.login_delay_seconds)
    board = Board(app, env, limiter, CompileJobs(app, clock), clock, PASSWORD_CHECKS_AT_ONCE)
    secret = load_secret(web.secret_key_env, web.secret_key_file, app.store_root)
    proxy_secret = _proxy_secret(web.trusted_header_secret_env) if web.trusted_header else b""

    async def http_error(request: Request, exc: Exception) -> HTMLResponse:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "") or ""
        if "session" not in request.scope:  # before the session layer (should not happen): plain text
            return HTMLResponse(f"<p>{status}</p>", status_code=status)
        return board.render(request, "error.html.j2", status=status, code=status, detail=detail)

    routes = [
        Route("/login", board.login_page, methods=["GET"]),
        Route("/login", board.login, methods=["POST"]),
        Route("/logout", board.logout, methods=["POST"]),
        Route("/", board.season, methods=["GET"]),
        Route("/agency/{slug:str}/{year:int}", board.agency, methods=["GET"]),
        Route("/attachment/{id:int}", board.attachment, methods=["GET"]),
        Route("/review", board.review, methods=["GET"]),
        Route("/confirm", board.confirm, methods=["GET"]),
        Route("/action", board.act, methods=["POST"]),
        Route("/quarantine", board.quarantine, methods=["GET"]),
        Route("/junk", board.junk, methods=["GET"]),
        Route("/outbox", board.outbox, methods=["GET"]),
        Route("/outbox/{id:int}", board.outbox_email, methods=["GET"]),
        Route("/chart/{year:int}.png", board.chart, methods=["GET"]),
        Route("/export/{year:int}/{name:str}", board.export, methods=["GET"]),
        Route("/compile/{year:int}", board.compile_start, methods=["POST"]),
        Route("/compile/{year:int}", board.compile_status, methods=["GET"]),
        Route("/compile/{year:int}/download", board.compile_download, methods=["GET"]),
        Route("/static/states.css", board.state_colours, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodyLimitMiddleware),
        Middleware(TrustedProxyMiddleware, proxies=web.trusted_proxies),
        Middleware(SessionMiddleware, secret=secret, max_age_seconds=int(web.session_hours * 3600)),
        Middleware(LoginGate, board=board, trusted_header=web.trusted_header, proxies=web.trusted_proxies,
                   proxy_secret=proxy_secret),
    ]
    starlette = Starlette(routes=routes, middleware=middleware,
                          exception_handlers={HTTPException: http_error})
    starlette.state.board = board
    return starlette
