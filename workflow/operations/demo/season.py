"""A realistic reporting season, made up but shaped like the real one.

Most agencies report in the last fortnight before 30/11 (one at 23:47 on
the deadline day, one 20 minutes after midnight), a few are days late,
some never report and collect reminders. Around them, the mail a real
mailbox gets: a report forwarded from a coordinator's personal Gmail, an
out-of-office reply to a reminder, a bounce, a newsletter, a programme
notice that is not a report, a report from an unknown Gmail address that
only names its province (needs a coordinator), a corrected second version.
Same seed, same season.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from reference.campaigns import Campaign
from reference.roster import Agency, Roster
from reference.time import VN
from workflow.operations.demo.documents import (
    ReportStyle,
    file_name,
    pdf_available,
    report_docx,
    report_lines,
    report_pdf,
    where,
)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class DemoMail:
    arrives: datetime  # aware, Vietnam time
    raw: bytes
    label: str  # what it is, for the replay's log
    agency: str | None = None


@dataclass(frozen=True)
class SeasonPlan:
    year: int
    opens: date
    deadline: date
    ends: date
    mails: list[DemoMail]
    participants: list[Agency]
    silent: list[Agency]  # owe a report and never send one
    # Addresses the coordinators know for silent agencies (slug -> address): the bot reminds them,
    # so the auto-reply and the bounce of the story answer reminders it really sent.
    contacts: dict[str, str] = field(default_factory=dict)


def sender_of(agency: Agency) -> str | None:
    """The address the agency's department writes from: a listed address, else its department host."""
    if agency.addresses:
        return agency.addresses[0]
    if not agency.domains:
        return None
    domain = agency.domains[0]
    return f"vanthu@{domain}" if agency.kind == "ministry" else f"vanthu@skhcn.{domain}"


def _msg(sender: str, to: str, subject: str, body: str, when: datetime,
         headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].rstrip(">") or "demo.invalid")
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg


def _cover(agency: Agency, year: int, version: str = "") -> str:
    unit = "Vụ Khoa học và Công nghệ" if agency.kind == "ministry" else "Sở Khoa học và Công nghệ"
    return (f"Kính gửi: Ủy ban Tiêu chuẩn Đo lường Chất lượng quốc gia,\n\n{unit} "
            f"{where(agency).replace('trên địa bàn ', '')} "
            f"gửi {version}báo cáo kết quả thực hiện Chương trình quốc gia hỗ trợ doanh nghiệp nâng cao năng suất và "
            f"chất lượng sản phẩm, hàng hóa năm {year} (tệp đính kèm).\n\nTrân trọng.\n")


