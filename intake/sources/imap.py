"""Reading the reporting mailbox over IMAP (imapclient).

The source only ever reads new mail (UID above the workflow's cursor for the
folder's UIDVALIDITY, and not yet flagged processed), fetches it in bounded
batches with ``BODY.PEEK[]`` so a human reading the same mailbox still sees
it unread, and marks a message processed only when the workflow says its
database transaction committed. Network trouble is retried with backoff;
what remains surfaces as ``SourceError`` so the cycle stops without marking
anything, which keeps the "no message lost" invariant.
"""
from __future__ import annotations

import functools
import imaplib
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import SocketTimeout
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from intake.model import RawMessage
from intake.sources.base import SourceError
from intake.sources.net_errors import unreachable

log = logging.getLogger(__name__)

T = TypeVar("T")

SECURITY_MODES = ("ssl", "starttls", "none")
# RFC 2177 lets a server drop an IDLE client after 30 minutes; re-issue well before.
IDLE_REISSUE_SECONDS = 25 * 60

# What imapclient's ``fetch`` answers for one message: data item (b"BODY[]", b"INTERNALDATE", ...) -> value, already
# parsed (bytes, datetime, int). imapclient ships no types, so the values are only trusted after an isinstance check.
FetchedItems = dict[bytes, object]


@dataclass(frozen=True)
class ImapSettings:
    """How to reach one IMAP folder. Validation of user config happens elsewhere."""

    host: str
    username: str
    password: str = field(repr=False)  # never in reprs, logs or error messages
    port: int | None = None  # None: 993 for "ssl", 143 otherwise
    security: str = "ssl"  # "ssl" | "starttls" | "none"
    folder: str = "INBOX"
    processed_folder: str | None = "Processed"
    processed_keyword: str = "$TdcProcessed"
    ca_file: str | None = None
    timeout: float = 60.0
    batch_size: int = 25
    use_move: bool = True  # False forces the keyword even where MOVE is offered
    use_idle: bool = True  # False forces NOOP polling even where IDLE is offered
    poll_interval: float = 30.0  # only when the server lacks IDLE
    retry_attempts: int = 4
    retry_wait: float = 1.0  # first backoff step, doubled up to retry_wait_max
    retry_wait_max: float = 30.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {SECURITY_MODES}, not {self.security!r}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "ssl" else 143


