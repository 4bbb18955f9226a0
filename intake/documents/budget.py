"""Per-document bounds: how much a reader may spend before it stops and says so.

A report is a few dozen pages; a sender can attach a 2 000-page scan or a
text file of a million lines. Readers take what fits, record a note that the
reading is partial, and never block the daemon for long.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from intake.limits import Limits


@dataclass(frozen=True)
class DocLimits:
    """Bounds for reading one document (each zip member counts as one)."""

    max_pages: int = 200
    max_chars: int = 400_000
    max_seconds: float = 60.0
    ocr_pages: int = 10
    zip_depth: int = 2  # a zip inside a zip is read; one level deeper is not
    containers: Limits = field(default_factory=Limits)


def vn_int(value: int) -> str:
    """400000 -> '400.000' (Vietnamese thousands separator)."""
    return f"{value:,}".replace(",", ".")


class Budget:
    """Time and characters left for one document, and the notes about what was cut."""

    def __init__(self, limits: DocLimits) -> None:
        self.limits = limits
        self._deadline = time.monotonic() + limits.max_seconds
        self._parts: list[str] = []
        self._chars = 0
        self.notes: list[str] = []
        self.truncated = False
        self.timed_out = False

    def remaining_seconds(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def out_of_time(self) -> bool:
        """True once the time is spent; records the note the first time."""
        if self.timed_out:
            return True
        if time.monotonic() >= self._deadline:
            self.timed_out = True
            self.notes.append(
                f"đã đọc một phần: quá thời gian xử lý {self.limits.max_seconds:g} giây cho một tệp"
            )
        return self.timed_out

    @property
    def full(self) -> bool:
        return self.truncated

    def add(self, block: str) -> bool:
        """Append a block of text; False once the character limit is reached."""
        if self.truncated:
            return False
        separator = 1 if self._parts else 0  # the newline text() puts between blocks
        room = self.limits.max_chars - self._chars - separator
        if len(block) > room:
            self._parts.append(block[:max(room, 0)])
            self._chars += max(room, 0) + separator
            self.truncated = True
            self.notes.append(
                f"đã đọc một phần: văn bản dài quá {vn_int(self.limits.max_chars)} ký tự, phần sau bị bỏ qua"
            )
            return False
        self._parts.append(block)
        self._chars += len(block) + separator
        return True

    def text(self) -> str:
        return "\n".join(self._parts).strip()
