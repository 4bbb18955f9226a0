"""The board's security and plumbing over real HTTP (uvicorn on 127.0.0.1), without a browser.

Accounts on SQLite and PostgreSQL; the session cookie's flags, Secure behind a
trusted proxy, the headers on every response, the trusted-header login (off by
default), a removed account's session, the login limiter's arithmetic, and the
`users` and `web` commands.
"""
from __future__ import annotations

import http.cookiejar
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from interfaces.web.pages import attachment_disposition, parse_day, safe_next
from interfaces.web.security import LoginLimiter, same_origin
from tests.cli_helpers import TDC_BOT, run_cli, wait_for, write_config
from tests.servers.common import free_port
from workflow import accounts
from workflow.app import App
from workflow.settings import ConfigError, load_config

PASSWORD = "một mật khẩu đủ dài"


# --- units -----------------------------------------------------------------------------------
def test_limiter_slows_down_after_the_limit_and_doubles_the_wait() -> None:
    now = [1000.0]
    limiter = LoginLimiter(attempts=5, window=900, delay=30, clock=lambda: now[0])
    keys = ["addr:a@b.vn", "ip:10.0.0.1"]
    for _ in range(5):  # each attempt is counted as it starts
        assert limiter.attempt(keys).wait == 0
    assert limiter.attempt(keys).wait == pytest.approx(30)  # refused, and not counted
    now[0] += 31
    assert limiter.attempt(keys).wait == 0  # the sixth goes through after the pause...
    assert limiter.attempt(keys).wait == pytest.approx(60)  # ...and the pause doubles
    now[0] += 61
    assert limiter.attempt(keys).wait == 0
    now[0] += 900  # the window forgets old attempts
    assert limiter.attempt(keys).wait == 0


def test_limiter_counts_per_ip_across_addresses() -> None:
    limiter = LoginLimiter(attempts=2, window=900, delay=10, ip_factor=2)
    for i in range(4):
        assert limiter.attempt([f"addr:user{i}@b.vn", "ip:10.0.0.9"]).wait == 0
    assert limiter.attempt(["addr:someone-new@b.vn", "ip:10.0.0.9"]).wait > 0
    assert limiter.attempt(["addr:someone-new@b.vn", "ip:10.0.0.10"]).wait == 0


def test_limiter_forgets_a_right_password() -> None:
    """A successful login clears the account and gives the IP its attempt back: colleagues behind one proxy."""
    limiter = LoginLimiter(attempts=2, window=900, delay=10, ip_factor=1)
    for _ in range(5):
        attempt = limiter.attempt(["addr:a@b.vn", "ip:10.0.0.9"])
        assert attempt.wait == 0
        limiter.succeeded(attempt)


def test_small_helpers() -> None:
    assert safe_next("/review") == "/review"
    for bad in ("//evil.example/x", "https://evil.example/", "\\\\evil", "", None):
        assert safe_next(bad) == "/"
    assert parse_day("05/12/2024").isoformat() == "2024-12-05"
    assert parse_day("2024-12-05").isoformat() == "2024-12-05"
    assert parse_day("5 tháng 12") is None
    header = attachment_disposition("Báo cáo Tây Ninh.docx")
    assert header.startswith("attachment; filename=\"Bao_cao_Tay_Ninh.docx\"")
    assert "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20T%C3%A2y%20Ninh.docx" in header
    assert same_origin({"host": "board.vn", "origin": "https://board.vn"}, "https")
    assert not same_origin({"host": "board.vn", "origin": "https://evil.example"}, "https")
    assert not same_origin({"host": "board.vn", "sec-fetch-site": "cross-site"}, "https")


