"""Coordinator actions on submissions, and the views they need to decide them.

accept, request-resubmission, exempt, reopen, assign, extend, resend-ack
change state (one transaction each, audited, with the actor's name);
``review list`` and ``show`` only read. A refused action exits 1 with the
reason in Vietnamese and English; a bad option value exits 2.
"""
from __future__ import annotations

import getpass
import os
import re
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

    from workflow import models
    from workflow.actions import ActionContext, ActionResult

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
    from workflow import states
    from workflow.actions import ActionError, action_context

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
        from workflow.actions import accept as do_accept

        _run(config, now, actor, json_out, lambda s, ctx: do_accept(s, ctx, agency, year, reason, message))

    @app.command("request-resubmission")
    def request_resubmission(agency: AgencyArg, year: YearOption,
                             reason: Annotated[str, _reason_option("required; also quoted in the email to the agency")],
                             actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
                             config: ConfigOption = None) -> None:
        """Reject the current version and email the agency asking for a new one (once per version)."""
        from workflow.actions import request_resubmission as do_request_resubmission

        _run(config, now, actor, json_out, lambda s, ctx: do_request_resubmission(s, ctx, agency, year, reason))

    @app.command("exempt")
    def exempt(agency: AgencyArg, year: YearOption,
               reason: Annotated[str, _reason_option("required")],
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Exempt an agency from reporting for YEAR (any state); no reminders go to it."""
        from workflow.actions import exempt as do_exempt

        _run(config, now, actor, json_out, lambda s, ctx: do_exempt(s, ctx, agency, year, reason))

    @app.command("reopen")
    def reopen(agency: AgencyArg, year: YearOption,
               reason: Annotated[str, _reason_option("optional")] = "",
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Lift an exemption: back to missing, or to the state the received versions imply."""
        from workflow.actions import reopen as do_reopen

        _run(config, now, actor, json_out, lambda s, ctx: do_reopen(s, ctx, agency, year, reason))

    @app.command("assign")
    def assign(message: MessageArg,
               agency: Annotated[str, typer.Option("--agency", "-a", help="Agency slug the message reports for.")],
               year: YearOption,
               reason: Annotated[str, _reason_option("optional")] = "",
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Place a message as AGENCY's report for YEAR and learn its sender address."""
        from workflow.actions import assign as do_assign

        _run(config, now, actor, json_out, lambda s, ctx: do_assign(s, ctx, message, agency, year, reason))

    @app.command("extend")
    def extend(year: YearOption,
               until: Annotated[str, typer.Option("--until", help="Last day still on time: DD/MM/YYYY or YYYY-MM-DD (Vietnam time, whole day).")],
               reason: Annotated[str, _reason_option("required")],
               agency: Annotated[str | None, typer.Option("--agency", "-a", help="Only this agency (default: everyone).")] = None,
               actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
               config: ConfigOption = None) -> None:
        """Extend YEAR's deadline (for everyone or one agency) and recompute who is on time."""
        from workflow.actions import extend as do_extend

        day = parse_day(until)
        _run(config, now, actor, json_out, lambda s, ctx: do_extend(s, ctx, year, day, reason, agency))

    @app.command("resend-ack")
    def resend_ack(message: MessageArg,
                   reason: Annotated[str, _reason_option("optional")] = "",
                   actor: ActorOption = None, now: NowOption = None, json_out: JsonOption = False,
                   config: ConfigOption = None) -> None:
        """Queue a new acknowledgement for a report message (each run sends one more)."""
        from workflow.actions import resend_ack as do_resend_ack

        _run(config, now, actor, json_out, lambda s, ctx: do_resend_ack(s, ctx, message, reason))

    @review_app.command("list")
    def review_list(year: Annotated[int | None, typer.Option("--year", "-y", help="Only this reporting year.")] = None,
                    json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """Submissions needing review and report messages the bot could not place, with its reasons."""
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
        if data["reminder_replies"]:
            t = table("id", "arrived", "agency", "from", "subject",
                      title=f"Phản hồi nhắc nhở: {len(data['reminder_replies'])}")
            for m in data["reminder_replies"]:
                t.add_row(str(m["id"]), _vn(m["arrived_at"]), m["name"], m["from"], (m["subject"] or "")[:80])
            console.print(t)

    @app.command("show")
    def show(submission: Annotated[str, typer.Argument(help="AGENCY/YEAR (e.g. tay-ninh/2024) or a message id.")],
             json_out: JsonOption = False, config: ConfigOption = None) -> None:
        """A submission's versions, attachments, outline, indicator rows and audit trail."""
        from workflow.actions import ActionError

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
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _vn(value: str | None) -> str:
    return vn_date(datetime.fromisoformat(value)) if value else "—"


def review_queue(session: Session, roster: Any, year: int | None) -> dict[str, list[dict[str, Any]]]:
    from sqlalchemy import or_, select

    from workflow import models

    subs = select(models.Submission).where(models.Submission.state == models.NEEDS_REVIEW)
    msgs = select(models.Message).where(models.Message.status == "recorded", models.Message.kind == "report",
                                        models.Message.submission_id.is_(None))
    if year is not None:
        subs = subs.where(models.Submission.year == year)
        msgs = msgs.where(or_(models.Message.year == year, models.Message.year.is_(None)))
    out_subs = []
    for sub in session.scalars(subs.order_by(models.Submission.year, models.Submission.agency_slug)):
        out_subs.append({
            "submission_id": sub.id, "agency": sub.agency_slug, "name": _agency_name(roster, sub.agency_slug, sub.year),
            "year": sub.year, "state": sub.state, "current_message_id": sub.current_message_id,
            "received_at": _iso(sub.last_received_at), "review_reasons": list(sub.review_reasons or []),
            "outline_missing": list(sub.outline_missing or []),
        })
    out_msgs = [{
        "id": m.id, "arrived_at": _iso(m.arrived_at), "from": m.from_addr, "subject": m.subject,
        "agency_guess": m.agency_slug, "year_guess": m.year, "confidence": m.confidence,
        "reasons": list(m.reasons or []), "notes": list(m.notes or []),
    } for m in session.scalars(msgs.order_by(models.Message.arrived_at, models.Message.id))]
    return {"submissions": out_subs, "messages": out_msgs, "reminder_replies": reminder_replies(session, roster, year)}


def reminder_replies(session: Session, roster: Any, year: int | None) -> list[dict[str, Any]]:
    """Replies to reminders that are not reports ("we will send by 5/12"), linked to their agency."""
    from sqlalchemy import select

    from workflow import models

    query = (select(models.ReminderResponse, models.Message)
             .join(models.Message, models.Message.id == models.ReminderResponse.message_id)
             .where(models.ReminderResponse.kind == "reply"))
    if year is not None:
        query = query.where(models.ReminderResponse.year == year)
    return [{
        "id": m.id, "agency": r.agency_slug, "name": _agency_name(roster, r.agency_slug, r.year), "year": r.year,
        "arrived_at": _iso(m.arrived_at), "from": m.from_addr, "subject": m.subject, "outbox_id": r.outbox_id,
    } for r, m in session.execute(query.order_by(models.Message.arrived_at, models.Message.id))]


def _agency_name(roster: Any, slug: str | None, year: int | None) -> str:
    if not slug:
        return ""
    try:
        return roster.get(slug, year).name
    except KeyError:
        return slug


_TARGET = re.compile(r"^\s*(?P<agency>[^/]+?)\s*/\s*(?P<year>\d{4})\s*$")


def show_data(session: Session, roster: Any, campaigns: dict[int, Any], target: str) -> dict[str, Any]:
    """Everything about one submission (AGENCY/YEAR) or the submission of one message (id)."""
    from sqlalchemy import select

    from workflow import models, states
    from workflow.actions import ActionError, last_day_on_time, resolve_agency

    message: models.Message | None = None
    if target.strip().isdigit():
        message = session.get(models.Message, int(target))
        if message is None:
            raise ActionError(f"Không có thư #{target.strip()}. No message with id {target.strip()}.")
        sub = session.get(models.Submission, message.submission_id) if message.submission_id else None
        slug, year = (sub.agency_slug, sub.year) if sub else (message.agency_slug, message.year)
    else:
        match = _TARGET.match(target)
        if match is None:
            raise ActionError(f"'{target}': cần dạng ĐƠN-VỊ/NĂM (vd. tay-ninh/2024) hoặc số thư. "
                              "Expected AGENCY/YEAR or a message id.")
        year = int(match["year"])
        slug = resolve_agency(roster, match["agency"], year).slug
        sub = session.scalar(select(models.Submission).where(models.Submission.agency_slug == slug,
                                                             models.Submission.year == year))
    if sub is not None:
        versions = list(session.scalars(select(models.Message).where(models.Message.submission_id == sub.id)
                                        .order_by(models.Message.arrived_at, models.Message.id)))
    else:
        versions = [message] if message is not None else []
    ids = [m.id for m in versions]
    deadline = last_day_on_time(session, campaigns.get(year), slug) if slug and year else None
    state = sub.state if sub else (models.MISSING if message is None else None)
    return {
        "agency": slug, "name": _agency_name(roster, slug, year), "year": year,
        "submission_id": sub.id if sub else None,
        "state": state, "state_label": states.label(state) if state else "chưa xếp được",
        "on_time": sub.on_time if sub else None,
        "first_received_at": _iso(sub.first_received_at) if sub else None,
        "last_received_at": _iso(sub.last_received_at) if sub else None,
        "deadline": deadline.strftime("%d/%m/%Y") if deadline else None,
        "current_message_id": sub.current_message_id if sub else None,
        "review_reasons": list(sub.review_reasons or []) if sub else [],
        "versions": [_version(session, m, sub) for m in versions],
        "audit": _audit_trail(session, sub, ids, slug, year),
    }


def _version(session: Session, m: models.Message, sub: models.Submission | None) -> dict[str, Any]:
    from sqlalchemy import select

    from intake.identity import PASS, UNCHECKED, UNVERIFIED_LABEL
    from workflow import models

    indicators = session.scalars(select(models.IndicatorRow).where(models.IndicatorRow.message_id == m.id)
                                 .order_by(models.IndicatorRow.position))
    return {
        "id": m.id, "arrived_at": _iso(m.arrived_at), "from": m.from_addr, "from_name": m.from_name,
        "subject": m.subject, "status": m.status, "kind": m.kind, "rejected": m.rejected,
        "current": bool(sub and sub.current_message_id == m.id), "confidence": m.confidence,
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size} for a in m.attachments],
        "outline_present": list(m.outline_present or []), "outline_missing": list(m.outline_missing or []),
        "indicators": [{"indicator": r.indicator, "unit": r.unit, "target": r.target, "result": r.result,
                        "cumulative": r.cumulative, "rate": r.rate, "findings": list(r.findings or [])}
                       for r in indicators],
        "reasons": list(m.reasons or []), "notes": list(m.notes or []),
        "sender_auth": m.sender_auth or UNCHECKED,
        "sender_note": None if m.sender_auth == PASS else UNVERIFIED_LABEL,
    }


def _audit_trail(session: Session, sub: models.Submission | None, ids: list[int], slug: str | None,
                 year: int | None) -> list[dict[str, Any]]:
    from sqlalchemy import or_, select

    from workflow import models

    conditions = []
    if sub is not None:
        conditions.append(models.AuditEntry.submission_id == sub.id)
    if ids:
        conditions.append(models.AuditEntry.message_id.in_(ids))
    if slug and year:
        conditions.append((models.AuditEntry.agency_slug == slug) & (models.AuditEntry.year == year))
        conditions.append(models.AuditEntry.agency_slug.is_(None) & (models.AuditEntry.year == year)
                          & (models.AuditEntry.action == "deadline_extended"))
    if not conditions:
        return []
    rows = session.scalars(select(models.AuditEntry).where(or_(*conditions))
                           .order_by(models.AuditEntry.at, models.AuditEntry.id))
    return [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "from_state": e.from_state,
             "to_state": e.to_state, "message_id": e.message_id, "reason": e.reason} for e in rows]


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
