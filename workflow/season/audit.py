"""The audit log: who changed what, when and why.

Its own module because both the recorder (workflow.season.submissions) and the state
machine (workflow.season.states) write entries, and neither should import the other
just for this.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from workflow.db import models

BOT = "bot"


def audit(session: Session, *, action: str, actor: str = BOT, submission: models.Submission | None = None,
          message_id: int | None = None, from_state: str | None = None, to_state: str | None = None,
          reason: str = "", at: datetime | None = None, agency_slug: str | None = None,
          year: int | None = None) -> None:
    session.add(models.AuditEntry(
        at=at or models.utcnow(), actor=actor, action=action,
        agency_slug=submission.agency_slug if submission else agency_slug,
        year=submission.year if submission else year,
        submission_id=submission.id if submission else None,
        message_id=message_id, from_state=from_state, to_state=to_state, reason=reason,
    ))
