"""Coordinator actions on submissions, and the views they need to decide them.

accept, request-resubmission, exempt, reopen, assign, extend, resend-ack,
dismiss change state (one transaction each, audited, with the actor's name);
``review list`` and ``show`` only read. Each is a module-level Typer
function (``register`` adds them to the app). An agency and year are written
``tay-ninh/2024`` (as ``show`` prints them) or ``tay-ninh --year 2024``. A
refused action exits 1 with the reason; a bad option value exits 2.
"""
from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from interfaces.cli.common import (
    ConfigOption,
    JsonOption,
    NowOption,
    console,
    fail,
    open_app,
    parse_now,
    print_json,
    table,
    vn_date,
)

if TYPE_CHECKING:  # imported where used: the command line must start fast (interfaces/cli/common.py)
    from sqlalchemy.orm import Session

    from workflow.season.action_context import ActionContext, ActionResult

ActorOption = Annotated[
    str | None,
    typer.Option("--actor",
                 help="Người thực hiện, ghi vào nhật ký. Mặc định: $TDC_ACTOR, nếu không thì tên đăng nhập."),
]
YearOption = Annotated[int | None, typer.Option("--year", "-y", help="Năm báo cáo (hoặc viết ĐƠN-VỊ/NĂM).")]
AgencyArg = Annotated[str, typer.Argument(help="Đơn vị như trong `tdc-bot roster` (vd. tay-ninh), hoặc ĐƠN-VỊ/NĂM "
                                               "(vd. tay-ninh/2024).")]
MessageArg = Annotated[int, typer.Argument(help="Số thư (như `review list` hoặc `show` in ra).")]


