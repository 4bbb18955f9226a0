"""A coordinator attaches a report file by hand: downloaded from a link the agency sent, or received outside email.

Why: an agency that mails a OneDrive link, or hands the report over through the
e-office system or on paper, has reported; its submission must count, with the
file read like any other (outline, indicator table), and the season's ledger
must say who put it there. The file is stored and read exactly as an email
attachment is (the content-addressed store, the budgeted document reader);
nothing is fetched from the link.

Two cases:

* the agency's submission has a version already (the mail with the link): the
  file joins that message, the "file to fetch" reason is cleared;
* it has none (the report came outside email): a message row of its own is
  made ("received outside email", with the day it was received) and filed as
  the agency's version, counted like a mailed one.
"""
from __future__ import annotations

import hashlib
import mimetypes
import uuid
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.documents.sandbox import read_all
from intake.model import DocumentText
from intake.pipeline import LINK_REASON
from intake.report.indicators import extract_indicators
from intake.report.outline import check_outline
from intake.store import RawStore, sanitize_filename
from reference.numbers import vn_filesize
from reference.time import VN
from workflow.app import App
from workflow.db import models
from workflow.runtime.intake_cycle import doc_limits_from
from workflow.season import states
from workflow.season.action_context import ActionError, ActionResult, resolve_agency
from workflow.season.audit import audit
from workflow.season.submissions import _get_submission, recompute_on_time

MANUAL = "manual"  # the mailbox of reports received outside email


