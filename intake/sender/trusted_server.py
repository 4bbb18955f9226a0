"""What our own receiving server wrote on a message, told apart from what the message brought with it.

Why: every verdict the bot believes about a stranger's message — did the From
domain pass DMARC (Authentication-Results, RFC 8601), did the server's spam
filter call it junk (X-Spam-Status, X-Spamd-Result) — is a header field, and
anyone can write header fields into the mail they send. Each server on the
way prepends its trace above what it received (RFC 5321 section 4.4). Our
server's own trace is the topmost ``Received: … by <our MX>`` line (R), and
its verdicts stand where its software writes them, measured on the receiving
chain the tests run (Postfix with rspamd as milter, ``tests/test_mta_chain.py``):

* **above R**, where a verifier that prepends writes them;
* **directly below R**, the run of verdict fields a milter inserts under the
  MTA's own Received line (rspamd's Authentication-Results lands there);
* **the block of rspamd fields bound to R** by its queue id: rspamd appends
  ``X-Spamd-Result``, ``X-Rspamd-Action`` … at the end of the header block
  with ``X-Rspamd-Queue-Id`` equal to the id in R, which a sender cannot know.

That is the *stamp zone*; everything else came with the message, and a
verdict there in our server's name is a forgery sign (RFC 8601 section 5).
What position cannot tell: when the milter is down, a forged field the sender
put first stands exactly where the genuine one would. So the MX must strip
incoming fields in its own name (``docs/operations.md``, "The recommended
receiving chain"); and results that contradict each other vouch for nothing
(:func:`intake.sender.identity.aligned_pass`). No R at all means the message did not
pass our server (a file dropped into the Maildir, another route): nothing it
says about itself is believed.

Which server is ours is configuration: ``[mailbox] trusted_authserv_id`` and,
when its Received line names another host, ``[mailbox] trusted_received_by``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from intake.model import Envelope

_BY = re.compile(r"\bby\s+\[?([^\s;()\[\]]+)", re.I)
_QUEUE_ID = re.compile(r"\bid\s+([A-Za-z0-9]{4,40})\b")
# "from HELO (reverse-name [ip])" as Postfix, Exim and Sendmail write the client in their Received line.
_CLIENT = re.compile(r"^\s*from\s+(\S+)\s+\((?:([^\s\[()]+)\s+)?\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_COMMENT = re.compile(r"\([^()]*\)")
# Fields verifiers and filters write; a run of them directly below R is R's.
_VERDICT_NAMES = frozenset({"authentication-results", "arc-authentication-results", "arc-seal",
                            "arc-message-signature", "received-spf", "dkim-filter", "x-virus-scanned"})
_VERDICT_PREFIXES = ("x-spam", "x-rspamd", "x-spamd")
_RSPAMD_PREFIXES = ("x-rspamd", "x-spamd", "x-spam")


def _is_verdict(name: str) -> bool:
    return name in _VERDICT_NAMES or name.startswith(_VERDICT_PREFIXES)


@dataclass(frozen=True)
class ServerStamps:
    """The header fields our server wrote (``stamped``, top first) and those the message carried (``below``)."""

    passed_our_server: bool
    stamped: tuple[tuple[str, str], ...] = ()
    below: tuple[tuple[str, str], ...] = ()
    host: str = ""  # the host named in our server's Received line
    notes: list[str] = field(default_factory=list)
    client: tuple[str, str, str] | None = None  # (HELO, reverse name, IP) our server saw, when it wrote them

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.stamped if key == name]


def received_by(value: str) -> str:
    """The host a Received field names in its "by" clause, lower-case ("" when it names none)."""
    match = _BY.search(_COMMENT.sub(" ", value))
    return match.group(1).lower().rstrip(".") if match else ""


def _queue_id(received: str) -> str | None:
    match = _QUEUE_ID.search(_COMMENT.sub(" ", received.partition(";")[0]))
    return match.group(1) if match else None


def _rspamd_block(fields: list[tuple[str, str]], start: int, queue: str | None) -> range:
    """Indexes of the contiguous rspamd fields holding ``X-Rspamd-Queue-Id: <queue>`` (empty when there is none)."""
    if not queue:
        return range(0)
    for i in range(start, len(fields)):
        name, value = fields[i]
        if name == "x-rspamd-queue-id" and value.strip() == queue:
            low, high = i, i + 1
            while low > start and fields[low - 1][0].startswith(_RSPAMD_PREFIXES):
                low -= 1
            while high < len(fields) and fields[high][0].startswith(_RSPAMD_PREFIXES):
                high += 1
            return range(low, high)
    return range(0)


def server_stamps(env: Envelope, hosts: frozenset[str]) -> ServerStamps:
    """Split ``env``'s header fields into our server's stamp zone and the rest (see the module docstring)."""
    fields = env.fields()
    wanted = {h.lower().rstrip(".") for h in hosts if h}
    at = next((i for i, (name, value) in enumerate(fields)
               if wanted and name == "received" and received_by(value) in wanted), None)
    if at is None:
        note = (f"thư không đi qua máy chủ nhận thư ({', '.join(sorted(wanted))}): không thấy dòng ghi vết của máy "
                "chủ, nên không tin kết quả kiểm tra nào ghi trong thư") if wanted else ""
        return ServerStamps(False, (), tuple(fields), "", [note] if note else [])
    run_end = at + 1
    while run_end < len(fields) and _is_verdict(fields[run_end][0]):
        run_end += 1
    block = _rspamd_block(fields, run_end, _queue_id(fields[at][1]))
    zone = set(range(at)) | set(range(at + 1, run_end)) | set(block)
    stamped = tuple(f for i, f in enumerate(fields) if i in zone)
    below = tuple(f for i, f in enumerate(fields) if i not in zone and i != at)
    client = _CLIENT.match(fields[at][1])
    seen = (client.group(1), client.group(2) or "", client.group(3)) if client else None
    return ServerStamps(True, stamped, below, received_by(fields[at][1]), client=seen)


def names_server(text: str, ids: frozenset[str]) -> str | None:
    """The trusted id that ``text`` names in any disguise (case, comments, folding, a suffix), or None.

    Used on fields outside the stamp zone: a verdict there that names our
    server came with the message, which is worth telling a coordinator.
    """
    flat = re.sub(r"\s+", "", _COMMENT.sub("", text.lower()))
    raw = re.sub(r"\s+", "", text.lower())
    return next((i for i in sorted(ids) if i and (i in flat or i in raw)), None)
