"""`tdc-bot doctor`: is this installation able to do its job, and if not, what exactly to fix.

Every check talks to the real thing (log in to IMAP and SMTP, connect to the
database, write a file in the store) because a configuration that validates
can still be useless: a rotated password, an expired certificate, a
firewall. Each failure is mapped to the one action that fixes it, in the
operators' language. The doctor only looks: it never migrates the database,
never creates the store, never reads or sends mail. No password appears in
its output (every text is scrubbed of the configured secrets).
"""
from __future__ import annotations

import imaplib
import os
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from reference.time import VN, vn_date, vn_timestamp, zone
from workflow.settings import ConfigError, LoadedConfig, MailboxConfig, SmtpConfig, load_config

OK = "OK"
FAIL = "LỖI"
WARN = "CHÚ Ý"
UPGRADE_HINT = "chạy `tdc-bot db upgrade`"
NET_TIMEOUT = 15.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, LỖI or CHÚ Ý (a warning: reported, does not fail the run)
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAIL


def _ok(name: str, detail: str) -> Check:
    return Check(name, OK, detail)


def _fail(name: str, detail: str) -> Check:
    return Check(name, FAIL, detail)


# -- configuration and data -----------------------------------------------------------------


def check_data(loaded: LoadedConfig) -> list[Check]:
    from reference.campaigns import CampaignError, load_campaigns
    from reference.roster import RosterError, load_roster

    s = loaded.settings
    checks = []
    try:
        roster = load_roster(Path(s.roster_dir) if s.roster_dir else None)
        checks.append(_ok("danh sách đơn vị", f"{len(roster.all())} đơn vị"))
    except RosterError as exc:
        checks.append(_fail("danh sách đơn vị", f"{exc}: sửa tệp trong config/roster/"))
    try:
        campaigns = load_campaigns(Path(s.campaigns_file) if s.campaigns_file else None)
        years = sorted(campaigns)
        checks.append(_ok("chiến dịch", f"các năm {', '.join(map(str, years))}" if years else "chưa có năm nào"))
    except CampaignError as exc:
        checks.append(_fail("chiến dịch", f"{exc}: sửa config/campaigns.toml"))
    return checks


def check_sender_verification(loaded: LoadedConfig) -> Check:
    """Without a trusted receiving server, anyone can write in an agency's name and the bot cannot tell."""
    name = "xác thực người gửi"
    ids = loaded.settings.mailbox.trusted_authserv_ids
    if ids:
        return _ok(name, f"tin kết quả Authentication-Results của {', '.join(sorted(ids))}")
    return Check(name, WARN, "người gửi chưa được xác thực: ai cũng có thể gửi thư nhân danh địa chỉ của một "
                             "đơn vị, và thư đó được tính là báo cáo của đơn vị (chỉ ghi chú 'chưa xác thực'); "
                             "đặt [mailbox] trusted_authserv_id = authserv-id của máy chủ nhận thư "
                             "(từ đầu tiên của tiêu đề Authentication-Results mà máy chủ đó thêm vào)")


def check_junk_filter(loaded: LoadedConfig) -> Check:
    """Without a spam filter, spam is recorded as ordinary mail and coordinators see it."""
    name = "bộ lọc thư rác"
    junk = loaded.settings.junk
    trusted = ", ".join(junk.trust_headers)
    if junk.rspamd_url:
        import urllib.error
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(junk.rspamd_url.rstrip("/") + "/ping", timeout=min(junk.timeout, 5)) as answer:
                answer.read(64)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return _fail(name, f"không hỏi được rspamd tại {junk.rspamd_url}: {exc}; thư vẫn được nhận, "
                               "nhưng không lọc thư rác cho đến khi rspamd chạy lại")
        return _ok(name, f"hỏi rspamd tại {junk.rspamd_url}" + (f"; tin phán quyết {trusted} của máy chủ nhận thư"
                                                                 if trusted else ""))
    if trusted:
        return _ok(name, f"tin phán quyết {trusted} của máy chủ nhận thư "
                         f"({', '.join(sorted(loaded.settings.mailbox.trusted_hosts))})")
    return Check(name, WARN, "chưa có bộ lọc thư rác: thư rác được ghi như thư thường và hiện cho cán bộ xem; "
                             "đặt [junk] rspamd_url (rspamd trên máy này) "
                             "hoặc trust_headers (bộ lọc của máy chủ nhận thư)")


