"""From raw bytes to everything the workflow needs to record one message.

Order matters: the raw bytes are stored first (so nothing is lost even if
parsing crashes), then parsed, guarded, read and classified. A message that
cannot be understood safely comes back with a quarantine reason instead of
an exception; only a storage failure (disk full, read-only) raises, because
then the message must stay unprocessed on the server and be retried.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from intake.classify import classify
from intake.classify.copier import copier_sender
from intake.classify.kind import MIN_DOC
from intake.classify.programme import mentions_programme
from intake.classify.sharing import shared_by
from intake.documents.body import body_document
from intake.documents.budget import DocLimits
from intake.documents.photos import report_photos
from intake.documents.plain import body_text
from intake.documents.sandbox import read_all
from intake.limits import Limits
from intake.machine import bounces
from intake.machine.bounces import NOT_RETURNED, BounceVerdict
from intake.machine.guards import check
from intake.machine.junk import JunkVerdict, RspamdClient, header_verdict
from intake.machine.machine_mail import STORED_KIND, noreply_sender
from intake.message.parse import MessageRejected, parse
from intake.message.valid_text import NOTE as INVALID_TEXT_NOTE
from intake.message.valid_text import make_valid
from intake.model import BODY, LINK, AttachmentPart, Classification, DocumentText, Envelope, GuardVerdict, RawMessage
from intake.precheck import precheck
from intake.report.indicators import IndicatorRow, extract_indicators
from intake.report.outline import LAYOUT_NOTE, OutlineResult, check_outline
from intake.sender.identity import (
    FAIL,
    PASS,
    UNVERIFIED_LABEL,
    SenderCheck,
    check_sender,
    content_fingerprint,
    raw_fingerprint,
)
from intake.sender.trusted_server import server_stamps
from intake.store import RawStore, StoredBlob
from reference.numbers import vn_decimal

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
    # What it says about mail the bot sent (intake.machine.bounces): a bounce, a delay or a complaint,
    # which email of ours came back and for whom. The workflow acts on this alone.
    bounce: BounceVerdict = NOT_RETURNED
    sender: SenderCheck | None = None  # did our receiving server vouch for the From domain
    junk: JunkVerdict | None = None  # the spam filter's verdict, when one was asked or believed
    foreign_sender: bool = False  # names an agency the From address does not speak for: a coordinator places it
    fingerprint: str | None = None  # Message-ID + sender + content: one message however it was delivered
    raw_fingerprint: str | None = None  # the same, read from the raw bytes before parsing (intake.sender.identity)
    duplicate_of: int | None = None  # a message already recorded with this raw fingerprint: not read again
    deferred: bool = False  # a stranger's attachments, read after the known senders of the cycle
    sender_agency: str | None = None  # the roster agency whose address or domain sent it, whatever it was read as
    companions: list[Companion] = field(default_factory=list)  # further reports in the same mail (each its year)

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
    def unverified(self) -> bool:
        """Our receiving server is configured and did not vouch for the From domain: a claim, not a proof."""
        return self.sender is not None and self.sender.status == FAIL

    @property
    def is_junk(self) -> bool:
        return self.junk is not None and self.junk.junk and self.verdict is not None and self.verdict.action == "accept"

    @property
    def status(self) -> str:
        """recorded | ignored (machine mail, never answered) | junk (spam, never answered) | quarantined."""
        if self.quarantine_reason:
            return "quarantined"
        if self.verdict is not None and self.verdict.action == "ignore":
            return "ignored"
        if self.is_junk:
            return "junk"
        return "recorded"


@dataclass(frozen=True)
class IntakeContext:
    """What understanding a message needs besides the message."""

    roster: Roster
    campaigns: dict[int, Campaign]
    limits: Limits
    doc_limits: DocLimits
    own_addresses: frozenset[str]
    own_domain: str | None
    review_threshold: float
    trusted_authserv_ids: frozenset[str] | None = None
    trusted_received_by: frozenset[str] = frozenset()  # hosts in our server's Received line (default: the authserv-ids)
    junk_trust: frozenset[str] = frozenset()  # filters whose verdict headers to believe ("spamassassin", "rspamd")
    rspamd: RspamdClient | None = None  # asked about mail without a believed verdict
    junk_check: bool = True  # False when a coordinator rescues a message from junk: read it as ordinary mail
    # True in the intake cycle: a stranger's documents are read after the known senders' (issue 21 §5).
    defer_strangers: bool = False


def _read_documents(env: Envelope, stored: list[StoredAttachment], limits: DocLimits,
                    store: RawStore | None = None) -> list[DocumentText]:
    """Text of every attachment (forwarded ones are in the list too), each distinct file read once.

    Inline images are read only when they may be photos of the report (``intake.documents.photos``).
    A stored file goes to the document reader by its path, not its bytes (see ``RawStore.readable_path``).
    """
    docs: list[DocumentText] = []
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[AttachmentPart, StoredAttachment]] = []
    photos = {id(a) for a in report_photos(env, limits.ocr_pages)}
    for att, saved in zip(env.attachments, stored, strict=False):
        if _skipped_inline(att, photos) or (att.filename, saved.sha256) in seen:
            continue
        seen.add((att.filename, saved.sha256))
        todo.append((att, saved))
    try:  # one budget for the whole message: documents are read in a limited child (intake.documents.sandbox)
        read = read_all([(a.filename, a.content_type, a.data, _readable(store, s.path)) for a, s in todo], limits)
    except Exception as exc:  # noqa: BLE001 - the reader failing must not stop the message
        log.warning("document reading failed: %s", exc)
        read = [[DocumentText(filename=a.filename, format="other", notes=[f"không đọc được tệp: {type(exc).__name__}"])]
                for a, _ in todo]
    for (_att, saved), found in zip(todo, read, strict=False):
        for doc in found:
            saved.text_chars += len(doc.text)
            saved.notes.extend(doc.notes)
            if doc.needs_review and doc.needs_review not in saved.notes:
                saved.notes.append(doc.needs_review)  # kept with the file even when the message is no report
        docs.extend(found)
    return docs


def _skipped_inline(att: AttachmentPart, photos: set[int]) -> bool:
    """An inline image (logo, signature) is not read, unless it is one of the report's photos."""
    return att.inline and att.content_type.startswith("image/") and id(att) not in photos


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


