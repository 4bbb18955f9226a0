"""The web board at scale: the season board after ten years must cost little more than the login page.

The database is filled as for the status figure (bench.status_scale: ten
years of submissions, messages and sent acks, here 69 agencies × 10 messages
a year), one coordinator account is created, and the board is served by
uvicorn on 127.0.0.1 in this process. Both pages are fetched over one
keep-alive HTTP connection, as a browser would: the login page anonymously
(it renders a form and signs a new session cookie), the 2024 board with a
logged-in session (it re-checks the account, reads the season, renders 69
rows, the counts and the filters). Figure: median board time ÷ median login
page time; goal ≤ 5.
"""
from __future__ import annotations

import http.client
import re
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench.measure import Figure, median
from bench.status_scale import _app, _fill

PASSWORD = "mat-khau-do-chuan-bench"


def _get(conn: http.client.HTTPConnection, path: str, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _login(conn: http.client.HTTPConnection) -> str:
    _, headers, body = _get(conn, "/login")
    cookie = headers["set-cookie"].split(";", 1)[0]
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    form = urllib.parse.urlencode({"csrf_token": csrf, "email": "bench@tdc.example.vn", "password": PASSWORD})
    conn.request("POST", "/login", body=form, headers={"Cookie": cookie,
                                                       "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    assert response.status == 303, response.status
    return response.getheader("set-cookie").split(";", 1)[0]


def _timed(conn: http.client.HTTPConnection, cookie: str, rounds: int) -> tuple[float, float]:
    """Median seconds of (login page, board), sampled alternately so both see the same machine load."""
    pages = (("/login", ""), ("/?year=2024", cookie))
    for path, sent in pages * 5:  # warm up: templates compiled, connection pool filled
        _get(conn, path, sent)
    samples: dict[str, list[float]] = {path: [] for path, _ in pages}
    for _ in range(rounds):
        for path, sent in pages:
            started = time.perf_counter()
            status, _, body = _get(conn, path, sent)
            samples[path].append(time.perf_counter() - started)
            assert status == 200 and body, (path, status)
    return median(samples["/login"]), median(samples["/?year=2024"])


def board_ratio(agencies: int = 69, per_agency: int = 10, rounds: int = 60) -> Figure:
    from interfaces.web.server import start_in_thread
    from tests.servers.common import free_port
    from workflow.accounts import add_user

    with tempfile.TemporaryDirectory(prefix="tdc-bench-web-") as tmp:
        work = Path(tmp)
        app = _app(f"sqlite:///{work}/tdc.db", work)
        try:
            inserted = _fill(app, agencies, per_agency)
            with app.db.transaction() as session:
                add_user(session, "bench@tdc.example.vn", PASSWORD)
            port = free_port()
            server, thread = start_in_thread(app, "127.0.0.1", port)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                cookie = _login(conn)
                _, _, board = _get(conn, "/?year=2024", cookie)
                rows = board.count(b"data-agency=")
                login_s, board_s = _timed(conn, cookie, rounds)
                conn.close()
            finally:
                server.should_exit = True
                thread.join(timeout=10)
        finally:
            app.close()
    return Figure("web_board", round(board_s / login_s, 3), 5.0, "× (board ÷ login page)",
                  f"GET /?year=2024 ({rows} agencies, 10 years × {agencies} agencies × {per_agency} messages in "
                  f"SQLite) vs GET /login, over HTTP to uvicorn on loopback, alternate requests, median of {rounds}",
                  {"messages": inserted, "rows": rows, "board_ms": round(board_s * 1000, 2),
                   "login_ms": round(login_s * 1000, 2)})


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    figure = board_ratio()
    print(figure.as_json())
