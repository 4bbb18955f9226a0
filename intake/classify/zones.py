"""Cutting a message into the places where a name or a year can appear.

Where a word appears says how much it means: the title of the attached
report and its issuing-body header name the author; a province cited in the
body is only mentioned. Each zone carries its kind so the deciders can weigh
it, and its origin so reasons can say where the evidence was found.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from intake.documents.plain import html_to_text as plain_html_to_text
from intake.model import DocumentText, Envelope
from reference.text import nfc, words

# Zone kinds, strongest first (see the weights in agency.py and year.py).
DOC_TITLE = "doc_title"
DOC_HEADER = "doc_header"  # issuing body lines above the title
DOC_PLACE = "doc_place"  # "Tây Ninh, ngày 20 tháng 11 năm 2024"
DOC_SIGNATURE = "doc_signature"
DOC_ADDRESSEE = "doc_addressee"  # "Kính gửi: ..."
DOC_BODY = "doc_body"
SUBJECT = "subject"
FILENAME = "filename"
MAIL_SIGNATURE = "mail_signature"
MAIL_BODY = "mail_body"

_MAX_TEXT = 200_000
BODY_CHARS = _MAX_TEXT  # the readable body kept on the envelope (body_text)
_HEADER_LINES = 14
_TITLE_LINES = 6

_FORWARD_MARKERS = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|original message|thư (đã )?chuyển tiếp|thu (da )?chuyen tiep|"
    r"thư gốc|thu goc)\s*-*|begin forwarded message:?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_HEADER = re.compile(
    r"^\s*(from|từ|tu|người gửi|sender|date|ngày|sent|đã gửi|subject|tiêu đề|chủ đề|to|đến|cc)\s*:\s*(.*)$",
    re.IGNORECASE,
)
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|tl|tr|trả lời|chuyển tiếp|aw|wg)\s*:\s*)+", re.IGNORECASE)
_SIGNOFF = re.compile(r"^\s*(trân trọng|tran trong|thân ái|best regards|regards|--\s*$)", re.IGNORECASE)
_PLACE_LINE = re.compile(r"^(?P<place>[^,\d]{2,60}),\s*ng[aà]y\b.*\bn[aă]m\s*(?P<year>20\d\d)", re.IGNORECASE)
_TITLE_STOP = re.compile(r"^(kinh gui|can cu|thuc hien|trien khai|i |1 |phan i|a |noi nhan)")
_LOOSE_TITLE = re.compile(r"\b(bao cao|ket qua)\b")
_HEADER_NOISE = re.compile(r"^(cong hoa xa hoi|doc lap tu do|so |v v |$)")


@dataclass(frozen=True)
class Zone:
    kind: str
    text: str
    origin: str  # "tiêu đề thư", "tệp đính kèm 'bc.docx'", "thư chuyển tiếp"...
    forwarded: bool = False


@dataclass(frozen=True)
class InlineForward:
    """A forward pasted into the body ('---------- Forwarded message ---------')."""

    from_addr: str
    subject: str
    body: str


def html_to_text(html: str) -> str:
    """Visible text of an HTML body (the document reader's parser: scripts and styles dropped, nothing run)."""
    try:
        return plain_html_to_text(html[:_MAX_TEXT])
    except Exception:  # noqa: BLE001 - a broken body is no reason to lose the rest
        return ""


def body_text(env: Envelope) -> str:
    """The readable body (``_MAX_TEXT`` characters, NFC), worked out once per envelope and kept on it."""
    if env.readable_body is None:
        text = env.text_body or ""
        if not text.strip() and env.html_body:
            text = html_to_text(env.html_body)
        env.readable_body = nfc(text[:_MAX_TEXT])
    return env.readable_body


def clean_subject(subject: str) -> str:
    return _SUBJECT_PREFIX.sub("", subject or "").strip()


def is_reply_subject(subject: str) -> bool:
    return bool(re.match(r"^\s*(re|tl|trả lời|aw)\s*:", subject or "", re.IGNORECASE))


def split_inline_forward(text: str) -> tuple[str, InlineForward | None]:
    """The forwarder's own words, and the pasted original if there is one."""
    m = _FORWARD_MARKERS.search(text)
    if not m:
        return text, None
    own, rest = text[: m.start()], text[m.end():]
    lines = rest.splitlines()
    from_addr = subject = ""
    i = 0
    while i < len(lines) and (not lines[i].strip() or _FORWARD_HEADER.match(lines[i])):
        hm = _FORWARD_HEADER.match(lines[i])
        if hm:
            key, value = words(hm.group(1)), hm.group(2)
            if key in ("from", "tu", "nguoi gui", "sender"):
                am = re.search(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", value)
                from_addr = am.group().lower() if am else from_addr
            elif key in ("subject", "tieu de", "chu de"):
                subject = value.strip()
        i += 1
    return own, InlineForward(from_addr, subject, "\n".join(lines[i:]))


_CELL_SEPARATOR = re.compile(r"\t+| \| ")


def _lines(text: str) -> list[str]:
    """Non-empty lines; table cells the reader joined with ' | ' become lines of their own."""
    return [cell.strip() for ln in text.splitlines() for cell in _CELL_SEPARATOR.split(ln) if cell.strip()]


def excerpt(text: str, limit: int = 110) -> str:
    """Head and tail of a long title: the year and the place are usually at the end."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return f"{text[:45].rstrip()} … {text[-(limit - 50):].lstrip()}"


def _title_index(folded: list[str]) -> int | None:
    for i, line in enumerate(folded[:60]):
        if line == "bao cao" or line.startswith("bao cao ") or line.startswith("v v "):
            return i
    return None


def document_zones(text: str, origin: str, forwarded: bool = False,
                   headings: list[tuple[int, str]] | None = None) -> list[Zone]:
    """Header, title, addressee, body and signature of an official document."""
    lines = _lines(nfc(text[:_MAX_TEXT]))
    if not lines:
        return []
    folded = [words(ln) for ln in lines]
    zones: list[Zone] = []

    def add(kind: str, chunk: list[str]) -> None:
        if chunk:
            zones.append(Zone(kind, "\n".join(chunk), origin, forwarded))

    t = _title_index(folded)
    if t is not None:
        header = [ln for ln, f in zip(lines[:t][-_HEADER_LINES:], folded[:t][-_HEADER_LINES:], strict=True)
                  if not _HEADER_NOISE.match(f) and not _PLACE_LINE.match(ln)]
        add(DOC_HEADER, header)
        end = t + 1
        while end < len(lines) and end - t < _TITLE_LINES and not _TITLE_STOP.match(folded[end]):
            end += 1
        add(DOC_TITLE, lines[t:end])
    elif headings:
        add(DOC_TITLE, [h for _, h in headings[:1]])
    else:
        first = next((ln for ln, f in zip(lines[:20], folded[:20], strict=True) if _LOOSE_TITLE.search(f)), None)
        if first is not None:
            add(DOC_TITLE, [first])
    for ln in lines[:30]:
        if _PLACE_LINE.match(ln):
            add(DOC_PLACE, [ln])
            break
    for i, f in enumerate(folded):
        if f.startswith("kinh gui"):
            block = [lines[i]]
            for ln, fl in zip(lines[i + 1:i + 9], folded[i + 1:i + 9], strict=True):
                if _TITLE_STOP.match(fl) and not fl.startswith("kinh gui"):
                    break
                block.append(ln)
            add(DOC_ADDRESSEE, block)
            break
    sig_from = max((i for i, f in enumerate(folded) if f.startswith("noi nhan")), default=None)
    if sig_from is not None:
        add(DOC_SIGNATURE, lines[sig_from:sig_from + 16])
    else:
        add(DOC_SIGNATURE, lines[-6:])
    add(DOC_BODY, lines)
    return zones


def mail_zones(env: Envelope, forwarded: bool = False) -> list[Zone]:
    """Subject, the body as a document, and the sign-off of one mail."""
    origin = "thư chuyển tiếp" if forwarded else "thư"
    zones: list[Zone] = []
    subject = clean_subject(env.subject)
    if subject:
        zones.append(Zone(SUBJECT, subject, f"tiêu đề {origin}", forwarded))
    own, inline = split_inline_forward(body_text(env))
    zones.extend(_body_zones(own, origin, forwarded))
    if inline is not None:
        if inline.subject:
            zones.append(Zone(SUBJECT, clean_subject(inline.subject), "tiêu đề thư chuyển tiếp", True))
        zones.extend(_body_zones(inline.body, "thư chuyển tiếp", True))
    for att in env.attachments:
        if att.filename:
            zones.append(Zone(FILENAME, att.filename, f"tên tệp '{att.filename}'", forwarded or att.from_forward))
    for inner in env.forwarded:
        zones.extend(mail_zones(inner, forwarded=True))
    return zones


def _body_zones(text: str, origin: str, forwarded: bool) -> list[Zone]:
    lines = _lines(text)
    if not lines:
        return []
    zones: list[Zone] = []
    folded = [words(ln) for ln in lines]
    if _title_index(folded) is not None:
        # a report pasted into the mail: read it like a document
        zones.extend(Zone(z.kind, z.text, f"nội dung {origin}", forwarded)
                     for z in document_zones(text, origin, forwarded) if z.kind != DOC_BODY)
    signoff = max((i for i, ln in enumerate(lines) if _SIGNOFF.match(ln)), default=None)
    if signoff is not None:
        zones.append(Zone(MAIL_SIGNATURE, "\n".join(lines[signoff:signoff + 8]), f"chữ ký {origin}", forwarded))
    elif len(lines) > 2:
        zones.append(Zone(MAIL_SIGNATURE, "\n".join(lines[-4:]), f"cuối {origin}", forwarded))
    zones.append(Zone(MAIL_BODY, "\n".join(lines), f"nội dung {origin}", forwarded))
    return zones


def _with_header_table(doc: DocumentText) -> str:
    """Official documents put the issuer and the place-date line in a two-column
    table above the title; readers that skip tables would lose the author."""
    text = doc.text or ""
    if not doc.tables:
        return text
    first = doc.tables[0]
    cells = [cell for row in first for cell in row]
    if "cong hoa xa hoi" not in words(" ".join(cells)) or "cong hoa xa hoi" in words(text[:600]):
        return text
    columns: list[str] = []
    width = max((len(row) for row in first), default=0)
    for col in range(width):
        columns.extend(row[col] for row in first if col < len(row) and row[col].strip())
    return "\n".join(columns) + "\n" + text


def doc_zones(docs: list[DocumentText]) -> list[Zone]:
    zones: list[Zone] = []
    for doc in docs:
        origin = f"tệp đính kèm '{doc.filename}'"
        zones.extend(document_zones(_with_header_table(doc), origin, headings=doc.headings))
    return zones


def message_zones(env: Envelope, docs: list[DocumentText]) -> list[Zone]:
    return mail_zones(env) + doc_zones(docs)


def place_of(zone: Zone) -> str | None:
    m = _PLACE_LINE.match(zone.text)
    return m.group("place").strip() if m else None
