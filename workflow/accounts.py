"""Coordinators' accounts for the web board: add, remove, list, check a password.

Passwords are stored only as Argon2id hashes (argon2-cffi's ``PasswordHasher``
with its defaults, which follow RFC 9106's recommendations); the hash string
carries its own parameters, so raising them later only needs ``needs_rehash``
at the next login. A password is never logged or echoed.

The e-mail address (lower-case) identifies a coordinator and is the actor the
audit log records for everything they do in the browser.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference.roster import normalise_address
from workflow.db import models

MIN_PASSWORD_LENGTH = 12


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

    The roster's rule (``reference.roster.normalise_address``, on the strict identity parser): an
    account, a contact and a sender are the same address when they are the same person's.
    """
    address = normalise_address((email or "").strip())
    if address is None:
        raise AccountError(f"Địa chỉ email không hợp lệ: {email!r}. Not an email address.")
    return address


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự. "
                           f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
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
            raise AccountError(f"Đã có tài khoản {address} (dùng --replace để đặt mật khẩu mới). "
                               f"{address} already has an account (use --replace to set a new password).")
        user.password_hash = digest
        return address, False
    session.add(models.User(email=address, password_hash=digest, created_at=models.utcnow()))
    return address, True


def remove_user(session: Session, email: str) -> bool:
    """Delete the account; its open sessions stop working at their next request. False if none."""
    address = normalise_email(email)
    user = session.scalar(select(models.User).where(models.User.email == address))
    if user is None:
        return False
    session.delete(user)
    return True


def list_users(session: Session) -> list[UserInfo]:
    return [UserInfo(u.email, u.created_at, u.last_login_at)
            for u in session.scalars(select(models.User).order_by(models.User.email))]


def user_exists(session: Session, email: str) -> bool:
    return session.scalar(select(models.User.id).where(models.User.email == email.strip().lower())) is not None


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
