"""The web board as a coordinator uses it: headless Chromium (Debian's) driven by Selenium.

One replayed season (`tdc-bot demo`'s, 12 agencies, seed 3) is served by the
real board (uvicorn in a thread, the clock pinned to 11/12/2024 09:00 in Hanoi)
and one browser walks through it in file order: a stranger is sent to the
login page, the coordinator logs in, reads the 2024 board, filters, searches,
opens an agency, downloads an attachment, accepts a report, requests a
resubmission, and finally a forged POST and five wrong passwords are refused.
Every page gets a screenshot (in ``screenshots/`` of this module's temporary
folder, printed at the end) and an axe-core accessibility check (axe.min.js
vendored beside this file, never fetched) with no serious or critical
violation.
"""
from __future__ import annotations

import dataclasses
import io
import os
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from selenium.common.exceptions import WebDriverException
from sqlalchemy import select

from tests.cli_helpers import wait_for
from tests.servers.common import require_binary
from tests.web.test_board_http import serving
from workflow.accounts import add_user
from workflow.app import App
from workflow.db import models
from workflow.season import states
from workflow.season.status import season_status

pytestmark = pytest.mark.slow

VN = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR = 2024
NOW = datetime(2024, 12, 11, 9, 0, tzinfo=VN)
USER, PASSWORD = "dieuphoi@tdc.example.vn", "mật-khẩu-đủ-dài-2024"
AXE = Path(__file__).resolve().parent / "axe.min.js"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-extensions", "--lang=vi")


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo season replayed through the real daemon, then served by the board."""
    from workflow.operations.demo import run_demo

    result = run_demo(tmp_path_factory.mktemp("season") / "demo", year=YEAR, agencies=12, seed=3,
                      console=Console(file=io.StringIO(), width=120))
    app = App.load(str(result.config_path))
    with app.db.transaction() as session:
        add_user(session, USER, PASSWORD)
        # The demo's review cases are Gmail reports, which wait unplaced (issue #10): the queue's
        # submission actions need submissions under review, so a coordinator flags two, as one would.
        subs = session.scalars(select(models.Submission).where(
            models.Submission.year == YEAR, models.Submission.state == models.ACKNOWLEDGED)
            .order_by(models.Submission.agency_slug).limit(2)).all()
        assert len(subs) == 2
        for sub in subs:
            states.transition(session, sub, models.NEEDS_REVIEW, actor=USER, event=states.FLAGGED, now=NOW,
                              reason="cần kiểm tra lại biểu số liệu")
        status = season_status(session, app.roster, YEAR)
    result = dataclasses.replace(result, status=status)  # what `tdc-bot status` says now
    with serving(app, clock=lambda: NOW) as served:
        yield {"result": result, "app": app, "server": served.server, "base": served.base}
    app.close()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("board-browser")
    (path / "screenshots").mkdir()
    (path / "downloads").mkdir()
    return path


@pytest.fixture(scope="module")
def browser(out_dir: Path):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = require_binary("/usr/bin/chromium", "apt-get install -y chromium chromium-driver")
    driver_path = require_binary("/usr/bin/chromedriver", "apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={out_dir / 'profile'}")
    options.add_argument("--window-size=1280,900")
    options.add_experimental_option("prefs", {
        "download.default_directory": str(out_dir / "downloads"), "download.prompt_for_download": False,
        "safebrowsing.enabled": False})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(out_dir / "downloads")})
    yield driver
    driver.quit()
    print(f"\nscreenshots of the board: {out_dir / 'screenshots'}")


# --- helpers -----------------------------------------------------------------------------------
def css(driver, selector: str):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver, selector: str) -> list:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def click_and_load(driver, element, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    """Click something that navigates, and wait for the new page: on a loaded machine click()
    can return before the browser has even started to leave the old page.

    The old page is marked with a window property, and the new page is the one without it. Asking
    an old node whether it is stale (Selenium's staleness_of) raced with Chromium 156, which then
    answered "Node with given id does not belong to the document" instead of "stale".
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__tdcLeaving = true;")
    element.click()
    wait = WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,))  # a script run mid-navigation
    wait.until(lambda d: d.execute_script("return window.__tdcLeaving !== true"))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def shoot(driver, out_dir: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A full-page screenshot: the window is stretched to the page's height first."""
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 120, 600), 6000))
    path = out_dir / "screenshots" / f"{name}.png"
    assert driver.save_screenshot(str(path))
    driver.set_window_size(width, 900)
    return path