def check_campaign_year(loaded: LoadedConfig, now: datetime) -> Check:
    from reference.campaigns import CampaignError, load_campaigns

    s = loaded.settings
    year = now.astimezone(VN).year
    try:
        campaigns = load_campaigns(Path(s.campaigns_file) if s.campaigns_file else None)
    except CampaignError:
        return Check("chiến dịch năm nay", WARN, "không kiểm tra được (tệp chiến dịch lỗi, xem trên)")
    campaign = campaigns.get(year)
    if campaign is None:
        return Check("chiến dịch năm nay", WARN,
                     f"chưa có chiến dịch năm {year}: thêm một khối [[campaign]] year = {year} vào "
                     "config/campaigns.toml")
    deadline = vn_date(campaign.deadline)
    dispatch = f"công văn {campaign.dispatch}, " if campaign.dispatch else "chưa có số công văn, "
    return _ok("chiến dịch năm nay", f"năm {year}: {dispatch}hạn {deadline}")


# -- database -------------------------------------------------------------------------------


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never print a URL we could not parse
        return "(URL không đọc được)"


def check_database(url: str) -> list[Check]:
    """Reachable, then current. Uses a plain engine: no pragmas, no migration, nothing written."""
    from workflow.db.engine import pending_migrations

    shown = _redact(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return [_fail("cơ sở dữ liệu", f"{shown}: SQLite trong bộ nhớ mất hết dữ liệu khi dừng: dùng một tệp")]
        if not Path(parsed.database).is_file():
            return [_fail("cơ sở dữ liệu", f"chưa có tệp {parsed.database}: {UPGRADE_HINT} để tạo")]
        engine = create_engine(url, connect_args={"timeout": 10})
    else:
        engine = create_engine(url, connect_args={"connect_timeout": int(NET_TIMEOUT)}, pool_pre_ping=True)
    try:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            said = str(getattr(exc, "orig", exc)).strip()
            reason = said.splitlines()[0] if said else type(exc).__name__
            return [_fail("cơ sở dữ liệu", f"không kết nối được {shown} ({reason}): kiểm tra database.url, "
                                             "máy chủ PostgreSQL và TDC_DATABASE_PASSWORD")]
        checks = [_ok("cơ sở dữ liệu", f"kết nối được {shown}")]
        try:
            pending = pending_migrations(engine)
        except SQLAlchemyError as exc:
            return checks + [_fail("lược đồ cơ sở dữ liệu",
                                   f"không đọc được phiên bản lược đồ ({type(exc).__name__}): {UPGRADE_HINT}")]
        if pending:
            checks.append(_fail("lược đồ cơ sở dữ liệu",
                                f"chưa cập nhật, thiếu {len(pending)} bước ({', '.join(reversed(pending))}): "
                                f"{UPGRADE_HINT}"))
        else:
            checks.append(_ok("lược đồ cơ sở dữ liệu", "đã ở phiên bản mới nhất"))
        return checks
    finally:
        engine.dispose()


def check_contacts(loaded: LoadedConfig, now: datetime) -> Check:
    """How many agencies owing this season's report have no confirmed contact to remind (a warning)."""
    from workflow.app import App
    from workflow.season.reminders import OWING_STATES, reminder_recipients, season_year
    from workflow.season.status import season_status

    name = "danh bạ liên hệ"
    app = App(loaded, migrate=False)
    try:
        year = season_year(app.campaigns, now)
        if year is None:
            return _ok(name, "chưa có đợt báo cáo nào mở")
        with app.db.sessions() as session:
            owing = [r for r in season_status(session, app.roster_base, year) if r.state in OWING_STATES]
            found = reminder_recipients(session, app.roster_base, [r.agency for r in owing], year,
                                        app.staff_addresses(year), app.settings.reminders)
    except Exception as exc:  # noqa: BLE001 - the doctor reports, it never crashes
        return Check(name, WARN, f"không kiểm tra được ({type(exc).__name__})")
    finally:
        app.close()
    missing = [r.name for r in owing if not found[r.agency].to]
    if not missing:
        return _ok(name, f"năm {year}: cả {len(owing)} đơn vị còn nợ báo cáo đều có liên hệ đã xác nhận")
    shown = ", ".join(missing[:5]) + ("…" if len(missing) > 5 else "")
    return Check(name, WARN, f"năm {year}: {len(missing)}/{len(owing)} đơn vị còn nợ báo cáo "
                             "chưa có liên hệ đã xác nhận "
                             f"({shown}): nhập danh bạ bằng `tdc-bot contacts import TỆP`")


# -- folders --------------------------------------------------------------------------------


def check_writable(name: str, folder: str | os.PathLike[str]) -> Check:
    """Create and delete a temporary file; a missing folder is fine if its parent lets us create it."""
    path = Path(folder)
    if not path.exists():
        parent = path
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return _ok(name, f"{path} chưa có, sẽ được tạo khi chạy")
        return _fail(name,
                     f"{path} chưa có và không tạo được trong {parent}: tạo thư mục và cấp quyền ghi cho người dùng "
                     "chạy dịch vụ")
    if not path.is_dir():
        return _fail(name, f"{path} không phải thư mục: sửa đường dẫn trong cấu hình")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tdc-doctor-", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return _fail(name,
                     f"không ghi được vào {path} ({exc.strerror or exc}): cấp quyền ghi cho người dùng chạy dịch vụ")
    return _ok(name, f"ghi được vào {path}")


