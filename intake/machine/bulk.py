"""Mail sent to many, or by software on nobody's behalf: lists, trackers, newsletters and notices.

Why a module of its own: none of this is an answer to the bot or a report,
and answering it either mails a whole list or talks to a robot; but unlike a
bounce it says nothing about an address's health. Three families, each
recognised the way the software that sends it marks it:

* **list mail**, by every list header in use: RFC 2369 ``List-*``, RFC 2919
  ``List-Id``, ezmlm's ``Mailing-List:`` and its ``Delivered-To: mailing
  list …``, Mailman's ``X-BeenThere``, ``X-Mailing-List``, and list senders
  (``owner-…``, ``…-request``, ``…-bounces``);
* **tracker notices** from bug trackers and help desks (Debian BTS, RT,
  Redmine, Bugzilla, Jira, GitHub, GitLab, Trac, Launchpad, OTRS, Zendesk…),
  by the headers each writes on every notice;
* **newsletters and transactional notices** sent without list headers, by a
  score: the bulk-mail service's own headers alone are enough, weaker signs
  (a bounce-processing return path, ``Errors-To``, an unsubscribe footer,
  "do not reply") must add up.

What protects a report from all of this is decided by the caller
(:func:`intake.machine.guards.check`'s ``protected``): mail from an agency's own
address or domain, or about the programme, is never set aside here.
"""
from __future__ import annotations

import re

from intake.message.headers import first_token
from intake.model import Envelope
from reference.text import clip, words

LIST_REASON = "thư từ danh sách gửi thư"
TRACKER_REASON = "thông báo tự động của hệ thống theo dõi công việc"
NEWSLETTER_REASON = "bản tin hoặc thông báo gửi hàng loạt"

_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "list-subscribe", "list-owner",
                 "list-archive", "mailing-list", "x-mailing-list", "x-beenthere", "x-mailman-version", "x-ml-name",
                 "x-list", "x-listmember", "x-list-id")
_LIST_PRECEDENCE = ("list", "bulk", "junk")
_LIST_SENDER = re.compile(r"^(owner-.+|.+-(request|owner|bounces?|admin)(\+.*)?)@", re.I)
_EZMLM_DELIVERED = re.compile(r"^\s*mailing list\s", re.I)
# Hosts that send only list mail: a From there is a list's, whoever signed the post.
_LIST_HOSTS = re.compile(r"@(yahoogroups\.com|googlegroups\.com|groups\.io|freelists\.org|topica\.com|"
                         r"egroups\.com|lists?\.[a-z0-9.-]+)$", re.I)

# Header-name prefixes a tracker or help desk writes on each notice (values do not matter).
_TRACKER_PREFIXES = ("x-debian-pr-", "x-debbugs-", "rt-ticket", "rt-originator", "x-rt-loop-prevention", "x-rt-ticket",
                     "x-redmine-", "x-jira-fingerprint", "x-bugzilla-", "x-github-", "x-gitlab-", "x-trac-",
                     "x-launchpad-", "x-otrs-", "x-zendesk-", "x-freshdesk-", "x-mantis-", "x-phabricator-",
                     "x-gerrit-", "x-osticket-", "x-helpscout-", "x-youtrack-")
_TRACKER_SENDERS = re.compile(r"^(owner|submit|control|request|quiet|maintonly)@bugs\.|@(bugzilla|jira|redmine|"
                              r"trac|gitlab|github|rt|helpdesk|support-tickets?)\.", re.I)
_TRACKER_NAMES = re.compile(r"\b(bug tracking system|request tracker|issue tracker|redmine|bugzilla|jira)\b", re.I)

# Bulk-mail services' own headers: present on every campaign they send, absent from a person's mail.
_ESP_HEADERS = ("x-campaign", "x-campaignid", "x-campaign-id", "x-mc-user", "x-mailchimp-", "x-sg-eid", "x-sg-id",
                "x-mailgun-sid", "x-mailgun-variables", "x-ses-outgoing", "x-sfmc-stack", "x-mkto-", "x-rpcampaign",
                "x-jobid", "x-imn", "x-mailer-lid", "x-feedback-id", "feedback-id", "x-csa-complaints",
                "x-report-abuse", "x-abuse-reports-to", "x-emv-", "x-ems-", "x-cmae-", "x-marketo",
                "x-sendinblue-", "x-mailin-", "x-mj-", "x-pm-message-id", "x-postmark-", "x-sparkpost-", "x-msys-",
                "x-listunsubscribe", "x-bulkmail", "x-mailjet-", "x-ctct-", "x-roving-", "x-ems-stamp")
