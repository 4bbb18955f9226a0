"""§4 Bounded work for every message, measured through the real `tdc-bot run --once` process.

Each attack message is delivered first, an ordinary report after it; one
`run --once` must finish within generous time and memory bounds (measured
with ``os.wait4`` — it counts the document worker and the converters it
started, once they are waited for), the attack must end quarantined or read
in part with the reason, the report behind it must be recorded, and a second
cycle must not read anything again. CPU time is asserted rather than wall time
where it matters: it does not grow when the test machine is busy.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from intake.documents.tools import find_tool
from intake.limits import Limits
from intake.precheck import too_many_parts_reason
from intake.sources.maildir import deliver
from tests import hostile_mime, mailfactory
from tests.cli_helpers import TDC_BOT, write_config
from workflow.db import models

FIRST = datetime(2024, 11, 20, 2, 0, tzinfo=UTC)
SENDER = "vanthu@skhcn.tayninh.gov.vn"


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    returncode: int
    output: str


# A small launcher between pytest and the bot: Linux counts a child's peak RSS from the copy of its
# parent it was forked from, so a bot started straight from a pytest process grown to ~500 MB by earlier
# tests would report ~500 MB whatever it did. The launcher is a fresh interpreter (~10 MB); the bot is
# forked from it and waited for with wait4, which also counts the workers the bot waited for.
_LAUNCHER = r"""
import json, os, sys
out, cmd = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(cmd[0], cmd)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as f:
    json.dump({"status": status, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, f)
"""


def run_once(config: Path, timeout: float | None = None) -> Run:
    """One ``tdc-bot run --once`` through the launcher; past ``timeout`` seconds the launcher's process group
    (the bot and what it started) is killed and the test fails, rather than waiting out an unbounded run."""
    import json
    import signal
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "TDC_CONFIG"}
    with tempfile.TemporaryDirectory() as tmp:
        usage_file = Path(tmp) / "usage.json"
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(usage_file), TDC_BOT, "run", "--once",
                                 "--config", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"run --once still running after {timeout} s")
        seconds = time.monotonic() - started
        usage = json.loads(usage_file.read_text())
    return Run(seconds, usage["cpu"], usage["maxrss_kb"] / 1024, os.waitstatus_to_exitcode(usage["status"]),
               output.decode("utf-8", "replace"))


def _setup(tmp_path: Path, attack: bytes, limits: str = "") -> Path:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}", extra=f"[limits]\n{limits}\n" if limits else "")
    deliver(tmp_path / "mail", attack, when=FIRST)
    deliver(tmp_path / "mail", mailfactory.report_email("vanthu@skhcn.angiang.gov.vn", "An Giang"),
            when=FIRST + timedelta(minutes=5))
    return config


def _messages(config: Path) -> list[dict]:
    """Every recorded message with its attachments' notes, read straight from the SQLite file."""
    engine = create_engine(f"sqlite:///{config.parent / 'tdc.db'}")
    try:
        with engine.connect() as conn:
            messages = [dict(m) for m in conn.execute(select(models.Message.__table__)).mappings()]
            for m in messages:
                m["attachment_notes"] = [n for (notes,) in conn.execute(
                    select(models.Attachment.notes).where(models.Attachment.message_id == m["id"])) for n in notes]
    finally:
        engine.dispose()
    return messages


def _after(config: Path, first: Run) -> dict:
    """The report behind the attack was recorded; a second cycle reads nothing again. Returns the attack's row."""
    print(f"run --once: {first.seconds:.1f} s, CPU {first.cpu_seconds:.1f} s, max RSS {first.max_rss_mb:.0f} MB")
    assert first.returncode == 0, first.output
    before = _messages(config)
    assert any(m["from_addr"] == "vanthu@skhcn.angiang.gov.vn" and m["status"] == "recorded" for m in before), \
        "the report after the attack was not recorded"
    again = run_once(config)
    assert again.returncode == 0 and "đã lấy 0" in again.output, again.output
    assert len(_messages(config)) == len(before) == 2
    return next(m for m in before if m["from_addr"] != "vanthu@skhcn.angiang.gov.vn")


def _head(subject: str, boundary: str | None = None) -> bytes:
    ctype = f'multipart/mixed; boundary="{boundary}"' if boundary else "text/plain; charset=utf-8"
    return (f"From: {SENDER}\r\nTo: baocao@tdc.example.vn\r\nSubject: {subject}\r\n"
            f"Date: Wed, 20 Nov 2024 09:00:00 +0700\r\nMessage-ID: <{subject.replace(' ', '.')}@x>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\n").encode()


def test_many_tiny_mime_parts_are_refused_before_parsing(tmp_path):
    parts = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(60_000))
    attack = _head("Bao cao 2024 nhieu phan", "p") + b"\r\n" + parts + b"--p--\r\n"
    config = _setup(tmp_path, attack)
    attack = _after(config, first := run_once(config))
    assert attack["status"] == "quarantined" and "quá nhiều phần MIME" in attack["quarantine_reason"]
    assert first.cpu_seconds < 30 and first.max_rss_mb < 400, first