def test_accounts_on_both_databases(db_url: str) -> None:
    from datetime import datetime

    from workflow.db.engine import Database

    db = Database(db_url)
    try:
        with db.transaction() as s:
            assert accounts.add_user(s, "Cán Bộ <Can.Bo@Example.VN>", PASSWORD) == ("can.bo@example.vn", True)
        with db.transaction() as s:
            with pytest.raises(accounts.AccountError):
                accounts.add_user(s, "can.bo@example.vn", PASSWORD)
        with db.transaction() as s:
            with pytest.raises(accounts.AccountError, match="12"):
                accounts.add_user(s, "x@example.vn", "short")
        now = datetime(2024, 12, 1, tzinfo=UTC)
        with db.transaction() as s:
            row = s.scalar(__import__("sqlalchemy").select(accounts.models.User))
            assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
            assert accounts.verify_login(s, "CAN.BO@example.vn", PASSWORD, now) == "can.bo@example.vn"
            assert accounts.verify_login(s, "can.bo@example.vn", "wrong password!", now) is None
            assert accounts.verify_login(s, "nobody@example.vn", PASSWORD, now) is None
        with db.sessions() as s:
            (info,) = accounts.list_users(s)
            assert info.email == "can.bo@example.vn" and info.last_login_at == now
        with db.transaction() as s:
            assert accounts.remove_user(s, " Cán Bộ <CAN.BO@Example.VN> ") == "can.bo@example.vn"
            with pytest.raises(accounts.AccountError, match="Không có tài khoản can.bo@example.vn"):
                accounts.remove_user(s, "can.bo@example.vn")
    finally:
        db.dispose()


