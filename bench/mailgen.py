"""The benchmark's mailbox contents: ordinary mail with a sprinkling of reports.

Why generated and not sampled: the figures must be reproducible on any
machine, and the mix (5 % reports with a .docx, the rest everyday mail of a
ministry mailbox) is what a real reporting mailbox looks like in season.
Every message is unique (its own Message-ID and a counter in the body), so
the bot's "same bytes = same message" rule never turns the run into a
duplicate-skipping exercise.
"""
from __future__ import annotations

import os
import pwd
import random
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path

from tests import mailfactory

REPORT_EVERY = 20  # 1 in 20 = 5 % reports
START = datetime(2024, 10, 1, 1, 0, tzinfo=UTC)

# (province as written in the report, sender address): real shapes of provincial senders.
REPORT_SENDERS = [
    ("Tây Ninh", "vanthu@skhcn.tayninh.gov.vn"),
    ("Cần Thơ", "vanphong@skhcn.cantho.gov.vn"),
    ("Đà Nẵng", "skhcn@danang.gov.vn"),
    ("Hải Phòng", "chicuctdc@haiphong.gov.vn"),
    ("Nghệ An", "skhcn@nghean.gov.vn"),
    ("Lâm Đồng", "sokhcn@lamdong.gov.vn"),
    ("Bình Định", "skhcn@binhdinh.gov.vn"),
    ("Quảng Ninh", "skhcn@quangninh.gov.vn"),
]

TOPICS = [
    "Giấy mời dự hội nghị tổng kết công tác tiêu chuẩn đo lường chất lượng",
    "V/v góp ý dự thảo Thông tư quy định về đo lường",
    "Thông báo lịch công tác tuần",
    "Kế hoạch kiểm tra nhà nước về chất lượng sản phẩm hàng hóa",
    "Đề nghị cung cấp thông tin về mã số mã vạch",
    "Báo giá dịch vụ hiệu chuẩn thiết bị",
    "Re: Hồ sơ đăng ký giải thưởng chất lượng quốc gia",
    "Tài liệu tập huấn ISO 9001:2015",
    "Fwd: Công văn về việc rà soát văn bản quy phạm pháp luật",
    "Xác nhận tham dự khóa đào tạo",
]

SENDERS = [
    ("Nguyễn Văn An", "an.nguyen@congty-abc.vn"),
    ("Trần Thị Bình", "binhtt@gmail.com"),
    ("Phòng Hành chính", "hanhchinh@tdc.example.vn"),
    ("Lê Minh Châu", "chau.le@viettel-demo.vn"),
    ("Công ty CP Đo lường Việt", "info@doluongviet.vn"),
    ("Phạm Quốc Dũng", "dungpq@yahoo.com"),
]

PARAGRAPH = ("Căn cứ kế hoạch công tác năm, đơn vị xin thông báo nội dung như sau. Đề nghị các đơn vị liên quan "
             "phối hợp thực hiện, báo cáo kết quả theo đúng thời hạn quy định và gửi về đầu mối để tổng hợp. ")


@cache
def _docx(province: str, year: int) -> bytes:
    return mailfactory.report_docx(province, year)


def ordinary_email(n: int, rng: random.Random, when: datetime) -> bytes:
    """A few KB of everyday mail: text and HTML alternatives, Vietnamese, not a report."""
    name, address = rng.choice(SENDERS)
    msg = EmailMessage()
    msg["From"] = f"{name} <{address}>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = f"{rng.choice(TOPICS)} (số {n})"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<bench-{n}-{rng.getrandbits(32):08x}@{address.split('@')[1]}>"
    body = f"Kính gửi Quý cơ quan,\n\n{PARAGRAPH * rng.randint(3, 8)}\n\nThư số {n}.\nTrân trọng,\n{name}\n"
    msg.set_content(body)
    html = "".join(f"<p>{line}</p>" for line in body.split("\n") if line)
    msg.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
    return msg.as_bytes()