_ESP_MAILERS = re.compile(r"listmanager|lyris|mailchimp|sendgrid|mailjet|phplist|constant ?contact|campaign ?monitor|"
                          r"sendinblue|brevo|mailerlite|acumbamail|getresponse|aweber|icontact|exacttarget|"
                          r"salesforce marketing|marketo|hubspot|mailwizz|sendy|mautic|benchmark email|"
                          r"mass ?mail|bulk ?mail|newsletter|emv|eDirect|imakenews|strongmail|messagesystems|"
                          r"cheetahmail|responsys|mailgun|amazon ses|postmark|sparkpost", re.I)
_BULK_CLASS = re.compile(r"^\s*(bulk|list|newsletter|marketing|promotions?)\b", re.I)
_BULK_RETURN_LOCAL = re.compile(r"^(bounces?|bounce[-+_.=].+|.+[-+_.=]bounces?|errors?|.+-errors?|dev-null|.+-dev-null|"
                           r"return|.+[-+]return[-+].+|mailer|bulk|bulkmail|.*\d{6,}.*)$", re.I)
_AUTOMATED_LOCAL = re.compile(r"^(alerts?|news|newsletters?|notifications?|notify|updates?|marketing|promo(tions?)?|"
                              r"mailer|mailings?|announce(ments?)?|.+-announce|orders?|ship-confirm|auto-confirm|"
                              r"confirm(ations?)?|receipts?|billing|service|customer-?service|customersupport|"
                              r"member-?services|accounts?|nobody|robot|daemon|digest|offers?|deals)$", re.I)
# Folded (no diacritics, lower case): unsubscribe footers and "this is automatic" lines.
_UNSUBSCRIBE = re.compile(r"\b(unsubscribe|opt ?out|to be removed from|remove yourself|manage (your )?subscriptions?|"
                          r"update your (email )?preferences|email preferences|you are receiving this|"
                          r"you received this|this (e ?mail|message) was sent to|you are subscribed|subscription|"
                          r"abmelden|desabonner|huy dang ky|ngung nhan|tu choi nhan thu|khong muon nhan)\b")
_SUBSCRIBED = re.compile(r"\b(you (are|were) subscribed|subscribed to|"
                         r"you received this (message|e ?mail|newsletter) because|to stop receiving|is a member of|"
                         r"view (this|it) (e ?mail |message )?in (your|a) (web )?browser|"
                         r"ban nhan duoc thu nay vi|da dang ky nhan)\b")
# Receipts, shipping and account notices a shop or service sends by software.
_TRANSACTIONAL = re.compile(r"\b(your order|order (number|no|confirmation)|has (been )?(shipped|dispatched)|"
                            r"receipt for your|thank you for (your order|shopping|your purchase|your payment)|"
                            r"tracking number|travel document|itinerary|renewal order|verify your e ?mail|"
                            r"confirm your (e ?mail|account|registration)|your password|reset your password|"
                            r"account (number|statement)|invoice (number|no))\b")
_FOOTER = re.compile(r"\b(privacy policy|all rights reserved|terms of (use|service))\b")
_AUTOMATED_TEXT = re.compile(r"\b(this is an? (automated|automatic|auto generated|system generated) (message|e ?mail|"
                             r"notification)|do not reply to this|please do not reply|dont reply to this|"
                             r"replies to this (message|e ?mail) (are|will) not|this mailbox is not monitored|"
                             r"thu (duoc gui )?tu dong|vui long khong tra loi|xin dung tra loi|"
                             r"khong tra loi thu nay)\b")
_LINK = re.compile(r"https?://", re.I)
NEWSLETTER_THRESHOLD = 3
_BODY_WINDOW = 60_000


def list_reasons(env: Envelope) -> list[str]:
    """Why this is list mail (empty: it is not)."""
    reasons = [f"{name}: {clip(env.values(name)[0], 80)}" for name in _LIST_HEADERS if env.values(name)]
    reasons += [f"Precedence: {clip(v, 40)}" for v in env.values("precedence") if first_token(v) in _LIST_PRECEDENCE]
    reasons += [f"Delivered-To: {clip(v, 80)}" for v in env.values("delivered-to") if _EZMLM_DELIVERED.match(v)]
    if _LIST_HOSTS.search(env.from_addr or ""):
        reasons.append(f"người gửi thuộc máy chủ danh sách thư: {env.from_addr}")
    for name in ("sender", "errors-to", "return-path"):
        for value in env.values(name)[:3]:
            address = value.strip().strip("<>").strip()
            if _LIST_SENDER.match(address):
                reasons.append(f"{name}: {address[:80]} (địa chỉ của danh sách thư)")
                break
    return [*reasons, LIST_REASON] if reasons else []


