"""SQLAlchemy 2.x models: the single source of truth for what the bot knows.

The same schema runs on SQLite and PostgreSQL: timestamps are stored as
timezone-aware UTC (``UtcDateTime``), JSON lists use the generic JSON type,
and every uniqueness rule that protects an invariant is a real database
constraint, so a crash or a second daemon cannot slip a duplicate in.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on the
    way out keeps comparisons right on both databases.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict: JSON, list: JSON}


def table_of(model: type[Base]) -> Table:
    """A model's Table for Core statements (declarative types ``__table__`` as any FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Submission states (ARCHITECTURE.md). Kept as plain strings so the database
# stays readable by a coordinator with psql.
MISSING = "missing"
RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
NEEDS_REVIEW = "needs_review"
RESUBMISSION_REQUESTED = "resubmission_requested"
ACCEPTED = "accepted"
EXEMPT = "exempt"
STATES = (MISSING, RECEIVED, ACKNOWLEDGED, NEEDS_REVIEW, RESUBMISSION_REQUESTED, ACCEPTED, EXEMPT)


class Agency(Base):
    """A mirror of the roster (config is the source of truth), for joins and foreign keys."""

    __tablename__ = "agencies"
    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    from_year: Mapped[int] = mapped_column(Integer)
    until_year: Mapped[int | None] = mapped_column(Integer)


class Campaign(Base):
    """A mirror of config/campaigns.toml, so reports and exports can join on it."""

    __tablename__ = "campaigns"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispatch: Mapped[str | None] = mapped_column(String(80))
    deadline_at: Mapped[datetime] = mapped_column()