def attach_file(app: App, agency: str, year: int, path: Path, actor: str, now: datetime,
                received: date | None = None, message_id: int | None = None, reason: str = "") -> ActionResult:
    """Store and read ``path`` and file it under ``agency``'s report for ``year`` (see the module docstring)."""
    data = _read(app, path)
    store = RawStore(app.store_root)
    name = path.name
    blob = store.put_attachment(data, name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    documents = read_all([(name, content_type, data, str(blob.path))], doc_limits_from(app))[0]
    with app.db.transaction() as session:
        ag = resolve_agency(app.roster, agency, year)
        if not ag.owes(year):
            raise ActionError(f"{ag.name} không thuộc danh sách phải báo cáo năm {year}.")
        sub = _get_submission(session, ag.slug, year, now)
        msg = _target(session, sub, message_id)
        created = msg is None
        if msg is None:
            msg = _manual_message(session, ag.slug, year, name, actor, received, now)
        result = ActionResult("attach", True, ag.slug, year, sub.id, msg.id, from_state=sub.state)
        _add_file(session, msg, name, content_type, blob.sha256, str(blob.path), len(data), documents)
        _read_into(session, app, msg, documents, year)
        text = (f"{actor} đính kèm tệp {name} ({vn_filesize(len(data))})"
                + (f": {reason.strip()}" if reason.strip() else ""))
        if created:
            _file_new_version(session, sub, msg, actor, now, text, app.campaigns.get(year))
        else:
            sub.review_reasons = [r for r in (sub.review_reasons or []) if r != LINK_REASON]
            sub.outline_missing = list(msg.outline_missing or [])
            sub.updated_at = now
            audit(session, action="file_attached", actor=actor, submission=sub, message_id=msg.id, reason=text, at=now)
        result.to_state = sub.state
        chars = sum(len(d.text) for d in documents)
        read = f"đọc được {chars} ký tự" if any(d.text for d in documents) else "không đọc được nội dung"
        result.notes += [f"tệp {name}: {read}"]
    return result


def _read(app: App, path: Path) -> bytes:
    limit = int(app.settings.limits.max_part_mb * 1024 * 1024)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ActionError(f"Không đọc được tệp {path}: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise ActionError(f"{path} không phải là một tệp.")
    if size > limit:
        raise ActionError(f"Tệp {path.name} lớn {vn_filesize(size)}, quá giới hạn {vn_filesize(limit)} "
                          "([limits] max_part_mb).")
    return path.read_bytes()


def _target(session: Session, sub: models.Submission, message_id: int | None) -> models.Message | None:
    """The message the file joins: the one named, else the current version (the mail with the link), else none."""
    if message_id is not None:
        msg = session.get(models.Message, message_id)
        if msg is None or msg.submission_id != sub.id:
            raise ActionError(f"Thư #{message_id} không phải một phiên bản báo cáo của đơn vị năm {sub.year}.")
        return msg
    return session.get(models.Message, sub.current_message_id) if sub.current_message_id else None


def _manual_message(session: Session, slug: str, year: int, name: str, actor: str, received: date | None,
                    now: datetime) -> models.Message:
    """A report received outside email: a row of its own, on the day it was received (Vietnam time)."""
    arrived = datetime.combine(received, time(12, 0), tzinfo=VN) if received else now
    key = f"{MANUAL}:{uuid.uuid4()}"
    msg = models.Message(
        sha256=hashlib.sha256(key.encode()).hexdigest(), source_key=key, mailbox=MANUAL, raw_path="", size=0,
        from_addr="", from_name=actor, subject=f"Báo cáo nhận ngoài email: {name}", arrived_at=arrived,
        recorded_at=now, status="recorded", kind="report", agency_slug=slug, year=year, confidence=1.0,
        reasons=[f"cán bộ đầu mối {actor} ghi nhận báo cáo nhận ngoài email"], notes=[], marked_done=True,
        rejected=False, sender_auth=None, delivery="file", read_at=now, sender_agency=slug,
        reply_to=[], references="", body_text="",  # no mail: nothing to read, not a legacy row (0018, 0019)
        speaker="", from_device=False,
    )
    session.add(msg)
    session.flush()
    return msg


def _add_file(session: Session, msg: models.Message, name: str, content_type: str, sha: str, path: str, size: int,
              documents: list[DocumentText]) -> None:
    notes = [n for d in documents for n in d.notes] + [d.needs_review for d in documents if d.needs_review]
    session.add(models.Attachment(message_id=msg.id, filename=name, safe_name=sanitize_filename(name),
                                  content_type=content_type, size=size, sha256=sha, path=path, from_forward=False,
                                  text_chars=sum(len(d.text) for d in documents), notes=notes))


def _read_into(session: Session, app: App, msg: models.Message, documents: list[DocumentText], year: int) -> None:
    """The outline and indicator table of the attached file, added to the message's reading."""
    campaign = app.campaigns.get(year)
    if campaign is not None and campaign.outline:
        outline = check_outline(documents, "", campaign.outline)
        msg.outline_present = sorted(set(msg.outline_present or []) | set(outline.present))
        msg.outline_missing = [code for code in outline.missing if code not in msg.outline_present]
    start = session.scalar(select(func.count()).select_from(models.IndicatorRow)
                           .where(models.IndicatorRow.message_id == msg.id)) or 0
    for i, row in enumerate(extract_indicators(documents)):
        session.add(models.IndicatorRow(message_id=msg.id, position=start + i, indicator=row.indicator, unit=row.unit,
                                        target=row.target, result=row.result, cumulative=row.cumulative,
                                        rate=row.rate, findings=list(row.findings),
                                        checks=[{"code": c.code, "text": c.text} for c in row.checks]))


def _file_new_version(session: Session, sub: models.Submission, msg: models.Message, actor: str, now: datetime,
                      text: str, campaign) -> None:
    """The hand-recorded report becomes the agency's current version and counts (received, on time or not)."""
    msg.submission_id = sub.id
    sub.current_message_id = msg.id
    sub.last_received_at = msg.arrived_at
    sub.outline_missing = list(msg.outline_missing or [])
    sub.updated_at = now
    recompute_on_time(session, sub, campaign)
    audit(session, action="report_recorded_by_hand", actor=actor, submission=sub, message_id=msg.id, reason=text,
          at=now)
    if sub.state in (states.MISSING, states.RESUBMISSION_REQUESTED):
        states.transition(session, sub, states.RECEIVED, actor=actor, now=now, reason=text, event=states.ASSIGN,
                          message_id=msg.id)