def tracker_reasons(env: Envelope) -> list[str]:
    """Why this is a bug tracker's or help desk's notice (empty: it is not)."""
    reasons = [f"{name}: {clip(env.values(name)[0], 60)}" for name in env.headers
               if name.startswith(_TRACKER_PREFIXES)][:3]
    managed = " ".join(env.values("managed-by"))
    if re.search(r"\bRT\b|request tracker", managed):
        reasons.append(f"Managed-By: {clip(managed, 60)}")
    if _TRACKER_SENDERS.search(env.from_addr or "") or _TRACKER_NAMES.search(env.from_name or ""):
        reasons.append(f"người gửi: {(env.from_name + ' ' if env.from_name else '')}<{env.from_addr}>"[:100])
    return [*reasons, TRACKER_REASON] if reasons else []


def _local(value: str) -> str:
    return value.strip().strip("<>").strip().rpartition("@")[0].lower()


def newsletter_score(env: Envelope) -> tuple[int, list[str]]:
    """(score, reasons): how strongly the headers and text say "sent in bulk by software"."""
    score, reasons = 0, []

    def add(points: int, reason: str) -> None:
        nonlocal score
        score += points
        reasons.append(reason)

    esp = [name for name in env.headers if name.startswith(_ESP_HEADERS)]
    if esp:
        add(4, f"tiêu đề của dịch vụ gửi thư hàng loạt: {esp[0]}")
    mailer = " ".join(env.values("x-mailer") + env.values("user-agent"))
    if _ESP_MAILERS.search(mailer):
        add(4, f"X-Mailer: {clip(mailer, 60)}")
    stamped = [v for name in ("x-sbclass", "x-folder", "x-category", "x-mail-category") for v in env.values(name)
               if _BULK_CLASS.match(v)]
    if stamped:
        add(3, f"được đánh dấu gửi hàng loạt: {clip(stamped[0], 40)}")
    if env.values("errors-to"):
        add(2, "có tiêu đề Errors-To (phần mềm gửi hàng loạt)")
    for value in env.values("return-path")[:1]:
        local = _local(value)
        if local and _BULK_RETURN_LOCAL.match(local) and local != _local(env.from_addr):
            add(2, f"Return-Path xử lý thư trả lại: {clip(value, 60)}")
    if _AUTOMATED_LOCAL.match(_local(env.from_addr)):
        add(1, f"người gửi là hộp thư tự động: {env.from_addr}")
    reply_to = env.reply_to[0] if env.reply_to else ""
    if reply_to and env.from_addr and reply_to.rpartition("@")[2] != env.from_addr.rpartition("@")[2]:
        add(1, "Reply-To ở tên miền khác người gửi")
    text = words((env.text_body or env.html_body)[:_BODY_WINDOW])
    if _UNSUBSCRIBE.search(text) or _UNSUBSCRIBE.search(words(env.html_body[:_BODY_WINDOW])):
        add(2, "có hướng dẫn hủy đăng ký nhận thư")
    if _AUTOMATED_TEXT.search(text):
        add(2, "nội dung ghi là thư tự động, không trả lời")
    if _SUBSCRIBED.search(text):
        add(2, "nội dung ghi người nhận đăng ký nhận thư")
    if _TRANSACTIONAL.search(words(env.subject or "")) or _TRANSACTIONAL.search(text[:5000]):
        add(2, "thông báo giao dịch (đơn hàng, hóa đơn, tài khoản)")
    if _FOOTER.search(text[-5000:]):
        add(1, "chân thư của công ty (chính sách, bản quyền)")
    if len(_LINK.findall(env.html_body[:_BODY_WINDOW])) >= 10:
        add(1, "thư HTML nhiều liên kết")
    return score, reasons


def newsletter_reasons(env: Envelope) -> list[str]:
    """Why this is a newsletter or a transactional notice sent in bulk (empty: it is not)."""
    score, reasons = newsletter_score(env)
    return [*reasons, NEWSLETTER_REASON] if score >= NEWSLETTER_THRESHOLD else []
