"""Configuration: one TOML file, validated at start-up, every problem reported at once.

Why pydantic: it collects every field error in one pass with its location,
which is what ``tdc-bot config check`` must print, and ``extra="forbid"``
turns a typo'd key into an error instead of a silently ignored setting.
Checks that need more than one field (loopback-only plain text, secrets
present in the environment) run afterwards and are reported the same way.

Secrets never live in the file: only the *name* of an environment variable
(``password_env``) or a path to a secret file (``password_file``).
"""
from __future__ import annotations

import difflib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from reference.addresses import header_address
from reference.time import zone
from reference.toml_files import TomlUnreadable, load_toml
from workflow.settings_keys import CONFIG_ENV, DEFAULT_DATABASE_URL, config_digest


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatabaseConfig(_Section):
    url: str = DEFAULT_DATABASE_URL


class StorageConfig(_Section):
    path: str = "var/store"


class LimitsConfig(_Section):
    max_message_mb: float = Field(60, gt=0)
    max_part_mb: float = Field(55, gt=0)
    max_attachments: int = Field(50, gt=0)
    max_zip_members: int = Field(500, gt=0)
    max_zip_total_mb: float = Field(200, gt=0)
    max_doc_chars: int = Field(400_000, gt=0)
    max_doc_pages: int = Field(200, gt=0)
    max_doc_seconds: float = Field(60, gt=0)
    # One budget per message (documents, zip members and OCR together): see README "Security".
    message_seconds: float = Field(60, gt=0)
    message_memory_mb: float = Field(512, ge=64)
    max_parts: int = Field(1000, gt=0)
    max_header_lines: int = Field(5000, gt=0)
    max_open_multiparts: int = Field(64, gt=0)
    max_body_line_checks: int = Field(10_000_000, gt=0)
    max_page_megapixels: float = Field(25, gt=0)


class _ServerCredentials(_Section):
    host: str = ""
    port: int | None = Field(None, gt=0, lt=65536)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    allow_insecure: bool = False
    ca_file: str | None = None
    username: str = ""
    password_env: str | None = None
    password_file: str | None = None
    timeout: float = Field(60, gt=0)

    def default_port(self) -> int:  # overridden per protocol
        raise NotImplementedError

    @property
    def effective_port(self) -> int:
        return self.port or self.default_port()


class MailboxConfig(_ServerCredentials):
    source: Literal["imap", "maildir"] = "maildir"
    maildir: str = "var/mail"
    folder: str = "INBOX"
    processed_folder: str | None = "Processed"
    processed_keyword: str = "$TdcProcessed"
    batch_size: int = Field(25, gt=0, le=1000)
    cycle_limit: int = Field(500, gt=0)
    poll_seconds: float = Field(60, gt=0)
    idle: bool = True
    # The authserv-id(s) of our own receiving server: only its Authentication-Results count.
    trusted_authserv_id: str | list[str] | None = None
    # The host(s) its Received line names ("by …"), when not the authserv-id: only fields above that line count.
    trusted_received_by: str | list[str] | None = None

    def default_port(self) -> int:
        return 993 if self.security == "ssl" else 143

    @property
    def trusted_authserv_ids(self) -> frozenset[str]:
        """The configured authserv-ids, lower-case; empty when sender verification is off."""
        return _lower_set(self.trusted_authserv_id)

    @property
    def trusted_hosts(self) -> frozenset[str]:
        """The hosts in our receiving server's Received line: ``trusted_received_by``, else the authserv-ids."""
        return _lower_set(self.trusted_received_by) or self.trusted_authserv_ids


def _lower_set(value: str | list[str] | None) -> frozenset[str]:
    values = [value] if isinstance(value, str) else list(value or [])
    return frozenset(v.strip().lower().rstrip(".") for v in values if v and v.strip())