def report_email(n: int, rng: random.Random, when: datetime) -> bytes:
    province, sender = REPORT_SENDERS[n // REPORT_EVERY % len(REPORT_SENDERS)]
    raw = mailfactory.report_email(sender=sender, province=province, year=2024, date=when, with_docx=False,
                                   message_id=f"<bench-report-{n}@{sender.split('@')[1]}>")
    # Attach the (cached) .docx ourselves: building one per message would dominate filling time.
    from email import message_from_bytes, policy

    msg = message_from_bytes(raw, policy=policy.default)
    msg.add_attachment(_docx(province, 2024), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename="Báo cáo NSCL năm 2024.docx")
    return msg.as_bytes()


TEMPLATES = 64  # distinct ordinary messages; each copy gets its own Message-ID and Date
_TOKEN_ID = b"@@SEQ@@"


@cache
def _templates() -> tuple[list[bytes], list[bytes]]:
    """Message shapes built once with the email package; copies differ in Message-ID and Date.

    Building every message with ``EmailMessage`` costs ~10 ms each, which
    would make filling 20,000-message folders the slowest part of the run.
    """
    rng = random.Random(1322)
    ordinary = [ordinary_email(i + 1, rng, START) for i in range(TEMPLATES)]
    reports = [report_email(i * REPORT_EVERY, rng, START) for i in range(len(REPORT_SENDERS))]
    return [_tokenised(raw) for raw in ordinary], [_tokenised(raw) for raw in reports]


def _tokenised(raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    lines = []
    for line in head.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            local, _, domain = line.split(b":", 1)[1].strip().strip(b"<>").partition(b"@")
            line = b"Message-ID: <bench-" + _TOKEN_ID + b"@" + domain + b">"
        elif line.lower().startswith(b"date:"):
            line = b"Date: @@DATE@@"
        lines.append(line)
    return b"\n".join(lines) + sep + body


def message(n: int, rng: random.Random) -> tuple[bytes, datetime]:
    when = START + timedelta(minutes=3 * n)
    ordinary, reports = _templates()
    if n % REPORT_EVERY == REPORT_EVERY - 1:
        template = reports[n // REPORT_EVERY % len(reports)]
    else:
        template = ordinary[rng.randrange(len(ordinary))]
    raw = template.replace(_TOKEN_ID, f"{n}-{rng.getrandbits(32):08x}".encode())
    return raw.replace(b"@@DATE@@", format_datetime(when).encode()), when


def fill_maildir(user_root: Path, count: int, *, keyword: str | None = None, seed: int = 1322) -> int:
    """Write ``count`` messages straight into a Dovecot user's Maildir INBOX; returns total bytes.

    Dovecot indexes them on the first SELECT and gives UIDs in filename
    order (the leading timestamp), i.e. in the order written here. With
    ``keyword`` every message already carries it (keyword mode, as the bot
    leaves processed mail when no processed folder is configured).
    """
    owner = pwd.getpwnam("dovecot")
    for sub in ("", "cur", "new", "tmp"):
        folder = user_root / sub
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    flags = ""
    if keyword:
        keywords = user_root / "dovecot-keywords"
        keywords.write_text(f"0 {keyword}\n", encoding="ascii")
        os.chown(keywords, owner.pw_uid, owner.pw_gid)
        flags = "a"
    rng = random.Random(seed)
    base = int(time.time()) - count - 10
    total = 0
    for n in range(count):
        raw, when = message(n, rng)
        path = user_root / "cur" / f"{base + n}.M{n}P1.bench:2,{flags}"
        path.write_bytes(raw)
        os.chown(path, owner.pw_uid, owner.pw_gid)
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))  # Maildir INTERNALDATE is the file's mtime
        total += len(raw)
    return total


def expected_reports(count: int) -> int:
    return sum(1 for n in range(count) if n % REPORT_EVERY == REPORT_EVERY - 1)
