"""Queueing emails: the only way the workflow asks for one to be sent.

The row is written in the caller's transaction, beside the state change
that caused it, so the decision and the email commit together (invariant 3).
The dedupe key is unique in the database: deciding twice queues once.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.compose import new_message_id
from notifier.render import render_email
from workflow.db import models


def queue_email(
    session: Session,
    *,
    dedupe_key: str,
    kind: str,
    template: str,
    recipients: list[str],
    context: dict[str, Any],
    domain: str,
    now: datetime,
    agency_slug: str | None = None,
    year: int | None = None,
    related_message_id: int | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    attachments: list[dict[str, str]] | None = None,
    cc: list[str] | None = None,
    to_stranger: bool = False,
    unqueued: bool = False,
) -> models.OutboxEmail | None:
    """Render and queue one email; None when this dedupe key was already queued.

    ``unqueued``: the caller knows the key cannot be queued yet (the ack of a
    message inserted in this transaction), so it is not looked up, and the row
    is not flushed here but with the rest of the transaction (the state change
    and audit lines that follow go in the same flush); the unique index on the
    key still refuses a second row.
    """
    if not unqueued and session.scalar(select(models.OutboxEmail.id).where(
            models.OutboxEmail.dedupe_key == dedupe_key)) is not None:
        return None
    rendered = render_email(template, **context)
    row = models.OutboxEmail(
        dedupe_key=dedupe_key,
        kind=kind,
        recipients=sorted({r.lower() for r in recipients if r}),
        cc=sorted({r.lower() for r in cc or [] if r} - {r.lower() for r in recipients if r}),
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        message_id_header=new_message_id(domain),
        in_reply_to=in_reply_to,
        references=references,
        attachments=attachments or [],
        agency_slug=agency_slug,
        year=year,
        related_message_id=related_message_id,
        state=models.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        to_stranger=to_stranger,
        verp_token=secrets.token_hex(8),
    )
    session.add(row)
    if not unqueued:
        session.flush()  # a key queued meanwhile by another process fails here, in the caller's hands
    return row
