"""Is this an annual results report of the programme, or something else?

Many messages about the programme are not reports: calls for task
proposals, registrations, invitations, newsletters, the ministry's own
request forwarded back, or a short "đã nhận". A report needs three things:
a report title ("Báo cáo kết quả ..."), the programme named (1322, NSCL,
"năng suất và chất lượng"), and substance (a document, a long body, or a
link to where the document is held).

How it came is part of the verdict (``KindVerdict.delivery``): a file, a link
(a share or an e-office notice), written in the body, photos of the pages.
Two kinds of mail have the report's title and are not the annual report: a
six-month, quarterly or monthly report (kind "periodic"), and the report of a
national task under the programme (a task code such as "NSCL.2024.05", a
company as host: "other").
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from intake.classify.lookalikes import national_task, periodic_phrase
from intake.classify.programme import other_programme
from intake.classify.zones import (
    DOC_ADDRESSEE,
    DOC_BODY,
    DOC_TITLE,
    FILENAME,
    MAIL_BODY,
    SUBJECT,
    Zone,
    excerpt,
    is_reply_subject,
)
from intake.documents.numbering import numbered_headings
from intake.machine.machine_mail import STORED_KIND
from intake.model import BODY, FILE, LINK, PHOTOS, AttachmentPart, DocumentText, Envelope, GuardVerdict
from reference.text import words

PROGRAMME = re.compile(
    r"\b(nang suat (va )?chat luong|nscl|1322( qd ttg)?|chuong trinh quoc gia ho tro doanh nghiep)\b"
)
_REPORT_WORD = re.compile(r"^(bao cao|bc)\b|"
                          r"\b(bao cao|bc)\b.*\b(ket qua|tinh hinh|thuc hien|trien khai|tong ket|nscl|nang suat|1322)")
_REPORT_LOOSE = re.compile(r"\b(ket qua|tong ket)\b.*\b(thuc hien|trien khai|chuong trinh|nam)\b")
_REQUEST = re.compile(
    r"\bkinh gui\b.{0,80}\b(cac bo|uy ban nhan dan cac tinh|ubnd cac tinh|cac tinh thanh pho|cac so ban nganh|"
    r"cac so nganh)\b"
    r"|\bde nghi cac bo( nganh)? dia phuong\b"
)
_NEGATIVES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(de xuat( dat hang)? nhiem vu|dat hang nhiem vu|de xuat dat hang|tuyen chon|xet chon|"
                r"dang ky tham gia|thong bao tuyen chon)\b"), "lời mời đề xuất/đăng ký nhiệm vụ"),
    (re.compile(r"\b(giay moi|thu moi|kinh moi|moi tham du|moi du|hoi nghi|hoi thao|tap huan)\b"), "thư mời/hội nghị"),
    (re.compile(r"\b(ban tin|newsletter)\b"), "bản tin"),
    (re.compile(r"^(v v )?ke hoach\b"), "kế hoạch, không phải báo cáo kết quả"),
]

MIN_DOC = 400  # characters of readable text that make a document, not a note
MIN_BODY_REPORT = 600

C_DOC = 1.0
C_BODY = 0.9
C_SUBJECT_DOC = 0.85  # report-titled mail with a readable programme document
C_UNREADABLE = 0.75  # report-titled mail whose attachment could not be read
C_GUARD = 0.95
C_OTHER_CLEAR = 0.95
C_OTHER_PROGRAMME = 0.8  # about the programme, but not a report
C_LINK = 0.85  # report-titled mail that gives a link to the document instead of the file
MIN_BODY_HEADINGS = 2  # top-level sections (I., II.) that make a body the report rather than a cover note


@dataclass
class KindVerdict:
    kind: str
    confidence: float
    reasons: list[str] = field(default_factory=list)
    delivery: str = FILE  # how a report came (intake.model FILE, LINK, BODY, PHOTOS)


def _negative(text: str) -> str | None:
    folded = words(text)
    for pattern, why in _NEGATIVES:
        if pattern.search(folded):
            return why
    return None


def is_report_title(text: str) -> bool:
    folded = words(text)
    return bool(_REPORT_WORD.search(folded) or _REPORT_LOOSE.search(folded))


def _programme_count(text: str) -> int:
    return len(PROGRAMME.findall(words(text)))


_JUDGED = (DOC_TITLE, DOC_BODY, MAIL_BODY, DOC_ADDRESSEE)


def _groups(zones: list[Zone]) -> dict[str, dict[str, str]]:
    """Zones of each document (or mail body) together, by origin."""
    out: dict[str, dict[str, str]] = {}
    for z in zones:
        if z.kind in _JUDGED:
            group = out.setdefault(z.origin.replace("nội dung ", ""), {})
            group[z.kind] = (group.get(z.kind, "") + "\n" + z.text).strip()
    return out


def _judge(group: dict[str, str]) -> tuple[str, str]:
    """(verdict, why) for one document: report, request, notice or neutral."""
    body = group.get(DOC_BODY) or group.get(MAIL_BODY) or ""
    title = group.get(DOC_TITLE, "")
    head = "\n".join(body.splitlines()[:3])
    if _REQUEST.search(words(group.get(DOC_ADDRESSEE, "") + "\n" + body)):
        return "request", "văn bản đề nghị các bộ/địa phương báo cáo (công văn của cơ quan cấp trên)"
    why = _negative(title) or _negative(head)
    if why:
        return "notice", why
    in_title = _programme_count(title)
    if title and is_report_title(title):
        other = other_programme(title, body)  # what the document is about, not keywords anywhere
        if other:
            return "notice", f"báo cáo của chương trình khác ({other})"
    if title and is_report_title(title) and (in_title or _programme_count(body) >= 2):
        task = national_task(title, body)
        if task:
            return "notice", task
        lines = title.splitlines()
        shown = " ".join(lines[1:]) if len(lines) > 1 and words(lines[0]) == "bao cao" else " ".join(lines)
        period = periodic_phrase(title)
        if period:
            return "periodic", f"báo cáo định kỳ ('{period}'), không phải báo cáo năm: '{excerpt(shown)}'"
        return "report", f"tiêu đề báo cáo: '{excerpt(shown)}'"
    return "neutral", ""


def report_verdict(zones: list[Zone]) -> tuple[str, str]:
    """(verdict, why) of one document's zones: report, periodic, request, notice or neutral."""
    groups = list(_groups(zones).values())
    return _judge(groups[0]) if len(groups) == 1 else ("neutral", "")


