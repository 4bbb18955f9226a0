"""A coordinator says a message is not junk: it is read again as ordinary mail and settles as new mail would.

Why in runtime: reading needs intake (the stored raw bytes, the document
reader, the classifier) and recording needs the season's rules; the two are
joined here as the intake cycle joins them, in one transaction for the
recording, with an audit line naming who rescued it.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime

from intake.model import RawMessage
from intake.pipeline import understand
from intake.store import RawStore, StoreError
from workflow.app import App
from workflow.db import models
from workflow.runtime.intake_cycle import intake_context, record_context
from workflow.season.audit import audit
from workflow.season.message_rows import RecordResult
from workflow.season.submissions import record_again


class RescueError(Exception):
    """The message cannot be rescued (not junk, unknown, its raw bytes missing); message in Vietnamese."""


def rescue_from_junk(app: App, message_id: int, actor: str, now: datetime) -> RecordResult:
    """Read junk message ``message_id`` again without the spam filter and record the new reading."""
    with app.db.sessions() as session:
        msg = session.get(models.Message, message_id)
        if msg is None:
            raise RescueError(f"không có thư số {message_id}")
        if msg.status != "junk":
            raise RescueError(f"thư #{message_id} không nằm trong mục thư rác (trạng thái: {msg.status})")
        raw = RawMessage(source_key=msg.source_key, raw=b"", arrived_at=msg.arrived_at, mailbox=msg.mailbox,
                         uidvalidity=msg.uidvalidity, uid=msg.uid)
        sha = msg.sha256
    store = RawStore(app.store_root)
    try:
        data = store.read(sha)
    except StoreError as exc:
        raise RescueError(f"không đọc được bản gốc của thư #{message_id} trong kho lưu trữ: {exc}") from exc
    ctx = dataclasses.replace(intake_context(app), junk_check=False)
    understood = understand(dataclasses.replace(raw, raw=data), ctx, store)
    with app.db.transaction() as session:
        msg = session.get(models.Message, message_id)
        assert msg is not None
        was = msg.reasons[0] if msg.reasons else "thư rác"
        result = record_again(session, msg, understood, record_context(app, app.roster, now))
        audit(session, action="junk_rescued", actor=actor, message_id=message_id, agency_slug=msg.agency_slug,
              year=msg.year, at=now,
              reason=f"cán bộ xác định không phải thư rác ({was}); đọc lại: {msg.kind or 'khác'}")
    return result


def rescued_line(result: RecordResult) -> str:
    """What a rescue did, in one sentence (the command line and the board say the same)."""
    from notifier.labels import state_label

    line = f"Thư #{result.message_id} đã đưa khỏi mục thư rác"
    if result.state:
        line += f"; báo cáo được ghi nhận ({state_label(result.state)})"
    if result.ack_queued:
        line += "; đã xếp thư báo nhận"
    return line + "."
