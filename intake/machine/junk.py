"""Is this message junk (spam)? The receiving server's filter, believed only where it wrote, or rspamd asked.

Why: the mailbox is public, and coordinators must not read spam. The bot does
not judge spam itself; spam filters are a craft of their own. It believes
the verdict of the filter on our own receiving server — SpamAssassin's
``X-Spam-Flag``/``X-Spam-Status`` or rspamd's ``X-Spam``/``X-Spamd-Result``/
``X-Rspamd-Action`` — only when that server wrote it (above its own Received
line, :mod:`intake.sender.trusted_server`), because a spammer writes "X-Spam-Status:
No" into every message. Mail that arrives without such a verdict may be put
to rspamd over its HTTP API (``POST /checkv2``), when one is configured.

Junk is a verdict about strangers' mail only: the caller never asks about
mail from an agency's address or domain, or about the programme, because a
known agency's report is never junk.
"""
from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from intake.sender.trusted_server import ServerStamps
from reference.numbers import vn_number

log = logging.getLogger(__name__)

SPAMASSASSIN = "spamassassin"
RSPAMD = "rspamd"
_SA_STATUS = re.compile(r"^\s*(yes|no)\b(?:.*?\bscore=(-?[\d.]+))?(?:.*?\brequired=(-?[\d.]+))?", re.I | re.S)
_SPAMD_RESULT = re.compile(r"\b(true|false)\s*\[\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)\s*\]", re.I)
_MAX_RESPONSE = 1024 * 1024


@dataclass(frozen=True)
class JunkVerdict:
    """One filter's answer: junk or not, with what it said (for the coordinator's "why")."""

    junk: bool
    source: str  # "spamassassin (máy chủ nhận thư)", "rspamd (máy chủ nhận thư)", "rspamd"
    score: float | None = None
    threshold: float | None = None
    action: str | None = None

    @property
    def reason(self) -> str:
        said = f"điểm {_num(self.score)}" if self.score is not None else ""
        if self.threshold is not None:
            said += f"/{_num(self.threshold)}"
        if self.action:
            said += (", " if said else "") + f"hành động: {self.action}"
        verdict = "thư rác" if self.junk else "không phải thư rác"
        return f"bộ lọc thư rác {self.source}: {verdict}" + (f" ({said})" if said else "")


def _num(value: float | None) -> str:
    return vn_number(round(value, 2)) if value is not None else "?"


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _spamassassin(stamps: ServerStamps) -> JunkVerdict | None:
    status = stamps.values("x-spam-status")
    flag = stamps.values("x-spam-flag")
    if status:
        match = _SA_STATUS.match(status[0])
        if match:
            return JunkVerdict(match.group(1).lower() == "yes", "SpamAssassin (máy chủ nhận thư)",
                               _float(match.group(2)), _float(match.group(3)))
    if flag:
        return JunkVerdict(flag[0].strip().lower() == "yes", "SpamAssassin (máy chủ nhận thư)")
    return None


RSPAMD_JUNK_ACTIONS = frozenset({"reject", "add header", "rewrite subject"})


def _rspamd(stamps: ServerStamps) -> JunkVerdict | None:
    """rspamd's verdict: its action decides (its "default: True/False" follows the reject threshold only)."""
    action = (stamps.values("x-rspamd-action") or [""])[0].strip().lower() or None
    match = next((m for v in stamps.values("x-spamd-result") if (m := _SPAMD_RESULT.search(v))), None)
    score, threshold = (_float(match.group(2)), _float(match.group(3))) if match else (None, None)
    flag = (stamps.values("x-spam") or [""])[0].strip().lower()
    if action:
        junk = action in RSPAMD_JUNK_ACTIONS
    elif flag:
        junk = flag == "yes"
    elif match:
        junk = match.group(1).lower() == "true"
    else:
        return None
    return JunkVerdict(junk, "rspamd (máy chủ nhận thư)", score, threshold, action)


def header_verdict(stamps: ServerStamps, trust: frozenset[str]) -> JunkVerdict | None:
    """The verdict a trusted filter wrote above our server's Received line, or None."""
    if not stamps.passed_our_server:
        return None
    for name, read in ((SPAMASSASSIN, _spamassassin), (RSPAMD, _rspamd)):
        if name in trust and (verdict := read(stamps)) is not None:
            return verdict
    return None


@dataclass(frozen=True)
class RspamdClient:
    """rspamd's HTTP API: the message goes in, a JSON verdict comes back; nothing from the message is followed."""

    url: str
    timeout: float = 10.0
    password: str | None = None
    junk_actions: frozenset[str] = RSPAMD_JUNK_ACTIONS

    def check(self, raw: bytes, sender: str = "", recipient: str = "",
              client: tuple[str, str, str] | None = None) -> JunkVerdict | None:
        """rspamd's verdict, or None when it cannot be asked (down, slow, an odd answer): never junk by default.

        ``client`` is the (HELO, reverse name, IP) our receiving server recorded,
        when it did: rspamd judges a message far better knowing where it came from.
        """
        headers = {"Content-Type": "application/octet-stream"}
        if self.password:
            headers["Password"] = self.password
        if sender:
            headers["From"] = sender
        if recipient:
            headers["Rcpt"] = recipient
        if client is not None:
            helo, hostname, ip = client
            headers.update({"Helo": helo, "IP": ip, **({"Hostname": hostname} if hostname else {})})
        # the configured rspamd, which workflow.settings accepts only as http(s)://host:port
        url = self.url.rstrip("/") + "/checkv2"
        request = urllib.request.Request(url, data=raw, headers=headers, method="POST")  # noqa: S310
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an environment proxy
        try:
            with opener.open(request, timeout=self.timeout) as response:
                answer = json.loads(response.read(_MAX_RESPONSE))
        except (urllib.error.URLError, OSError, ValueError, TimeoutError) as exc:
            log.warning("rspamd at %s could not be asked: %s", self.url, exc)
            return None
        if not isinstance(answer, dict) or not isinstance(answer.get("action"), str):
            return None
        action = answer["action"].strip().lower()
        score = answer.get("score")
        required = answer.get("required_score")
        return JunkVerdict(action in self.junk_actions, "rspamd",
                           float(score) if isinstance(score, (int, float)) else None,
                           float(required) if isinstance(required, (int, float)) else None, action)
