"""§6 The board keeps strangers out: each attack of issue 21 built by code and run against the real board.

The board is uvicorn on a free loopback port (in a thread, or `tdc-bot web` in a child
process where its memory is measured); the attacker is an HTTP client that keeps what
a stranger could get hold of: a copied cookie, a crafted backup, sixty guesses at once,
a body of megabytes, a forged header. Sessions are checked on SQLite and PostgreSQL.
"""
from __future__ import annotations

import http.client
import io
import logging
import os
import re
import socket
import sqlite3
import subprocess
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interfaces.web.security import load_secret
from tests.cli_helpers import TDC_BOT, run_cli, wait_for, write_config
from tests.servers.common import free_port
from tests.web.test_board_http import (
    PASSWORD,
    PROXY,
    PROXY_ENV,
    PROXY_SECRET,
    board_up,
    call,
    client,
    login,
    serving,
    token,
)
from workflow import accounts
from workflow.app import App
from workflow.db.engine import Database
from workflow.operations.backup import create_backup, restore_backup

USER = "dieuphoi@example.vn"
KEY_FILE = "web-secret.key"  # the signing key's default name beside the store (workflow.accounts.SECRET_FILE)


# --- a board per test ----------------------------------------------------------------------------
def _board(tmp_path: Path, db_url: str, extra: str = "") -> Iterator[dict[str, Any]]:
    config = write_config(tmp_path, db_url, extra)
    app = App.load(str(config))
    with app.db.transaction() as s:
        accounts.add_user(s, USER, PASSWORD)
    try:
        with serving(app) as board:
            yield {"app": app, "base": board.base, "port": board.port, "config": config}
    finally:
        app.close()


@pytest.fixture
def board(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A board on SQLite with one account and the default limits (5 attempts per account)."""
    yield from _board(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")


@pytest.fixture
def proxied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A board behind a proxy on 127.0.0.1 that names the coordinator in X-Remote-User."""
    monkeypatch.setenv(PROXY_ENV, PROXY_SECRET)
    yield from _board(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}",
                      '[web]\ntrusted_proxies = ["127.0.0.1"]\ntrusted_header = "X-Remote-User"\n'
                      f'trusted_header_secret_env = "{PROXY_ENV}"\n')


def session_cookie(jar: Any) -> str:
    (value,) = [c.value for c in jar if c.name == "tdc_session"]
    return value


def with_cookie(base: str, path: str, cookie: str) -> tuple[int, dict[str, str], str]:
    """What anyone holding a copy of the cookie gets (a fresh client, no jar)."""
    opener, _ = client()
    return call(opener, f"{base}{path}", headers={"Cookie": f"tdc_session={cookie}"})


def raw_request(port: int, method: str, path: str, headers: list[tuple[str, str]]) -> tuple[int, str]:
    """A request with exactly these headers, repeated names included (urllib would merge them)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def post_expecting_continue(port: int, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, str]:
    """POST with ``Expect: 100-continue``: the body is sent only if the board asks for it (RFC 9110 §10.1.1).

    A board that caps the declared length answers at once; one that reads
    the body says "100 Continue" first and answers after reading it all.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
                "Expect: 100-continue", "Content-Type: application/x-www-form-urlencoded",
                *(f"{k}: {v}" for k, v in headers)]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        reader = sock.makefile("rb")
        status = int(reader.readline().split()[1])
        if status == 100:
            while reader.readline() not in (b"\r\n", b""):
                pass
            sock.sendall(body)
            status = int(reader.readline().split()[1])
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, reader.read(length).decode("utf-8", "replace")