class SmtpConfig(_ServerCredentials):
    transport: Literal["smtp", "file"] = "file"
    outbox_dir: str = "var/outbox"
    from_: str = Field("Hệ thống tiếp nhận báo cáo <baocao@example.vn>", alias="from")
    reply_to: str | None = None
    max_attempts: int = Field(8, gt=0)
    backoff_seconds: float = Field(60, gt=0)
    max_per_recipient_per_day: int = Field(5, gt=0)
    # Acknowledgements to senders neither verified nor known, for everyone together, per rolling hour.
    max_stranger_acks_per_hour: int = Field(20, gt=0)

    def default_port(self) -> int:
        return {"ssl": 465, "starttls": 587, "none": 25}[self.security]

    @property
    def from_address(self) -> str:
        return header_address(self.from_).lower()

    @property
    def reply_address(self) -> str:
        """Where the bot's mail is answered: Reply-To when set, else From (acknowledgements, reminders, actions)."""
        return header_address(self.reply_to or self.from_)


class CoordinatorsConfig(_Section):
    emails: list[str] = Field(default_factory=list)


class ScheduleConfig(_Section):
    timezone: str = "Asia/Ho_Chi_Minh"
    digest_time: str = "07:30"
    reminder_time: str = "08:00"
    outbox_seconds: float = Field(30, gt=0)
    lease_seconds: float = Field(60, gt=0)


class RemindersConfig(_Section):
    """The reminder plan, in days relative to each agency's (possibly extended) deadline day.

    Stages are named d-14 … d0 before/on the deadline and late+3, late+6 …
    after it; the dedupe keys carry these names, so renaming a stage resends it.
    """

    enabled: bool = True
    days_before: list[PositiveInt] = Field(default_factory=lambda: [14, 7, 3, 1])
    on_deadline_day: bool = True
    late_every_days: int = Field(3, gt=0)
    late_until_days: int = Field(30, ge=0)
    # Stages this many days before the deadline, or fewer, use the firm wording.
    firm_within_days: int = Field(3, ge=0)
    # Contacts whose role is one of these go in To, the agency's other contacts in Cc
    # (all in To when none has such a role); cc_others = false puts everyone in To.
    to_roles: list[str] = Field(default_factory=lambda: ["đầu mối"])
    cc_others: bool = True


class ClassifierConfig(_Section):
    review_threshold: float = Field(0.6, ge=0, le=1)


class WebConfig(_Section):
    """The coordinators' web board (interfaces.web); see the [web] section of config/tdc.example.toml."""

    enabled: bool = False  # also serve the board from `tdc-bot run`
    host: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)
    secret_key_env: str | None = None
    secret_key_file: str | None = None
    session_hours: float = Field(12, gt=0, le=24 * 30)
    trusted_proxies: list[str] = Field(default_factory=list)
    trusted_header: str = ""
    # Names the environment variable holding the secret the proxy sends in X-TDC-Proxy-Secret:
    # the proxy's address alone does not tell it from any local program connecting from 127.0.0.1.
    trusted_header_secret_env: str | None = None
    login_attempts: int = Field(5, gt=0)
    login_window_minutes: float = Field(15, gt=0)
    login_delay_seconds: float = Field(30, gt=0)


class JunkConfig(_Section):
    """Junk (spam): whose verdict to believe, and the optional filter to ask; see config/tdc.example.toml [junk]."""

    # Verdicts our receiving server's filter wrote (above its Received line): "spamassassin", "rspamd".
    trust_headers: list[Literal["spamassassin", "rspamd"]] = Field(default_factory=list)
    # rspamd's HTTP API (the normal worker, POST /checkv2), asked about mail without a trusted verdict.
    rspamd_url: str = ""
    rspamd_password_env: str | None = None
    timeout: float = Field(10, gt=0, le=120)
    # rspamd's actions that make a message junk (its "greylist" and "no action" never do).
    rspamd_junk_actions: list[str] = Field(default_factory=lambda: ["reject", "add header", "rewrite subject"])


