"""Outlook's winmail.dat (``application/ms-tnef``): what kind of message it is, and the files it wraps.

Why: Outlook and Exchange, set to "Rich Text", send a message's real content
as one TNEF attachment. A read receipt then arrives as a ``winmail.dat``
whose message class is ``REPORT.IPM.Note.IPNRN`` (and an Exchange bounce as
``….NDR``), with no MDN part for the machine-mail checks to see; a report
arrives as a ``winmail.dat`` wrapping the .docx. ``tnefparse`` (a maintained
pure-Python reader) does the decoding; this module bounds it, because the
bytes are a stranger's.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from intake.documents.budget import DocLimits
from intake.model import DocumentText

log = logging.getLogger(__name__)

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
TNEF_NAMES = frozenset({"winmail.dat", "win.dat"})
# tnefparse copies the rest of the stream for every attribute it reads: linear for a receipt,
# quadratic for a large stream of tiny attributes. Only the guard reads in the parent process,
# so it reads small streams only; the files of a large one are read in the document sandbox.
MAX_CLASS_BYTES = 256 * 1024
_SIGNATURE = b"\x78\x9f\x3e\x22"


def is_tnef_stream(data: bytes) -> bool:
    """The TNEF signature: what the stream is, whatever the sender named it."""
    return data.startswith(_SIGNATURE)


def is_tnef(content_type: str, filename: str | None) -> bool:
    return content_type.lower() in TNEF_TYPES or (filename or "").strip().lower() in TNEF_NAMES


@dataclass
class TnefContents:
    """What a TNEF stream carries: its message class, body text and wrapped files."""

    message_class: str = ""
    body: str = ""
    html: str = ""
    files: list[tuple[str, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _parse(data: bytes) -> Any:  # a tnefparse.TNEF: the library ships no type hints
    from tnefparse import TNEF

    logging.getLogger("tnefparse").setLevel(logging.CRITICAL)  # it logs every odd attribute it meets
    return TNEF(data, do_checksum=False)


def _message_class(tnef: Any) -> str:
    from tnefparse import TNEF

    for obj in tnef.msgprops:
        if obj.name == TNEF.ATTMESSAGECLASS and isinstance(obj.data, str):
            return obj.data.strip()
    return ""


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def read(data: bytes, max_files: int = 50) -> TnefContents:
    """The message class, body and files of a TNEF stream; an unreadable stream gives a note, not an error."""
    if not data.startswith(_SIGNATURE):
        return TnefContents(notes=["winmail.dat không đúng định dạng TNEF"])
    try:
        tnef = _parse(data)
    except Exception as exc:  # noqa: BLE001 - tnefparse on a stranger's bytes fails in many ways (UnboundLocalError too)
        log.debug("TNEF unreadable", exc_info=True)
        return TnefContents(notes=[f"không đọc được winmail.dat ({type(exc).__name__})"])
    found = TnefContents(message_class=_message_class(tnef), body=_text(tnef.body), html=_text(tnef.htmlbody))
    for attachment in tnef.attachments[:max_files]:
        payload = attachment.data if isinstance(attachment.data, bytes) else b""
        name = _text(attachment.long_filename()).strip("\x00 ")
        if payload:
            found.files.append((name or "tep-trong-winmail.bin", payload))
    if len(tnef.attachments) > max_files:
        found.notes.append(f"winmail.dat có {len(tnef.attachments)} tệp; chỉ đọc {max_files} tệp đầu")
    return found


def message_class(data: bytes) -> str:
    """The message class of a small TNEF stream ("" when unknown or too large to read here)."""
    if len(data) > MAX_CLASS_BYTES:
        return ""
    return read(data, max_files=0).message_class


ReadFn = Callable[[str, str, bytes, DocLimits, int], list[DocumentText]]
UNOPENED = "Không mở được tệp winmail.dat của Outlook: cần người mở bằng Outlook hoặc đề nghị gửi lại tệp gốc"
WRAPPED_NOTE = "tệp nằm trong winmail.dat (Outlook gửi định dạng Rich Text)"


def read_wrapped(filename: str, data: bytes, limits: DocLimits, depth: int, read_file: ReadFn) -> list[DocumentText]:
    """The files a winmail.dat wraps, each read as a document of its own ("winmail.dat/name.docx").

    Called by the document reader, so it runs in the budgeted child like any
    attachment: tnefparse's cost on a hostile stream is bounded by the child's
    time and memory. A stream that cannot be decoded is one document that says
    so (and needs a person); a file inside that cannot be read says so itself.
    """
    if depth >= limits.zip_depth:
        return [DocumentText(filename=filename, format="tnef",
                             notes=[f"winmail.dat lồng quá {limits.zip_depth} cấp, không mở"])]
    contents = read(data)
    if not contents.files:
        return [DocumentText(filename=filename, format="tnef",
                             notes=contents.notes or ["winmail.dat không chứa tệp đính kèm"],
                             needs_review=UNOPENED if contents.notes else None)]
    docs: list[DocumentText] = []
    for name, payload in contents.files:
        for doc in read_file(f"{filename}/{name}", "", payload, limits, depth + 1):
            doc.notes.append(WRAPPED_NOTE)
            docs.append(doc)
    if docs:
        docs[0].notes.extend(contents.notes)
    return docs
