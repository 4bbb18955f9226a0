"""Coordinator actions on submissions, and the views they need to decide them.

accept, request-resubmission, exempt, reopen, assign, extend, resend-ack
change state (one transaction each, audited, with the actor's name);
``review list`` and ``show`` only read. A refused action exits 1 with the
reason in Vietnamese and English; a bad option value exits 2.
"""
from __future__ import annotations

import getpass
import os
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Callable

import typer

from workflow.cli.common import (
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

if TYPE_CHECKING:  # imported where used: the command line must start fast (workflow/cli/common.py)
    from sqlalchemy.orm import Session

    from workflow.season.actions import ActionContext, ActionResult

ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who acts, as written in the audit log. Default: $TDC_ACTOR, else the login name."),
]
YearOption = Annotated[int, typer.Option("--year", "-y", help="Reporting year.")]
AgencyArg = Annotated[str, typer.Argument(help="Agency slug as in `tdc-bot roster` (e.g. tay-ninh).")]
MessageArg = Annotated[int, typer.Argument(help="Message id (as shown by `review list` or `show`).")]


def _reason_option(note: str) -> Any:
    return typer.Option("--reason", "-r", help=f"Why; recorded in the audit log ({note}).")


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
    from workflow.season.actions import ActionError, action_context

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


def register(app: typer.Typer) -> None:
    review_app = typer.Typer(help="What waits for a coordinator's decision.", no_args_is_help=True)
    app.add_typer(review_app, name="review")

    @app.command("accept")
    def accept(agency: AgencyArg, year: YearOption,
               reason: Annotated[str, _reason_option("optional")] = "",
               message: Annotated[int | None, typer.Option(
                   "--message", "-m", help="Accept this version (a message id of the submission) and make it current.")] = None,
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Accept an agency's report for YEAR (from received, acknowledged or needs_review)."""
        from workflow.season.actions import accept as do_accept

        _run(config, now, actor, json_out, lambda s, ctx: do_accept(s, ctx, agency, year, reason, message))

    @app.command("request-resubmission")
    def request_resubmission(agency: AgencyArg, year: YearOption,
                             reason: Annotated[str, _reason_option("required; also quoted in the email to the agency")],
                             actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
                             config: ConfigOption = None) -> None:
        """Reject the current version and email the agency asking for a new one (once per version)."""
        from workflow.season.actions import request_resubmission as do_request_resubmission

        _run(config, now, actor, json_out, lambda s, ctx: do_request_resubmission(s, ctx, agency, year, reason))

    @app.command("exempt")
    def exempt(agency: AgencyArg, year: YearOption,
               reason: Annotated[str, _reason_option("required")],
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Exempt an agency from reporting for YEAR (any state); no reminders go to it."""
        from workflow.season.actions import exempt as do_exempt

        _run(config, now, actor, json_out, lambda s, ctx: do_exempt(s, ctx, agency, year, reason))

    @app.command("reopen")
    def reopen(agency: AgencyArg, year: YearOption,
               reason: Annotated[str, _reason_option("optional")] = "",
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Lift an exemption: back to missing, or to the state the received versions imply."""
        from workflow.season.actions import reopen as do_reopen

        _run(config, now, actor, json_out, lambda s, ctx: do_reopen(s, ctx, agency, year, reason))

    @app.command("assign")
    def assign(message: MessageArg,
               agency: Annotated[str, typer.Option("--agency", "-a", help="Agency slug the message reports for.")],
               year: YearOption,
               reason: Annotated[str, _reason_option("optional")] = "",
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Place a message as AGENCY's report for YEAR and learn its sender address."""
        from workflow.season.actions import assign as do_assign

        _run(config, now, actor, json_out, lambda s, ctx: do_assign(s, ctx, message, agency, year, reason))

    @app.command("extend")
    def extend(year: YearOption,
               until: Annotated[str, typer.Option("--until", help="Last day still on time: DD/MM/YYYY or YYYY-MM-DD (Vietnam time, whole day).")],
               reason: Annotated[str, _reason_option("required")],
               agency: Annotated[str | None, typer.Option("--agency", "-a", help="Only this agency (default: everyone).")] = None,
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Extend YEAR's deadline (for everyone or one agency) and recompute who is on time."""
        from workflow.season.actions import extend as do_extend

        day = parse_day(until)
        _run(config, now, actor, json_out, lambda s, ctx: do_extend(s, ctx, year, day, reason, agency))

    @app.command("resend-ack")
    def resend_ack(message: MessageArg,
                   reason: Annotated[str, _reason_option("optional")] = "",
                   actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
                   config: ConfigOption = None) -> None:
        """Queue a new acknowledgement for a report message (each run sends one more)."""
        from workflow.season.actions import resend_ack as do_resend_ack

        _run(config, now, actor, json_out, lambda s, ctx: do_resend_ack(s, ctx, message, reason))

    @review_app.command("list")
    def review_list(year: Annotated[int | None, typer.Option("--year", "-y", help="Only this reporting year.")] = None,
                    json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """Submissions needing review and report messages the bot could not place, with its reasons."""
        from notifier.labels import kind_label
        from workflow.season.coordinator_views import review_queue

        with open_app(config, need_secrets=False) as a:
            with a.db.sessions() as session:
                data = review_queue(session, a.roster, year)
        if json_out:
            print_json(data)
            return
        t = table("mã đơn vị", "đơn vị", "năm", "số thư", "ngày nhận", "lý do",
                  title=f"Báo cáo cần xem xét: {len(data['submissions'])}")
        for s in data["submissions"]:
            t.add_row(s["agency"], s["name"], str(s["year"]), str(s["current_message_id"] or "—"),
                      _vn(s["received_at"]), "; ".join(s["review_reasons"]) or "—")
        console.print(t)
        t = table("số thư", "ngày nhận", "người gửi", "tiêu đề", "dự đoán", "lý do",
                  title=f"Thư báo cáo chưa xếp được: {len(data['messages'])}")
        for m in data["messages"]:
            guess = f"{m['agency_guess'] or '?'}/{m['year_guess'] or '?'}"
            t.add_row(str(m["id"]), _vn(m["arrived_at"]), m["from"], m["subject"][:60], guess,
                      "; ".join(m["notes"] + m["reasons"])[:300] or "—")
        console.print(t)
        if data["agency_mail"]:
            t = table("số thư", "ngày nhận", "đơn vị", "người gửi", "tiêu đề", "đọc là", "lý do",
                      title=f"Thư của đơn vị không được đọc là báo cáo: {len(data['agency_mail'])}")
            for m in data["agency_mail"]:
                t.add_row(str(m["id"]), _vn(m["arrived_at"]), m["name"], m["from"], (m["subject"] or "")[:60],
                          kind_label(m["kind"]), "; ".join(m["reasons"])[:300] or "—")
            console.print(t)
            console.print("Đã xem một thư và không phải báo cáo: tdc-bot dismiss SỐ_THƯ", markup=False)
        if data["reminder_replies"]:
            t = table("id", "arrived", "agency", "from", "subject",
                      title=f"Phản hồi nhắc nhở: {len(data['reminder_replies'])}")
            for m in data["reminder_replies"]:
                t.add_row(str(m["id"]), _vn(m["arrived_at"]), m["name"], m["from"], (m["subject"] or "")[:80])
            console.print(t)

    @app.command("dismiss")
    def dismiss(message: MessageArg,
                reason: Annotated[str, _reason_option("tùy chọn")] = "",
                actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
                config: ConfigOption = None) -> None:
        """Bỏ một thư của đơn vị không phải báo cáo khỏi danh sách cần xem (đã xem, có ghi nhật ký)."""
        from workflow.season.actions import dismiss as do_dismiss

        _run(config, now, actor, json_out, lambda s, ctx: do_dismiss(s, ctx, message, reason))

    @app.command("show")
    def show(submission: Annotated[str, typer.Argument(help="AGENCY/YEAR (e.g. tay-ninh/2024) or a message id.")],
             json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """A submission's versions, attachments, outline, indicator rows and audit trail."""
        from workflow.season.actions import ActionError
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


# --- read-only views -------------------------------------------------------------------------
def _vn(value: str | None) -> str:
    return vn_date(datetime.fromisoformat(value)) if value else "—"


def _print_show(data: dict[str, Any]) -> None:
    """Plain lines, not wide tables: read in a narrow terminal and pasted into emails as is."""
    from notifier.labels import action_label, actor_label, state_label

    on_time = {True: "đúng hạn", False: "muộn", None: "—"}[data["on_time"]]
    lines = [f"{data['name'] or '?'} ({data['agency'] or '?'}) năm {data['year'] or '?'}: "
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
        lines.append(f"  Đề cương có: {', '.join(v['outline_present']) or '—'}; thiếu: {', '.join(v['outline_missing']) or '—'}")
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


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}".rstrip("0").rstrip(".").replace(",", "\u202f").replace(".", ",")