def body_is_report(body: str) -> bool:
    """A body that holds the report's sections, not a cover note around a link or a file."""
    return sum(1 for level, _ in numbered_headings(body) if level == 1) >= MIN_BODY_HEADINGS


def _attachments(env: Envelope) -> list[AttachmentPart]:
    found = [a for a in env.attachments if not a.inline]
    for inner in env.forwarded:
        found.extend(_attachments(inner))
    return found


def decide_kind(env: Envelope, zones: list[Zone], docs: list[DocumentText],
                guard: GuardVerdict | None = None, links: Callable[[], list[str]] | None = None) -> KindVerdict:
    """Report, periodic, other or a machine kind, and how a report came.

    ``links`` gives the mail's report links (``intake.classify.links``); it is
    asked only when the mail reads as a report without a report file.
    """
    machine = _machine_kind(env, guard)
    if machine is not None:
        return machine
    links = links or list
    groups = _groups(zones)
    verdicts = {origin: _judge(g) for origin, g in groups.items()}
    by_origin = {f"tệp đính kèm '{d.filename}'": d for d in docs}
    readable = [d for d in docs if len((d.text or "").strip()) >= MIN_DOC]
    read_names = {d.filename for d in readable}
    unreadable = [a.filename for a in _attachments(env) if a.filename not in read_names]
    unreadable += [d.filename for d in docs if d.filename not in read_names and d.filename not in unreadable]

    for origin, (verdict, why) in verdicts.items():
        if verdict == "report" and origin in by_origin:
            return KindVerdict("report", C_DOC, [f"{why} ({origin})"], _delivery(by_origin[origin]))
    for origin, (verdict, why) in verdicts.items():
        if verdict == "periodic":
            return KindVerdict("periodic", C_OTHER_PROGRAMME, [f"{why} ({origin})"])
    for origin, (verdict, why) in verdicts.items():
        if verdict in ("request", "notice"):
            return KindVerdict("other", C_OTHER_PROGRAMME, [f"không phải báo cáo: {why} ({origin})"])

    subjects = [z for z in zones if z.kind in (SUBJECT, FILENAME)]
    for z in subjects:
        negative = _negative(z.text)
        if negative:
            return KindVerdict("other", C_OTHER_PROGRAMME, [f"không phải báo cáo: {negative} ({z.origin})"])
    titled = [z for z in subjects if is_report_title(z.text)]
    for z in titled:
        shown = f"{z.origin}: '{excerpt(z.text, 80)}'"
        if (period := periodic_phrase(z.text)) is not None:
            return KindVerdict("periodic", C_OTHER_PROGRAMME,
                               [f"báo cáo định kỳ ('{period}'), không phải báo cáo năm ({shown})"])
        if (task := national_task(z.text, "")) is not None:
            return KindVerdict("other", C_OTHER_PROGRAMME, [f"không phải báo cáo: {task} ({shown})"])

    for origin, (verdict, why) in verdicts.items():
        if verdict != "report":
            continue
        body = groups[origin].get(MAIL_BODY, "")
        if links() and not body_is_report(body):
            return KindVerdict("report", C_LINK, [f"{why} ({origin}); báo cáo gửi qua đường link: {_shown(links())}"],
                               LINK)
        if len(body) >= MIN_BODY_REPORT:
            return KindVerdict("report", C_BODY, [f"{why} ({origin}); báo cáo viết trong nội dung thư"], BODY)

    all_text = "\n".join(z.text for z in zones)
    programme = _programme_count(all_text) > 0
    if titled and programme:
        label = f"{titled[0].origin}: '{excerpt(titled[0].text, 80)}'"
        about = [d for d in readable if _programme_count(d.text)]
        if about:
            return KindVerdict("report", C_SUBJECT_DOC, [f"thư mang tên báo cáo ({label}), tệp nói về Chương trình"],
                               _delivery(about[0]))
        if unreadable and not readable:
            names = ", ".join(unreadable)
            return KindVerdict("report", C_UNREADABLE,
                               [f"thư mang tên báo cáo ({label}); tệp không đọc được nội dung: {names}"])
        if links():
            why = f"thư mang tên báo cáo ({label}); báo cáo gửi qua đường link: {_shown(links())}"
            return KindVerdict("report", C_LINK, [why], LINK)
    if is_reply_subject(env.subject) and not docs:
        return KindVerdict("other", C_OTHER_CLEAR, ["thư trả lời, không kèm báo cáo"])
    if not all_text.strip() and not docs:
        return KindVerdict("other", C_OTHER_CLEAR, ["thư trống"])
    if programme:
        return KindVerdict("other", C_OTHER_PROGRAMME,
                           ["có nhắc đến Chương trình nhưng không thấy báo cáo kết quả (tiêu đề, tệp đính kèm)"])
    return KindVerdict("other", C_OTHER_CLEAR, ["không nói về Chương trình 1322/NSCL"])


