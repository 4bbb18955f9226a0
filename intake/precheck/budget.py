"""The counters of one parse, and the reasons a message is refused when one of them runs over.

A :class:`Tally` is charged as the structure is discovered and raises
:class:`OverBudget` at the first unit over a limit, so the walk stops there:
a message of 1.5 million parts costs what its first thousand cost.
"""
from __future__ import annotations

from intake.limits import Limits


def too_many_parts_reason(limit: int) -> str:
    return f"thư có quá nhiều phần MIME (hơn {limit}); không phân tích, để bảo vệ hệ thống"


def too_many_header_lines_reason(limit: int) -> str:
    return f"thư có quá nhiều dòng tiêu đề (hơn {limit}); không phân tích, để bảo vệ hệ thống"


def too_deep_reason(limit: int) -> str:
    return f"thư có cấu trúc MIME lồng nhau quá sâu (hơn {limit} tầng multipart); không phân tích, để bảo vệ hệ thống"


def too_many_body_lines_reason(limit: int) -> str:
    return (f"thư có quá nhiều dòng nội dung trong cấu trúc MIME (hơn {limit} lượt đọc dòng); "
            "không phân tích, để bảo vệ hệ thống")


def header_work_reason() -> str:
    return ("thư có tiêu đề MIME (Content-Type, Content-Disposition, boundary) quá dài hoặc quá nhiều tham số; "
            "không phân tích, để bảo vệ hệ thống")


def encoded_forward_reason() -> str:
    return ("thư có phần thư chuyển tiếp được mã hóa với cấu trúc bất thường, quá lớn để kiểm tra; "
            "không phân tích, để bảo vệ hệ thống")


def precheck_failed_reason(exc: Exception) -> str:
    return f"lỗi khi kiểm tra cấu trúc thư ({type(exc).__name__}); không phân tích, để bảo vệ hệ thống"


class OverBudget(Exception):
    """A limit was passed; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Tally:
    """What one run of the parser over a message (and what it re-reads inside it) will build."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts = 0
        self.header_lines = 0
        self.mime_header_work = 0
        self.body_line_checks = 0

    def part(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise OverBudget(too_many_parts_reason(self.limits.max_parts))

    def header_line(self, count: int = 1) -> None:
        self.header_lines += count
        if self.header_lines > self.limits.max_header_lines:
            raise OverBudget(too_many_header_lines_reason(self.limits.max_header_lines))

    def header_work(self, work: int) -> None:
        """Charge the parser's super-linear header work (see ``Limits.max_mime_header_work``)."""
        self.mime_header_work += work
        if self.mime_header_work > self.limits.max_mime_header_work:
            raise OverBudget(header_work_reason())

    def body_lines(self, checks: int) -> None:
        """Charge body lines the parser will read, times the delimiters it tests each against (see Limits)."""
        self.body_line_checks += checks
        if self.body_line_checks > self.limits.max_body_line_checks:
            raise OverBudget(too_many_body_lines_reason(self.limits.max_body_line_checks))

    def open_multiparts(self, count: int) -> None:
        if count > self.limits.max_open_multiparts:
            raise OverBudget(too_deep_reason(self.limits.max_open_multiparts))
