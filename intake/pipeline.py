"""From raw bytes to everything the workflow needs to record one message.

Order matters: the raw bytes are stored first (so nothing is lost even if
parsing crashes), then parsed, guarded, read and classified. A message that
cannot be understood safely comes back with a quarantine reason instead of
an exception; only a storage failure (disk full, read-only) raises, because
then the message must stay unprocessed on the server and be retried.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from intake.classify import classify
from intake.documents.budget import DocLimits
from intake.documents.plain import body_text
from intake.documents.sandbox import read_all
from intake.guards import authentication_failures, check
from intake.identity import SenderCheck, check_sender, content_fingerprint
from intake.indicators import IndicatorRow, extract_indicators
from intake.limits import Limits
from intake.machine_mail import RETURN_KINDS, STORED_KIND, flufl_bounce, may_be_bounce, returned_own_message_ids
from intake.model import AttachmentPart, Classification, DocumentText, Envelope, GuardVerdict, RawMessage
from intake.outline import LAYOUT_NOTE, OutlineResult, check_outline
from intake.parse import MessageRejected, parse
from intake.precheck import precheck
from intake.store import RawStore, StoredBlob
from intake.valid_text import NOTE as INVALID_TEXT_NOTE
from intake.valid_text import make_valid

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Roster

log = logging.getLogger(__name__)

# The sender's Date header and the server's arrival time may disagree by a
# few minutes; more than this is worth showing to a coordinator.
DATE_DISAGREEMENT = timedelta(hours=24)


@dataclass
class StoredAttachment:
    filename: str
    safe_name: str
    content_type: str
    size: int
    sha256: str
    path: str
    from_forward: bool
    text_chars: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Understanding:
    """Everything intake learned about one message; the workflow records it in one transaction."""

    raw: RawMessage
    blob: StoredBlob
    envelope: Envelope | None = None
    attachments: list[StoredAttachment] = field(default_factory=list)
    documents: list[DocumentText] = field(default_factory=list)
    verdict: GuardVerdict | None = None
    classification: Classification | None = None
    quarantine_reason: str | None = None
    review_reasons: list[str] = field(default_factory=list)
    outline: OutlineResult | None = None
    indicators: list[IndicatorRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Message-IDs (``<…>``) of the bot's own mail that this message returns: set only for a
    # bounce or a complaint (guard kinds in ``intake.machine_mail.RETURN_KINDS``), so an
    # address that bounced a reminder or an acknowledgement can be marked.
    returned_own_message_ids: tuple[str, ...] = ()
    sender: SenderCheck | None = None  # did our receiving server vouch for the From domain
    foreign_sender: bool = False  # names an agency the From address does not speak for: a coordinator places it
    fingerprint: str | None = None  # Message-ID + sender + content: one message however it was delivered

    def reading(self) -> Classification:
        """The bot's reading even when classification did not run (quarantine, machine mail)."""
        if self.classification is not None:
            return self.classification
        verdict = self.verdict
        kind = STORED_KIND.get(verdict.kind or "", "other") if verdict else "other"
        reasons = list(verdict.reasons if verdict else [])
        if self.quarantine_reason:
            reasons.append(f"cách ly: {self.quarantine_reason}")
        return Classification(kind, None, None, 1.0 if verdict else 0.0, reasons)

    @property
    def status(self) -> str:
        """recorded | ignored (machine mail, never answered) | quarantined."""
        if self.quarantine_reason:
            return "quarantined"
        if self.verdict is not None and self.verdict.action == "ignore":
            return "ignored"
        return "recorded"


@dataclass(frozen=True)
class IntakeContext:
    """What understanding a message needs besides the message."""

    roster: "Roster"
    campaigns: dict[int, "Campaign"]
    limits: Limits
    doc_limits: DocLimits
    own_addresses: frozenset[str]
    own_domain: str | None
    review_threshold: float
    trusted_authserv_ids: frozenset[str] | None = None