class Settings(_Section):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    mailbox: MailboxConfig = Field(default_factory=MailboxConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    coordinators: CoordinatorsConfig = Field(default_factory=CoordinatorsConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    reminders: RemindersConfig = Field(default_factory=RemindersConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    junk: JunkConfig = Field(default_factory=JunkConfig)
    roster_dir: str | None = None
    campaigns_file: str | None = None


@dataclass(frozen=True)
class Problem:
    key: str
    reason: str


class ConfigError(Exception):
    """Every problem found in one configuration file, ready to print."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {p.key}: {p.reason}" for p in problems]
        super().__init__("\n".join(lines))


EMBEDDED = "(cấu hình mặc định có sẵn)"  # LoadedConfig.source without a file: shown as where the settings came from


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    source: str  # the file path, or EMBEDDED
    imap_password: str | None
    smtp_password: str | None
    digest: str = ""  # settings_keys.config_digest of the content read: the fast lane runs on accepted content only


def _is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _section_model(loc: tuple[Any, ...]) -> type[BaseModel]:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return model


def _problems_from_validation(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(p) for p in loc)
        if item["type"] == "extra_forbidden":
            known = _known_keys(_section_model(loc))
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f" (có phải ý bạn là '{close[0]}'?)" if close else f" (các khóa có: {', '.join(known)})"
            problems.append(Problem(key, f"khóa không có trong cấu hình{hint}"))
        else:
            problems.append(Problem(key, _value_problem(item)))
    return problems


def _value_problem(item: Any) -> str:
    """pydantic's reason for a refused value, in Vietnamese (its own English words for a type it has no entry for)."""
    ctx = item.get("ctx") or {}
    words = {
        "int_parsing": "phải là số nguyên", "int_type": "phải là số nguyên", "int_from_float": "phải là số nguyên",
        "float_parsing": "phải là số", "float_type": "phải là số", "bool_parsing": "phải là true hoặc false",
        "bool_type": "phải là true hoặc false", "string_type": "phải là chuỗi ký tự (trong dấu nháy kép)",
        "list_type": "phải là danh sách, ví dụ [\"a\", \"b\"]", "dict_type": "phải là một mục [bảng]",
        "missing": "bắt buộc phải có",
        "greater_than": f"phải lớn hơn {ctx.get('gt')}", "greater_than_equal": f"phải từ {ctx.get('ge')} trở lên",
        "less_than": f"phải nhỏ hơn {ctx.get('lt')}", "less_than_equal": f"không được quá {ctx.get('le')}",
        "literal_error": f"phải là một trong: {ctx.get('expected')}",
    }
    return words.get(item["type"], item["msg"])


def _read_secret(section: str, creds: _ServerCredentials, environ: dict[str, str], problems: list[Problem],
                 need_secrets: bool = True) -> str | None:
    if not need_secrets:  # read-only commands never log in: a missing password is no problem for them
        problems = []
    if creds.password_env and creds.password_file:
        problems.append(Problem(f"{section}.password_env", "chỉ đặt một trong hai: password_env hoặc password_file"))
        return None
    if creds.password_env:
        value = environ.get(creds.password_env)
        if not value:
            problems.append(Problem(f"{section}.password_env", f"biến môi trường {creds.password_env} chưa đặt hoặc "
                                                               "rỗng"))
        return value or None
    if creds.password_file:
        path = Path(creds.password_file)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(Problem(f"{section}.password_file", f"không đọc được {path}: {exc.strerror or exc}"))
            return None
        if not value:
            problems.append(Problem(f"{section}.password_file", f"{path} rỗng"))
        return value or None
    if creds.username:
        problems.append(Problem(f"{section}.password_env", "đã đặt username nhưng chưa đặt password_env hay "
                                                           "password_file"))
    return None


def _check_server(section: str, creds: _ServerCredentials, problems: list[Problem]) -> None:
    if not creds.host:
        problems.append(Problem(f"{section}.host", "bắt buộc phải có"))
    if creds.security == "none" and not (_is_loopback(creds.host) or creds.allow_insecure):
        problems.append(Problem(
            f"{section}.security",
            f"'none' gửi mật khẩu không mã hóa tới {creds.host!r}; chỉ được dùng với máy chủ trên chính máy này "
            "(loopback) hoặc khi đặt allow_insecure = true",
        ))
    if creds.ca_file and not Path(creds.ca_file).is_file():
        problems.append(Problem(f"{section}.ca_file", f"không có tệp {creds.ca_file}"))


def _cross_checks(settings: Settings, environ: dict[str, str],
                  need_secrets: bool = True) -> tuple[list[Problem], str | None, str | None]:
    problems: list[Problem] = []
    imap_password = smtp_password = None
    if settings.mailbox.source == "imap":
        _check_server("mailbox", settings.mailbox, problems)
        if not settings.mailbox.username:
            problems.append(Problem("mailbox.username", "bắt buộc khi source = \"imap\""))
        imap_password = _read_secret("mailbox", settings.mailbox, environ, problems, need_secrets)
        if settings.mailbox.username and not (settings.mailbox.password_env or settings.mailbox.password_file):
            pass  # already reported by _read_secret
    if settings.smtp.transport == "smtp":
        _check_server("smtp", settings.smtp, problems)
        smtp_password = _read_secret("smtp", settings.smtp, environ, problems, need_secrets)
    if not settings.smtp.from_address or "@" not in settings.smtp.from_address:
        problems.append(Problem("smtp.from", f"không phải địa chỉ email: {settings.smtp.from_!r}"))
    for i, email in enumerate(settings.coordinators.emails):
        if "@" not in header_address(email):
            problems.append(Problem(f"coordinators.emails[{i}]", f"không phải địa chỉ email: {email!r}"))
    try:
        zone(settings.schedule.timezone)
    except ValueError:
        problems.append(Problem("schedule.timezone", f"không có múi giờ {settings.schedule.timezone!r}"))
    for key in ("digest_time", "reminder_time"):
        value = getattr(settings.schedule, key)
        parts = value.split(":")
        valid = len(parts) == 2 and all(p.isdigit() for p in parts)
        if not (valid and 0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60):
            problems.append(Problem(f"schedule.{key}", f"phải viết dạng GG:PP (ví dụ 07:30), không phải {value!r}"))
    _check_web(settings.web, environ, problems, need_secrets)
    _check_junk(settings, environ, problems)
    url = settings.database.url
    if not (url.startswith("sqlite") or url.startswith("postgresql")):
        problems.append(Problem("database.url", "chỉ hỗ trợ địa chỉ sqlite:/// và postgresql+psycopg://"))
    if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
        problems.append(Problem(
            "database.url",
            "có mật khẩu trong địa chỉ; đặt mật khẩu vào biến môi trường TDC_DATABASE_PASSWORD hoặc dùng tệp .pgpass",
        ))
    return problems, imap_password, smtp_password


def _check_web(web: WebConfig, environ: dict[str, str], problems: list[Problem], need_secrets: bool = True) -> None:
    for i, proxy in enumerate(web.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(Problem(f"web.trusted_proxies[{i}]", f"không phải địa chỉ IP hay dải mạng: {proxy!r}"))
    if web.trusted_header and not web.trusted_proxies:
        problems.append(Problem("web.trusted_header",
                                "cần web.trusted_proxies: nếu không, ai cũng gửi được tiêu đề này"))
    if web.trusted_header and not web.trusted_header_secret_env:
        problems.append(Problem("web.trusted_header",
                                "cần web.trusted_header_secret_env: nếu không, một chương trình trên máy này "
                                "cũng gửi được tiêu đề này"))
    if need_secrets and web.trusted_header and web.trusted_header_secret_env \
            and len(environ.get(web.trusted_header_secret_env, "")) < 32:
        problems.append(Problem("web.trusted_header_secret_env", f"biến môi trường "
                                f"{web.trusted_header_secret_env} chưa đặt hoặc ngắn hơn 32 ký tự"))
    if web.secret_key_env and len(environ.get(web.secret_key_env, "")) < 32:
        problems.append(Problem("web.secret_key_env",
                                f"biến môi trường {web.secret_key_env} chưa đặt hoặc ngắn hơn 32 ký tự"))


def _check_junk(settings: Settings, environ: dict[str, str], problems: list[Problem]) -> None:
    junk = settings.junk
    if junk.trust_headers and not settings.mailbox.trusted_hosts:
        problems.append(Problem("junk.trust_headers",
                                "cần [mailbox] trusted_authserv_id (hoặc trusted_received_by): không biết dòng "
                                "Received của máy chủ nhận thư thì ai cũng viết được kết luận lọc thư rác"))
    if junk.rspamd_url:
        from urllib.parse import urlsplit

        parts = urlsplit(junk.rspamd_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(Problem("junk.rspamd_url", f"phải viết dạng http(s)://máy:cổng, không phải "
                                                       f"{junk.rspamd_url!r}"))
        elif parts.scheme == "http" and not _is_loopback(parts.hostname):
            problems.append(Problem("junk.rspamd_url",
                                    "http gửi mọi thư không mã hóa; dùng địa chỉ trên chính máy này (loopback) "
                                    "hoặc https"))
    if junk.rspamd_password_env and not environ.get(junk.rspamd_password_env):
        problems.append(Problem("junk.rspamd_password_env",
                                f"biến môi trường {junk.rspamd_password_env} chưa đặt hoặc rỗng"))


def _without(data: dict[str, Any], locations: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A copy of the parsed TOML with the values at ``locations`` removed (defaults take their place)."""
    import copy

    rest = copy.deepcopy(data)
    for loc in locations:
        node: Any = rest
        for part in loc[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(loc[-1], None)
    return rest


def _apply_database_password(settings: Settings, environ: dict[str, str]) -> None:
    password = environ.get("TDC_DATABASE_PASSWORD")
    url = settings.database.url
    if password and url.startswith("postgresql") and "@" in url:
        from sqlalchemy.engine import make_url

        settings.database.url = make_url(url).set(password=password).render_as_string(hide_password=False)


def load_config(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None,
                need_secrets: bool = True) -> LoadedConfig:
    """Read, validate and resolve the configuration, or raise ConfigError listing every problem.

    ``need_secrets`` False (read-only commands: status, show, review list,
    export, compile, roster) leaves the IMAP/SMTP passwords unread-if-missing:
    those commands never log in to a mail server.

    ``path`` None means: the TDC_CONFIG environment variable, else the
    embedded defaults (SQLite, local Maildir, file outbox under ./var).
    """
    env = dict(os.environ if environ is None else environ)
    if path is None:
        path = env.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    source = EMBEDDED
    raw: bytes | None = None
    if path is not None:
        source = str(path)
        try:
            raw, data = load_toml(Path(path))
        except TomlUnreadable as exc:
            raise ConfigError(source, [Problem(exc.part, exc.reason)]) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from_validation(exc)
        # Every problem at once: check the rest of the file with the refused keys left out.
        rest = _without(data, [tuple(e["loc"]) for e in exc.errors()])
        try:
            partial = Settings.model_validate(rest)
        except ValidationError:
            raise ConfigError(source, problems) from None
        seen = {p.key for p in problems}
        problems += [p for p in _cross_checks(partial, env, need_secrets)[0] if p.key not in seen]
        raise ConfigError(source, problems) from None
    problems, imap_password, smtp_password = _cross_checks(settings, env, need_secrets)
    if problems:
        raise ConfigError(source, problems)
    _apply_database_password(settings, env)
    return LoadedConfig(settings=settings, source=source, imap_password=imap_password, smtp_password=smtp_password,
                        digest=config_digest(raw))