class SeasonBuilder:
    def __init__(self, roster: Roster, campaign: Campaign, mailbox: str, agencies: int, seed: int, opens: date):
        self.roster = roster
        self.campaign = campaign
        self.year = campaign.year
        self.mailbox = mailbox
        self.count = agencies
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible demo season, nothing secret
        self.opens = opens
        self.mails: list[DemoMail] = []
        self.contacts: dict[str, str] = {}

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=VN)

    def office_time(self, day: date) -> datetime:
        return self.at(day, self.rng.randint(8, 16), self.rng.randint(0, 59))

    def report_message(self, agency: Agency, when: datetime, style: ReportStyle, sender: str | None = None,
                       subject: str | None = None, version: str = "") -> EmailMessage:
        lines = report_lines(agency, self.year, self.campaign.outline, style, self.rng,
                             day=when.day if when.month == 11 else 20, month=11)
        sender = sender or sender_of(agency) or "vanthu@example.invalid"
        unit = "Vụ KHCN" if agency.kind == "ministry" else "Sở KH&CN"
        msg = _msg(f"{unit} {agency.short_name or agency.name} <{sender}>", self.mailbox,
                   subject or f"Báo cáo kết quả thực hiện Chương trình 1322 năm {self.year} - "
                              f"{agency.short_name or agency.name}",
                   _cover(agency, self.year, version), when)
        if style.pdf and pdf_available():
            msg.add_attachment(report_pdf(lines, self.rng), maintype="application", subtype="pdf",
                               filename=file_name(agency, self.year, "pdf"))
        else:
            maintype, subtype = DOCX.split("/")
            msg.add_attachment(report_docx(lines, self.rng), maintype=maintype, subtype=subtype,
                               filename=file_name(agency, self.year, "docx"))
        return msg

    def add(self, when: datetime, msg: EmailMessage, label: str, agency: str | None = None) -> None:
        self.mails.append(DemoMail(when, msg.as_bytes(), label, agency))

    # -- the season ------------------------------------------------------------------------

    def build(self) -> SeasonPlan:
        year, deadline = self.year, self.campaign.deadline
        owing = [a for a in self.roster.owing(year) if sender_of(a)]
        if len(owing) < 8:
            raise ValueError(f"the roster has only {len(owing)} agencies with a known mail domain for {year}")
        chosen = self.rng.sample(owing, min(self.count, len(owing)))
        n_silent = max(2, len(chosen) // 8)
        silent, reporting = chosen[:n_silent], chosen[n_silent:]
        special = reporting[:5]  # forward, needs-review, late-minute, just-in-time, resubmission
        regular = reporting[5:]
        n_late = max(2, len(regular) // 10)
        late, on_time = regular[:n_late], regular[n_late:]

        for i, agency in enumerate(on_time):
            # Most arrive in the last two weeks, the rush on the last days.
            days_before = min(int(self.rng.expovariate(1 / 5)), 25)
            day = deadline - timedelta(days=days_before)
            style = ReportStyle(
                renumbered=i % 5 == 1,
                indicator_table=i % 3 == 0,
                drop=("I.2.6", "IV") if i % 4 == 2 else (("II",) if i % 11 == 7 else ()),
                pdf=i % 9 == 4,
            )
            when = self.office_time(day)
            self.add(when, self.report_message(agency, when, style),
                     "báo cáo" + (" (PDF)" if style.pdf else "") + (" đánh số riêng" if style.renumbered else ""),
                     agency.slug)
        for agency in late:
            day = deadline + timedelta(days=self.rng.randint(2, 8))
            when = self.office_time(day)
            self.add(when, self.report_message(agency, when, ReportStyle(indicator_table=True)), "báo cáo muộn",
                     agency.slug)

        fwd, review, minute_late, just_in_time, twice = special
        # A report sent to a coordinator's personal mailbox, forwarded as an attachment.
        when = self.office_time(deadline - timedelta(days=3))
        inner = self.report_message(fwd, when - timedelta(hours=20), ReportStyle())
        outer = _msg("Nguyễn Minh Hoa <hoa.nscl@gmail.com>", self.mailbox,
                     f"Fwd: Báo cáo Chương trình 1322 năm {year} - {fwd.short_name}",
                     f"Chuyển tiếp báo cáo của {fwd.short_name} gửi nhầm vào hộp thư cá nhân.", when)
        outer.add_attachment(inner)
        self.add(when, outer, "chuyển tiếp từ Gmail", fwd.slug)
        # An unknown Gmail address; only the documents say which province it is.
        when = self.office_time(deadline - timedelta(days=2))
        msg = self.report_message(review, when, ReportStyle(),
                                  sender=f"nscl.{review.slug.replace('-', '')}{year}@gmail.com",
                                  subject=f"Báo cáo năng suất chất lượng {year}")
        msg.replace_header("From", f"nscl.{review.slug.replace('-', '')}{year}@gmail.com")
        self.add(when, msg, "người gửi Gmail lạ (cần xem xét)", review.slug)
        # On the deadline day at 23:47 (on time), and 20 minutes after midnight (late).
        when = self.at(deadline, 23, 47)
        self.add(when, self.report_message(just_in_time, when, ReportStyle(indicator_table=True)),
                 "báo cáo lúc 23:47 ngày hạn", just_in_time.slug)
        when = self.at(deadline + timedelta(days=1), 0, 20)
        self.add(when, self.report_message(minute_late, when, ReportStyle()), "báo cáo lúc 00:20 sau hạn",
                 minute_late.slug)
        # A first version missing part II, then a corrected one a few days later.
        first = self.office_time(deadline - timedelta(days=9))
        self.add(first, self.report_message(twice, first, ReportStyle(drop=("II",))), "báo cáo thiếu mục II",
                 twice.slug)
        second = self.office_time(deadline - timedelta(days=5))
        self.add(second, self.report_message(twice, second, ReportStyle(indicator_table=True),
                                             subject=f"Báo cáo thay thế - Chương trình 1322 năm {year} - "
                                                     f"{twice.short_name}",
                                             version="bản thay thế "), "bản thay thế", twice.slug)

        self._machine_and_other_mail(silent, deadline)
        self.mails.sort(key=lambda m: m.arrives)
        ends = deadline + timedelta(days=10)
        return SeasonPlan(year, self.opens, deadline, ends, self.mails, reporting, silent, dict(self.contacts))

    def _machine_and_other_mail(self, silent: list[Agency], deadline: date) -> None:
        year = self.year
        first_reminder = deadline - timedelta(days=14)
        reachable = [a for a in silent if sender_of(a)] or silent
        absent, bouncing = reachable[0], reachable[1 % len(reachable)]
        for agency in (absent, bouncing):
            if sender_of(agency):
                self.contacts[agency.slug] = sender_of(agency)  # type: ignore[assignment]
        # Out-of-office answer to the first reminder: recorded, never answered.
        when = self.at(first_reminder, 8, 40)
        auto = _msg(f"{absent.short_name} <{sender_of(absent)}>", self.mailbox,
                    f"Trả lời tự động: Nhắc nộp báo cáo năm {year}",
                    "Tôi đang nghỉ phép đến hết tháng 11. Việc gấp xin liên hệ văn phòng Sở.", when,
                    {"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"})
        self.add(when, auto, "trả lời tự động", absent.slug)
        # A reminder that bounced (mailbox full).
        domain = (sender_of(bouncing) or "x@example.invalid").rpartition("@")[2]
        when = self.at(first_reminder, 8, 5)
        raw = (
            f"From: Mail Delivery System <MAILER-DAEMON@mx.{domain}>\r\n"
            f"To: {self.mailbox}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Date: {format_datetime(when)}\r\n"
            f"Message-ID: {make_msgid(domain='mx.' + domain)}\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHộp thư người nhận đã đầy.\r\n"
            f"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.{domain}\r\n\r\n"
            f"Final-Recipient: rfc822; {sender_of(bouncing)}\r\nAction: failed\r\nStatus: 5.2.2\r\n"
            "--b1--\r\n"
        ).encode()
        self.mails.append(DemoMail(when, raw, "thư báo lỗi (bounce)", bouncing.slug))
        # A newsletter and a programme notice: about the programme, not reports.
        when = self.office_time(self.opens + timedelta(days=10))
        news = _msg("Bản tin NSCL <bantin@nscl.example.vn>", self.mailbox, f"Bản tin năng suất chất lượng số 10/{year}",
                    f"Tin tức về Chương trình năng suất chất lượng năm {year} trên cả nước.", when,
                    {"List-Id": "<bantin.nscl.example.vn>", "List-Unsubscribe": "<mailto:unsubscribe@nscl.example.vn>"})
        self.add(when, news, "bản tin (mailing list)")
        notice_from = silent[-1]
        when = self.office_time(self.opens + timedelta(days=20))
        notice = _msg(f"Sở Công Thương {notice_from.short_name} "
                      f"<vanphong@{(sender_of(notice_from) or '@example.invalid').rpartition('@')[2]}>",
                      self.mailbox,
                      f"Thông báo đề xuất nhiệm vụ thuộc Chương trình năng suất chất lượng năm {year + 1}",
                      f"Sở Công Thương thông báo các doanh nghiệp đề xuất nhiệm vụ thuộc Chương trình năm {year + 1}, "
                      "hạn gửi đề xuất trước ngày 15/12.", when)
        self.add(when, notice, "thông báo, không phải báo cáo", notice_from.slug)


def build_season(roster: Roster, campaign: Campaign, mailbox: str, agencies: int, seed: int, opens: date) -> SeasonPlan:
    return SeasonBuilder(roster, campaign, mailbox, agencies, seed, opens).build()