def axe_violations(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the current page (WCAG 2.x A/AA rules)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id,"
        " impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html)}))}))"
        ".catch(e => done({error: String(e)}));")
    assert "error" not in result, result
    assert result["passes"] > 10  # axe really ran its rules on this page
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def check_page(driver, out_dir: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    shoot(driver, out_dir, name)
    assert axe_violations(driver) == [], name


def path_of(driver) -> str:  # type: ignore[no-untyped-def]
    parts = urlsplit(driver.current_url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def log_in(driver, base: str, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    if not urlsplit(driver.current_url).path.startswith("/login"):
        driver.get(f"{base}/login")
    css(driver, "#email").clear()
    css(driver, "#email").send_keys(email)
    css(driver, "#password").send_keys(password)
    click_and_load(driver, css(driver, ".login button[type=submit]"))


# --- the walk-through, in order ----------------------------------------------------------------
def test_a_stranger_is_sent_to_the_login_page(season, browser, out_dir) -> None:
    browser.get(f"{season['base']}/review")
    assert path_of(browser) == "/login?next=/review"
    form = css(browser, "form[action='/login']")
    names = {el.get_attribute("name"): el.get_attribute("type") for el in all_css(browser,
                                                                                  "form[action='/login'] input")}
    assert names["email"] == "email" and names["password"] == "password" and names["csrf_token"] == "hidden"
    assert form.get_attribute("method") == "post"
    check_page(browser, out_dir, "01-login")


def test_the_coordinator_logs_in_and_lands_where_they_were_going(season, browser) -> None:
    log_in(browser, season["base"], USER, PASSWORD)
    assert path_of(browser) == "/review"
    assert USER in css(browser, ".who").text
    cookie = browser.get_cookie("tdc_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"


def test_the_2024_board_shows_every_owing_agency_with_the_right_counts(season, browser, out_dir) -> None:
    result, app = season["result"], season["app"]
    browser.get(f"{season['base']}/")  # the clock says 11/12/2024: the current season is 2024
    assert "năm 2024" in css(browser, "h1").text
    rows = all_css(browser, "#board tbody tr")
    assert [r.get_attribute("data-agency") for r in rows] == [a.slug for a in app.roster.owing(YEAR)]
    assert len(rows) == 69  # 63 provinces and 6 ministries owed a 2024 report
    expected: dict[str, int] = {}
    for row in result.status:  # what `tdc-bot status` said at the end of the replay
        expected[row.state] = expected.get(row.state, 0) + 1
    shown = {el.get_attribute("data-state"): int(el.text) for el in all_css(browser, ".counts strong")}
    assert {k: v for k, v in shown.items() if v} == expected
    # Reports from a personal Gmail address do not count until a coordinator assigns them (issue #10).
    from_strangers = {m.agency for m in result.plan.mails
                      if m.agency and m.label.startswith(("chuyển tiếp từ Gmail", "người gửi Gmail lạ"))}
    placed = [a for a in result.plan.participants if a.slug not in from_strangers]
    assert expected[models.MISSING] == 69 - len(placed)
    chart = css(browser, "img.chart")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart) > 0
    check_page(browser, out_dir, "02-board-2024")


def test_filtering_to_late_agencies(season, browser, out_dir) -> None:
    browser.get(f"{season['base']}/?year={YEAR}")
    css(browser, "#f-late").click()
    click_and_load(browser, css(browser, "#f-submit"))
    assert "late=1" in browser.current_url
    late = [r.agency for r in season["result"].status if r.on_time is False]
    assert late  # the demo has reports after the deadline
    rows = all_css(browser, "#board tbody tr")
    assert [r.get_attribute("data-agency") for r in rows] == late
    for row in rows:
        assert "Muộn" in row.text and "ngày" in row.text
    check_page(browser, out_dir, "03-board-late")


def test_searching_without_diacritics_finds_tay_ninh(season, browser, out_dir) -> None:
    browser.get(f"{season['base']}/?year={YEAR}")
    css(browser, "#f-q").send_keys("tay ninh")
    click_and_load(browser, css(browser, "#f-submit"))
    rows = all_css(browser, "#board tbody tr")
    assert [r.get_attribute("data-agency") for r in rows] == ["tay-ninh"]
    assert "Tây Ninh" in rows[0].text
    check_page(browser, out_dir, "04-board-search")


def _agency_with_attachment(app: App) -> tuple[str, models.Attachment]:
    with app.db.sessions() as session:
        sub = session.scalars(select(models.Submission).where(
            models.Submission.year == YEAR, models.Submission.state == models.ACKNOWLEDGED)
            .order_by(models.Submission.id)).first()
        att = session.scalars(select(models.Attachment).where(
            models.Attachment.message_id == sub.current_message_id)).first()
        return sub.agency_slug, att


def test_opening_an_agency_and_downloading_its_report(season, browser, out_dir) -> None:
    app = season["app"]
    slug, att = _agency_with_attachment(app)
    browser.get(f"{season['base']}/?year={YEAR}")
    click_and_load(browser, css(browser, f"#board tr[data-agency='{slug}'] a"))
    assert path_of(browser) == f"/agency/{slug}/{YEAR}"
    assert css(browser, "#agency-state").text == "Đã báo nhận"
    assert all_css(browser, "#audit tbody tr")  # the bot's own entries at least
    check_page(browser, out_dir, "05-agency")
    link = css(browser, f"a[data-attachment='{att.id}']")
    assert link.text == att.filename
    link.click()
    target = out_dir / "downloads" / att.filename
    assert wait_for(lambda: target.is_file() and not list((out_dir / "downloads").glob("*.crdownload")), 30), \
        list((out_dir / "downloads").iterdir())
    assert target.read_bytes() == Path(att.path).read_bytes()
    assert path_of(browser) == f"/agency/{slug}/{YEAR}"  # downloaded, not opened in the tab


def test_accepting_from_the_review_queue_changes_the_state_and_names_the_coordinator(season, browser, out_dir) -> None:
    base = season["base"]
    browser.get(f"{base}/review")
    items = all_css(browser, "article.item[id^='review-']")
    assert items
    check_page(browser, out_dir, "06-review")
    first = items[0]
    slug = first.get_attribute("id").removeprefix("review-").rsplit("-", 1)[0]
    click_and_load(browser, first.find_element("css selector", "button[value='accept']"))
    assert urlsplit(browser.current_url).path == "/confirm"
    assert "Chấp nhận" in css(browser, "h1").text
    check_page(browser, out_dir, "07-confirm")
    click_and_load(browser, css(browser, "#confirm"))
    assert urlsplit(browser.current_url).path == "/review"
    assert "đã chấp nhận" in css(browser, ".flash.ok").text
    assert not all_css(browser, f"#review-{slug}-{YEAR}")
    browser.get(f"{base}/agency/{slug}/{YEAR}")
    assert css(browser, "#agency-state").text == "Đã chấp nhận"
    last = all_css(browser, "#audit tbody tr")[-1]
    assert USER in last.text and "đã chấp nhận" in last.text
    with season["app"].db.sessions() as session:
        entry = session.scalars(select(models.AuditEntry).where(models.AuditEntry.to_state == models.ACCEPTED)).one()
    assert entry.actor == USER and entry.agency_slug == slug


def test_requesting_a_resubmission_queues_the_email_to_the_agency(season, browser, out_dir) -> None:
    base = season["base"]
    reason = "Thiếu biểu số liệu chỉ tiêu năm 2024"
    for attempt in range(3):  # Chromium may still be settling the page it just loaded: find the nodes again
        try:
            browser.get(f"{base}/review")
            wait_for(lambda: browser.execute_script("return document.readyState") == "complete", timeout=30)
            item_id = all_css(browser, "article.item[id^='review-']")[0].get_attribute("id")
            css(browser, f"#{item_id} input[id^='rs-']").send_keys(reason)
            click_and_load(browser, css(browser, f"#{item_id} button[value='resubmit']"))
            break
        except WebDriverException:
            if attempt == 2:
                raise
    slug = item_id.removeprefix("review-").rsplit("-", 1)[0]
    assert reason in css(browser, "main").text
    click_and_load(browser, css(browser, "#confirm"))
    assert "đề nghị gửi lại" in css(browser, ".flash.ok").text
    browser.get(f"{base}/outbox")
    check_page(browser, out_dir, "08-outbox")
    with season["app"].db.sessions() as session:
        email = session.scalars(select(models.OutboxEmail).where(
            models.OutboxEmail.kind == "resubmission", models.OutboxEmail.agency_slug == slug)).one()
    row = css(browser, f"#unsent a[href='/outbox/{email.id}']")
    click_and_load(browser, row)
    assert reason in css(browser, "#email-body").text
    assert css(browser, "#email-state").get_attribute("data-state") == models.PENDING
    assert css(browser, "#email-state").text == "chờ gửi"
    assert set(email.recipients) and all(r in css(browser, "main").text for r in email.recipients)
    check_page(browser, out_dir, "09-outbox-email")


def test_quarantine_page(season, browser, out_dir) -> None:
    browser.get(f"{season['base']}/quarantine")
    with season["app"].db.sessions() as session:
        quarantined = session.scalars(select(models.Message).where(models.Message.status == "quarantined")).all()
    assert len(all_css(browser, "#quarantine tbody tr")) == max(len(quarantined), 1)
    check_page(browser, out_dir, "10-quarantine")


def test_junk_page(season, browser, out_dir) -> None:
    browser.get(f"{season['base']}/junk")
    with season["app"].db.sessions() as session:
        junk = session.scalars(select(models.Message).where(models.Message.status == "junk")).all()
    assert len(all_css(browser, "#junk tbody tr")) == max(len(junk), 1)
    check_page(browser, out_dir, "10-junk")


PHONE_WIDTH = 390
MIN_CELL_PX = 120  # a column narrower than this on a phone breaks words into a letter or two per line


def phone_layout(driver) -> dict:  # type: ignore[no-untyped-def]
    """How the current page lies at the window's width: page overflow, and the narrowest table cell shown."""
    return driver.execute_script("""
        const root = document.documentElement;
        const cells = [...document.querySelectorAll('main table td, main table th')]
            .filter(c => c.offsetParent !== null && c.getBoundingClientRect().height > 1
                         && !c.closest('thead') && !c.closest('caption'));
        const widths = cells.map(c => c.getBoundingClientRect().width);
        const spilling = cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent.slice(0, 40));
        return {overflow: root.scrollWidth - root.clientWidth, cells: cells.length,
                narrowest: widths.length ? Math.min(...widths) : null, spilling: spilling};""")


@pytest.mark.parametrize("page", ["board", "agency"])
def test_the_board_and_the_agency_page_fit_a_phone(season, browser, out_dir, page: str) -> None:
    """390 px wide: the page never scrolls sideways, and no table column is squeezed to a few letters."""
    slug, _ = _agency_with_attachment(season["app"])
    path = f"/?year={YEAR}" if page == "board" else f"/agency/{slug}/{YEAR}"
    browser.set_window_size(PHONE_WIDTH, 844)
    try:
        browser.get(f"{season['base']}{path}")
        assert browser.execute_script("return document.documentElement.clientWidth") <= PHONE_WIDTH
        layout = phone_layout(browser)
        shoot(browser, out_dir, f"11-{page}-phone")
        assert layout["overflow"] <= 1, layout
        assert layout["cells"] >= (69 if page == "board" else 5), layout
        assert layout["narrowest"] >= MIN_CELL_PX, layout
        assert layout["spilling"] == [], layout
        assert browser.execute_script("return document.querySelector('meta[name=viewport]') !== null")
        assert axe_violations(browser) == [], page
    finally:
        browser.set_window_size(1280, 900)


def test_a_post_without_the_csrf_token_is_refused(season, browser) -> None:
    browser.get(f"{season['base']}/?year={YEAR}")
    # A forged form: the same POST, without the hidden token (WebDriver scripts are not page scripts).
    browser.execute_script("document.querySelector(\"form[action^='/compile'] input[name=csrf_token]\").remove();")
    click_and_load(browser, css(browser, "form[action^='/compile'] button"))
    assert "CSRF" in css(browser, "#error-detail").text
    assert season["server"].config.app.state.board.jobs.get(YEAR) is None  # nothing was started


def test_the_national_report_is_compiled_on_request_with_progress(season, browser, out_dir) -> None:
    browser.get(f"{season['base']}/?year={YEAR}")
    click_and_load(browser, css(browser, "form[action^='/compile'] button"))
    # The compilation starts at once and competes for the CPU: the redirect may come after click() returns.
    assert wait_for(lambda: urlsplit(browser.current_url).path == f"/compile/{YEAR}", 60), browser.current_url
    assert wait_for(lambda: "Báo cáo tổng hợp năm 2024" in css(browser, "h1").text, 30)

    def done() -> bool:
        if not all_css(browser, "#compile-done"):
            browser.get(f"{season['base']}/compile/{YEAR}")  # the page also reloads itself every 2 s
        return bool(all_css(browser, "#compile-done"))
    assert wait_for(done, 240, every=2), css(browser, "main").text
    check_page(browser, out_dir, "13-compile")
    css(browser, f"a[href='/compile/{YEAR}/download']").click()
    target = out_dir / "downloads" / f"bao-cao-tong-hop-{YEAR}.docx"
    assert wait_for(lambda: target.is_file() and not list((out_dir / "downloads").glob("*.crdownload")), 30)
    assert target.read_bytes()[:2] == b"PK"  # a .docx (zip) file


def test_five_wrong_passwords_slow_the_next_attempt_down(season, browser, out_dir) -> None:
    browser.delete_all_cookies()
    base = season["base"]
    browser.get(f"{base}/login")
    for _ in range(5):
        log_in(browser, base, USER, "not-the-password")
        assert "không đúng" in css(browser, "#login-error").text
    started = time.monotonic()
    log_in(browser, base, USER, PASSWORD)  # even the right password waits now
    assert "thử lại sau" in css(browser, "#login-error").text
    assert urlsplit(browser.current_url).path == "/login"
    assert time.monotonic() - started < 20  # refused at once, not by a hanging request
    shoot(browser, out_dir, "12-login-slowed")
    assert os.listdir(out_dir / "screenshots")
