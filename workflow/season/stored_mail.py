"""What the workflow reads of a recorded message beyond its plain columns: Reply-To, References, the body,
and whom an answer goes to (its speaker, and whether a device sent it).

Since migration 0018 they are columns of ``messages``, written from intake's
reading when the message is recorded (:mod:`workflow.season.message_rows`):
an answer and the national report read the row, never the raw file, so a
raw file moved or deleted changes nothing for them.

Rows recorded before 0018 hold NULL there. For them — the legacy path, and
the only place the workflow reads raw mail — the stored .eml is parsed again
by intake's own parser (:func:`intake.message.parse.parse`), as text, never
acted on. Nothing is written back: reading a report must not change the
database, and the legacy rows stay as they were recorded.
"""
from __future__ import annotations

import logging
from pathlib import Path

from intake import pipeline
from intake.classify.zones import BODY_CHARS, body_text
from intake.limits import Limits
from intake.message.parse import parse
from intake.model import Envelope
from workflow.db import models
from workflow.season.message_rows import REPLY_TO_KEPT

log = logging.getLogger(__name__)

LEGACY_HEADER_BYTES = 256 * 1024  # headers only: a huge body is never read to answer a question about headers


def reply_to(msg: models.Message) -> list[str]:
    """The Reply-To addresses of ``msg`` (the first few), as intake read them."""
    if msg.reply_to is not None:
        return [str(a) for a in msg.reply_to]
    env = _legacy_headers(msg)
    return env.reply_to[:REPLY_TO_KEPT] if env else []


def references(msg: models.Message) -> str:
    """The References of ``msg``: its message ids, space-separated ("" when it has none)."""
    if msg.references is not None:
        return msg.references
    env = _legacy_headers(msg)
    return " ".join((env.header("references") or "").split()) if env else ""


def answer_to(msg: models.Message) -> tuple[str, bool]:
    """Whom ``msg`` speaks for (a share notice's sharer, else its From: ``intake.pipeline.speaker``) and whether
    a device sent it for an agency (the office copier, an e-office robot: ``intake.pipeline.from_a_device``).

    Both at once: a row recorded before 0019 has its raw header block read once for the two.
    """
    if msg.speaker is not None and msg.from_device is not None:
        return msg.speaker or msg.from_addr, msg.from_device
    env = _legacy_headers(msg)
    if env is None:
        return msg.from_addr, False
    return pipeline.speaker(env), pipeline.from_a_device(env)


def body(msg: models.Message, limits: Limits | None = None) -> str:
    """The readable body of ``msg`` (its text part, else its HTML's text); "" when it cannot be had."""
    if msg.body_text is not None:
        return msg.body_text
    env = _legacy_message(msg, limits or Limits())
    return body_text(env)[:BODY_CHARS] if env else ""


# --- the legacy path: rows recorded before migration 0018 -------------------------------------------------
def _legacy_headers(msg: models.Message) -> Envelope | None:
    """The header block of the stored raw file, read by intake's parser (legacy rows only)."""
    head = _read(msg, LEGACY_HEADER_BYTES)
    if head is None:
        return None
    end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=len(head))
    return _parsed(msg, head[:end] + b"\r\n\r\n", Limits())


def _legacy_message(msg: models.Message, limits: Limits) -> Envelope | None:
    """The whole stored raw file, read by intake's parser within ``limits`` (legacy rows only)."""
    data = _read(msg, limits.max_message_bytes + 1)
    return _parsed(msg, data, limits) if data is not None else None


def _read(msg: models.Message, limit: int) -> bytes | None:
    if not msg.raw_path:
        return None
    try:
        with open(Path(msg.raw_path), "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        log.info("legacy row: could not read the raw file of message %s: %s", msg.id, exc)
        return None


def _parsed(msg: models.Message, data: bytes, limits: Limits) -> Envelope | None:
    try:
        return parse(data, limits)
    except Exception as exc:  # noqa: BLE001 - a sender's bytes: the answer or the report goes on without them
        log.info("legacy row: could not parse the raw file of message %s: %s", msg.id, exc)
        return None
