"""The board's request handlers: read pages, files, and the coordinator's decisions.

GET handlers are plain functions (Starlette runs them in its thread pool, so
the synchronous database code never blocks the event loop); handlers that read
a form are async only to read it and hand the work to the pool. Every POST goes
through ``_form``: CSRF token and same-origin check first, nothing else runs
without them. Every decision calls ``workflow.season.actions`` in one transaction,
with the logged-in coordinator's e-mail as the audit actor.
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from anyio import CapacityLimiter, to_thread
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from intake.store import sanitize_filename
from interfaces.web import views
from interfaces.web.security import csrf_ok, csrf_token, loggable_login, login_keys, same_origin
from notifier.labels import state_label
from workflow import accounts
from workflow.db import models
from workflow.season import states
from workflow.season.action_context import ActionError, action_context, resolve_agency
from workflow.season.actions import accept as do_accept
from workflow.season.actions import assign as do_assign
from workflow.season.actions import dismiss as do_dismiss
from workflow.season.actions import exempt as do_exempt
from workflow.season.actions import extend as do_extend
from workflow.season.actions import request_resubmission as do_request_resubmission

if TYPE_CHECKING:
    from jinja2 import Environment
    from sqlalchemy.orm import Session

    from interfaces.web.jobs import CompileJobs
    from interfaces.web.security import LoginLimiter
    from workflow.app import App
    from workflow.season.action_context import ActionResult

log = logging.getLogger(__name__)

# Types a browser could run or render as a page: always sent as opaque bytes.
ACTIVE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                "text/javascript", "application/javascript", "application/x-javascript")

# Each button calls the function its command calls (never a second implementation):
# accept, request-resubmission, exempt, extend, assign, accept --message N, dismiss,
# junk rescue, outbox release ID.
ACTIONS: dict[str, str] = {
    "accept": "Chấp nhận báo cáo",
    "request_resubmission": "Đề nghị gửi lại",
    "exempt": "Miễn báo cáo",
    "extend": "Gia hạn nộp",
    "assign": "Xếp thư vào đơn vị",
    "accept_message": "Chấp nhận thư chưa xác thực đã kiểm tra",
    "dismiss": "Bỏ thư khỏi danh sách cần xem",
    "rescue": "Đưa thư ra khỏi mục thư rác",
    "release": "Cho gửi thư đang giữ lại",
}
NEEDS_REASON = {"request_resubmission", "exempt", "extend"}
NEEDS_MESSAGE = {"assign", "accept_message", "dismiss", "rescue"}
WHAT_HAPPENS = {
    "request_resubmission": "Hệ thống sẽ gửi thư đề nghị gửi lại báo cáo tới đơn vị, kèm lý do trên.",
    "assign": "Địa chỉ người gửi sẽ được ghi nhớ cho đơn vị này.",
    "accept_message": ("Thư này trở thành phiên bản hiện hành của báo cáo và được chấp nhận; địa chỉ gửi không "
                       "được thêm vào danh bạ (một thư đã kiểm tra không chứng minh thư sau)."),
    "dismiss": "Thư rời danh sách cần xem xét; thư vẫn được lưu và ghi nhật ký.",
    "rescue": "Thư được đọc lại như thư thường; nếu là báo cáo, báo cáo được ghi nhận và gửi thư báo nhận.",
    "release": ("Thư được kiểm tra lại (người nhận, tệp đính kèm) rồi chuyển sang chờ gửi, "
                "không còn chờ giới hạn mỗi giờ."),
}
FIELDS = ("agency", "year", "reason", "until", "message", "email", "back")
ROW_CACHE = 20_000  # rendered board rows kept (a few MB at most); cleared whole when full


class Forbidden(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


def parse_day(text: str) -> date | None:
    """DD/MM/YYYY (as officials write it) or YYYY-MM-DD; None when it is neither."""
    value = (text or "").strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def safe_next(target: str | None) -> str:
    """Only a path on this site (no '//host', no scheme): never an open redirect, never a script link.

    The one rule for every address the board sends a browser back to: ``next=``
    after login, ``back=`` on the confirmation page and after a decision.
    Whitespace and control characters are refused too: a browser drops a tab
    or a line break inside a link, so ``/<TAB>/evil.example`` would become
    ``//evil.example``.
    """
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ch <= " " or ch == "\x7f" for ch in target)):
        return target
    return "/"


def attachment_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987).

    The name goes through the store's ``sanitize_filename`` first: no
    bidirectional override can make ``…exe`` read as ``…docx`` in the browser's
    download bar, no zero-width character can hide in it, no path part survives.
    """
    from reference.text import to_ascii

    name = sanitize_filename(filename or "")
    fallback = "".join(c if c.isalnum() or c in "._-" else "_" for c in to_ascii(name))[:150] or "tep"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class Board:
    """The pages, over one assembled ``App``; ``clock`` gives "now" (tests and --now pin it)."""

    def __init__(self, app: App, env: Environment, limiter: LoginLimiter, jobs: CompileJobs,
                 clock: Callable[[], datetime], password_checks_at_once: int) -> None:
        self.app, self.env, self.limiter, self.jobs, self.clock = app, env, limiter, jobs, clock
        self.password_checks_at_once = password_checks_at_once  # Argon2's memory grows with each check running
        self._password_checks: CapacityLimiter | None = None  # made in the event loop, at the first login
        self._rows: dict[tuple, str] = {}

    # --- helpers --------------------------------------------------------------------------
    def render(self, request: Request, template: str, status: int = 200,
               banner: dict[str, int] | None = None, **context: Any) -> HTMLResponse:
        """A page; a logged-in coordinator's page carries the review banner, counted afresh for every page
        (``banner``: already counted, in the session the page read its data in)."""
        session = request.session
        flash = session.pop("flash", [])
        user = request.scope.get("tdc.user")
        if not user or status >= 400:
            banner = None
        elif banner is None:
            banner = self.review_banner()
        html = self.env.get_template(f"web/{template}").render(
            user=user, csrf=csrf_token(session), flash=flash, path=request.url.path, banner=banner,
            state_label=state_label, outbox_state=lambda c: views.words(views.OUTBOX_STATES, c),
            email_kind=lambda c: views.words(views.EMAIL_KINDS, c),
            message_status=lambda c: views.words(views.MESSAGE_STATUSES, c),
            message_kind=lambda c: views.words(views.MESSAGE_KINDS, c),
            contact_source=lambda c: views.words(views.CONTACT_SOURCES, c), **context)
        return HTMLResponse(html, status_code=status)

    def review_banner(self, session: Session | None = None) -> dict[str, int] | None:
        """What waits for a coordinator this season: ``review_total``, the number status and the digest show."""
        from workflow.season.status import review_total

        if not self.app.campaigns:
            return None
        if session is None:
            with self.app.db.sessions() as own:
                return self.review_banner(own)
        year = self.default_year()
        return {"year": year, "count": review_total(session, year)}

    @staticmethod
    def flash(request: Request, kind: str, text: str) -> None:
        request.session.setdefault("flash", []).append([kind, views.coordinator_words(text)])

    async def _form(self, request: Request) -> dict[str, str]:
        """The posted fields, after the CSRF and same-origin checks (403 otherwise)."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not same_origin(headers, request.url.scheme):
            raise Forbidden("Yêu cầu từ trang khác bị từ chối. Cross-site request refused.")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not csrf_ok(request.session, fields.get("csrf_token")):
            raise Forbidden("Thiếu hoặc sai mã chống giả mạo (CSRF); hãy tải lại trang. Missing or wrong CSRF token.")
        return fields

    def default_year(self) -> int:
        from workflow.season.reminders import season_year

        return season_year(self.app.campaigns, self.clock()) or max(self.app.campaigns)

    # --- login ----------------------------------------------------------------------------
    def login_page(self, request: Request) -> Response:
        if request.scope.get("tdc.user"):
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        return self.render(request, "login.html.j2", next=safe_next(request.query_params.get("next")),
                           email="", error=None)

    async def login(self, request: Request) -> Response:
        fields = await self._form(request)
        email, password = fields.get("email", "")[:320], fields.get("password", "")[:1024]
        target = safe_next(fields.get("next"))
        ip = (request.client.host if request.client else "") or "?"
        who = loggable_login(email)  # never the raw text: it may be a password typed into the wrong box
        attempt = self.limiter.attempt(login_keys(email, ip))
        if attempt.wait > 0:
            seconds = int(attempt.wait) + 1
            log.warning("login refused for %s from %s: too many failures, wait %ss", who, ip, seconds)
            response = self.render(request, "login.html.j2", status=429, next=target, email=email,
                                   error=f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.")
            response.headers["Retry-After"] = str(seconds)
            return response
        hours = self.app.settings.web.session_hours

        def check() -> tuple[str, str] | None:
            with self.app.db.transaction() as session:
                user = accounts.verify_login(session, email, password, self.clock())
                return (user, accounts.open_session(session, user, models.utcnow(), hours)) if user else None

        if self._password_checks is None:
            self._password_checks = CapacityLimiter(self.password_checks_at_once)
        opened = await to_thread.run_sync(check, limiter=self._password_checks)
        if opened is None:
            log.info("login failed for %s from %s", who, ip)
            return self.render(request, "login.html.j2", status=401, next=target, email=email,
                               error="Email hoặc mật khẩu không đúng.")
        user, token = opened
        self.limiter.succeeded(attempt)
        request.session.clear()
        request.session["sid"] = token
        csrf_token(request.session)  # a fresh token for the logged-in session
        log.info("login %s from %s", user, ip)
        return RedirectResponse(target, 303)

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        token = request.session.get("sid")

        def end() -> None:
            with self.app.db.transaction() as session:
                accounts.end_session(session, token)

        await run_in_threadpool(end)
        request.session.clear()
        log.info("logout %s", request.scope.get("tdc.user"))
        return RedirectResponse("/login", 303)

    # --- pages ----------------------------------------------------------------------------
    def need_campaign(self, year: int) -> None:
        """A year no campaign opened gets the command line's answer (``reference.campaigns.no_campaign``), as a 404."""
        if year not in self.app.campaigns:
            from reference.campaigns import no_campaign

            raise HTTPException(404, no_campaign(year, self.app.campaigns))

    def season(self, request: Request) -> Response:
        from notifier.chart import chart_title
        from workflow.season.chart_data import has_series

        year = _int(request.query_params.get("year")) or self.default_year()
        self.need_campaign(year)
        filters = views.BoardFilters.from_query(request.query_params)
        with self.app.db.sessions() as session:  # the configured roster: who owes, in order, by name
            data = views.board(session, self.app.roster_base, self.app.campaigns, year, filters)
            compared = has_series(session, self.app.campaigns, year - 1)
            banner = self.review_banner(session)  # in this session: one connection per page, not two
        # each row comes from the autoescaped _board_row.html.j2, so the joined rows are safe HTML
        rows = Markup("".join(self._row_html(year, row) for row in data["rows"]))  # noqa: S704
        job = self.jobs.get(year)
        return self.render(request, "board.html.j2", banner=banner, board=data, rows_html=rows, filters=filters,
                           kinds=views.KINDS, states=views.state_choices(), job=job,
                           chart_title=chart_title(year, compared))

    def _row_html(self, year: int, row: dict[str, Any]) -> str:
        """One board row, rendered once per distinct content (the data itself is read fresh every time).

        The key holds every value the row shows, so a changed row is simply a
        new key: formatting 69 unchanged rows costs 69 dictionary look-ups.
        """
        key = (year, row["agency"], row["name"], row["state"], row["awaiting"], row["received_at"], row["on_time"],
               row["late_days"],
               row["versions"], tuple(row["outline_missing"]), tuple(row["review_reasons"]),
               tuple(row["contacts"].values()))
        html = self._rows.get(key)
        if html is None:
            html = self.env.get_template("web/_board_row.html.j2").render(r=row, year=year, state_label=state_label,
                                                                          awaiting=views.AWAITING)
            if len(self._rows) >= ROW_CACHE:
                self._rows.clear()
            self._rows[key] = html
        return html

    def agency(self, request: Request) -> Response:
        slug, year = request.path_params["slug"], request.path_params["year"]
        self.need_campaign(year)
        with self.app.db.sessions() as session:
            try:
                data = views.agency_page(session, self.app.roster, self.app.campaigns, slug, year)
            except ActionError as exc:
                raise HTTPException(404, str(exc)) from None
        return self.render(request, "agency.html.j2", a=data)

    def attachment(self, request: Request) -> Response:
        with self.app.db.sessions() as session:
            att = session.get(models.Attachment, request.path_params["id"])
        if att is None:
            raise HTTPException(404, "Không có tệp này.")
        path = Path(att.path).resolve()
        if not path.is_relative_to(self.app.store_root.resolve()) or not path.is_file():
            log.error("attachment %s: %s is missing or outside the store", att.id, att.path)
            raise HTTPException(404, "Tệp không còn trong kho lưu trữ.")
        media = (att.content_type or "application/octet-stream").split(";")[0].strip().lower()
        if media in ACTIVE_TYPES or not media or "/" not in media:
            media = "application/octet-stream"
        return FileResponse(path, media_type=media, headers={
            "Content-Disposition": attachment_disposition(att.filename),
            "Content-Security-Policy": "default-src 'none'; sandbox"})

    def review(self, request: Request) -> Response:
        """Every kind of thing the review count counts for a year, with why it waits and the buttons that clear it."""
        year = _int(request.query_params.get("year")) or self.default_year()
        self.need_campaign(year)
        with self.app.db.sessions() as session:
            data = views.review_page(session, self.app.roster, year)
        return self.render(request, "review.html.j2", queue=data, year=year,
                           years=sorted(self.app.campaigns, reverse=True), back=f"/review?{urlencode({'year': year})}")

    def confirm(self, request: Request) -> Response:
        """The confirmation step: what will happen, and one button that does it (POST /action)."""
        params = dict(request.query_params)
        action = params.get("action", "")
        if action not in ACTIONS:
            raise HTTPException(400, "Thao tác không hợp lệ.")
        fields = {k: params.get(k, "")[:2000] for k in FIELDS}
        fields["back"] = safe_next(fields["back"]) if fields["back"] else ""  # the same rule as next= and /action
        agency_name = fields["agency"]
        year = _int(fields["year"])
        if fields["agency"] and year:
            try:
                agency_name = resolve_agency(self.app.roster, fields["agency"], year).name
            except ActionError:
                agency_name = fields["agency"]
        problem = None
        if action in NEEDS_REASON and not fields["reason"].strip():
            problem = "Cần nêu lý do."
        if action == "extend" and parse_day(fields["until"]) is None:
            problem = "Ngày gia hạn cần dạng dd/mm/yyyy."
        if action in NEEDS_MESSAGE and _int(fields["message"]) is None:
            problem = "Thiếu số thư."
        if action == "release" and _int(fields["email"]) is None:
            problem = "Thiếu số thư đi."
        return self.render(request, "confirm.html.j2", action=action, title=ACTIONS[action], f=fields,
                           agency_name=agency_name, problem=problem, what_happens=WHAT_HAPPENS.get(action),
                           about_agency=action not in ("dismiss", "rescue", "release"))

    async def act(self, request: Request) -> Response:
        fields = await self._form(request)
        action = fields.get("action", "")
        if action not in ACTIONS:
            raise HTTPException(400, "Thao tác không hợp lệ.")
        actor = request.scope["tdc.user"]
        year = _int(fields.get("year"))
        agency = (fields.get("agency") or "").strip()
        back = safe_next(fields.get("back") or (f"/agency/{agency}/{year}" if agency and year else "/review"))
        try:
            summary, placed = await run_in_threadpool(self._decide, action, fields, actor)
        except _Refused as exc:
            self.flash(request, "error", str(exc))
            log.info("web action %s by %s refused: %s", action, actor, exc)
        else:
            self.flash(request, "ok", summary)
            log.info("web action %s by %s: %s", action, actor, summary)
            if action == "assign" and placed:
                back = placed
        return RedirectResponse(back, 303)

    def _decide(self, action: str, fields: dict[str, str], actor: str) -> tuple[str, str | None]:
        """One decision, run as its command runs it: (what happened, the agency page it concerns), or _Refused."""
        from notifier.render import RenderError

        if action == "rescue":
            return self._rescue(_int(fields.get("message")), actor), None
        if action == "release":
            return self._release(_int(fields.get("email"))), None
        year = _int(fields.get("year"))
        agency = (fields.get("agency") or "").strip()
        reason = (fields.get("reason") or "").strip()
        message = _int(fields.get("message"))
        ctx = action_context(self.app, self.clock(), actor)
        try:
            with self.app.db.transaction() as session:
                if action == "dismiss":
                    if message is None:
                        raise ActionError("Thiếu số thư.")
                    result = do_dismiss(session, ctx, message, reason)
                    return self._said(result), None
                if year is None:
                    raise ActionError("Thiếu năm báo cáo.")
                if action == "accept":
                    result = do_accept(session, ctx, agency, year, reason)
                elif action == "accept_message":
                    if message is None:
                        raise ActionError("Thiếu số thư.")
                    result = do_accept(session, ctx, agency, year, reason, message)
                elif action == "request_resubmission":
                    result = do_request_resubmission(session, ctx, agency, year, reason)
                elif action == "exempt":
                    result = do_exempt(session, ctx, agency, year, reason)
                elif action == "extend":
                    day = parse_day(fields.get("until", ""))
                    if day is None:
                        raise ActionError("Ngày gia hạn cần dạng dd/mm/yyyy.")
                    result = do_extend(session, ctx, year, day, reason, agency or None)
                else:
                    if message is None:
                        raise ActionError("Thiếu số thư.")
                    result = do_assign(session, ctx, message, agency, year, reason)
        except (ActionError, states.IllegalTransition) as exc:
            raise _Refused(str(exc)) from None
        except RenderError as exc:
            raise _Refused(f"Không soạn được email nên không thay đổi gì: {exc}") from None
        page = f"/agency/{result.agency}/{result.year}" if result.agency and result.year else None
        return self._said(result), page

    def _said(self, result: ActionResult) -> str:
        """The command's summary line, the agency named as coordinators name it rather than by its slug."""
        text = result.summary()
        if result.agency and result.year:
            try:
                name = self.app.roster.get(result.agency, result.year).name
            except KeyError:
                return text
            text = text.replace(f"{result.agency}/{result.year}", f"{name} năm {result.year}", 1)
        return text

    def _rescue(self, message: int | None, actor: str) -> str:
        """``tdc-bot junk rescue N``: the same function, the same sentence."""
        from workflow.runtime.junk_rescue import RescueError, rescue_from_junk, rescued_line

        if message is None:
            raise _Refused("Thiếu số thư.")
        try:
            return rescued_line(rescue_from_junk(self.app, message, actor, self.clock()))
        except RescueError as exc:
            raise _Refused(f"Không đưa được thư ra khỏi mục thư rác: {exc}") from None

    def _release(self, email: int | None) -> str:
        """``tdc-bot outbox release ID``: the same checks (recipients, attachments), then it waits to be sent."""
        from workflow.operations.restore_safety import release

        if email is None:
            raise _Refused("Thiếu số thư đi.")
        with self.app.db.transaction() as session:
            results = release(session, [email], self.app.store_root, self.app.own_addresses())
        (result,) = results  # one per id asked for: released, or why not (no such email, not held, a check failed)
        if not result["released"]:
            raise _Refused(f"Không cho gửi được thư đi #{email}: {'; '.join(result['problems'])}.")
        return f"Thư đi #{email} được cho gửi: đã chuyển sang chờ gửi."

    def quarantine(self, request: Request) -> Response:
        with self.app.db.sessions() as session:
            rows = views.quarantine(session)
        return self.render(request, "quarantine.html.j2", rows=rows)

    def junk(self, request: Request) -> Response:
        with self.app.db.sessions() as session:
            rows = views.junk(session)
        return self.render(request, "junk.html.j2", rows=rows)

    def outbox(self, request: Request) -> Response:
        with self.app.db.sessions() as session:
            data = views.outbox(session)
        return self.render(request, "outbox.html.j2", o=data, releasable=views.RELEASABLE)

    def outbox_email(self, request: Request) -> Response:
        with self.app.db.sessions() as session:
            email = views.outbox_email(session, request.path_params["id"])
        if email is None:
            raise HTTPException(404, "Không có thư này.")
        return self.render(request, "email.html.j2", e=email, releasable=views.RELEASABLE)

    # --- files ----------------------------------------------------------------------------
    def state_colours(self, request: Request) -> Response:
        """The digest's state colours as CSS, rendered from the digest's own label template."""
        css = self.env.get_template("web/states.css.j2").render()
        return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})

    def chart(self, request: Request) -> Response:
        """The digest's cumulative chart for a year, drawn by the digest's own code."""
        from notifier.chart import submissions_chart
        from workflow.season.chart_data import chart_series

        year = request.path_params["year"]
        self.need_campaign(year)
        with self.app.db.sessions() as session:
            this_year, last_year = chart_series(session, self.app.campaigns, year)
        with tempfile.TemporaryDirectory(prefix="tdc-chart-") as tmp:
            png = submissions_chart(this_year, last_year, year, Path(tmp) / "chart.png").read_bytes()
        return Response(png, media_type="image/png")

    def export(self, request: Request) -> Response:
        from workflow.reports.export import gather, write_csv, write_xlsx

        year, name = request.path_params["year"], request.path_params["name"]
        self.need_campaign(year)
        if name not in ("status.csv", "indicators.csv", "xlsx"):
            raise HTTPException(404, "Không có tệp xuất này.")
        with self.app.db.sessions() as session:
            data = gather(session, self.app.roster, year)
        with tempfile.TemporaryDirectory(prefix="tdc-export-") as tmp:
            if name == "xlsx":
                (path,) = write_xlsx(data, str(Path(tmp) / f"tdc-{year}.xlsx"))
                media, filename = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                   f"tdc-{year}.xlsx")
            else:
                status, indicators = write_csv(data, tmp + "/")
                path = status if name == "status.csv" else indicators
                media, filename = "text/csv; charset=utf-8", f"tdc-{year}-{name}"
            body = path.read_bytes()
        return Response(body, media_type=media, headers={"Content-Disposition": attachment_disposition(filename)})

    async def compile_start(self, request: Request) -> Response:
        await self._form(request)
        year = request.path_params["year"]
        self.need_campaign(year)
        self.jobs.start(year, request.scope["tdc.user"])
        return RedirectResponse(f"/compile/{year}", 303)

    def compile_status(self, request: Request) -> Response:
        year = request.path_params["year"]
        job = self.jobs.get(year)
        if job is None:
            return RedirectResponse(f"/?{urlencode({'year': year})}", 303)
        response = self.render(request, "compile.html.j2", job=job, year=year)
        if job.running:
            response.headers["Refresh"] = "2"
        return response

    def compile_download(self, request: Request) -> Response:
        year = request.path_params["year"]
        job = self.jobs.get(year)
        if job is None or job.path is None or not job.path.is_file():
            raise HTTPException(404, "Báo cáo tổng hợp chưa được tạo.")
        return FileResponse(job.path,
                            media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                            headers={"Content-Disposition": attachment_disposition(job.path.name)})


class _Refused(Exception):
    """An action refused by the rules (the text is for the coordinator)."""
