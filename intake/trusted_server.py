"""What our own receiving server wrote on a message, told apart from what the message brought with it.

Why: every verdict the bot believes about a stranger's message — did the From
domain pass DMARC (Authentication-Results, RFC 8601), did the server's spam
filter call it junk (X-Spam-Status, X-Spamd-Result) — is a header field, and
anyone can write header fields into the mail they send. Each server on the
way prepends its trace above what it received (RFC 5321 section 4.4), and a
receiving server stamps its verdicts next to its own Received line. So the
fields to believe are the ones **above the topmost Received line written
"by" our server**: those were added at or after our server. Everything from
that line down came with the message, and a verdict there naming our server
is a forgery sign (RFC 8601 section 5: a receiver removes or ignores such
fields). No Received line of ours at all means the message did not pass our
server (a file dropped into the Maildir, a misconfigured chain): nothing it
says about itself is believed.

Which server is ours is configuration: ``[mailbox] trusted_authserv_id`` (the
authserv-id it writes in Authentication-Results) and, when its Received line
names another host, ``[mailbox] trusted_received_by``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from intake.model import Envelope

_BY = re.compile(r"\bby\s+\[?([^\s;()\[\]]+)", re.I)
_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class ServerStamps:
    """The header fields our server wrote (``above``, top first) and those the message carried (``below``)."""

    passed_our_server: bool
    above: tuple[tuple[str, str], ...] = ()
    below: tuple[tuple[str, str], ...] = ()
    host: str = ""  # the host named in our server's Received line
    notes: list[str] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.above if key == name]


def received_by(value: str) -> str:
    """The host a Received field names in its "by" clause, lower-case ("" when it names none)."""
    match = _BY.search(_COMMENT.sub(" ", value))
    return match.group(1).lower().rstrip(".") if match else ""


def server_stamps(env: Envelope, hosts: frozenset[str]) -> ServerStamps:
    """Split ``env``'s header fields at the topmost Received line written by one of ``hosts``."""
    fields = env.fields()
    wanted = {h.lower().rstrip(".") for h in hosts if h}
    for i, (name, value) in enumerate(fields):
        if name == "received" and wanted and received_by(value) in wanted:
            return ServerStamps(True, tuple(fields[:i]), tuple(fields[i:]), received_by(value))
    note = (f"thư không đi qua máy chủ nhận thư ({', '.join(sorted(wanted))}): không thấy dòng ghi vết của máy chủ, "
            "nên không tin kết quả kiểm tra nào ghi trong thư") if wanted else ""
    return ServerStamps(False, (), tuple(fields), "", [note] if note else [])


def names_server(text: str, ids: frozenset[str]) -> str | None:
    """The trusted id that ``text`` names in any disguise (case, comments, folding, a suffix), or None.

    Used on fields that stand below our Received line: a verdict there that
    names our server came with the message, which is worth telling a coordinator.
    """
    flat = re.sub(r"\s+", "", _COMMENT.sub("", text.lower()))
    raw = re.sub(r"\s+", "", text.lower())
    return next((i for i in sorted(ids) if i and (i in flat or i in raw)), None)