def _read_documents(env: Envelope, stored: list[StoredAttachment], limits: DocLimits,
                    store: RawStore | None = None) -> list[DocumentText]:
    """Text of every attachment (forwarded ones are in the list too), each distinct file read once.

    A stored file goes to the document reader by its path, not its bytes (see ``RawStore.readable_path``).
    """
    docs: list[DocumentText] = []
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[AttachmentPart, StoredAttachment]] = []
    for att, saved in zip(env.attachments, stored):
        if att.inline and att.content_type.startswith("image/") or (att.filename, saved.sha256) in seen:
            continue
        seen.add((att.filename, saved.sha256))
        todo.append((att, saved))
    try:  # one budget for the whole message: documents are read in a limited child (intake.documents.sandbox)
        read = read_all([(a.filename, a.content_type, a.data, _readable(store, s.path)) for a, s in todo], limits)
    except Exception as exc:  # noqa: BLE001 - the reader failing must not stop the message
        log.warning("document reading failed: %s", exc)
        read = [[DocumentText(filename=a.filename, format="other", notes=[f"không đọc được tệp: {type(exc).__name__}"])]
                for a, _ in todo]
    for (att, saved), found in zip(todo, read):
        for doc in found:
            saved.text_chars += len(doc.text)
            saved.notes.extend(doc.notes)
            if doc.needs_review and doc.needs_review not in saved.notes:
                saved.notes.append(doc.needs_review)  # kept with the file even when the message is no report
        docs.extend(found)
    return docs


def _readable(store: RawStore | None, path: str) -> str | None:
    if not path:
        return None
    return store.readable_path(path) if store is not None else path


def _store_attachments(store: RawStore | None, env: Envelope) -> list[StoredAttachment]:
    stored = []
    for att in env.attachments:
        if store is not None:
            blob = store.put_attachment(att.data, att.safe_name)
            sha, path = blob.sha256, str(blob.path)
        else:
            import hashlib

            sha, path = hashlib.sha256(att.data).hexdigest(), ""
        stored.append(StoredAttachment(
            filename=att.filename, safe_name=att.safe_name, content_type=att.content_type,
            size=len(att.data), sha256=sha, path=path, from_forward=att.from_forward,
        ))
    return stored


def _date_note(env: Envelope, arrived_at: datetime) -> str | None:
    if env.date_header is None:
        return None
    if abs(env.date_header - arrived_at) > DATE_DISAGREEMENT:
        return (f"ngày trong tiêu đề thư ({env.date_header.isoformat()}) lệch nhiều so với thời điểm máy chủ nhận "
                f"({arrived_at.isoformat()}); hệ thống dùng thời điểm máy chủ nhận")
    return None


def understand(raw: RawMessage, ctx: IntakeContext, store: RawStore | None) -> Understanding:
    """Store, parse, guard, read and classify one message.

    Raises ``intake.store.StoreError`` only when the raw bytes or an
    attachment cannot be written: the caller must then leave the message
    unprocessed so it is read again later.

    Everything understood passes the Unicode boundary (:mod:`intake.valid_text`)
    twice: the envelope right after parsing, so every later stage reads valid
    text, and the whole result before it is returned, so nothing stored or
    rendered can carry a lone surrogate or a NUL.
    """
    result = _understand(raw, ctx, store)
    if make_valid(result, skip=("raw", "blob")) and INVALID_TEXT_NOTE not in result.notes:
        result.notes.append(INVALID_TEXT_NOTE)
    return result


def _understand(raw: RawMessage, ctx: IntakeContext, store: RawStore | None) -> Understanding:
    if store is not None:
        blob = store.put_message(raw.raw)
    else:
        import hashlib

        blob = StoredBlob(sha256=hashlib.sha256(raw.raw).hexdigest(), path=None, size=len(raw.raw))  # type: ignore[arg-type]
    result = Understanding(raw=raw, blob=blob)
    if (reason := precheck(raw.raw, ctx.limits)) is not None:  # before the parser can spend the budget
        result.quarantine_reason = reason
        return result
    try:
        env = parse(raw.raw, ctx.limits)
    except MessageRejected as exc:
        result.quarantine_reason = exc.reason
        return result
    except Exception as exc:  # noqa: BLE001 - a parser bug on one message must not stop the daemon
        log.exception("parser crashed on %s", raw.source_key)
        result.quarantine_reason = f"lỗi phân tích thư ({type(exc).__name__})"
        return result
    if make_valid(env):
        env.defects.append(INVALID_TEXT_NOTE)
    result.envelope = env
    result.notes.extend(env.defects)
    if (note := _date_note(env, raw.arrived_at)) is not None:
        result.notes.append(note)
    result.attachments = _store_attachments(store, env)
    result.sender = check_sender(env, ctx.trusted_authserv_ids or None)
    result.fingerprint = content_fingerprint(env, [a.sha256 for a in result.attachments])
    result.verdict = check(env, set(ctx.own_addresses), ctx.own_domain)
    if result.verdict.action == "accept" and may_be_bounce(env) and (failed := flufl_bounce(raw.raw)):
        result.verdict = GuardVerdict("ignore", "bounce", ["thư báo lỗi gửi (flufl.bounce): " + ", ".join(failed)])
    if result.verdict.kind in RETURN_KINDS:
        result.returned_own_message_ids = returned_own_message_ids(env, ctx.own_domain)
    if result.verdict.action == "quarantine":
        result.quarantine_reason = "; ".join(result.verdict.reasons) or "thư không hợp lệ"
        return result
    if result.verdict.action == "accept":  # machine mail is never a report: its files are not read (OCR costs)
        result.documents = _read_documents(env, result.attachments, ctx.doc_limits, store)
    try:
        result.classification = classify(
            env, result.documents, ctx.roster, ctx.campaigns, raw.arrived_at,
            guard=result.verdict, threshold=ctx.review_threshold,
        )
    except Exception as exc:  # noqa: BLE001
        log.exception("classifier crashed on %s", raw.source_key)
        result.classification = Classification("other", None, None, 0.0, [f"lỗi phân loại ({type(exc).__name__})"])
        result.review_reasons.append("bộ phân loại gặp lỗi; cần cán bộ xem xét")
    if result.classification.kind == "report":
        _read_outline_and_indicators(result, ctx)
    _add_review_reasons(result, ctx)
    return result