class DeadlineExtension(Base):
    """A coordinator's extension, for everyone (agency NULL) or one agency."""

    __tablename__ = "deadline_extensions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    agency_slug: Mapped[str | None] = mapped_column(String(80))
    until_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxCursor(Base):
    """Highest UID recorded per (mailbox, UIDVALIDITY): where the next fetch starts."""

    __tablename__ = "mailbox_cursors"
    mailbox: Mapped[str] = mapped_column(String(400), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Base):
    """Every message the bot ever read, whatever became of it.

    ``sha256`` of the raw bytes is unique: reading the same message again
    (after a crash, a UIDVALIDITY change, a second copy in another folder)
    finds this row and changes nothing.
    """

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source_key: Mapped[str] = mapped_column(String(500))
    mailbox: Mapped[str] = mapped_column(String(400))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    raw_path: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(BigInteger)
    from_addr: Mapped[str] = mapped_column(String(320), default="", index=True)
    from_name: Mapped[str] = mapped_column(String(400), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    date_header: Mapped[datetime | None] = mapped_column()
    arrived_at: Mapped[datetime] = mapped_column(index=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What became of it: recorded (a report or other mail), ignored (machine mail), quarantined.
    status: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str | None] = mapped_column(String(20))
    agency_slug: Mapped[str | None] = mapped_column(String(80), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list] = mapped_column(default=list)
    notes: Mapped[list] = mapped_column(default=list)  # parser defects, guard reasons, date disagreement
    quarantine_reason: Mapped[str | None] = mapped_column(Text)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    marked_done: Mapped[bool] = mapped_column(Boolean, default=False)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)  # a coordinator asked for a resubmission of it
    outline_present: Mapped[list] = mapped_column(default=list)
    outline_missing: Mapped[list] = mapped_column(default=list)
    # Message-ID + sender + body/attachment hashes: the same message delivered twice has two raw hashes, one of these.
    content_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    # The raw header fields a transport does not touch and the body bytes: known before parsing (migration 0010).
    raw_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    # A stranger's message whose attachments wait until the known senders of the cycle are read (migration 0011).
    reading_deferred: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    read_at: Mapped[datetime | None] = mapped_column()  # when its reading was done (None while deferred)
    # The agency whose address or domain sent it (roster or contact book), whatever it was read as (0013).
    sender_agency: Mapped[str | None] = mapped_column(String(80), index=True)
    # A coordinator looked at an agency's mail that is not a report and set it aside.
    dismissed_at: Mapped[datetime | None] = mapped_column()
    dismissed_by: Mapped[str | None] = mapped_column(String(120))
    # A second report carried by the same mail (last year's file): its own row, pointing at the mail's row.
    part_of: Mapped[int | None] = mapped_column(Integer)
    # How a report came (file | link | body | photos) and the share links it named, as text (never followed).
    delivery: Mapped[str | None] = mapped_column(String(10))
    links: Mapped[list] = mapped_column(default=list)
    # Did our receiving server vouch for the From domain: "pass", "fail", "unchecked" (not configured);
    # None = before 0003.
    sender_auth: Mapped[str | None] = mapped_column(String(20))
    # What an answer and the national report need of the mail, kept from intake's reading when it is recorded
    # so nothing re-reads the raw file (0017; workflow.season.message_rows, read by workflow.season.stored_mail):
    # the first Reply-To addresses, the References' message ids, the readable body of mail that may be placed as
    # a report. NULL: recorded before 0017 (read from the raw file, the legacy path), or, for the body, mail
    # that can never be a report (machine mail, junk, quarantined).
    reply_to: Mapped[list | None] = mapped_column()
    references: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    # Whom an answer goes to (0019, same path): the person the mail speaks for (a share notice's sharer, else
    # From) and whether a device sent it for an agency (answers go to the agency's people). NULL: before 0019.
    speaker: Mapped[str | None] = mapped_column(String(320))
    from_device: Mapped[bool | None] = mapped_column()

    attachments: Mapped[list[Attachment]] = relationship(back_populates="message", cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_messages_unmarked", "marked_done", "mailbox"),
        # Reports waiting for a coordinator (status_query.AWAITING_SQL / REVIEW_SQL): equality on all four (0015).
        Index("ix_messages_unplaced_reports", "kind", "status", "submission_id", "year"),
    )


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(1000))  # as the sender named it (decoded, NFC)
    safe_name: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))
    from_forward: Mapped[bool] = mapped_column(Boolean, default=False)
    text_chars: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[list] = mapped_column(default=list)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Submission(Base):
    """One agency's report for one year: its state and its versions (messages)."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_slug: Mapped[str] = mapped_column(String(80))
    year: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(30), default=MISSING)
    current_message_id: Mapped[int | None] = mapped_column(Integer)  # latest version; no FK to avoid a table cycle
    first_received_at: Mapped[datetime | None] = mapped_column()
    last_received_at: Mapped[datetime | None] = mapped_column()
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    review_reasons: Mapped[list] = mapped_column(default=list)
    outline_missing: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("agency_slug", "year", name="uq_submission_agency_year"),)


class AuditEntry(Base):
    """Who changed what, when and why: every state change and coordinator action."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # "bot" or the coordinator's name
    action: Mapped[str] = mapped_column(String(60))
    agency_slug: Mapped[str | None] = mapped_column(String(80))
    year: Mapped[int | None] = mapped_column(Integer)
    submission_id: Mapped[int | None] = mapped_column(Integer, index=True)
    message_id: Mapped[int | None] = mapped_column(Integer, index=True)  # 0016: a re-delivery's audit check
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="")


# Outbox states.
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SUPPRESSED = "suppressed"  # never sent on purpose (per-recipient daily cap), with the reason
HELD = "held"  # waiting for the hourly cap on acknowledgements to strangers (sent when it allows), with the reason