def _is_transient(exc: BaseException) -> bool:
    """Worth reconnecting for: the network or the server went away, not our credentials or certificate."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    return isinstance(exc, (OSError, imaplib.IMAP4.abort, EOFError))


def _has_new_mail(responses: Iterable[object]) -> bool:
    """EXISTS/RECENT untagged responses are how a server announces arrivals."""
    for response in responses:
        if isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
            return True
    return False


def _says_bye(responses: Iterable[object]) -> bool:
    return any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses)


class ImapSource:
    """A ``Source`` over one IMAP folder; one connection, reopened when it dies."""

    def __init__(self, settings: ImapSettings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.mailbox = f"imap://{settings.username}@{settings.host}/{settings.folder}"
        self._sleep = sleep
        self._client: IMAPClient | None = None
        self._uidvalidity: int | None = None
        self._keywords_allowed = True
        self._processed_folder_ready = False
        self._high_water: dict[int, int] = {}  # uidvalidity -> highest UID seen or recorded
        self._more_pending = False
        self._deferred: list[RawMessage] | None = None  # marks held back by deferred_marks()
        self._selected: IMAPClient | None = None  # the connection on which the folder is selected

    # -- connection -----------------------------------------------------------------

    def _describe(self) -> str:
        s = self.settings
        return f"{s.username}@{s.host}:{s.effective_port}/{s.folder}"

    def _server(self) -> str:
        return f"{self.settings.host}:{self.settings.effective_port}"

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def _open(self) -> IMAPClient:
        s = self.settings
        timeout = SocketTimeout(connect=min(s.timeout, 30.0), read=s.timeout)
        client = IMAPClient(
            s.host, port=s.effective_port, ssl=s.security == "ssl",
            ssl_context=self._ssl_context() if s.security == "ssl" else None, timeout=timeout,
        )
        if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
            # imapclient turns imaplib's debug output on (level 5), which formats a repr of every
            # response, a 68 MB message included, before the logger drops it: memory and CPU for nothing.
            client._imap.debug = 0
        try:
            if s.security == "starttls":
                client.starttls(self._ssl_context())
            if s.password.isascii():
                client.login(s.username, s.password)
            else:  # imaplib's LOGIN is ASCII-only; AUTHENTICATE PLAIN sends UTF-8
                client.plain_login(s.username, s.password)
        except BaseException:
            _shutdown_quietly(client)
            raise
        client.normalise_times = False  # keep INTERNALDATE aware, with the server's offset
        return client

    def _select(self, client: IMAPClient) -> int:
        info = client.select_folder(self.settings.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        if uidvalidity != self._uidvalidity:
            self._processed_folder_ready = False
        self._uidvalidity = uidvalidity
        permanent = info.get(b"PERMANENTFLAGS", ())
        self._keywords_allowed = b"\\*" in permanent or self.settings.processed_keyword.encode() in permanent
        self._selected = client
        return uidvalidity

    def _refresh(self, client: IMAPClient) -> int:
        """The folder's UIDVALIDITY, brought up to date: NOOP if it is still selected, else SELECT.

        Why not always SELECT: re-opening a folder costs the server time that
        grows with the folder (15 ms at 20,000 messages against 1 ms at 20),
        which made every idle cycle slower as the archive grew. A NOOP lets
        the server report what changed; a UIDVALIDITY response or a warning
        falls back to a full SELECT, a BYE to a fresh connection.
        """
        if self._selected is None or self._selected is not client:
            return self._select(client)
        codes = client._imap.untagged_responses  # imaplib files response codes such as UIDVALIDITY here
        codes.pop("UIDVALIDITY", None)
        _, responses = client.noop()
        if _says_bye(responses):
            raise imaplib.IMAP4.abort("server closed the connection")
        # A warning (Dovecot answers "* NO Internal error" once the selected folder was deleted
        # and rebuilt) means the selected view can no longer be trusted.
        troubled = any(isinstance(r, tuple) and r and r[0] in (b"NO", b"BAD") for r in responses)
        if codes.pop("UIDVALIDITY", None) is not None or troubled or self._uidvalidity is None:
            return self._select(client)
        return self._uidvalidity

    def _connected(self) -> IMAPClient:
        if self._client is None:
            client = self._open()
            try:
                self._select(client)
            except BaseException:
                _shutdown_quietly(client)
                raise
            self._client = client
        return self._client

    def _drop(self) -> None:
        client, self._client = self._client, None
        self._selected = None
        if client is not None:
            _shutdown_quietly(client)

    def _call(self, what: str, operation: Callable[[IMAPClient], T]) -> T:
        """Run one step on a live connection, reconnecting with backoff when the connection dies."""
        s = self.settings

        def attempt() -> T:
            try:
                return operation(self._connected())
            except BaseException as exc:
                if _is_transient(exc):
                    log.info("IMAP %s: %s lỗi (%s); kết nối lại", self._describe(), _WHAT.get(what, what),
                             type(exc).__name__)
                    self._drop()
                raise

        retrying = Retrying(
            stop=stop_after_attempt(max(1, s.retry_attempts)),
            wait=wait_exponential(multiplier=s.retry_wait, max=s.retry_wait_max),
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except SourceError:
            raise
        except LoginError as exc:
            self._drop()
            raise SourceError(f"máy chủ thư {self._server()} từ chối đăng nhập {s.username}: "
                              f"{_server_text(exc)}") from None
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise SourceError(unreachable(self._server(), exc)) from None
        except (OSError, EOFError) as exc:
            self._drop()
            raise SourceError(unreachable(self._server(), exc)) from None
        except imaplib.IMAP4.error as exc:
            self._drop()
            raise SourceError(f"máy chủ thư {self._server()} báo lỗi khi {_WHAT.get(what, what)}: "
                              f"{_server_text(exc)}") from None

    # -- Source protocol ------------------------------------------------------------

    def fetch_new(self, cursors: dict[tuple[str, int | None], int], limit: int) -> Iterator[RawMessage]:
        """Yield unprocessed messages above the cursor, oldest first, ``batch_size`` at a time."""
        self._more_pending = False
        if limit <= 0:
            return
        uidvalidity, uids = self._call("search", lambda c: self._pending(c, cursors))
        self._more_pending = len(uids) > limit
        wanted = uids[:limit]
        size = self.settings.batch_size
        for start in range(0, len(wanted), size):
            batch = wanted[start:start + size]
            fetched = self._call("fetch", functools.partial(self._fetch_batch, uidvalidity=uidvalidity, uids=batch))
            for uid in batch:
                data = fetched.get(uid)
                if data is None:  # expunged by someone else meanwhile
                    continue
                self._high_water[uidvalidity] = max(self._high_water.get(uidvalidity, 0), uid)
                yield self._raw_message(uidvalidity, uid, data)

    def _pending(self, client: IMAPClient, cursors: dict[tuple[str, int | None], int]) -> tuple[int, list[int]]:
        uidvalidity = self._refresh(client)
        last = int(cursors.get((self.mailbox, uidvalidity), 0))
        self._high_water[uidvalidity] = max(self._high_water.get(uidvalidity, 0), last)
        criteria = ["UID", f"{last + 1}:*", "NOT", "KEYWORD", self.settings.processed_keyword]
        # "n:*" always matches the newest message, even below n: filter here.
        return uidvalidity, sorted(uid for uid in client.search(criteria) if uid > last)

    def _fetch_batch(self, client: IMAPClient, uidvalidity: int, uids: list[int]) -> dict[int, FetchedItems]:
        if self._uidvalidity != uidvalidity:  # checked again after any reconnect
            raise SourceError(f"IMAP {self._describe()}: hộp thư được đánh số lại (UIDVALIDITY đổi) giữa lượt; "
                              "lượt sau đọc lại")
        fetched: dict[int, FetchedItems] = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"])
        return fetched

    def _raw_message(self, uidvalidity: int, uid: int, data: FetchedItems) -> RawMessage:
        raw = data.get(b"BODY[]")
        return RawMessage(
            source_key=f"imap:{self.settings.folder}:{uidvalidity}:{uid}",
            raw=bytes(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else b"",
            arrived_at=_as_utc(data.get(b"INTERNALDATE")),
            mailbox=self.mailbox,
            uidvalidity=uidvalidity,
            uid=uid,
        )

    def mark_done(self, message: RawMessage) -> None:
        """Move to the processed folder (or flag it); safe to repeat. Held back inside ``deferred_marks()``."""
        if message.mailbox != self.mailbox or message.uid is None:
            raise ValueError(f"{message.source_key} does not come from {self.mailbox}")
        if self._deferred is not None:
            self._deferred.append(message)
            return
        self._call("mark processed", lambda c: self._mark(c, [message]))

    @contextmanager
    def deferred_marks(self) -> Iterator[None]:
        """Send the ``mark_done`` calls made inside the block as one MOVE (or STORE) when it ends.

        Why: one round trip per message, and one copy-and-expunge per message
        on the server, was the largest single cost of a backfill. The caller
        still marks only what it committed; if the block fails, nothing held
        back is sent and those messages are marked by the next cycle's
        recovery step (or read again and recognised by their hash).
        """
        if self._deferred is not None:  # nested: the outer block sends
            yield
            return
        self._deferred = []
        try:
            yield
            held = self._deferred
            self._deferred = None
            if held:
                self._call("mark processed", lambda c: self._mark(c, held))
        finally:
            self._deferred = None

    def _mark(self, client: IMAPClient, messages: list[RawMessage]) -> None:
        uids = []
        for message in messages:
            if self._uidvalidity != message.uidvalidity:
                # The UID now names nothing (or something else); the message will be
                # read again under the new UIDVALIDITY and recognised by its hash.
                log.warning("IMAP %s: not marking %s, UIDVALIDITY is now %s",
                            self._describe(), message.source_key, self._uidvalidity)
                continue
            uids.append(message.uid)
        if not uids:
            return
        s = self.settings
        if s.use_move and s.processed_folder and client.has_capability("MOVE"):
            self._ensure_processed_folder(client)
            client.move(uids, s.processed_folder)
            return
        if not self._keywords_allowed:
            raise SourceError(
                f"IMAP {self._describe()}: máy chủ không giữ từ khóa {s.processed_keyword} và không hỗ trợ MOVE, "
                "nên không đánh dấu được thư đã xử lý"
            )
        client.add_flags(uids, [s.processed_keyword.encode()])

    def _ensure_processed_folder(self, client: IMAPClient) -> None:
        if self._processed_folder_ready:
            return
        folder = self.settings.processed_folder
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
            except imaplib.IMAP4.error:
                if not client.folder_exists(folder):  # someone else may have created it meanwhile
                    raise
        self._processed_folder_ready = True

    def wait_for_new(self, timeout: float) -> bool:
        """Block until the server announces mail (IDLE, else NOOP polling) or ``timeout`` passes."""
        if self._more_pending:
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        client = self._call("connect", lambda c: c)
        try:
            if self._unseen_arrivals(client):
                return True
            if self.settings.use_idle and client.has_capability("IDLE"):
                return self._idle(client, deadline)
            return self._poll(client, deadline)
        except SourceError:
            raise
        except BaseException as exc:
            if not _is_transient(exc):
                if isinstance(exc, imaplib.IMAP4.error):
                    self._drop()
                    raise SourceError(f"IMAP {self._describe()}: lỗi khi chờ thư mới: {_server_text(exc)}") from None
                raise
            log.info("IMAP %s: mất kết nối khi chờ thư (%s)", self._describe(), type(exc).__name__)
            self._drop()
            self._call("reconnect", lambda c: None)  # SourceError if the server stays away
            return True  # mail may have arrived while we were disconnected

    def _unseen_arrivals(self, client: IMAPClient) -> bool:
        """Catch mail that came between the last fetch and now (its EXISTS may have been swallowed)."""
        _, responses = client.noop()  # lets the server sync and announce what it has not yet said
        if _has_new_mail(responses):
            return True
        if self._uidvalidity not in self._high_water:
            return False
        last = self._high_water[self._uidvalidity]
        criteria = ["UID", f"{last + 1}:*", "NOT", "KEYWORD", self.settings.processed_keyword]
        return any(uid > last for uid in client.search(criteria))

    def _idle(self, client: IMAPClient, deadline: float) -> bool:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            client.idle()
            try:
                responses = client.idle_check(timeout=min(remaining, IDLE_REISSUE_SECONDS))
            finally:
                _, more = client.idle_done()
            responses = list(responses) + list(more)
            if _says_bye(responses):
                raise imaplib.IMAP4.abort("server closed the connection during IDLE")
            if _has_new_mail(responses):
                return True

    def _poll(self, client: IMAPClient, deadline: float) -> bool:
        while True:
            _, responses = client.noop()
            if _has_new_mail(responses):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._sleep(min(self.settings.poll_interval, remaining))

    def close(self) -> None:
        client, self._client = self._client, None
        self._selected = None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - whatever failed, the connection is dropped
            _shutdown_quietly(client)


def _shutdown_quietly(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # noqa: BLE001, S110 - already closed; nothing useful to report
        pass


# The operations named in errors, as a coordinator reads them.
_WHAT = {"search": "tìm thư mới", "fetch": "tải thư", "mark": "đánh dấu thư đã xử lý", "connect": "kết nối",
         "idle": "chờ thư mới"}


def _server_text(exc: BaseException) -> str:
    """The server's or OS's words for an error, decoded; never our own arguments."""
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{type(exc).__name__}: {text}"


def _as_utc(value: object) -> datetime:
    """INTERNALDATE as an aware UTC time; a missing one falls back to now, and says so."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # imapclient only drops the zone when normalise_times is on
            value = value.astimezone()
        return value.astimezone(UTC)
    log.warning("thư IMAP không có INTERNALDATE; dùng thời điểm hiện tại")
    return datetime.now(UTC)
