"""Serving the board with uvicorn: in the foreground (`tdc-bot web`) or beside the daemon (`run`).

Proxy headers are handled by the board itself (``TrustedProxyMiddleware``,
only from ``[web] trusted_proxies``), so uvicorn's own are switched off; its
access log is off too (the board logs logins and decisions, never passwords).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

    from workflow.app import App

log = logging.getLogger(__name__)


def make_server(app: App, host: str, port: int, clock: Callable[[], datetime] | None = None) -> uvicorn.Server:
    import uvicorn

    from interfaces.web.app import create_app

    config = uvicorn.Config(create_app(app, clock=clock), host=host, port=port, proxy_headers=False,
                            access_log=False, log_config=None, server_header=False, date_header=True)
    return uvicorn.Server(config)


def serve(app: App, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn installs the handlers in the main thread)."""
    log.info("web board on http://%s:%s/", host, port)
    make_server(app, host, port).run()


def start_in_thread(app: App, host: str, port: int,
                    clock: Callable[[], datetime] | None = None) -> tuple[uvicorn.Server, threading.Thread]:
    """The board in a daemon thread (for `tdc-bot run` with [web] enabled, and for tests).

    uvicorn installs no signal handlers outside the main thread; stop it with
    ``server.should_exit = True``. Returns once the socket is listening.
    """
    server = make_server(app, host, port, clock)
    thread = threading.Thread(target=server.run, name="tdc-web", daemon=True)
    thread.start()
    import time

    for _ in range(400):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.025)
    if not server.started:
        raise RuntimeError(f"the web board did not start on {host}:{port}")
    log.info("web board on http://%s:%s/", host, port)
    return server, thread