def resolve_actor(value: str | None) -> str:
    """--actor, else $TDC_ACTOR, else the login name: every change must name someone."""
    if value and value.strip():
        return value.strip()
    env = os.environ.get("TDC_ACTOR", "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def parse_day(value: str) -> date:
    """DD/MM/YYYY (how officials write it) or YYYY-MM-DD."""
    text = value.strip()
    for parse in (lambda t: datetime.strptime(t, "%d/%m/%Y").date(), date.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    fail(f"--until: không phải ngày hợp lệ {value!r}; dùng DD/MM/YYYY hoặc YYYY-MM-DD (not a date).", 2)
    raise AssertionError  # unreachable: fail() exits


def _run(config: str | None, now: str | None, actor: str | None, json_out: bool,
         action: Callable[[Session, ActionContext], ActionResult]) -> None:
    """One action in one transaction; a refusal rolls everything back and exits 1."""
    from notifier.render import RenderError
    from workflow.season import states
    from workflow.season.action_context import ActionError, action_context

    with open_app(config) as a:
        ctx = action_context(a, parse_now(now), resolve_actor(actor))
        try:
            with a.db.transaction() as session:
                result = action(session, ctx)
        except (ActionError, states.IllegalTransition) as exc:
            fail(str(exc), 1)
        except RenderError as exc:
            fail(f"Không soạn được email nên không thay đổi gì. Could not render the email, nothing changed: {exc}", 1)
    if json_out:
        print_json(result.as_json())
    else:
        console.print(result.summary(), markup=False)


def agency_year(agency: str, year: int | None) -> tuple[str, int]:
    """ĐƠN-VỊ/NĂM (as `show` prints it) or ĐƠN-VỊ with --year: every command that takes an agency and a year."""
    text = agency.strip()
    if "/" in text:
        slug, _, written = text.rpartition("/")
        if not written.strip().isdigit():
            fail(f"'{agency}': năm sau dấu / phải là số, ví dụ tay-ninh/2024.", 2)
        if year is not None and year != int(written):
            fail(f"'{agency}' và --year {year} chỉ hai năm khác nhau; chỉ dùng một cách.", 2)
        return slug.strip(), int(written)
    if year is None:
        fail(f"Thiếu năm báo cáo: viết {text}/NĂM (ví dụ {text}/2024) hoặc thêm --year NĂM.", 2)
    assert year is not None
    return text, year


review_app = typer.Typer(help="Những gì chờ cán bộ đầu mối quyết định.", no_args_is_help=True)
ReasonOptional = Annotated[str, typer.Option("--reason", "-r", help="Lý do, ghi vào nhật ký (tùy chọn).")]
ReasonRequired = Annotated[str, typer.Option("--reason", "-r", help="Lý do, ghi vào nhật ký (bắt buộc).")]


def accept(agency: AgencyArg, year: YearOption = None, reason: ReasonOptional = "",
           message: Annotated[int | None, typer.Option(
               "--message", "-m", help="Chấp nhận đúng thư này (một phiên bản, hoặc một thư chưa xác thực đã "
                                       "kiểm tra qua điện thoại) và dùng làm phiên bản hiện hành.")] = None,
           actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
           config: ConfigOption = None) -> None:
    """Chấp nhận báo cáo của đơn vị (từ đã nhận, đã báo nhận hoặc cần xem xét)."""
    from workflow.season.actions import accept as do_accept

    slug, year_ = agency_year(agency, year)
    _run(config, now, actor, json_out, lambda s, ctx: do_accept(s, ctx, slug, year_, reason, message))


def request_resubmission(agency: AgencyArg, reason: Annotated[str, typer.Option(
                             "--reason", "-r", help="Lý do (bắt buộc); được trích trong email gửi đơn vị.")],
                         year: YearOption = None, actor: ActorOption = None, now: NowOption = None,
                         json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Trả lại phiên bản hiện hành và gửi email đề nghị đơn vị gửi lại (một lần cho mỗi phiên bản)."""
    from workflow.season.actions import request_resubmission as do_request_resubmission

    slug, year_ = agency_year(agency, year)
    _run(config, now, actor, json_out, lambda s, ctx: do_request_resubmission(s, ctx, slug, year_, reason))


def exempt(agency: AgencyArg, reason: ReasonRequired, year: YearOption = None, actor: ActorOption = None,
           now: NowOption = None, json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Miễn báo cáo cho đơn vị trong năm (ở mọi trạng thái); đơn vị không nhận thư nhắc."""
    from workflow.season.actions import exempt as do_exempt

    slug, year_ = agency_year(agency, year)
    _run(config, now, actor, json_out, lambda s, ctx: do_exempt(s, ctx, slug, year_, reason))


def reopen(agency: AgencyArg, year: YearOption = None, reason: ReasonOptional = "", actor: ActorOption = None,
           now: NowOption = None, json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Bỏ miễn báo cáo: về chưa nộp, hoặc về trạng thái mà các phiên bản đã nhận cho thấy."""
    from workflow.season.actions import reopen as do_reopen

    slug, year_ = agency_year(agency, year)
    _run(config, now, actor, json_out, lambda s, ctx: do_reopen(s, ctx, slug, year_, reason))


def assign(message: MessageArg,
           agency: Annotated[str, typer.Option("--agency", "-a", help="Đơn vị: ĐƠN-VỊ hoặc ĐƠN-VỊ/NĂM.")],
           year: YearOption = None, reason: ReasonOptional = "", actor: ActorOption = None, now: NowOption = None,
           json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Xếp một thư làm báo cáo của đơn vị trong năm, ghi nhận địa chỉ gửi và gửi thư báo nhận còn thiếu."""
    from workflow.season.actions import assign as do_assign

    slug, year_ = agency_year(agency, year)
    _run(config, now, actor, json_out, lambda s, ctx: do_assign(s, ctx, message, slug, year_, reason))


def extend(until: Annotated[str, typer.Option("--until", help="Ngày cuối còn đúng hạn: DD/MM/YYYY hoặc YYYY-MM-DD "
                                                                "(giờ Việt Nam, cả ngày).")],
           reason: ReasonRequired, year: YearOption = None,
           agency: Annotated[str | None, typer.Option(
               "--agency", "-a", help="Chỉ đơn vị này: ĐƠN-VỊ hoặc ĐƠN-VỊ/NĂM (mặc định: mọi đơn vị).")] = None,
           actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
           config: ConfigOption = None) -> None:
    """Gia hạn nộp báo cáo của năm (cho mọi đơn vị hoặc một đơn vị) và tính lại đúng hạn."""
    from workflow.season.actions import extend as do_extend

    slug: str | None = None
    if agency is not None:
        slug, year = agency_year(agency, year)
    if year is None:
        fail("Thiếu năm báo cáo: thêm --year NĂM (hoặc --agency ĐƠN-VỊ/NĂM).", 2)
    assert year is not None
    day = parse_day(until)
    year_ = year
    _run(config, now, actor, json_out, lambda s, ctx: do_extend(s, ctx, year_, day, reason, slug))


def resend_ack(message: MessageArg, reason: ReasonOptional = "", actor: ActorOption = None, now: NowOption = None,
               json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Xếp một thư báo nhận mới cho một thư báo cáo (mỗi lần chạy gửi thêm một thư)."""
    from workflow.season.actions import resend_ack as do_resend_ack

    _run(config, now, actor, json_out, lambda s, ctx: do_resend_ack(s, ctx, message, reason))


def dismiss(message: MessageArg, reason: ReasonOptional = "", actor: ActorOption = None, now: NowOption = None,
            json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Bỏ một thư của đơn vị không phải báo cáo khỏi danh sách cần xem (đã xem, có ghi nhật ký)."""
    from workflow.season.actions import dismiss as do_dismiss

    _run(config, now, actor, json_out, lambda s, ctx: do_dismiss(s, ctx, message, reason))


@review_app.command("list")
def review_list(year: Annotated[int | None, typer.Option("--year", "-y", help="Chỉ năm báo cáo này.")] = None,
                json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Báo cáo cần xem xét, thư báo cáo chưa xếp được, thư của đơn vị không được đọc là báo cáo, phản hồi thư nhắc."""
    from notifier.labels import kind_label
    from workflow.season.coordinator_views import review_queue

    with open_app(config, need_secrets=False) as a:
        with a.db.sessions() as session:
            data = review_queue(session, a.roster, year)
    if json_out:
        print_json(data)
        return
    _print_review(data, kind_label)


def _print_review(data: dict[str, Any], kind_label: Callable[[str | None], str]) -> None:
    from notifier.labels import note_words

    if not any(data[k] for k in ("submissions", "messages", "agency_mail", "reminder_replies")):
        console.print("Không có gì chờ xem xét.", markup=False)
        return
    if data["submissions"]:
        t = table("mã đơn vị", "đơn vị", "năm", "số thư", "ngày nhận", "lý do",
                  title=f"Báo cáo cần xem xét: {len(data['submissions'])}")
        for s in data["submissions"]:
            t.add_row(s["agency"], s["name"], str(s["year"]), str(s["current_message_id"] or "—"),
                      _vn(s["received_at"]), "; ".join(s["review_reasons"]) or "—")
        console.print(t)
    if data["messages"]:
        t = table("số thư", "ngày nhận", "người gửi", "tiêu đề", "dự đoán", "lý do",
                  title=f"Thư báo cáo chưa xếp được: {len(data['messages'])}")
        for m in data["messages"]:
            guess = m["claim"] or f"{m['agency_guess'] or '?'}/{m['year_guess'] or '?'}"
            t.add_row(str(m["id"]), _vn(m["arrived_at"]), m["from"], m["subject"][:60], guess,
                      "; ".join([note_words(n) for n in m["notes"]] + m["reasons"]) or "—")
        console.print(t)
    if data["agency_mail"]:
        t = table("số thư", "ngày nhận", "đơn vị", "người gửi", "tiêu đề", "đọc là", "lý do",
                  title=f"Thư của đơn vị không được đọc là báo cáo: {len(data['agency_mail'])}")
        for m in data["agency_mail"]:
            t.add_row(str(m["id"]), _vn(m["arrived_at"]), m["name"], m["from"], (m["subject"] or "")[:60],
                      kind_label(m["kind"]), "; ".join(m["reasons"]) or "—")
        console.print(t)
        console.print("Đã xem một thư và không phải báo cáo: tdc-bot dismiss SỐ_THƯ", markup=False)
    if data["reminder_replies"]:
        t = table("số thư", "ngày nhận", "đơn vị", "người gửi", "tiêu đề",
                  title=f"Phản hồi thư nhắc: {len(data['reminder_replies'])}")
        for m in data["reminder_replies"]:
            t.add_row(str(m["id"]), _vn(m["arrived_at"]), m["name"], m["from"], (m["subject"] or "")[:80])
        console.print(t)


def show(submission: Annotated[str, typer.Argument(help="ĐƠN-VỊ/NĂM (vd. tay-ninh/2024) hoặc số thư.")],
         json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Các phiên bản, tệp đính kèm, đề cương, chỉ tiêu và nhật ký của một báo cáo, hoặc một thư."""
    from workflow.season.action_context import ActionError
    from workflow.season.coordinator_views import show_data

    with open_app(config, need_secrets=False) as a:
        with a.db.sessions() as session:
            try:
                data = show_data(session, a.roster, a.campaigns, submission)
            except ActionError as exc:
                fail(str(exc), 1)
    if json_out:
        print_json(data)
    else:
        _print_show(data)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
    for name, command in (("accept", accept), ("request-resubmission", request_resubmission), ("exempt", exempt),
                          ("reopen", reopen), ("assign", assign), ("extend", extend), ("resend-ack", resend_ack),
                          ("dismiss", dismiss), ("show", show)):
        app.command(name)(command)


# --- read-only views -------------------------------------------------------------------------
def _vn(value: str | None) -> str:
    return vn_date(datetime.fromisoformat(value)) if value else "—"


def _print_show(data: dict[str, Any]) -> None:
    """Plain lines, not wide tables: read in a narrow terminal and pasted into emails as is."""
    from notifier.labels import action_label, actor_label, state_label

    on_time = {True: "đúng hạn", False: "muộn", None: "—"}[data["on_time"]]
    single = data.get("message")
    if single is not None and (single["kind"] != "report" or single["status"] != "recorded"):
        _print_message(single)  # not a report: what it is and why, not an empty submission
        return
    lines = [f"{data['name'] or 'chưa xác định đơn vị'} ({data['agency'] or '—'}) năm {data['year'] or 'chưa rõ'}: "
             f"{data['state_label']} · {on_time} · hạn {data['deadline'] or '—'}"]
    if data["review_reasons"]:
        lines.append("Cần xem xét: " + "; ".join(data["review_reasons"]))
    if not data["versions"]:
        lines.append("Chưa có phiên bản nào.")
    for v in data["versions"]:
        flags = "".join(f" ({f})" for f, on in (("hiện hành", v["current"]), ("bị trả lại", v["rejected"])) if on)
        lines.append(f"Thư #{v['id']}{flags} · {_vn(v['arrived_at'])} · {v['from'] or '?'}"
                     + (f" ({v['sender_note']})" if v["sender_note"] else ""))
        lines.append(f"  Tiêu đề: {v['subject'] or '(không có tiêu đề)'}")
        files = ", ".join(f"{a['filename']} ({a['size']} B)" for a in v["attachments"]) or "không có"
        lines.append(f"  Tệp đính kèm: {files}")
        lines.append(f"  Đề cương có: {', '.join(v['outline_present']) or '—'}; thiếu: "
                     f"{', '.join(v['outline_missing']) or '—'}")
        if v["indicators"]:
            lines.append("  Chỉ tiêu (chỉ tiêu / kết quả năm / lũy kế / tỷ lệ %):")
        for r in v["indicators"]:
            values = " / ".join(_num(r[k]) or "—" for k in ("target", "result", "cumulative", "rate"))
            unit = f" [{r['unit']}]" if r["unit"] else ""
            findings = f" — {'; '.join(r['findings'])}" if r["findings"] else ""
            lines.append(f"    - {r['indicator']}{unit}: {values}{findings}")
    lines.append("Nhật ký:")
    for e in data["audit"]:
        change = ""
        if e["to_state"] and e["from_state"] != e["to_state"]:
            before = state_label(e["from_state"]) if e["from_state"] else "—"
            change = f" ({before} → {state_label(e['to_state'])})"
        msg = f" thư #{e['message_id']}" if e["message_id"] else ""
        lines.append(f"  {_vn(e['at'])} {actor_label(e['actor'])}: {action_label(e['action'])}{change}{msg}"
                     + (f" — {e['reason']}" if e["reason"] else ""))
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _print_message(m: dict[str, Any]) -> None:
    from notifier.labels import note_words

    lines = [f"Thư #{m['id']} · {_vn(m['arrived_at'])} · {m['from'] or '(không có người gửi)'}",
             f"  Tiêu đề: {m['subject'] or '(không có tiêu đề)'}",
             f"  Là: {m['kind_label']} ({m['status_label']})"]
    if m["quarantine_reason"]:
        lines.append(f"  Lý do cách ly: {m['quarantine_reason']}")
    lines += [f"  Lý do: {r}" for r in m["reasons"]]
    lines += [f"  Ghi chú: {note_words(n)}" for n in m["notes"][:10]]
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}".rstrip("0").rstrip(".").replace(",", "\u202f").replace(".", ",")

