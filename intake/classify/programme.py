"""Which programme a report is about: Program 1322, or another one.

A province's Sở KH&CN also reports on Đề án 996 (measurement, "đo lường"),
the intellectual-property programme, digital transformation; a Sở Công
Thương reports on its own plans. Such reports say "năng suất", "chất
lượng", even cite the 1322 programme in passing, so keywords anywhere prove
nothing. What a document is *about* is in its title and in its own grounds
(the "Căn cứ …" / "Thực hiện …" lines before the first section): a report of
ours names the national programme in its title or cites Decision 1322 among
its grounds; a report whose title names another programme, or a plan of its
own and no 1322 ground, is about something else.
"""
from __future__ import annotations

import re

from intake.model import Envelope
from reference.text import words

# The national programme named in a title or a ground.
NATIONAL = re.compile(
    r"\b(1322( qd ttg)?|nscl|chuong trinh quoc gia ho tro doanh nghiep|"
    r"chuong trinh (quoc gia )?(ve )?(nang cao )?nang suat( va)? chat luong|chuong trinh nang suat)\b"
)
# Other programmes a province or ministry reports on, with the name a coordinator reads.
OTHER_PROGRAMMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b996( qd ttg)?\b|\bde an\b.{0,80}\bdo luong\b|\bhoat dong do luong\b"), "Đề án 996 về đo lường"),
    (re.compile(r"\b(tai san tri tue|so huu tri tue|1068( qd ttg)?)\b"), "Chương trình phát triển tài sản trí tuệ"),
    (re.compile(r"\bchuyen doi so\b"), "chuyển đổi số"),
    (re.compile(r"\b(khuyen cong|xuc tien thuong mai)\b"), "chương trình khuyến công/xúc tiến thương mại"),
    (re.compile(r"\b(doi moi sang tao|khoi nghiep)\b"), "chương trình đổi mới sáng tạo/khởi nghiệp"),
    (re.compile(r"\bmuc tieu quoc gia\b"), "chương trình mục tiêu quốc gia"),
)
# A title whose object is a plan, project or programme of its own ("Kết quả thực hiện Kế hoạch số 120/KH-SCT").
_OWN_PLAN = re.compile(r"\b(thuc hien|trien khai)\b.{0,20}\b(ke hoach|de an|du an|chuong trinh)\b")
_GROUND = re.compile(r"^(can cu|thuc hien|theo)\b")
_SECTION = re.compile(r"^([ivx]+|[a-d]|\d+)\b")
_GROUND_LINES = 40


def grounds(body: str) -> list[str]:
    """The document's own references: "Căn cứ …" / "Thực hiện …" lines before the first section, folded."""
    found = []
    for line in body.splitlines()[:_GROUND_LINES]:
        folded = words(line)
        if _GROUND.match(folded):
            found.append(folded)
        elif found and _SECTION.match(folded):
            break
    return found


def other_programme(title: str, body: str) -> str | None:
    """The other programme a report titled ``title`` is about, or None when it is (or may be) Program 1322."""
    folded_title = words(title)
    own_grounds = grounds(body)
    cites_1322 = any(NATIONAL.search(g) for g in own_grounds)
    if NATIONAL.search(folded_title):
        return None
    for pattern, name in OTHER_PROGRAMMES:
        if pattern.search(folded_title):
            return name
    if cites_1322:
        return None
    for pattern, name in OTHER_PROGRAMMES:
        if any(pattern.search(g) for g in own_grounds):
            return name
    if _OWN_PLAN.search(folded_title) and own_grounds:
        return "kế hoạch/chương trình riêng của đơn vị, không phải Chương trình 1322"
    return None


_MENTION_WINDOW = 20_000


def mentions_programme(env: Envelope) -> bool:
    """Whether a message names the national programme anywhere cheap to read: subject, body, file names.

    A guard asks before setting mail aside as bulk or junk: a message that
    speaks of the programme is read as a possible report, whatever else it looks like.
    """
    names = " ".join(a.filename for a in env.attachments[:50])
    text = " ".join((env.subject, names, env.text_body[:_MENTION_WINDOW], env.html_body[:_MENTION_WINDOW]))
    return bool(NATIONAL.search(words(text)))
