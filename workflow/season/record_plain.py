"""Recording ordinary mail with two Core inserts instead of the ORM's unit of work.

Why: in a mailbox backfill nineteen messages in twenty are not reports (news,
replies, auto-replies). For them ``record`` only writes the message row and its
attachment rows: no submission, no state change, no acknowledgement. Building
ORM objects and flushing them through the unit of work cost several times the
inserts themselves, so these rows go in as plain INSERTs, in the caller's
transaction, with the same values the ORM path writes
(``workflow.season.message_rows``, which both paths import).

``workflow.season.submissions.record`` is the one entry point: it sends what
``is_plain`` accepts here, and keeps the ORM path for reports, quarantined
messages, anything with indicator rows and mail that refers to other messages
(it may answer a reminder). The duplicate check (by raw hash) is the same on
both paths, so a message is still recorded once.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from workflow.db import models
from workflow.db.engine import as_cursor
from workflow.season.message_rows import RecordResult, attachment_values, message_values
from workflow.season.reminder_mail import referenced_message_ids

if TYPE_CHECKING:
    from intake.pipeline import Understanding


@cache
def _statements():
    """Built once: constructing a statement per message (coercions, cache keys) cost more than running it."""
    messages, attachments = models.table_of(models.Message), models.table_of(models.Attachment)
    known = select(messages.c.id, messages.c.status, messages.c.submission_id).where(
        messages.c.sha256 == bindparam("sha"))
    return known, insert(messages), insert(attachments)


def is_plain(u: Understanding) -> bool:
    """Mail whose recording is only its rows: ignored machine mail, junk, or recorded mail that is no report.

    Mail that refers to other messages (a reply, a returned message) may answer
    one of our reminders: it takes the ORM path, where the reminder is looked up
    (workflow.season.reminder_mail.note_response).
    """
    if u.indicators or u.bounce.verp_tokens or referenced_message_ids(u):
        return False
    if u.status in ("ignored", "junk"):
        return True
    return u.status == "recorded" and (u.classification is None or u.classification.kind != "report")


def record_plain(session: Session, u: Understanding, now: datetime) -> RecordResult:
    """Record plain mail (``is_plain(u)``) with Core inserts; the same bytes again are a duplicate."""
    find, insert_message, insert_attachments = _statements()
    known = session.execute(find, {"sha": u.blob.sha256}).first()
    if known is not None:
        return RecordResult(known.id, True, known.status, known.submission_id)
    values = message_values(u, now)
    key = as_cursor(session.execute(insert_message, values)).inserted_primary_key
    assert key is not None
    message_id = key[0]
    rows = attachment_values(u)
    if rows:
        session.execute(insert_attachments, [dict(row, message_id=message_id) for row in rows])
    return RecordResult(message_id, False, values["status"])
