"""The one small interface every mailbox source offers.

The workflow drives a source like this, once per intake cycle::

    for raw in source.fetch_new(cursors, limit=N):  # oldest first
        record(raw)                                # one DB transaction, commit
        source.mark_done(raw)                      # only after the commit

A source never writes the database. Where it needs remembered state (the
last UID seen per folder and UIDVALIDITY) the workflow keeps it and passes it
in (``cursors``: (mailbox, UIDVALIDITY) -> highest UID recorded); the source
reports the new position on each message.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from intake.model import RawMessage


class SourceError(Exception):
    """A transient failure talking to the mailbox (network, server restart).

    The cycle stops, nothing is marked, and the next cycle tries again.
    """


class Source(Protocol):
    mailbox: str  # stable identifier, e.g. "imap://user@host/INBOX" or "maildir:/abs/path"

    def fetch_new(self, cursors: dict[tuple[str, int | None], int], limit: int) -> Iterator[RawMessage]:
        """Yield at most ``limit`` unprocessed messages, oldest first, fetched in bounded batches."""
        ...

    def mark_done(self, message: RawMessage) -> None:
        """Mark a message processed on the server; called only after its DB commit."""
        ...

    def wait_for_new(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds (IMAP IDLE where offered); True if new mail may be there."""
        ...

    def close(self) -> None:
        ...
