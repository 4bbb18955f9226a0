"""Whom a report was written to, when this mailbox was only copied.

Why: a city's or district's department (UBND thành phố, Phòng Kinh tế)
reports on the programme to its own province's Sở KH&CN and copies the
national mailbox "để biết". It reads exactly like the province's annual
report (the same title, the same programme, the province's domain), but it is
an input to that report, not a submission. What tells them apart is the
addressing: the mail is To the province's office with this mailbox in Cc, and
the document's "Kính gửi" names the province's department, not the Ministry.
A province's own report sent To the Ministry's records office with us in Cc
names the Ministry in its "Kính gửi", and stays a report.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from intake.classify.zones import DOC_ADDRESSEE, Zone, excerpt
from intake.model import Envelope
from reference.text import words

if TYPE_CHECKING:  # pragma: no cover
    from reference.roster import Roster

# The national level a province's or ministry's annual report is addressed to (folded).
_NATIONAL = re.compile(
    r"\b(bo khoa hoc (va )?cong nghe|bo kh (va )?cn|bo khcn|uy ban (quoc gia )?(tieu chuan do luong chat luong|tdc)|"
    r"ubtdc|tong cuc (tieu chuan do luong chat luong|tdc)|van phong chuong trinh)\b"
)


def copied_to(env: Envelope, own_addresses: Iterable[str]) -> str | None:
    """The To address when this mailbox is in Cc and not in To (None otherwise, or when nobody is in To)."""
    own = {a.strip().lower() for a in own_addresses if a}
    if not own or any(a in own for a in env.to) or not any(a in own for a in env.cc):
        return None
    return next((a for a in env.to if a), None)


def addressees(zones: list[Zone]) -> list[str]:
    """The "Kính gửi" blocks of the documents (and of a report written in the body)."""
    return [z.text for z in zones if z.kind == DOC_ADDRESSEE]


def names_national(texts: list[str]) -> bool:
    return any(_NATIONAL.search(words(t)) for t in texts)


def sub_unit_reason(zones: list[Zone], to: str, roster: Roster, year: int) -> str | None:
    """Why a report copied to us is not a submission (None: it is addressed to the national level, or may be).

    Its "Kính gửi" names someone and not the Ministry; or, when it names no one,
    the mail is To an agency the roster knows (a province's office).
    """
    written_to = addressees(zones)
    if written_to and names_national(written_to):
        return None
    if written_to:
        whom = f"Kính gửi: '{excerpt(' '.join(written_to[0].split()[2:]) or written_to[0], 70)}'"
    elif roster.by_address(to, year) is not None:
        whom = "văn bản không ghi Kính gửi"
    else:
        return None
    return (f"thư gửi {to} ({whom}), hộp thư này chỉ được đồng gửi (Cc): báo cáo của đơn vị cấp dưới gửi cấp tỉnh, "
            "không phải báo cáo năm của tỉnh/bộ gửi Bộ KH&CN")