@pytest.mark.slow
def test_58_mb_of_one_and_a_half_million_parts_behind_an_rfc2231_boundary_are_refused_before_parsing(tmp_path):
    """Issue 21 §5: the old count did not see this boundary; the daemon then parsed for 491 s at 1.2 GB."""
    raw = hostile_mime.rfc2231_boundary(1_500_000)
    assert 55_000_000 < len(raw) < Limits().max_message_bytes
    config = _setup(tmp_path, raw)
    del raw
    attack = _after(config, first := run_once(config, timeout=120))
    assert attack["status"] == "quarantined"
    assert attack["quarantine_reason"] == too_many_parts_reason(Limits().max_parts)
    assert first.cpu_seconds < 20 and first.max_rss_mb < 400, first


def test_a_million_header_lines_are_refused_before_parsing(tmp_path):
    attack = _head("Bao cao 2024 nhieu dong") + b"X-Pad: a\r\n" * 300_000 + b"\r\nxin chao\r\n"
    config = _setup(tmp_path, attack)
    attack = _after(config, first := run_once(config))
    assert attack["status"] == "quarantined" and "quá nhiều dòng tiêu đề" in attack["quarantine_reason"]
    assert first.cpu_seconds < 30 and first.max_rss_mb < 400, first


def slow_pdf(operators: int = 20_000) -> bytes:
    """A ~1 KB PDF whose single page is tens of thousands of text operators (seconds of pypdf each)."""
    content = zlib.compress(b"BT /F1 1 Tf " + b"(a) Tj 0 0 Td " * operators + b"ET", 9)
    return _pdf(b"/MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>", content)


def stranger_cpu_bomb(i: int, files: int, operators: int = 60_000, message_id: str | None = None) -> bytes:
    """A stranger's small mail whose PDFs take longer than the per-message budget to read.

    Each file is distinct (the reader reads a repeated file once). Used by tests/test_read_later.py
    and bench/known_delay.py.
    """
    msg = EmailMessage()
    msg["From"] = f"Nguyễn Văn Khách {i} <khach.nguyen{i}@gmail.com>"
    msg["To"] = "baocao@tdc.example.vn"
    msg["Subject"] = f"Báo cáo kết quả Chương trình 1322 năm 2024 (bản {i})"
    msg["Date"] = "Wed, 20 Nov 2024 09:00:00 +0700"
    msg["Message-ID"] = message_id or f"<stranger-{i}@gmail.com>"
    msg.set_content("Kính gửi Bộ, xin gửi báo cáo (tệp đính kèm).")
    for k in range(files):
        msg.add_attachment(slow_pdf(operators + 100 * i + k), maintype="application", subtype="pdf",
                           filename=f"Báo cáo phần {k + 1}.pdf")
    return msg.as_bytes()