def understand(raw: RawMessage, ctx: IntakeContext, store: RawStore | None,
               fingerprint: str | None = None) -> Understanding:
    """Store, parse, guard, read and classify one message.

    ``fingerprint`` is the raw fingerprint when the caller already has it (the
    cycle computes it for its duplicate lookup): hashing a 70 MB message twice
    is wasted work.

    Raises ``intake.store.StoreError`` only when the raw bytes or an
    attachment cannot be written: the caller must then leave the message
    unprocessed so it is read again later.

    Everything understood passes the Unicode boundary (:mod:`intake.message.valid_text`)
    twice: the envelope right after parsing, so every later stage reads valid
    text, and the whole result before it is returned, so nothing stored or
    rendered can carry a lone surrogate or a NUL.
    """
    result = _understand(raw, ctx, store, fingerprint or raw_fingerprint(raw.raw))
    if make_valid(result, skip=("raw", "blob")) and INVALID_TEXT_NOTE not in result.notes:
        result.notes.append(INVALID_TEXT_NOTE)
    return result


def _understand(raw: RawMessage, ctx: IntakeContext, store: RawStore | None, fingerprint: str) -> Understanding:
    result = Understanding(raw=raw, blob=_store_raw(store, raw), raw_fingerprint=fingerprint)
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
    result.sender = check_sender(env, ctx.trusted_authserv_ids or None, ctx.trusted_received_by)
    if (sharer := shared_by(env)) is not None and result.sender.status == PASS:
        # The service's own domain passed; the official in Reply-To is the service's word, not our server's proof.
        result.sender = SenderCheck(FAIL, None, f"{UNVERIFIED_LABEL}: thư chia sẻ từ {sharer.service}; địa chỉ người "
                                    f"chia sẻ {sharer.address} (Reply-To) không được máy chủ nhận thư xác thực",
                                    result.sender.failures, result.sender.forgery_signs)
    result.fingerprint = content_fingerprint(env, [a.sha256 for a in result.attachments])
    result.sender_agency = sender_agency(env, ctx)
    from_agency, about_programme = result.sender_agency is not None, mentions_programme(env)
    protected = from_agency or about_programme  # never set aside as junk: it may be an agency's report
    guard = check(env, set(ctx.own_addresses), ctx.own_domain, from_agency, about_programme)
    result.bounce = bounces.verdict(env, raw.raw, guard, ctx.own_addresses, ctx.own_domain)
    result.verdict = result.bounce.applied_to(guard)
    if result.verdict.action == "quarantine":
        result.quarantine_reason = "; ".join(result.verdict.reasons) or "thư không hợp lệ"
        return result
    if result.verdict.action == "accept" and not protected and ctx.junk_check:
        result.junk = junk_verdict(raw.raw, env, ctx)
        if result.is_junk:
            assert result.junk is not None
            result.classification = Classification("spam", None, None, 1.0, [result.junk.reason])
            return result  # never read, never answered: its files are not opened
    known = from_agency or (result.sender is not None and result.sender.verified)
    if result.verdict.action == "accept" and ctx.defer_strangers and not known and _has_heavy_files(env):
        result.deferred = True  # its files could spend the whole budget: the cycle reads it after the known senders
        result.classification = Classification("other", None, None, 0.0, [DEFERRED_REASON])
        return result
    if result.verdict.action == "accept":  # machine mail is never a report: its files are not read (OCR costs)
        result.documents = _read_documents(env, result.attachments, ctx.doc_limits, store)
    try:
        result.classification = classify(
            env, result.documents, ctx.roster, ctx.campaigns, raw.arrived_at,
            guard=result.verdict, threshold=ctx.review_threshold, own_addresses=ctx.own_addresses,
        )
    except Exception as exc:  # noqa: BLE001
        log.exception("classifier crashed on %s", raw.source_key)
        result.classification = Classification("other", None, None, 0.0, [f"lỗi phân loại ({type(exc).__name__})"])
        result.review_reasons.append("bộ phân loại gặp lỗi; cần cán bộ xem xét")
    if result.classification.kind == "report":
        _read_outline_and_indicators(result, ctx)
    _add_review_reasons(result, ctx)
    return result


