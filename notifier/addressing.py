"""How a letter to an agency is addressed, and what of the bot's reasoning it may carry.

Vietnamese administration addresses the body that does the work, not the
territory: a report on the programme is written by the province's Department
of Science and Technology, so a letter goes to "Sở Khoa học và Công nghệ tỉnh
Kiên Giang", not to "Tỉnh Kiên Giang"; for a ministry, to its science and
technology department. When the coordinators know the contact's own unit
(contacts: ``contact_unit``), that wins. Everywhere else (tables, the national
report) the official name stays.

Mail to agencies carries plain Vietnamese reasons only: internal scores and
thresholds ("độ tin cậy thấp (0,55 < 0,60)") stay in coordinator views.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from reference.text import words

GENERIC = "Quý cơ quan, đơn vị"
DOST = "Sở Khoa học và Công nghệ"

# Each ministry's unit in charge of science and technology (public organisation charts;
# verify when a ministry reorganises). A ministry not listed gets "Vụ Khoa học và Công nghệ".
_MINISTRY_UNITS = {
    "bo cong thuong": "Vụ Khoa học và Công nghệ",
    "bo y te": "Cục Khoa học công nghệ và Đào tạo",
    "bo xay dung": "Vụ Khoa học công nghệ và môi trường",
    "bo giao thong van tai": "Vụ Khoa học - Công nghệ và Môi trường",
    "bo nong nghiep va phat trien nong thon": "Vụ Khoa học, Công nghệ và Môi trường",
    "bo nong nghiep va moi truong": "Vụ Khoa học và Công nghệ",
    "bo thong tin va truyen thong": "Vụ Khoa học và Công nghệ",
}
_DEFAULT_MINISTRY_UNIT = "Vụ Khoa học và Công nghệ"
_PROVINCE_PREFIX = re.compile(r"^(tỉnh|thành phố|tp\.?)\s+", re.IGNORECASE)


def addressee(agency_name: str | None, contact_unit: str | None = None) -> str:
    """The "Kính gửi:" line's body for a letter to ``agency_name`` (its official roster name).

    "Tỉnh Kiên Giang" -> "Sở Khoa học và Công nghệ tỉnh Kiên Giang";
    "Thành phố Hà Nội" -> "Sở Khoa học và Công nghệ thành phố Hà Nội";
    "Bộ Y tế" -> "Cục Khoa học công nghệ và Đào tạo, Bộ Y tế";
    a known contact unit wins; no agency -> "Quý cơ quan, đơn vị".
    """
    unit = " ".join((contact_unit or "").split())
    if unit:
        return unit
    name = " ".join((agency_name or "").split())
    if not name:
        return GENERIC
    folded = words(name)
    if folded.startswith("bo "):
        return f"{_MINISTRY_UNITS.get(folded, _DEFAULT_MINISTRY_UNIT)}, {name}"
    match = _PROVINCE_PREFIX.match(name)
    if match:
        prefix = "thành phố" if words(match.group(1)).startswith(("thanh pho", "tp")) else "tỉnh"
        return f"{DOST} {prefix} {name[match.end():]}"
    return f"{DOST} {name}"


# Internal review reasons -> what an agency may read. Matched on the folded start of the reason.
_PLAIN: tuple[tuple[str, str | None], ...] = (
    ("do tin cay thap", "hệ thống chưa xác định chắc chắn cơ quan gửi hoặc năm của báo cáo"),
    ("xac thuc nguoi gui that bai", "chưa xác thực được địa chỉ gửi thư"),
    ("dia chi gui", "địa chỉ gửi chưa có trong danh sách địa chỉ đã đăng ký của cơ quan"),
    ("bao cao thieu muc bat buoc", "báo cáo chưa có đủ các mục chính theo đề cương"),
    ("bo cuc khac de cuong", "báo cáo trình bày theo bố cục khác đề cương, cán bộ đầu mối sẽ đối chiếu nội dung"),
)
_NUMBERS_IN_PARENS = re.compile(r"\s*\([^()]*\d[.,]\d[^()]*\)")


def agency_reasons(reasons: Iterable[str] | None) -> list[str]:
    """Review reasons as an agency may read them: plain words, no scores, each once."""
    out: list[str] = []
    for reason in reasons or []:
        folded = words(reason)
        plain = next((text for prefix, text in _PLAIN if folded.startswith(prefix)), None)
        if plain is None:
            plain = _NUMBERS_IN_PARENS.sub("", reason).strip()
        if plain and plain not in out:
            out.append(plain)
    return out