def check_folders(loaded: LoadedConfig) -> list[Check]:
    s = loaded.settings
    checks = [check_writable("thư mục lưu trữ", s.storage.path)]
    if s.mailbox.source == "maildir":
        checks.append(check_writable("hộp thư Maildir", s.mailbox.maildir))
    if s.smtp.transport == "file":
        checks.append(check_writable("thư mục thư đi", s.smtp.outbox_dir))
    return checks


# -- mail servers ---------------------------------------------------------------------------


def _secret_hint(section: str, creds: MailboxConfig | SmtpConfig) -> str:
    if creds.password_env:
        return f"kiểm tra biến môi trường {creds.password_env}"
    if creds.password_file:
        return f"kiểm tra tệp {creds.password_file}"
    return f"đặt {section}.password_env"


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "bị từ chối kết nối"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "hết thời gian chờ"
    if isinstance(exc, socket.gaierror):
        return "không tìm thấy tên máy"
    return f"{type(exc).__name__}: {exc}"


def imap_unreachable(host: str, port: int, reason: str) -> str:
    return f"không kết nối được tới máy chủ IMAP {host}:{port} ({reason}): kiểm tra mailbox.host và mailbox.port"


def smtp_unreachable(host: str, port: int, reason: str) -> str:
    return f"không kết nối được tới máy chủ SMTP {host}:{port} ({reason}): kiểm tra smtp.host và smtp.port"