LINK_REASON = ("nhận đường liên kết tới báo cáo, chưa có tệp: cán bộ đầu mối tải tệp về và đính kèm "
               "(tdc-bot attach ĐƠN-VỊ/NĂM TỆP)")
DEFERRED_REASON = "người gửi chưa biết: tệp đính kèm được đọc sau thư của các đơn vị đã biết"


def _has_heavy_files(env: Envelope) -> bool:
    """Files only the budgeted document reader opens (documents, archives, images): a stranger's can wait."""
    from intake.documents import sniff_format
    from intake.documents.sandbox import needs_child

    photos = {id(a) for a in report_photos(env, 1)}  # one is enough to say there is something heavy
    return any(needs_child(sniff_format(a.filename, a.content_type, a.data)) for a in env.attachments
               if not _skipped_inline(a, photos))  # as _read_documents skips them


def speaker(env: Envelope) -> str:
    """The person a mail speaks for: the sharer (Reply-To) of a file service's share notice, else From."""
    sharer = shared_by(env)
    return sharer.address if sharer is not None else env.from_addr


def from_a_device(env: Envelope) -> bool:
    """Sent by a machine on an agency's behalf (the office copier's scan-to-email, an e-office no-reply robot):
    its acknowledgement goes to the agency's people, never back to the device."""
    return copier_sender(env) is not None or (noreply_sender(env) is not None and shared_by(env) is None)