def _add_review_reasons(result: Understanding, ctx: IntakeContext) -> None:
    cls = result.classification
    assert cls is not None and result.envelope is not None
    if cls.kind != "report":
        return
    if cls.confidence < ctx.review_threshold:
        result.review_reasons.append(f"độ tin cậy thấp ({cls.confidence:.2f} < {ctx.review_threshold:.2f})")
    if cls.agency is None:
        result.review_reasons.append("không xác định được đơn vị gửi")
    if cls.year is None:
        result.review_reasons.append("không xác định được năm báo cáo")
    failures = authentication_failures(result.envelope, set(ctx.trusted_authserv_ids) if ctx.trusted_authserv_ids else None)
    if failures:
        result.review_reasons.append("xác thực người gửi thất bại: " + ", ".join(failures))
    if result.sender is not None and result.sender.reason:
        result.review_reasons.append(result.sender.reason)
    if cls.agency is not None and cls.year is not None:
        if not ctx.roster.speaks_for(result.envelope.from_addr, cls.agency, cls.year):
            result.foreign_sender = True
            result.review_reasons.append(
                f"địa chỉ gửi {result.envelope.from_addr or '(trống)'} không thuộc danh sách địa chỉ đã biết của đơn vị; "
                "cán bộ đầu mối cần xác nhận thư thuộc đơn vị nào"
            )
    if result.outline is not None and result.outline.different_layout:
        result.review_reasons.append(f"{LAYOUT_NOTE}: cần đối chiếu nội dung với đề cương")
        if LAYOUT_NOTE not in result.notes:
            result.notes.append(LAYOUT_NOTE)  # kept on the message: the ack says so instead of listing sections
    elif result.outline is not None and result.outline.missing_required:
        result.review_reasons.append("báo cáo thiếu mục bắt buộc của đề cương: " + ", ".join(result.outline.missing_required))
    for doc in result.documents:
        if doc.needs_review:
            result.review_reasons.append(f"{doc.filename}: {doc.needs_review}")


def _read_outline_and_indicators(result: Understanding, ctx: IntakeContext) -> None:
    cls = result.classification
    assert cls is not None and result.envelope is not None
    campaign = ctx.campaigns.get(cls.year) if cls.year is not None else None
    if campaign is not None and campaign.outline:
        try:
            body = body_text(result.envelope.text_body, result.envelope.html_body)  # HTML-only bodies too
            result.outline = check_outline(result.documents, body, campaign.outline)
        except Exception:  # noqa: BLE001
            log.exception("outline check failed")
    try:
        result.indicators = extract_indicators(result.documents)
    except Exception:  # noqa: BLE001
        log.exception("indicator extraction failed")


def last_resort(raw: RawMessage, store: RawStore | None, reason: str) -> Understanding:
    """The message reduced to what cannot fail on its content: hash, arrival, size and a reason.

    Reached when understanding or recording one message raised anything at
    all, so that the message is kept (quarantined, raw bytes stored) and the
    ones after it flow. Only a storage failure raises (``StoreError``): then
    the message must stay unprocessed on the server.
    """
    import dataclasses
    import hashlib

    from intake.valid_text import valid

    if store is not None:
        blob = store.put_message(raw.raw)  # content-addressed: a no-op when already stored
    else:
        blob = StoredBlob(sha256=hashlib.sha256(raw.raw).hexdigest(), path=None, size=len(raw.raw))  # type: ignore[arg-type]
    safe_raw = dataclasses.replace(raw, source_key=valid(raw.source_key), mailbox=valid(raw.mailbox))
    return Understanding(raw=safe_raw, blob=blob, quarantine_reason=valid(reason)[:500])
