"""The rows one understood message becomes, as column values: what every way of recording it writes.

Why one module: recording has a fast path for ordinary mail (Core inserts,
:mod:`workflow.season.record_plain`) and the full path for reports
(:mod:`workflow.season.submissions`); both write exactly these values, and
both import them from here, so neither imports the other.

What an answer or the national report needs of the mail later (Reply-To,
References, the readable body) is kept here too, from intake's reading, so
nothing in the workflow parses the raw file again (migration 0018;
:mod:`workflow.season.stored_mail` reads them back).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from intake.classify.zones import BODY_CHARS, body_text
from intake.machine.machine_mail import STORED_KIND
from intake.pipeline import from_a_device, speaker
from workflow.db import models

if TYPE_CHECKING:
    from intake.model import Envelope
    from intake.pipeline import Understanding

# Reply-To addresses kept: an answer considers the first one, the sender's agency the first three.
REPLY_TO_KEPT = 3
# References kept whole up to the parser's own cut of a header value (intake.limits.Limits.max_header_chars).
REFERENCES_CHARS = 20_000


@dataclass(frozen=True)
class RecordResult:
    message_id: int
    duplicate: bool
    status: str
    submission_id: int | None = None
    state: str | None = None
    ack_queued: bool = False


def fit(value: str | None, column: object) -> str | None:
    """Cut a sender-controlled value to its column's length: PostgreSQL refuses longer ones, SQLite does not."""
    length = getattr(getattr(column, "type", None), "length", None)
    return value[:length] if value is not None and length else value


def reference_for(message: models.Message) -> str:
    """The reference number a sender quotes to correct a misunderstanding."""
    return f"TDC-{message.year or 0:04d}-{message.id:06d}"


def _references(env: Envelope) -> str:
    """The References field as whole message ids, within ``REFERENCES_CHARS``."""
    ids = (env.header("references") or "").split()
    kept: list[str] = []
    used = 0
    for one in ids:
        used += len(one) + (1 if kept else 0)
        if used > REFERENCES_CHARS:
            break
        kept.append(one)
    return " ".join(kept)


def _body(u: Understanding) -> str | None:
    """The readable body of mail a coordinator may place as a report (status "recorded"); None for the rest.

    Machine mail, junk and quarantined mail can never be placed (``actions.assign``
    refuses them; a rescue from junk records the message again, body included),
    so their bodies are not kept. The text is the one classification read (kept
    on the envelope): an HTML body is not read a second time.
    """
    env = u.envelope
    if env is None or u.status != "recorded":
        return None
    return body_text(env)[:BODY_CHARS]


def message_values(u: Understanding, now: datetime) -> dict:
    """The ``messages`` row of one understood message, as column values (ORM and Core paths share it)."""
    env = u.envelope
    cls = u.classification
    notes = list(u.notes)
    if u.verdict is not None and u.verdict.action != "accept":
        notes.extend(u.verdict.reasons)
    return dict(
        sha256=u.blob.sha256,
        source_key=fit(u.raw.source_key, models.Message.source_key),
        mailbox=fit(u.raw.mailbox, models.Message.mailbox),
        uidvalidity=u.raw.uidvalidity,
        uid=u.raw.uid,
        message_id=fit(env.message_id if env else None, models.Message.message_id),
        raw_path=str(u.blob.path) if u.blob.path else "",
        size=len(u.raw.raw),
        from_addr=fit(env.from_addr if env else "", models.Message.from_addr),
        from_name=fit(env.from_name if env else "", models.Message.from_name),
        subject=env.subject if env else "",
        date_header=env.date_header if env else None,
        arrived_at=u.raw.arrived_at,
        recorded_at=now,
        status=u.status,
        kind=(cls.kind if cls else (STORED_KIND.get(u.verdict.kind or "") if u.verdict else None)),
        agency_slug=cls.agency if cls else None,
        year=cls.year if cls else None,
        confidence=cls.confidence if cls else None,
        reasons=list(cls.reasons) if cls else [],
        notes=notes,
        quarantine_reason=u.quarantine_reason,
        outline_present=list(u.outline.present) if u.outline else [],
        outline_missing=list(u.outline.missing) if u.outline else [],
        marked_done=False,
        rejected=False,
        content_sha256=u.fingerprint,
        raw_fingerprint=u.raw_fingerprint,
        reading_deferred=u.deferred,
        sender_agency=u.sender_agency,
        delivery=cls.delivery if cls and cls.kind == "report" else None,
        links=list(cls.links) if cls else [],
        read_at=None if u.deferred else now,
        sender_auth=u.sender.status if u.sender else None,
        reply_to=[a[:320] for a in env.reply_to[:REPLY_TO_KEPT]] if env else [],
        references=_references(env) if env else "",
        body_text=_body(u),
        speaker=fit(speaker(env), models.Message.speaker) if env else "",
        from_device=from_a_device(env) if env else False,
    )


def attachment_values(u: Understanding) -> list[dict]:
    """The ``attachments`` rows of one message, without ``message_id`` (ORM and Core paths share them)."""
    return [
        dict(
            filename=fit(a.filename, models.Attachment.filename),
            safe_name=fit(a.safe_name, models.Attachment.safe_name),
            content_type=fit(a.content_type, models.Attachment.content_type), size=a.size,
            sha256=a.sha256, path=a.path, from_forward=a.from_forward, text_chars=a.text_chars, notes=list(a.notes),
        )
        for a in u.attachments
    ]


def message_row(u: Understanding, now: datetime) -> models.Message:
    return models.Message(**message_values(u, now))


def attachment_rows(u: Understanding, exclude: set[str] | frozenset[str] = frozenset()) -> list[models.Attachment]:
    return [models.Attachment(**values) for values in attachment_values(u) if values["sha256"] not in exclude]
