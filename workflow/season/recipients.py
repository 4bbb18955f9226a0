"""Who may receive mail the bot writes in answer to a message, and how much of the message it may echo.

Anyone can write to the reporting mailbox and put any address in From or
Reply-To. Answering unchecked would let a stranger make the ministry's
address mail a third party, the bot itself, or a mail server's role
address, with text of the stranger's choosing inside. So:

* an acknowledgement goes to the From address (the one intake verified as
  far as the receiving server allows); Reply-To replaces it only when it is
  a known address of the agency or lies in the From address's domain;
* never to the bot's own addresses, machine role addresses, or an address
  the outbox has seen refused (``blocked_reason``, the one gate);
* text the sender wrote is echoed in full only to a verified contact of the
  agency; anyone else gets a short, plain, link-free quote (``short_quote``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.sender.identity import PASS, UNCHECKED, domain_of
from reference.addresses import GENERIC_MAIL_DOMAINS, is_machine_address, normalise_address
from reference.text import clip
from workflow.db import models

if TYPE_CHECKING:
    from reference.roster import Roster

QUOTE_CHARS = 60
_URL = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|\bmailto:)\S*")
_DOMAINLIKE = re.compile(r"(?i)\b[\w-]+(?:\.[\w-]+)*\.[^\W\d_][\w-]*\b")  # the last label starts with a letter
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_GAVE_UP = "gave up after"  # a transient failure that ran out of retries: the address itself may be fine
_REFUSED = "refused by the server:"


def short_quote(text: str | None, limit: int = QUOTE_CHARS) -> str:
    """Sender text made safe to echo to an unverified address: no links, no control characters, short."""
    value = _CONTROL.sub(" ", text or "")
    value = _URL.sub("[liên kết đã bỏ]", value)
    # Defang what a mail client would turn into a link (a bare domain, an address): "evil[.]example".
    value = _DOMAINLIKE.sub(lambda m: m.group().replace(".", "[.]"), value.replace("@", " [at] "))
    value = " ".join(value.split())
    return clip(value, limit)


def _bounced(session: Session, address: str) -> bool:
    """The outbox saw this address refused: a permanently failed email to it, or a refusal note naming it.

    The query reads the outbox alone, so only pending outbox rows (a refusal
    note just added to a reminder in this batch) need flushing first; the
    rest (a submission's new state, its audit line) is not flushed early, so
    recording writes them in one go with the acknowledgement that follows.
    """
    if any(isinstance(row, models.OutboxEmail) for row in (*session.new, *session.dirty, *session.deleted)):
        session.flush()
    with session.no_autoflush:
        return _refused(session, address)


def _refused(session: Session, address: str) -> bool:
    rows = session.execute(select(models.OutboxEmail.recipients, models.OutboxEmail.state,
                                  models.OutboxEmail.last_error)
                           .where((models.OutboxEmail.state == models.FAILED)
                                  | models.OutboxEmail.last_error.like(f"%{_REFUSED}%")))
    for recipients, state, error in rows:
        error = (error or "").lower()
        if _REFUSED in error and address in error:
            return True
        if state == models.FAILED and not error.startswith(_GAVE_UP) and address in [
                str(r).lower() for r in (recipients or [])]:
            return True
    return False


def blocked_reason(session: Session, address: str, own_addresses: Iterable[str]) -> str | None:
    """Why the bot must never write to ``address`` (None: it may). The one gate for every answer."""
    normal = normalise_address(address or "")
    if normal is None:
        return f"địa chỉ không hợp lệ: {address!r}"
    if normal in {a.lower() for a in own_addresses}:
        return f"{normal} là địa chỉ của chính hệ thống"
    if is_machine_address(normal):
        return f"{normal} là địa chỉ của máy chủ thư, không có người đọc"
    if _bounced(session, normal):
        return f"thư gửi tới {normal} đã bị máy chủ từ chối trước đây"
    return None


def ack_recipient(session: Session, *, from_addr: str, reply_to: Iterable[str], agency_slug: str | None,
                  year: int | None, roster: Roster, own_addresses: Iterable[str]) -> str | None:
    """The one address an answer to a message goes to, or None when no safe one exists."""
    own = frozenset(a.lower() for a in own_addresses)
    sender = normalise_address(from_addr or "")
    for candidate in list(reply_to)[:1]:
        alt = normalise_address(candidate or "")
        if alt is None or alt == sender:
            continue
        same_domain = (sender is not None and domain_of(alt) == domain_of(sender)
                       and domain_of(sender) not in GENERIC_MAIL_DOMAINS)  # two Gmail users are strangers
        trusted = same_domain or roster.speaks_for(alt, agency_slug, year)
        if trusted and blocked_reason(session, alt, own) is None:
            return alt
    if sender is not None and blocked_reason(session, sender, own) is None:
        return sender
    return None


def agency_contact(session: Session, roster: Roster, slug: str | None, year: int | None,
                   own_addresses: Iterable[str]) -> str | None:
    """A person of the agency to answer when the mail came from a device (the office copier, an e-office robot).

    A confirmed, working contact ("đầu mối" first), else an address the roster
    lists for the agency; None when the bot knows no one there.
    """
    if not slug:
        return None
    own = frozenset(a.lower() for a in own_addresses)
    rows = session.scalars(select(models.Contact).where(
        models.Contact.agency_slug == slug, models.Contact.confirmed.is_(True), models.Contact.failing.is_(False))
        .order_by(models.Contact.id))
    ranked = sorted(rows, key=lambda c: (c.role.strip().lower() != "đầu mối",))
    try:
        listed = list(roster.get(slug, year).addresses)
    except KeyError:
        listed = []
    for address in [c.email for c in ranked] + listed:
        if blocked_reason(session, address, own) is None:
            return normalise_address(address)
    return None


def is_verified_contact(msg: models.Message, address: str, roster: Roster) -> bool:
    """May this message's text be echoed in full to ``address``: the From address, a known address of the agency,
    and verified by our receiving server when verification is configured (``sender_auth`` not "pass" or
    "unchecked" means it failed). Without verification configured a known address is the best there is."""
    normal = normalise_address(address or "")
    return (msg.sender_auth in (PASS, UNCHECKED, None) and normal is not None
            and normal == normalise_address(msg.from_addr or "")
            and roster.speaks_for(normal, msg.agency_slug, msg.year))