def test_web_config_mistakes_fail_at_start(tmp_path: Path) -> None:
    path = tmp_path / "tdc.toml"
    path.write_text('[web]\ntrusted_header = "X-Remote-User"\nport = 70000\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "web.port" in str(err.value)
    path.write_text('[web]\ntrusted_header = "X-Remote-User"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "web.trusted_header" in str(err.value) and "trusted_proxies" in str(err.value)
    assert "trusted_header_secret_env" in str(err.value)  # the proxy's address alone is not enough
    path.write_text('[web]\ntrusted_proxies = ["not-an-ip"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"web.trusted_proxies\[0\]"):
        load_config(path)


# --- over HTTP ---------------------------------------------------------------------------------
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def client() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect()), jar


def call(opener, url: str, data: dict | None = None, headers: dict | None = None):  # type: ignore[no-untyped-def]
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        response = opener.open(request, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")
    return response.status, dict(response.headers), response.read().decode("utf-8", "replace")


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def board_up(base: str) -> bool:
    """Whether a board at ``base`` serves its login page yet (a board still starting refuses the connection)."""
    try:
        return call(client()[0], f"{base}/login")[0] == 200
    except OSError:
        return False


@dataclass(frozen=True)
class Served:
    """A board running for a test: its uvicorn server and loopback port."""

    server: uvicorn.Server
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(app: App, clock: Callable[[], datetime] | None = None) -> Iterator[Served]:
    """The board of ``app`` on a free loopback port, in a thread, stopped on exit (the app stays open)."""
    from interfaces.web.server import start_in_thread

    port = free_port()
    server, thread = start_in_thread(app, "127.0.0.1", port, clock=clock)
    try:
        yield Served(server, port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


PROXY_SECRET = "proxy-secret-for-the-board-tests-0123456789abcdef"
PROXY_ENV = "TDC_TEST_PROXY_SECRET"
PROXY = {"X-TDC-Proxy-Secret": PROXY_SECRET}  # what our proxy adds to every request


@pytest.fixture
def served(tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """A board on an empty season, with one account, the trusted-header login on for a proxy on 127.0.0.1."""
    monkeypatch.setenv(PROXY_ENV, PROXY_SECRET)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}",
                          '[web]\ntrusted_proxies = ["127.0.0.1"]\ntrusted_header = "X-Remote-User"\n'
                          f'trusted_header_secret_env = "{PROXY_ENV}"\n')
    app = App.load(str(config))
    with app.db.transaction() as s:
        accounts.add_user(s, "dieuphoi@example.vn", PASSWORD)
    with serving(app) as board:
        yield {"app": app, "base": board.base, "config": config}
    app.close()


def login(opener, base: str, email: str = "dieuphoi@example.vn", password: str = PASSWORD, headers=None):  # type: ignore[no-untyped-def]
    _, _, html = call(opener, f"{base}/login")
    return call(opener, f"{base}/login", {"csrf_token": token(html), "email": email, "password": password,
                                          "next": "/outbox"}, headers)


def test_session_cookie_flags_and_headers(served) -> None:
    base = served["base"]
    opener, _ = client()
    status, headers, _ = call(opener, f"{base}/outbox")
    assert status == 303 and headers["location"] == "/login?next=/outbox"
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
        assert name in {k.lower() for k in headers}, name
    assert "script-src 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    status, headers, _ = login(opener, base)
    assert status == 303 and headers["location"] == "/outbox"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    status, _, html = call(opener, f"{base}/outbox")
    assert status == 200 and "Hộp thư đi" in html


def test_secure_cookie_behind_a_trusted_https_proxy(served) -> None:
    opener, _ = client()
    status, headers, _ = login(opener, served["base"], headers={"X-Forwarded-Proto": "https"})
    assert status == 303 and "; Secure" in headers["set-cookie"]


def test_a_post_without_csrf_or_from_another_site_is_refused(served) -> None:
    base = served["base"]
    opener, _ = client()
    login(opener, base)
    status, _, html = call(opener, f"{base}/action", {"action": "accept", "agency": "tay-ninh", "year": "2024"})
    assert status == 403 and "CSRF" in html
    _, _, page = call(opener, f"{base}/outbox")
    status, _, _ = call(opener, f"{base}/action", {"csrf_token": token(page), "action": "accept",
                                                   "agency": "tay-ninh", "year": "2024"},
                        {"Origin": "https://evil.example"})
    assert status == 403


def test_a_removed_account_loses_its_session(served) -> None:
    base = served["base"]
    opener, _ = client()
    login(opener, base)
    assert call(opener, f"{base}/quarantine")[0] == 200
    run_cli("users", "remove", "dieuphoi@example.vn", config=served["config"])
    status, headers, _ = call(opener, f"{base}/quarantine")
    assert status == 303 and headers["location"].startswith("/login")


def test_trusted_header_login(served) -> None:
    base = served["base"]
    opener, _ = client()
    status, _, html = call(opener, f"{base}/quarantine", headers={"X-Remote-User": "dieuphoi@example.vn", **PROXY})
    assert status == 200 and "dieuphoi@example.vn" in html
    opener, _ = client()  # an unknown person named by the proxy is not let in
    assert call(opener, f"{base}/quarantine", headers={"X-Remote-User": "ke.la@example.vn", **PROXY})[0] == 303


def test_trusted_header_is_ignored_by_default(tmp_path: Path) -> None:
    app = App.load(str(write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")))
    with app.db.transaction() as s:
        accounts.add_user(s, "dieuphoi@example.vn", PASSWORD)
    try:
        with serving(app) as board:
            opener, _ = client()
            status, _, _ = call(opener, f"{board.base}/quarantine",
                                headers={"X-Remote-User": "dieuphoi@example.vn", "Remote-User": "dieuphoi@example.vn"})
            assert status == 303
    finally:
        app.close()


def test_users_commands_and_the_web_command(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    proc = subprocess.run([TDC_BOT, "users", "add", "Dieu.Phoi@Example.VN", "--password-stdin", "--config",
                           str(config)], input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    listed = run_cli("users", "list", "--json", config=config).stdout
    assert '"email": "dieu.phoi@example.vn"' in listed
    again = subprocess.run([TDC_BOT, "users", "add", "dieu.phoi@example.vn", "--password-stdin", "--config",
                            str(config)], input="short\n", capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    port = free_port()
    server = subprocess.Popen([TDC_BOT, "web", "--port", str(port), "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: board_up(f"http://127.0.0.1:{port}"), 60)
        opener, _ = client()
        status, _, _ = login(opener, f"http://127.0.0.1:{port}", email="dieu.phoi@example.vn")
        assert status == 303
    finally:
        server.terminate()
        server.wait(timeout=30)
    removed = run_cli("users", "remove", "Điều Phối <Dieu.Phoi@Example.VN>", config=config)
    assert removed.stdout.strip() == "đã xóa tài khoản dieu.phoi@example.vn"  # the address as stored, not as typed
    again = run_cli("users", "remove", "dieu.phoi@example.vn", config=config, check=False)
    assert again.returncode == 1 and "Không có tài khoản dieu.phoi@example.vn." in again.stderr


def test_run_serves_the_board_when_web_is_enabled(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}", f"[web]\nenabled = true\nport = {port}\n")
    daemon = subprocess.Popen([TDC_BOT, "run", "--config", str(config)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        up = wait_for(lambda: board_up(f"http://127.0.0.1:{port}"), 90)
        assert up, "the board did not come up beside the daemon"
        status, headers, _ = call(client()[0], f"http://127.0.0.1:{port}/")
        assert status == 303 and headers["location"].startswith("/login")
    finally:
        daemon.terminate()
        out, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, out


def test_exports_and_chart_are_downloads(served) -> None:
    base = served["base"]
    opener, _ = client()
    login(opener, base)
    request = urllib.request.Request(f"{base}/export/2024/status.csv")
    with opener.open(request, timeout=60) as response:
        body = response.read()
        assert response.headers["Content-Disposition"].startswith('attachment; filename="tdc-2024-status.csv"')
    assert body.startswith("\ufeff".encode()) and "Mã đơn vị" in body.decode("utf-8-sig")
    assert body.decode("utf-8-sig").count("\n") == 1 + 69  # header + every agency owing 2024
    with opener.open(f"{base}/export/2024/xlsx", timeout=60) as response:
        assert response.read()[:2] == b"PK"
    with opener.open(f"{base}/chart/2024.png", timeout=60) as response:
        assert response.headers["Content-Type"] == "image/png" and response.read()[:4] == b"\x89PNG"
    assert call(opener, f"{base}/export/2024/secrets.txt")[0] == 404
    assert call(opener, f"{base}/agency/khong-co/2024")[0] == 404


def test_extend_exempt_and_a_refused_accept_through_the_board(served) -> None:
    from sqlalchemy import select

    from workflow.db import models

    base, app = served["base"], served["app"]
    opener, _ = client()
    login(opener, base)

    def act(**fields: str) -> str:
        _, _, page = call(opener, f"{base}/confirm?{urllib.parse.urlencode(fields)}")
        assert 'id="confirm"' in page, page
        status, headers, _ = call(opener, f"{base}/action", {"csrf_token": token(page), **fields})
        assert status == 303
        return call(opener, f"{base}{headers['location']}")[2]

    page = act(action="accept", agency="tay-ninh", year="2024", back="/review")
    assert 'class="flash error"' in page and "Tây Ninh" in page  # nothing to accept: the rules refuse
    page = act(action="extend", agency="tay-ninh", year="2024", until="10/12/2024", reason="Lũ lụt")
    assert 'class="flash ok"' in page
    page = act(action="exempt", agency="bo-y-te", year="2024", reason="Sáp nhập")
    assert 'id="agency-state">Miễn báo cáo' in page
    with app.db.sessions() as s:
        (ext,) = s.scalars(select(models.DeadlineExtension)).all()
        assert ext.created_by == "dieuphoi@example.vn" and ext.agency_slug == "tay-ninh"
        entries = s.scalars(select(models.AuditEntry).where(models.AuditEntry.actor == "dieuphoi@example.vn")).all()
        assert {e.action for e in entries} >= {"deadline_extended"} and len(entries) >= 2
        sub = s.scalars(select(models.Submission).where(models.Submission.agency_slug == "bo-y-te")).one()
        assert sub.state == models.EXEMPT
    assert "10/12/2024" in call(opener, f"{base}/agency/tay-ninh/2024")[2]


def test_contact_health_column_and_the_agency_contacts_section(served, tmp_path: Path, monkeypatch) -> None:
    """Contacts imported from a sheet, one bounced, reminders queued by the reminders' own code: the board shows it."""
    from datetime import datetime

    from sqlalchemy import select

    from workflow.db import models
    from workflow.season import contact_sheet
    from workflow.season.reminders import send_reminders

    base, app = served["base"], served["app"]
    sheet = tmp_path / "dau-moi.csv"
    sheet.write_text("Đơn vị,Email,Họ tên,Vai trò,Kính gửi\n"
                     "Tây Ninh,daumoi@tayninh.example.org,Nguyễn Thị Lan,Đầu mối,Sở KH&CN Tây Ninh\n"
                     "Tây Ninh,vanthu@tayninh.example.org,,Văn thư,\n"
                     "Bộ Y tế,khcn@byt.example.vn,Trần Văn Bình,đầu mối,\n", encoding="utf-8")
    now = datetime(2024, 11, 23, 2, tzinfo=UTC)  # 7 days before the 30/11/2024 deadline
    with app.db.transaction() as s:
        checked = contact_sheet.check_table(app.roster_base, contact_sheet.read_table(sheet), s)
        assert not checked.problems
        contact_sheet.import_lines(s, checked.lines, actor="dieuphoi@example.vn", now=now)
    monkeypatch.setattr(app.settings, "reminders", app.settings.reminders.model_copy(update={"enabled": True}))
    assert send_reminders(app, 2024, now).queued
    with app.db.transaction() as s:  # what a bounce of that reminder records (reminder_mail.py)
        bounced = s.scalars(select(models.Contact).where(models.Contact.email == "khcn@byt.example.vn")).one()
        bounced.failing, bounced.bounce_reason = True, "550 5.1.1 user unknown"
        bounced.last_bounce_at = datetime(2024, 11, 24, 20, tzinfo=UTC)  # 25/11 in Hanoi

    opener, _ = client()
    login(opener, base)
    page = call(opener, f"{base}/?year=2024")[2]
    assert '<th scope="col">Liên hệ</th>' in page

    def cell(slug: str) -> str:
        row = re.search(rf'<tr [^>]*data-agency="{slug}">(.*?)</tr>', page, re.S).group(1)
        return re.search(r'<td class="contacts"[^>]*>(.*?)</td>', row, re.S).group(1)

    assert cell("tay-ninh") == "2 đã xác nhận"
    assert "Chưa có liên hệ đã xác nhận" in cell("bo-y-te") and "1 địa chỉ bị trả lại" in cell("bo-y-te")
    assert "Chưa có liên hệ đã xác nhận" in cell("ha-noi")

    page = call(opener, f"{base}/agency/tay-ninh/2024")[2]
    section = page.split('id="h-contacts">Liên hệ</h2>')[1].split("</section>")[0]
    assert ('<tr data-contact="daumoi@tayninh.example.org"><td data-label="Email">daumoi@tayninh.example.org</td>'
            '<td data-label="Họ tên">Nguyễn Thị Lan</td><td data-label="Vai trò">đầu mối</td>'
            '<td data-label="Đơn vị nhận">Sở KH&amp;CN Tây Ninh</td><td data-label="Nguồn">nhập từ bảng</td>'
            '<td data-label="Đã xác nhận">Có</td><td data-label="Tình trạng địa chỉ">Bình thường</td></tr>') in section
    assert 'data-contact="vanthu@tayninh.example.org"' in section
    (reminder,) = re.findall(r'<ul id="reminders">(.*?)</ul>', section, re.S)
    assert "23/11/2024" in reminder and "daumoi@tayninh.example.org" in reminder and "chờ gửi" in reminder
    page = call(opener, f"{base}/agency/bo-y-te/2024")[2]
    section = page.split('id="h-contacts">Liên hệ</h2>')[1].split("</section>")[0]
    assert "Bị trả lại</span> ngày 25/11/2024: 550 5.1.1 user unknown" in section
    assert "23/11/2024" in section and "khcn@byt.example.vn" in section  # the reminder that bounced
