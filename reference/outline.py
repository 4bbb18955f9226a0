"""The shape of a campaign's official report outline, as read from config/outlines/."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutlineSection:
    """One section of a campaign's official report outline (the dispatch's annex).

    ``code`` is the annex numbering ("I", "I.1", "I.2.3", "IV"); ``title`` the
    heading as the annex writes it; ``keywords`` folded phrases that identify
    the heading by meaning when a report renumbers it.
    """

    code: str
    title: str
    keywords: tuple[str, ...] = ()
    required: bool = True