class OutboxEmail(Base):
    """An email the bot has decided to send, written in the same transaction as the decision.

    ``dedupe_key`` is unique (``ack:<message>``, ``reminder:<agency>:<year>:<stage>``,
    ``digest:<date>``), so deciding twice cannot queue twice. ``message_id_header``
    is fixed at creation, so a repeated send after a crash is recognisable.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    recipients: Mapped[list] = mapped_column(default=list)
    cc: Mapped[list | None] = mapped_column(default=list)  # copies (a reminder's other contacts); NULL on old rows
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id_header: Mapped[str] = mapped_column(String(300), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list] = mapped_column(default=list)  # [{"filename", "content_type", "path"}]
    agency_slug: Mapped[str | None] = mapped_column(String(80))
    year: Mapped[int | None] = mapped_column(Integer)
    related_message_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # An answer to a sender neither verified nor a known address: counted against the hourly cap (migration 0011).
    to_stranger: Mapped[bool] = mapped_column(Boolean, default=False)
    # The per-email return path baocao+b-<token>@…: a bounce finds its email by who was written to (0013).
    verp_token: Mapped[str | None] = mapped_column(String(40), unique=True)

    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)


class Lease(Base):
    """A named lease (holder + expiry) so that only one daemon sends at a time."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column()


class JobRun(Base):
    """When each scheduled job last ran and how it ended, for `tdc-bot status`."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column()
    ok: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[str] = mapped_column(Text, default="")


class IndicatorRow(Base):
    """One row of an indicator table read from a report (target / result / cumulative / rate)."""

    __tablename__ = "indicator_rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(100))
    target: Mapped[float | None] = mapped_column(Float)
    result: Mapped[float | None] = mapped_column(Float)
    cumulative: Mapped[float | None] = mapped_column(Float)
    rate: Mapped[float | None] = mapped_column(Float)
    findings: Mapped[list] = mapped_column(default=list)
    # The arithmetic checks as data: [{"code": "rate_mismatch", "text": "…"}] (intake.report.indicators.CHECK_CODES).
    checks: Mapped[list] = mapped_column(default=list)


class User(Base):
    """A coordinator who may log in to the web board (interfaces.web); the password only as an Argon2 hash."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-case; the audit actor
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()


class WebSession(Base):
    """A logged-in browser on the web board, kept on the server so it can be ended for real.

    The cookie carries a random token; only its SHA-256 is stored, so a copy
    of this table opens no session. Logout deletes the row, a password change
    or ``users remove`` deletes all of a coordinator's rows: a captured cookie
    stops working at its next request. Never backed up nor restored.
    """

    __tablename__ = "web_sessions"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# Contact sources (the contact book, workflow/season/contacts.py).
CONTACT_IMPORTED = "imported"
CONTACT_COORDINATOR = "coordinator"
CONTACT_LEARNED = "learned"
CONTACT_CARRIED_OVER = "carried over"
CONTACT_SOURCES = (CONTACT_IMPORTED, CONTACT_COORDINATOR, CONTACT_LEARNED, CONTACT_CARRIED_OVER)


class Contact(Base):
    """A person or mailbox at an agency the bot may write to (reminders), and that identifies it.

    Only confirmed contacts are written to and trusted as the agency's
    address; unconfirmed ones (carried over from an absorbed province) wait
    for a coordinator. A bounce is kept with its reason and makes the address
    skipped until a coordinator confirms it again.
    """

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_slug: Mapped[str] = mapped_column(String(80), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    unit: Mapped[str] = mapped_column(String(300), default="")  # as written after "Kính gửi:"
    source: Mapped[str] = mapped_column(String(20))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    from_year: Mapped[int | None] = mapped_column(Integer)
    until_year: Mapped[int | None] = mapped_column(Integer)
    carried_from: Mapped[str | None] = mapped_column(String(80))  # the absorbed agency it came from
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    last_bounce_at: Mapped[datetime | None] = mapped_column()
    bounce_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120), default="bot")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("agency_slug", "email", name="uq_contact_agency_email"),)


class ReminderResponse(Base):
    """A message that answers one of our reminders: a bounce, or a reply that is not a report."""

    __tablename__ = "reminder_responses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    outbox_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # bounce | reply
    agency_slug: Mapped[str | None] = mapped_column(String(80), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    addresses: Mapped[list] = mapped_column(default=list)  # for a bounce: the contacts marked failing
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