def check_imap(mb: MailboxConfig, password: str | None) -> Check:
    """Connect with the configured TLS, log in, select the folder, log out."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError, LoginError
    from imapclient.imapclient import SocketTimeout

    name = "IMAP"
    port = mb.effective_port
    context = ssl.create_default_context(cafile=mb.ca_file) if mb.security != "none" else None
    timeout = SocketTimeout(connect=min(mb.timeout, NET_TIMEOUT), read=min(mb.timeout, NET_TIMEOUT))
    try:
        client = IMAPClient(mb.host, port=port, ssl=mb.security == "ssl",
                            ssl_context=context if mb.security == "ssl" else None, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        return _fail(name, f"chứng chỉ TLS không hợp lệ: cấu hình ca_file (mailbox.ca_file) — {exc.verify_message}")
    except OSError as exc:
        return _fail(name, imap_unreachable(mb.host, port, _network_reason(exc)))
    try:
        try:
            if mb.security == "starttls":
                client.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            return _fail(name, f"chứng chỉ TLS không hợp lệ: cấu hình ca_file (mailbox.ca_file) — {exc.verify_message}")
        except (IMAPClientError, OSError) as exc:
            return _fail(name, f"{mb.host}:{port} không nâng cấp được lên TLS (STARTTLS: {exc}): đổi mailbox.security")
        try:
            if (password or "").isascii():
                client.login(mb.username, password or "")
            else:
                client.plain_login(mb.username, password or "")
        except (LoginError, imaplib.IMAP4.error):
            return _fail(name, f"sai mật khẩu IMAP cho {mb.username}: {_secret_hint('mailbox', mb)}")
        try:
            info = client.select_folder(mb.folder, readonly=True)
        except (IMAPClientError, imaplib.IMAP4.error) as exc:
            return _fail(name, f"không mở được thư mục {mb.folder!r} ({exc}): kiểm tra mailbox.folder")
        count = int(info.get(b"EXISTS", 0))
        return _ok(name, f"đăng nhập {mb.username}@{mb.host}:{port} ({mb.security}), thư mục {mb.folder}: {count} thư")
    except OSError as exc:
        return _fail(name, imap_unreachable(mb.host, port, _network_reason(exc)))
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the check's answer is already known
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001, S110 - the connection is being dropped anyway
                pass


def check_smtp(cfg: SmtpConfig, password: str | None) -> Check:
    """Connect, STARTTLS or implicit TLS as configured, log in, quit. Nothing is sent."""
    name = "SMTP"
    port = cfg.effective_port
    timeout = min(cfg.timeout, NET_TIMEOUT)
    context = ssl.create_default_context(cafile=cfg.ca_file)
    client: smtplib.SMTP | None = None
    try:
        if cfg.security == "ssl":
            client = smtplib.SMTP_SSL(cfg.host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(cfg.host, port, timeout=timeout)
            if cfg.security == "starttls":
                client.ehlo()
                if not client.has_extn("starttls"):
                    return _fail(name,
                                 f"{cfg.host}:{port} không hỗ trợ STARTTLS: đổi smtp.security thành \"ssl\" hoặc sửa "
                                 "máy chủ")
                client.starttls(context=context)
                client.ehlo()
        if cfg.username:
            client.login(cfg.username, password or "")
        who = f"đăng nhập {cfg.username}" if cfg.username else "không đăng nhập"
        return _ok(name, f"{cfg.host}:{port} ({cfg.security}), {who}")
    except smtplib.SMTPAuthenticationError:
        return _fail(name, f"sai mật khẩu SMTP cho {cfg.username}: {_secret_hint('smtp', cfg)}")
    except ssl.SSLCertVerificationError as exc:
        return _fail(name, f"chứng chỉ TLS không hợp lệ: cấu hình ca_file (smtp.ca_file) — {exc.verify_message}")
    except smtplib.SMTPNotSupportedError:
        return _fail(name, f"{cfg.host}:{port} không cho đăng nhập (AUTH): kiểm tra smtp.security và smtp.username")
    except smtplib.SMTPException as exc:
        return _fail(name, f"máy chủ SMTP {cfg.host}:{port} trả lỗi: {exc}")
    except OSError as exc:
        return _fail(name, smtp_unreachable(cfg.host, port, _network_reason(exc)))
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


# -- clock ----------------------------------------------------------------------------------


def check_clock(timezone_name: str, now: datetime) -> Check:
    name = "đồng hồ và múi giờ"
    try:
        schedule_zone = zone(timezone_name)  # Asia/Ho_Chi_Minh itself is reference.time.VN, built at import
    except ValueError:
        return _fail(name, f"không có múi giờ {timezone_name!r} trên máy: cài gói tzdata (pip install tzdata)")
    if now.year < 2024:
        return _fail(name, f"đồng hồ hệ thống sai (năm {now.year}): bật đồng bộ giờ (timedatectl set-ntp true)")
    local = vn_timestamp(now)
    extra = "" if timezone_name == "Asia/Ho_Chi_Minh" else f"; lịch chạy theo múi giờ {schedule_zone.key}"
    return _ok(name, f"bây giờ là {local} (Asia/Ho_Chi_Minh){extra}")


# -- all ------------------------------------------------------------------------------------


def _scrubber(secrets: list[str | None]) -> Callable[[str], str]:
    """Mask a secret where it stands as a value of its own, never inside other words.

    Replacing the password's text everywhere turned "mailbox.host" into
    "mailbo***.host" for the password "x" -- which told the reader the
    password. A secret is masked only as a whole field: delimited by the
    start or end of the text, whitespace, quotes, or the separators of
    URLs and key=value pairs (``: @ / = , ; ( )``). The database URL is
    shown with its password field masked structurally (``_redact``).
    """
    import re

    values = sorted({s for s in secrets if s}, key=len, reverse=True)
    edge = r"""[\s'"`:@/=,;()<>\[\]]"""
    patterns = [re.compile(rf"(?:(?<={edge})|^){re.escape(v)}(?=(?:{edge})|$)") for v in values]

    def scrub(textual: str) -> str:
        for pattern in patterns:
            textual = pattern.sub("***", textual)
        return textual

    return scrub


def run_checks(config_path: str | None, now: datetime | None = None,
               environ: dict[str, str] | None = None) -> list[Check]:
    """All checks in the order an operator fixes things; stops after a configuration failure."""
    now = now or datetime.now(UTC)
    try:
        loaded = load_config(config_path, environ=environ)
    except ConfigError as exc:
        return [_fail("cấu hình", str(exc).replace("\n", " | "))]
    s = loaded.settings
    checks = [_ok("cấu hình", loaded.source)]
    checks += check_data(loaded)
    checks += check_database(s.database.url)
    checks += check_folders(loaded)
    if s.mailbox.source == "imap":
        checks.append(check_imap(s.mailbox, loaded.imap_password))
    if s.smtp.transport == "smtp":
        checks.append(check_smtp(s.smtp, loaded.smtp_password))
    checks.append(check_clock(s.schedule.timezone, now))
    checks.append(check_campaign_year(loaded, now))
    checks.append(check_sender_verification(loaded))
    checks.append(check_junk_filter(loaded))
    if not any(c.failed for c in checks if c.name.startswith(("cơ sở dữ liệu", "lược đồ", "danh sách", "chiến dịch"))):
        checks.append(check_contacts(loaded, now))
    db_password = make_url(s.database.url).password if "@" in s.database.url else None
    scrub = _scrubber([loaded.imap_password, loaded.smtp_password, str(db_password) if db_password else None])
    return [Check(c.name, c.status, scrub(c.detail)) for c in checks]
