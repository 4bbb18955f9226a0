"""The Vietnamese words for submission states: one table for the CLI, the emails and every document.

Kept in notifier (which renders every text a person reads); the workflow,
which owns the states themselves, imports it from here.
"""
from __future__ import annotations

STATE_LABELS: dict[str, str] = {
    "missing": "chưa nộp",
    "received": "đã nhận",
    "acknowledged": "đã báo nhận",
    "needs_review": "cần xem xét",
    "resubmission_requested": "đề nghị gửi lại",
    "accepted": "đã chấp nhận",
    "exempt": "miễn báo cáo",
}


def state_label(state: str, capital: bool = False) -> str:
    """'acknowledged' -> 'đã báo nhận' ('Đã báo nhận' with capital=True, for table cells)."""
    text = STATE_LABELS.get(state, state)
    return text[:1].upper() + text[1:] if capital else text
