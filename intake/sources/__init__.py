"""Mailbox sources: where raw messages come from (IMAP, or a local Maildir).

``make_source`` lets the daemon build one from already-validated settings
without knowing the classes; the implementations stay importable on their
own for tests and tools.
"""
from __future__ import annotations

from typing import Any

from intake.sources.base import Source, SourceError

__all__ = ["Source", "SourceError", "make_source"]


def make_source(kind: str, **settings: Any) -> Source:
    """Build a source: ``make_source("imap", host=..., username=..., password=..., ...)``
    or ``make_source("maildir", path=..., poll_step=...)``.

    Unknown kinds or settings raise ``ValueError``/``TypeError`` at start-up,
    not in the middle of a cycle.
    """
    kind = kind.strip().lower()
    if kind == "imap":
        from intake.sources.imap import ImapSettings, ImapSource

        return ImapSource(ImapSettings(**settings))
    if kind == "maildir":
        from intake.sources.maildir import MaildirSource

        options = dict(settings)
        try:
            path = options.pop("path")
        except KeyError:
            raise ValueError("a maildir source needs path=") from None
        return MaildirSource(path, **options)
    raise ValueError(f"unknown mailbox source {kind!r}; expected 'imap' or 'maildir'")