def sender_agency(env: Envelope, ctx: IntakeContext) -> str | None:
    """The agency whose address or domain (roster or contact book, a recent campaign year) sent the mail.

    From first, then Reply-To (a shared-document notice names the official
    there). Mail from an agency is never set aside as bulk or junk, and when it
    is not read as a report a coordinator still sees it.
    """
    for address in (env.from_addr, *env.reply_to[:3]):
        for year in sorted(ctx.campaigns, reverse=True)[:2]:
            found = ctx.roster.by_address(address, year) if address else None
            if found is not None:
                return found.slug
    return None


def junk_verdict(data: bytes, env: Envelope, ctx: IntakeContext) -> JunkVerdict | None:
    """The trusted filter's verdict written on the message, else rspamd's answer, else None (no filter)."""
    stamps = server_stamps(env, ctx.trusted_received_by or ctx.trusted_authserv_ids or frozenset())
    if ctx.junk_trust:
        believed = header_verdict(stamps, ctx.junk_trust)
        if believed is not None:
            return believed
    if ctx.rspamd is not None:
        recipient = next(iter(sorted(ctx.own_addresses)), "")
        return ctx.rspamd.check(data, sender=env.from_addr, recipient=recipient, client=stamps.client)
    return None


def _add_review_reasons(result: Understanding, ctx: IntakeContext) -> None:
    cls = result.classification
    assert cls is not None and result.envelope is not None
    if cls.kind != "report":
        return
    if cls.confidence < ctx.review_threshold:
        result.review_reasons.append(f"độ tin cậy thấp ({vn_decimal(cls.confidence)} < "
                                     f"{vn_decimal(ctx.review_threshold)})")
    if cls.agency is None:
        result.review_reasons.append("không xác định được đơn vị gửi")
    if cls.year is None:
        result.review_reasons.append("không xác định được năm báo cáo")
    if result.sender is not None:
        if result.sender.failures:
            result.review_reasons.append("xác thực người gửi thất bại: " + ", ".join(result.sender.failures))
        if result.sender.reason:
            result.review_reasons.append(result.sender.reason)
        result.review_reasons.extend(result.sender.forgery_signs)
    if cls.agency is not None and cls.year is not None:
        if not ctx.roster.speaks_for(speaker(result.envelope), cls.agency, cls.year):
            result.foreign_sender = True
            result.review_reasons.append(
                f"địa chỉ gửi {result.envelope.from_addr or '(trống)'} không thuộc danh sách địa chỉ đã biết "
                "của đơn vị; cán bộ đầu mối cần xác nhận thư thuộc đơn vị nào"
            )
    if cls.delivery == LINK:
        result.review_reasons.append(LINK_REASON)
    if result.outline is not None and result.outline.different_layout:
        result.review_reasons.append(f"{LAYOUT_NOTE}: cần đối chiếu nội dung với đề cương")
        if LAYOUT_NOTE not in result.notes:
            result.notes.append(LAYOUT_NOTE)  # kept on the message: the ack says so instead of listing sections
    elif result.outline is not None and result.outline.missing_required:
        missing = ", ".join(result.outline.missing_required)
        result.review_reasons.append("báo cáo thiếu mục bắt buộc của đề cương: " + missing)
    for doc in result.documents:
        if doc.needs_review:
            result.review_reasons.append(f"{doc.filename}: {doc.needs_review}")


def _read_outline_and_indicators(result: Understanding, ctx: IntakeContext) -> None:
    cls = result.classification
    assert cls is not None and result.envelope is not None
    result.outline, result.indicators = _outline_and_indicators(result, cls, ctx)
    result.companions = [_companion(result, other, ctx) for other in cls.also if other.kind == "report"]


def _documents_of(result: Understanding, reading: Classification) -> list[DocumentText]:
    """The documents a reading stands on (its ``documents``; all of them when it names none)."""
    if not reading.documents:
        return result.documents
    names = set(reading.documents)
    return [d for d in result.documents if d.filename in names or d.filename.split("/", 1)[0] in names]