def _machine_kind(env: Envelope, guard: GuardVerdict | None) -> KindVerdict | None:
    """Machine mail and mail set aside by the guards: never a report, whatever it says."""
    if guard is not None and guard.kind in ("auto_reply", "bounce"):
        label = "thư trả lời tự động" if guard.kind == "auto_reply" else "thư báo lỗi gửi"
        return KindVerdict(guard.kind, C_GUARD, [f"{label} (bộ lọc: {'; '.join(guard.reasons) or guard.kind})"])
    if guard is not None and guard.kind in STORED_KIND and STORED_KIND[guard.kind] != "other":  # MDN, DSN, ARF...
        return KindVerdict(STORED_KIND[guard.kind], C_GUARD, [f"thư tự động (bộ lọc: {'; '.join(guard.reasons)})"])
    if guard is not None and (guard.kind in ("list", "own", "loop") or (guard.kind and guard.action != "accept")):
        return KindVerdict("other", C_GUARD, [f"không phải báo cáo: {guard.kind} ({'; '.join(guard.reasons)})"])
    return None


def _delivery(doc: DocumentText) -> str:
    """A report read from pictures (photos or scans sent as images) came as photos; anything else as a file."""
    return PHOTOS if doc.format == "image" else FILE


def _shown(links: list[str], limit: int = 2) -> str:
    more = f" (và {len(links) - limit} link khác)" if len(links) > limit else ""
    return ", ".join(excerpt(link, 90) for link in links[:limit]) + more