def post_streamed(port: int, path: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> int | str:
    """POST a chunked body (no declared length); the status, or "cut" if the board closed the connection first.

    A board that stops reading at its cap answers 413 and closes; the client,
    still sending, may see the connection reset before it reads the answer.
    Either way the board did not take the whole body.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in [*headers, ("Transfer-Encoding", "chunked"),
                            ("Content-Type", "application/x-www-form-urlencoded")]:
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for chunk in chunks:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return conn.getresponse().status
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
            return "cut"
    finally:
        conn.close()


# --- the signing key ------------------------------------------------------------------------------
def test_the_signing_key_is_never_inside_a_backup(board: dict[str, Any], tmp_path: Path) -> None:
    app = board["app"]
    key = app.store_root / KEY_FILE
    assert key.is_file()  # the board generated it beside the store
    opener, _ = client()
    assert login(opener, board["base"])[0] == 303  # and a session row exists now
    archive = create_backup(app, tmp_path / "b.tar.gz").path
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert not [n for n in names if n.endswith(KEY_FILE)], names
        assert key.read_bytes().strip() not in b"".join(
            tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
        tar.extract("database/tdc.sqlite", tmp_path / "x", filter="data")
    with sqlite3.connect(tmp_path / "x" / "database" / "tdc.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM users").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM web_sessions").fetchone() == (0,)  # logins stay behind


def _archive_with_a_key(tmp_path: Path, key: bytes) -> Path:
    """A self-consistent archive (every checksum right) whose store carries a signing key of the author's choice."""
    src = tmp_path / "src"
    src.mkdir()
    app = App.load(str(write_config(src, f"sqlite:///{src / 'tdc.db'}")))
    try:
        (app.store_root / "x").mkdir(parents=True)
        (app.store_root / "x" / "note.txt").write_text("một tệp", encoding="utf-8")
        planted = app.store_root / KEY_FILE
        planted.write_bytes(key)
        with app.db.transaction() as s:  # and an account of the author's choice, which restore names
            accounts.add_user(s, "ai.do@example.vn", PASSWORD)
        archive = create_backup(app, tmp_path / "crafted.tar.gz").path
    finally:
        app.close()
    with tarfile.open(archive) as tar:  # a backup leaves keys out: put one (back) in, as an attacker would
        members = [(m, tar.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                   for m in tar.getmembers() if m.name != f"store/{KEY_FILE}"]
    import hashlib
    import json

    out = tmp_path / "with-key.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for member, data in members:
            if member.name == "manifest.json":
                manifest = json.loads(data)  # type: ignore[arg-type]
                manifest["members"][f"store/{KEY_FILE}"] = hashlib.sha256(key).hexdigest()
                data = json.dumps(manifest).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
        info = tarfile.TarInfo(f"store/{KEY_FILE}")
        info.size = len(key)
        tar.addfile(info, io.BytesIO(key))
    return out


def test_restore_never_installs_a_key_from_the_archive(tmp_path: Path) -> None:
    forged = b"attacker-knows-this-key-" + b"k" * 40
    archive = _archive_with_a_key(tmp_path, forged)
    dst = tmp_path / "dst"
    dst.mkdir()
    app = App.load(str(write_config(dst, f"sqlite:///{dst / 'tdc.db'}")))
    try:
        result = restore_backup(app, archive)
        key_path = app.store_root / KEY_FILE
        assert not key_path.exists()  # nothing installed from the archive...
        assert (app.store_root / "x" / "note.txt").is_file()  # ...while the data came back
        assert any("khóa ký phiên" in note for note in result.notes)
        assert any("1 tài khoản bảng theo dõi được khôi phục: ai.do@example.vn" in note for note in result.notes)
        assert load_secret(None, None, app.store_root) != forged  # the board makes its own
        mine = key_path.read_bytes()
        restore_backup(app, archive, force=True)  # over an installation that has a key: it keeps it
        assert key_path.read_bytes() == mine
    finally:
        app.close()


def test_a_key_file_others_can_read_or_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "board.key"
    key.write_bytes(b"k" * 48)
    os.chmod(key, 0o600)
    assert load_secret(None, str(key), tmp_path) == b"k" * 48
    os.chmod(key, 0o640)
    with pytest.raises(ValueError, match="chmod 600"):
        load_secret(None, str(key), tmp_path)
    os.chmod(key, 0o600)
    if os.geteuid() == 0:  # root can hand the file to someone else; anyone else cannot, so pretend
        os.chown(key, 65534, 65534)
        with pytest.raises(ValueError, match="người dùng khác"):
            load_secret(None, str(key), tmp_path)
        os.chown(key, 0, 0)
    link = tmp_path / "link.key"
    link.symlink_to(key)
    with pytest.raises(ValueError, match="liên kết"):
        load_secret(None, str(link), tmp_path)
    generated = tmp_path / "store" / KEY_FILE
    old = os.umask(0)
    try:
        load_secret(None, None, tmp_path / "store")
    finally:
        os.umask(old)
    assert generated.stat().st_mode & 0o777 == 0o600


def test_a_key_file_of_another_owner_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner check, wherever the tests run: the board's user is made someone else."""
    key = tmp_path / "board.key"
    key.write_bytes(b"k" * 48)
    os.chmod(key, 0o600)
    monkeypatch.setattr(os, "geteuid", lambda: key.stat().st_uid + 1)
    with pytest.raises(ValueError, match="người dùng khác"):
        load_secret(None, str(key), tmp_path)


# --- sessions end for real ------------------------------------------------------------------------
def test_logout_ends_the_session_for_a_copied_cookie(board: dict[str, Any]) -> None:
    base = board["base"]
    opener, jar = client()
    assert login(opener, base)[0] == 303
    copied = session_cookie(jar)
    assert with_cookie(base, "/quarantine", copied)[0] == 200  # the copy works while the session lives
    _, _, page = call(opener, f"{base}/quarantine")
    assert call(opener, f"{base}/logout", {"csrf_token": token(page)})[0] == 303
    status, headers, _ = with_cookie(base, "/quarantine", copied)
    assert status == 303 and headers["location"].startswith("/login")


def test_a_new_password_ends_every_session(board: dict[str, Any]) -> None:
    base = board["base"]
    cookies = []
    for _ in range(2):  # two browsers
        opener, jar = client()
        assert login(opener, base)[0] == 303
        cookies.append(session_cookie(jar))
    proc = subprocess.run([TDC_BOT, "users", "add", USER, "--replace", "--password-stdin", "--config",
                           str(board["config"])], input="một mật khẩu mới, đủ dài\n", capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for cookie in cookies:
        status, headers, _ = with_cookie(base, "/quarantine", cookie)
        assert status == 303 and headers["location"].startswith("/login")


def test_a_removed_account_added_again_does_not_bring_old_cookies_back(board: dict[str, Any]) -> None:
    base = board["base"]
    opener, jar = client()
    assert login(opener, base)[0] == 303
    copied = session_cookie(jar)
    run_cli("users", "remove", USER, config=board["config"])
    with board["app"].db.transaction() as s:
        accounts.add_user(s, USER, "một mật khẩu khác hẳn, đủ dài")
    assert with_cookie(base, "/quarantine", copied)[0] == 303


def test_sessions_on_both_databases(db_url: str) -> None:
    db = Database(db_url)
    now = datetime(2024, 12, 1, 8, tzinfo=UTC)
    try:
        with db.transaction() as s:
            accounts.add_user(s, USER, PASSWORD)
            accounts.add_user(s, "khac@example.vn", PASSWORD)
        with db.transaction() as s:
            first = accounts.open_session(s, "Điều Phối <DieuPhoi@Example.VN>", now, 12)
            second = accounts.open_session(s, USER, now, 12)
            other = accounts.open_session(s, "khac@example.vn", now, 12)
            stale = accounts.open_session(s, "khac@example.vn", now - timedelta(hours=13), 12)
        with db.sessions() as s:
            assert accounts.session_user(s, first, now) == USER
            assert accounts.session_user(s, stale, now) is None  # expired
            assert accounts.session_user(s, first + "x", now) is None
            assert accounts.session_user(s, first, now + timedelta(hours=12)) is None
            stored = set(s.scalars(__import__("sqlalchemy").select(accounts.models.WebSession.token_sha256)))
            assert first not in stored and len(stored) == 4  # only digests are kept
        with db.transaction() as s:
            accounts.end_session(s, first)
        with db.sessions() as s:
            assert accounts.session_user(s, first, now) is None and accounts.session_user(s, second, now) == USER
        with db.transaction() as s:
            accounts.add_user(s, USER, "một mật khẩu mới, đủ dài", replace=True)
        with db.sessions() as s:
            assert accounts.session_user(s, second, now) is None
            assert accounts.session_user(s, other, now) == "khac@example.vn"  # someone else's is untouched
        with db.transaction() as s:
            accounts.remove_user(s, "khac@example.vn")
        with db.sessions() as s:
            assert accounts.session_user(s, other, now) is None
    finally:
        db.dispose()


# --- login limits ---------------------------------------------------------------------------------
FORMS = ["dieuphoi@example.vn", "DieuPhoi@Example.VN", "  dieuphoi@example.vn  ", "Điều Phối <dieuphoi@example.vn>",
         "\"Phối, Điều\" <DIEUPHOI@EXAMPLE.VN>", "dieuphoi@EXAMPLE.vn", "Cán bộ <DieuPhoi@example.vn>",
         "dieuphoi@example.vn "]


def test_the_login_limit_holds_per_account_whatever_the_form_of_the_address(board: dict[str, Any]) -> None:
    base = board["base"]
    statuses = []
    for form in FORMS:  # 8 guesses, one after the other, the account written 8 ways
        opener, _ = client()
        statuses.append(login(opener, base, email=form, password="không phải mật khẩu")[0])
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 3, statuses
    opener, _ = client()
    assert login(opener, base, email="Dieu Phoi <DIEUPHOI@example.vn>")[0] == 429  # the right one waits too


def _prepared(base: str, n: int) -> list[tuple[Any, str]]:
    """``n`` clients, each with its cookie and CSRF token from the login page."""
    ready = []
    for _ in range(n):
        opener, _ = client()
        _, _, html = call(opener, f"{base}/login")
        ready.append((opener, token(html)))
    return ready


def _fire(base: str, ready: list[tuple[Any, str]], emails: list[str], headers: list[dict[str, str]] | None = None
          ) -> list[int]:
    """Every prepared client posts its guess at the same moment."""
    gate = threading.Barrier(len(ready))

    def guess(i: int) -> int:
        opener, csrf = ready[i]
        body = urllib.parse.urlencode({"csrf_token": csrf, "email": emails[i], "password": "đoán bừa 12345",
                                       "next": "/"}).encode()
        request = urllib.request.Request(f"{base}/login", data=body, headers=(headers or [{}] * len(ready))[i])
        gate.wait()
        try:  # the checks queue up (a few at a time, ~0.5 s each on a small machine): a long timeout
            with opener.open(request, timeout=600) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    with ThreadPoolExecutor(len(ready)) as pool:
        return list(pool.map(guess, range(len(ready))))


@pytest.fixture
def board_on(tmp_path: Path, db_url: str) -> Iterator[dict[str, Any]]:
    yield from _board(tmp_path, db_url)


def test_sixty_guesses_at_once_get_no_more_checks_than_sixty_in_a_row(board_on: dict[str, Any]) -> None:
    base = board_on["base"]
    statuses = _fire(base, _prepared(base, 60), [FORMS[i % len(FORMS)] for i in range(60)])
    assert statuses.count(401) == 5, statuses  # the allowed few were checked (and were wrong)...
    assert statuses.count(429) == 55  # ...every other guess was refused without a check


# --- bodies -----------------------------------------------------------------------------------------
def test_bodies_are_capped_before_anyone_is_logged_in(board: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    base, port = board["base"], board["port"]
    caplog.set_level(logging.INFO, logger="interfaces.web")
    opener, jar = client()
    _, _, html = call(opener, f"{base}/login")
    cookie = ("Cookie", f"tdc_session={session_cookie(jar)}")
    form = {"csrf_token": token(html), "email": USER, "password": "x" * 40_000}  # 40 KB to a form of a few KB
    status, page = post_expecting_continue(port, "/login", [cookie], urllib.parse.urlencode(form).encode())
    assert status == 413 and "quá lớn" in page  # answered without asking for the body
    huge = [b"a=" + b"b" * 65_536] + [b"c" * 65_536] * 200  # 13 MB, no Content-Length: counted as it streams
    assert post_streamed(port, "/login", [cookie], huge) in (413, "cut")
    assert not [r for r in caplog.records if "login" in r.getMessage()]  # no attempt was even made
    assert login(opener, base)[0] == 303  # an ordinary login is not affected
    _, _, page = call(opener, f"{base}/quarantine")
    big = {"csrf_token": token(page), "action": "exempt", "agency": "tay-ninh", "year": "2024",
           "reason": "lý do " * 250_000}  # 2 MB to the decision form: 1 MB is the cap
    logged_in = ("Cookie", f"tdc_session={session_cookie(jar)}")
    status, _ = post_expecting_continue(port, "/action", [logged_in, ("Origin", base)],
                                        urllib.parse.urlencode(big).encode())
    assert status == 413
    assert call(opener, f"{base}/quarantine")[0] == 200  # still logged in, nothing broken


# --- redirects ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("back", ["//evil.example/x", "https://evil.example/", "javascript:alert(1)",
                                  "/\t/evil.example", "/\\evil.example", " //evil.example"])
def test_confirm_back_goes_through_the_same_rule_as_next(board: dict[str, Any], back: str) -> None:
    base = board["base"]
    opener, _ = client()
    login(opener, base)
    query = urllib.parse.urlencode({"action": "exempt", "agency": "tay-ninh", "year": "2024", "reason": "x",
                                    "back": back})
    status, _, page = call(opener, f"{base}/confirm?{query}")
    assert status == 200
    links = re.findall(r'<a href="([^"]*)">Hủy</a>', page) + re.findall(r'name="back" value="([^"]*)"', page)
    assert links == ["/", "/"], links
    query = urllib.parse.urlencode({"action": "extend", "agency": "tay-ninh", "year": "2024", "reason": "x",
                                    "until": "không phải ngày", "back": back})
    page = call(opener, f"{base}/confirm?{query}")[2]
    assert re.findall(r'<a href="([^"]*)">Quay lại</a>', page) == ["/"]


def test_confirm_back_keeps_a_path_on_the_site(board: dict[str, Any]) -> None:
    opener, _ = client()
    login(opener, board["base"])
    query = urllib.parse.urlencode({"action": "exempt", "agency": "tay-ninh", "year": "2024", "reason": "x",
                                    "back": "/agency/tay-ninh/2024"})
    page = call(opener, f"{board['base']}/confirm?{query}")[2]
    assert '<a href="/agency/tay-ninh/2024">Hủy</a>' in page


# --- trusted-header login ---------------------------------------------------------------------------
def test_the_trusted_header_believed_is_the_one_the_proxy_appended(proxied: dict[str, Any]) -> None:
    with proxied["app"].db.transaction() as s:
        accounts.add_user(s, "lanh.dao@example.vn", PASSWORD)
    secret = ("X-TDC-Proxy-Secret", PROXY_SECRET)
    # The client sent "lanh.dao" itself; our proxy appended the person it authenticated, after it.
    status, page = raw_request(proxied["port"], "GET", "/quarantine",
                               [("X-Remote-User", "lanh.dao@example.vn"), ("X-Remote-User", USER), secret])
    assert status == 200 and USER in page and "lanh.dao@example.vn" not in page
    status, page = raw_request(proxied["port"], "GET", "/quarantine",
                               [("X-Remote-User", "lanh.dao@example.vn, " + USER), secret])
    assert status == 200 and USER in page and "lanh.dao@example.vn" not in page


def test_the_trusted_header_of_a_direct_local_client_is_ignored(proxied: dict[str, Any]) -> None:
    """A program on the proxy's machine connects from 127.0.0.1 too, but does not know the proxy's secret."""
    for extra in ([], [("X-TDC-Proxy-Secret", "a guess")], [("X-TDC-Proxy-Secret", PROXY_SECRET[:-1])]):
        status, _ = raw_request(proxied["port"], "GET", "/quarantine", [("X-Remote-User", USER), *extra])
        assert status == 303, extra


def test_the_trusted_header_address_is_normalised(proxied: dict[str, Any]) -> None:
    opener, _ = client()
    status, _, page = call(opener, f"{proxied['base']}/quarantine",
                           headers={"X-Remote-User": " Điều Phối <DieuPhoi@Example.VN> ".encode().decode("latin-1"),
                                    **PROXY})
    assert status == 200 and f"<strong>{USER}</strong>" in page or USER in page


# --- the log ---------------------------------------------------------------------------------------
def test_a_password_typed_into_the_email_box_is_never_logged(board: dict[str, Any],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    base = board["base"]
    typed = "Mật-khẩu-Bí-Mật-2024!"
    for _ in range(7):  # failures, then refusals
        opener, _ = client()
        login(opener, base, email=typed, password=typed)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "login failed" in logged and "login refused" in logged  # the attempts are in the log...
    assert typed not in logged and typed.lower() not in logged  # ...the text typed is not


# --- memory -------------------------------------------------------------------------------------------
def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_password_checks_run_in_a_bounded_pool_so_the_board_stays_small(tmp_path: Path) -> None:
    """Sixty guesses at once for sixty accounts from sixty addresses (the limits cannot help): the board,
    a `tdc-bot web` child, stays under 300 MB because only a few Argon2 checks (64 MiB each) run together."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}", '[web]\ntrusted_proxies = ["127.0.0.1"]\n')
    run_cli("users", "add", USER, "--password-stdin", config=config, check=False)  # creates the database
    port = free_port()
    server = subprocess.Popen([TDC_BOT, "web", "--port", str(port), "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: board_up(base), 60)
        ready = _prepared(base, 60)
        statuses = _fire(base, ready, [f"nguoi{i}@example.vn" for i in range(60)],
                         [{"X-Forwarded-For": f"10.1.{i}.7"} for i in range(60)])
        assert statuses == [401] * 60  # every one was checked...
        peak = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"peak RSS of the board after 60 parallel password checks: {peak:.0f} MB")
    assert peak < 300, f"{peak:.0f} MB"  # ...but not sixty at once

