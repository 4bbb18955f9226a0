"""Every key the configuration file may hold, as plain data (standard library only).

Why a copy of what ``workflow.settings`` declares: the command line's fast
lane (``interfaces.cli.fast_lane``) reads the file without importing pydantic,
and must still not run on a file with a misspelt or unknown key; it hands
such a file to the full validation, which names the key and the reason.
``tests/test_fast_lane.py`` checks this table against the Settings model, so
a key added there and forgotten here fails the suite.
"""

from __future__ import annotations

CONFIG_ENV = "TDC_CONFIG"  # the configuration file when --config is not given
DEFAULT_DATABASE_URL = "sqlite:///var/tdc.db"  # [database] url of the embedded defaults
DEFAULTS_NOTED = "var/.cau-hinh-mac-dinh"  # written once the embedded defaults' notice has been shown


def defaults_notice(cwd: str = ".") -> str | None:
    """The one-time notice that no configuration file is in use and where the data goes; None after the first time.

    A person who types ``tdc-bot status`` on a fresh machine must learn once
    that the bot keeps everything under ./var (and how to point it elsewhere),
    not be told so on every command.
    """
    import os

    marker = os.path.join(cwd, DEFAULTS_NOTED)
    if os.path.exists(marker):
        return None
    try:
        os.makedirs(os.path.dirname(marker), mode=0o750, exist_ok=True)
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write("tdc-bot đã báo dùng cấu hình mặc định\n")
    except OSError:
        pass  # a read-only folder: say it every time rather than never
    where = os.path.abspath(os.path.join(cwd, "var"))
    return (f"Chưa có tệp cấu hình (--config TỆP hoặc biến {CONFIG_ENV}): dùng cấu hình mặc định, dữ liệu lưu trong "
            f"{where} (cơ sở dữ liệu tdc.db, hộp thư mail/, kho thư store/, thư đi outbox/). Mẫu cấu hình: "
            "config/tdc.example.toml.")

SECTIONS: dict[str, frozenset[str]] = {
    "database": frozenset({"url"}),
    "storage": frozenset({"path"}),
    "limits": frozenset(
        {
            "max_attachments",
            "max_doc_chars",
            "max_doc_pages",
            "max_doc_seconds",
            "max_header_lines",
            "max_message_mb",
            "max_open_multiparts",
            "max_body_line_checks",
            "max_page_megapixels",
            "max_part_mb",
            "max_parts",
            "max_zip_members",
            "max_zip_total_mb",
            "message_memory_mb",
            "message_seconds",
        }
    ),
    "mailbox": frozenset(
        {
            "allow_insecure",
            "batch_size",
            "ca_file",
            "cycle_limit",
            "folder",
            "host",
            "idle",
            "maildir",
            "password_env",
            "password_file",
            "poll_seconds",
            "port",
            "processed_folder",
            "processed_keyword",
            "security",
            "source",
            "timeout",
            "trusted_authserv_id",
            "trusted_received_by",
            "username",
        }
    ),
    "smtp": frozenset(
        {
            "allow_insecure",
            "backoff_seconds",
            "ca_file",
            "from",
            "from_",
            "host",
            "max_attempts",
            "max_per_recipient_per_day",
            "max_stranger_acks_per_hour",
            "outbox_dir",
            "password_env",
            "password_file",
            "port",
            "reply_to",
            "security",
            "timeout",
            "transport",
            "username",
        }
    ),
    "coordinators": frozenset({"emails"}),
    "schedule": frozenset({"digest_time", "lease_seconds", "outbox_seconds", "reminder_time", "timezone"}),
    "classifier": frozenset({"review_threshold"}),
    "reminders": frozenset(
        {
            "cc_others",
            "days_before",
            "enabled",
            "firm_within_days",
            "late_every_days",
            "late_until_days",
            "on_deadline_day",
            "to_roles",
        }
    ),
    "web": frozenset(
        {
            "enabled",
            "host",
            "login_attempts",
            "login_delay_seconds",
            "login_window_minutes",
            "port",
            "secret_key_env",
            "secret_key_file",
            "session_hours",
            "trusted_header",
            "trusted_header_secret_env",
            "trusted_proxies",
        }
    ),
    "junk": frozenset({"rspamd_junk_actions", "rspamd_password_env", "rspamd_url", "timeout", "trust_headers"}),
}
TOP_LEVEL: frozenset[str] = frozenset({"roster_dir", "campaigns_file"})
