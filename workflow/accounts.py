"""Coordinators' accounts for the web board: add, remove, list, check a password.

Passwords are stored only as Argon2id hashes (argon2-cffi's ``PasswordHasher``
with its defaults, which follow RFC 9106's recommendations); the hash string
carries its own parameters, so raising them later only needs ``needs_rehash``
at the next login. A password is never logged or echoed.

The e-mail address (lower-case) identifies a coordinator and is the actor the
audit log records for everything they do in the browser.

Sessions live here too, on the server (``web_sessions``): the browser's cookie
only carries a random token, so logging out, a new password or ``users
remove`` ends a session for real, even for someone who copied the cookie.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from reference.addresses import normalise_address
from workflow.db import models

MIN_PASSWORD_LENGTH = 12
# The key that signs the board's cookies, generated here unless [web] names one. Never backed up,
# never restored (workflow.operations.backup): whoever holds it could make cookies the board trusts.
SECRET_FILE = "web-secret.key"  # noqa: S105 - a file name, not a secret


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; message in Vietnamese and English."""


@dataclass(frozen=True)
class UserInfo:
    email: str
    created_at: datetime
    last_login_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "created_at": self.created_at.isoformat(),
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None}


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher  # imported here: only the board and `users add` need it

    return PasswordHasher()


def normalise_email(email: str) -> str:
    """'  Cán Bộ <A.B@Example.VN> ' -> 'a.b@example.vn'; AccountError when it is not an address.

    One rule for every address (``reference.addresses.normalise_address``, on the strict identity parser): an
    account, a contact and a sender are the same address when they are the same person's.
    """
    address = normalise_address((email or "").strip())
    if address is None:
        raise AccountError(f"Địa chỉ email không hợp lệ: {email!r}.")
    return address


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự.")
    return _hasher().hash(password)


# A real hash of a random string: checking an unknown address costs the same as a known one,
# so response times do not tell which addresses have accounts.
@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    import secrets

    return _hasher().hash(secrets.token_urlsafe(24))


def add_user(session: Session, email: str, password: str, *, replace: bool = False) -> tuple[str, bool]:
    """Create the account (or set a new password with ``replace``); returns (email, created)."""
    address = normalise_email(email)
    digest = hash_password(password)
    user = session.scalar(select(models.User).where(models.User.email == address))
    if user is not None:
        if not replace:
            raise AccountError(f"Đã có tài khoản {address} (dùng --replace để đặt mật khẩu mới).")
        user.password_hash = digest
        end_sessions(session, user.id)  # a new password logs out every browser that had the old one
        return address, False
    session.add(models.User(email=address, password_hash=digest, created_at=models.utcnow()))
    return address, True


def remove_user(session: Session, email: str) -> str:
    """Delete the account; its open sessions stop working at their next request.

    Returns the address as stored (what the coordinator typed may have had a name or capitals);
    AccountError when there is no such account.
    """
    address = normalise_email(email)
    user = session.scalar(select(models.User).where(models.User.email == address))
    if user is None:
        raise AccountError(f"Không có tài khoản {address}.")
    end_sessions(session, user.id)  # also the database's cascade; said here so it holds without one
    session.delete(user)
    return address


def list_users(session: Session) -> list[UserInfo]:
    return [UserInfo(u.email, u.created_at, u.last_login_at)
            for u in session.scalars(select(models.User).order_by(models.User.email))]


def user_exists(session: Session, email: str) -> bool:
    """Is there an account for ``email`` (in any of its written forms)?"""
    try:
        address = normalise_email(email)
    except AccountError:
        return False
    return session.scalar(select(models.User.id).where(models.User.email == address)) is not None


def verify_login(session: Session, email: str, password: str, now: datetime) -> str | None:
    """The account's e-mail when the password is right (and its last login noted), else None."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        address = normalise_email(email)
    except AccountError:
        address = ""
    user = session.scalar(select(models.User).where(models.User.email == address)) if address else None
    try:
        _hasher().verify(user.password_hash if user else _decoy_hash(), password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
    user.last_login_at = now
    return user.email


# --- sessions ----------------------------------------------------------------------------------
def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def open_session(session: Session, email: str, now: datetime, hours: float) -> str:
    """A new session for the account ``email`` (normalised); returns the token for the cookie.

    Expired sessions of everyone are swept at the same time, so the table
    holds only live ones without a scheduled job.
    """
    address = normalise_email(email)
    user = session.scalar(select(models.User).where(models.User.email == address))
    if user is None:
        raise AccountError(f"Không có tài khoản {address}.")
    session.execute(delete(models.WebSession).where(models.WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(models.WebSession(token_sha256=_token_digest(token), user_id=user.id, created_at=now,
                                  expires_at=now + timedelta(hours=hours)))
    return token


@lru_cache(maxsize=1)
def _session_user_query() -> Any:
    """Built once: every board request asks it, and building the statement cost more than running it."""
    return (select(models.User.email).join(models.WebSession, models.WebSession.user_id == models.User.id)
            .where(models.WebSession.token_sha256 == bindparam("digest"),
                   models.WebSession.expires_at > bindparam("now", type_=models.WebSession.expires_at.type)))


def session_user(session: Session, token: object, now: datetime) -> str | None:
    """The e-mail of the account a live session token belongs to, else None (ended, expired, unknown)."""
    if not isinstance(token, str) or not token:
        return None
    row = session.execute(_session_user_query(), {"digest": _token_digest(token), "now": now}).first()
    return row[0] if row else None


def end_session(session: Session, token: object) -> None:
    """Logout: the token's row goes, so the cookie is worth nothing any more, wherever a copy of it is."""
    if isinstance(token, str) and token:
        session.execute(delete(models.WebSession).where(models.WebSession.token_sha256 == _token_digest(token)))


def end_sessions(session: Session, user_id: int) -> int:
    """Every session of one account (new password, account removed); returns how many there were."""
    result = session.execute(delete(models.WebSession).where(models.WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


# --- the signing key ---------------------------------------------------------------------------
def signing_key_path(store_root: Path, configured: str | None) -> Path:
    """Where the board's cookie-signing key lives: ``[web] secret_key_file``, or one beside the store.

    One answer for the board (which reads or creates it) and for backups
    (which must leave it out, and never install one from an archive).
    """
    return Path(configured) if configured else Path(store_root) / SECRET_FILE