def _pdf(page: bytes, content: bytes) -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R " + page + b" /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
              + b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _with_files(subject: str, files: dict[str, tuple[bytes, str]]) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, "baocao@tdc.example.vn", subject
    msg["Date"], msg["Message-ID"] = "Wed, 20 Nov 2024 09:00:00 +0700", f"<{abs(hash(subject))}@x>"
    msg.set_content("Kính gửi Bộ, Sở KH&CN Tây Ninh gửi báo cáo năm 2024 (tệp đính kèm).")
    for name, (data, ctype) in files.items():
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def test_slow_pdf_pages_stop_at_the_message_budget(tmp_path):
    pdf = slow_pdf()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        for i in range(4):
            archive.writestr(f"phu-luc-{i}.pdf", pdf)
    files = {f"Báo cáo {i}.pdf": (pdf, "application/pdf") for i in range(8)}
    files["Phụ lục.zip"] = (zipped.getvalue(), "application/zip")
    config = _setup(tmp_path, _with_files("Báo cáo kết quả Chương trình 1322 năm 2024", files),
                    "message_seconds = 5")
    attack = _after(config, first := run_once(config))
    assert attack["status"] == "recorded"
    assert any("vượt ngân sách xử lý" in n for n in attack["attachment_notes"]), attack["attachment_notes"]
    # Unbounded, these 12 pages cost well over a minute of CPU; bounded, 5 s of reading plus the cycle.
    assert first.cpu_seconds < 30, first
    assert first.seconds < 120, first


@pytest.mark.skipif(find_tool("pdftoppm") is None or find_tool("tesseract") is None,
                    reason="needs poppler-utils and tesseract-ocr-vie")
def test_a_huge_page_is_rendered_within_the_pixel_budget(tmp_path):
    # ~300 bytes: one empty 6000 × 6000-point page; at 200 dpi that is 280 megapixels for OCR.
    pdf = _pdf(b"/MediaBox [0 0 6000 6000]", zlib.compress(b"q Q"))
    config = _setup(tmp_path,
                    _with_files("Báo cáo năm 2024 (bản quét)", {"Báo cáo quét.pdf": (pdf, "application/pdf")}),
                    "max_page_megapixels = 4")
    attack = _after(config, first := run_once(config))
    assert attack["status"] == "recorded"
    assert first.max_rss_mb < 400, first


def big_docx(xml_mb: int) -> bytes:
    """A valid .docx whose document.xml is ``xml_mb`` MB of short paragraphs, compressing ~5×."""
    import random

    words = [f"từ{i}" for i in range(4000)]
    rng = random.Random(7)
    para = []
    size = 0
    while size < xml_mb * 1024 * 1024:
        text = " ".join(rng.choice(words) for _ in range(8))
        chunk = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
        para.append(chunk)
        size += len(chunk.encode())
    body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            + "".join(para) + "</w:body></w:document>")
    import docx

    base = io.BytesIO()
    docx.Document().save(base)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, body.encode() if item.filename == "word/document.xml" else src.read(item))
    return out.getvalue()


def test_a_huge_document_xml_stops_at_the_memory_budget(tmp_path):
    data = big_docx(24)
    config = _setup(tmp_path, _with_files("Báo cáo kết quả Chương trình 1322 năm 2024",
                                          {"Báo cáo 2024.docx": (data, "application/vnd.openxmlformats-officedocument"
                                                                 ".wordprocessingml.document")}),
                    "message_memory_mb = 160")
    attack = _after(config, first := run_once(config))
    assert attack["status"] == "recorded"
    assert any("không đọc được" in n or "vượt ngân sách" in n for n in attack["attachment_notes"]), attack
    # Unbounded, reading this document.xml in the daemon takes ~60 s of CPU and ~330 MB.
    assert first.max_rss_mb < 300 and first.cpu_seconds < 30, first