def _outline_and_indicators(result: Understanding, reading: Classification,
                            ctx: IntakeContext) -> tuple[OutlineResult | None, list[IndicatorRow]]:
    """The outline check and the indicator tables of one reading, over what holds its text.

    A report written in the body is read as a document (its HTML tables too);
    a reading whose files could not be read, or that came as a link, has no text
    to check: its outline is not checked (None) rather than every section
    reported missing.
    """
    assert result.envelope is not None
    env = result.envelope
    documents = list(_documents_of(result, reading))
    body = "" if reading.documents else body_text(env.text_body, env.html_body)
    if reading.delivery == BODY:
        documents.append(body_document(env.text_body, env.html_body, ctx.doc_limits))
        body = ""
    outline: OutlineResult | None = None
    campaign = ctx.campaigns.get(reading.year) if reading.year is not None else None
    if campaign is not None and campaign.outline and _has_text(documents):
        try:
            outline = check_outline(documents, body, campaign.outline)
        except Exception:  # noqa: BLE001
            log.exception("outline check failed")
    try:
        indicators = extract_indicators(documents)
    except Exception:  # noqa: BLE001
        log.exception("indicator extraction failed")
        indicators = []
    return outline, indicators


@dataclass
class Companion:
    """Another report the same mail carries (last year's overdue file beside this year's): its own reading.

    Recorded as its own row (``messages.part_of``), so each file counts for its
    own year, with the outline and indicators of its own files only.
    """

    classification: Classification
    attachments: list[StoredAttachment]
    outline: OutlineResult | None
    indicators: list[IndicatorRow]


def _companion(result: Understanding, reading: Classification, ctx: IntakeContext) -> Companion:
    outline, indicators = _outline_and_indicators(result, reading, ctx)
    names = set(reading.documents) | {name.split("/", 1)[0] for name in reading.documents}  # winmail.dat/x.docx
    files = [a for a in result.attachments if a.filename in names] if names else []
    return Companion(reading, files, outline, indicators)


def _has_text(docs: list[DocumentText]) -> bool:
    """Whether any document (the body, when the report is written in it) has text an outline can be read in."""
    return any(len(d.text.strip()) >= MIN_DOC for d in docs)


def known_delivery(raw: RawMessage, store: RawStore | None, message_id: int, fingerprint: str) -> Understanding:
    """Another delivery of a message already recorded (same raw fingerprint): stored, never read again.

    The raw bytes are kept (the transport headers of this delivery are part of
    the record); parsing, guards, documents and classification are skipped,
    which is what makes a re-delivered mailbox cheap.
    """
    return Understanding(raw=raw, blob=_store_raw(store, raw), raw_fingerprint=fingerprint, duplicate_of=message_id)


def _store_raw(store: RawStore | None, raw: RawMessage) -> StoredBlob:
    """The raw bytes kept first (content-addressed); without a store (``classify``), only their hash."""
    if store is not None:
        return store.put_message(raw.raw)
    return StoredBlob(sha256=hashlib.sha256(raw.raw).hexdigest(), path=None, size=len(raw.raw))  # type: ignore[arg-type]



def last_resort(raw: RawMessage, store: RawStore | None, reason: str) -> Understanding:
    """The message reduced to what cannot fail on its content: hash, arrival, size and a reason.

    Reached when understanding or recording one message raised anything at
    all, so that the message is kept (quarantined, raw bytes stored) and the
    ones after it flow. Only a storage failure raises (``StoreError``): then
    the message must stay unprocessed on the server.
    """
    import dataclasses

    from intake.message.valid_text import valid

    blob = _store_raw(store, raw)  # content-addressed: a no-op when already stored
    safe_raw = dataclasses.replace(raw, source_key=valid(raw.source_key), mailbox=valid(raw.mailbox))
    return Understanding(raw=safe_raw, blob=blob, quarantine_reason=valid(reason)[:500])
