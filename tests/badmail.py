"""A corpus of broken, hostile and odd messages, built by code (nothing binary is checked in).

Each ``BadMail`` says what the intake must make of it: the acceptable
``messages.status`` values and where the explanation must show up
(``quarantine_reason``, the message ``notes``, or an attachment's ``notes``),
optionally with a word that explanation must contain. The corpus is meant
for a config with small limits (see ``LIMITS_TOML``) so "enormous" stays
cheap to build.
"""
from __future__ import annotations

import base64
import io
import random
import zipfile
from dataclasses import dataclass
from email.utils import make_msgid

from tests import mailfactory
from tests.fixtures.documents import zip_bytes
from tests.mailfactory import attachment_mail

# The limits the corpus is built against: one MiB per part, a few per message.
LIMITS_TOML = "[limits]\nmax_part_mb = 1\nmax_message_mb = 6\nmax_zip_total_mb = 20\n"
PART_LIMIT = 1024 * 1024

SENDER = mailfactory.TAY_NINH_SENDER
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class BadMail:
    kind: str
    raw: bytes
    statuses: frozenset[str]
    evidence: str | None = None  # "quarantine_reason" | "notes" | "attachment_notes" | None
    contains: str | None = None  # a word the evidence must contain (case-insensitive)
    imap_ok: bool = True  # some bytes (an empty message) cannot be APPENDed at all


RECORDED = frozenset({"recorded"})
QUARANTINED = frozenset({"quarantined"})
TAKEN = frozenset({"recorded", "quarantined"})


def _head(subject: str = "Báo cáo kết quả Chương trình 1322 năm 2024", extra: str = "",
          message_id: str | None = None, sender: str = SENDER) -> str:
    mid = message_id if message_id is not None else make_msgid(domain="skhcn.tayninh.gov.vn")
    mid_line = f"Message-ID: {mid}\r\n" if mid else ""
    return (f"From: Văn thư <{sender}>\r\nTo: baocao@tdc.example.vn\r\nSubject: {subject}\r\n"
            f"Date: Wed, 20 Nov 2024 09:00:00 +0700\r\n{mid_line}MIME-Version: 1.0\r\n{extra}")


def _h(subject: str) -> str:
    """An RFC 2047 subject, so the ASCII builders can carry Vietnamese."""
    return "=?utf-8?b?" + base64.b64encode(subject.encode()).decode() + "?="


def _raw_attachment_name(filename_param: str) -> bytes:
    """A hand-written attachment header, for names the email package would refuse to write."""
    return (_head(extra='Content-Type: multipart/mixed; boundary="B"\r\n') + "\r\n"
            "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nXin gửi báo cáo năm 2024.\r\n"
            f"--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; {filename_param}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(mailfactory.report_docx()).decode() + "\r\n--B--\r\n").encode("utf-8")


def zip_bomb() -> bytes:
    """20 MiB of zeros in a ~20 KiB archive: ratio about 1000."""
    return zip_bytes({"bao-cao.txt": b"\0" * (20 * 1024 * 1024)})


def docx_bomb() -> bytes:
    """A .docx whose document part inflates to 30 MiB of whitespace."""
    real = zipfile.ZipFile(io.BytesIO(mailfactory.report_docx()))
    members = {name: real.read(name) for name in real.namelist()}
    members["word/document.xml"] = members["word/document.xml"].replace(b"<w:body>",
                                                                        b"<w:body>" + b" " * (30 * 1024 * 1024))
    return zip_bytes(members)


def encrypted_docx() -> bytes:
    """What Word writes for a password-protected .docx: an OLE2 file with an EncryptedPackage stream."""
    header = OLE2_MAGIC + b"\0" * (512 - len(OLE2_MAGIC))
    directory = "Root Entry".encode("utf-16-le").ljust(128, b"\0") + "EncryptedPackage".encode("utf-16-le").ljust(128,
                                                                                                                  b"\0")
    return header + directory.ljust(1024, b"\0") + random.Random(7).randbytes(2048)


def macro_docm() -> bytes:
    real = zipfile.ZipFile(io.BytesIO(mailfactory.report_docx()))
    members = {name: real.read(name) for name in real.namelist()}
    members["word/vbaProject.bin"] = OLE2_MAGIC + b"_VBA_PROJECT" + b"\0" * 256
    return zip_bytes(members)


def _nested(levels: int) -> bytes:
    opening = "".join(f'--L{i}\r\nContent-Type: multipart/mixed; boundary="L{i + 1}"\r\n\r\n' for i in range(levels))
    closing = "".join(f"--L{i}--\r\n" for i in reversed(range(levels + 1)))
    inner = f"--L{levels}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBáo cáo năm 2024 ở tầng {levels}.\r\n"
    head = _head(extra='Content-Type: multipart/mixed; boundary="L0"\r\n')
    return (head + "\r\n" + opening + inner + closing).encode()


def _forward(encoded: bool) -> bytes:
    inner = mailfactory.report_email(sender="vanthu@skhcn.cantho.gov.vn", province="Cần Thơ")
    body = base64.encodebytes(inner).decode() if encoded else inner.decode("utf-8", "surrogateescape")
    cte = "Content-Transfer-Encoding: base64\r\n" if encoded else ""
    return (_head(subject="Fwd: Báo cáo Chương trình 1322 năm 2024",
                  extra='Content-Type: multipart/mixed; boundary="F"\r\n')
            + "\r\n--F\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nChuyển tiếp báo cáo của Cần Thơ.\r\n"
            + f"--F\r\nContent-Type: message/rfc822\r\n{cte}\r\n" + body + "\r\n--F--\r\n").encode("utf-8",
                                                                                                   "surrogateescape")


def build() -> list[BadMail]:
    """The whole corpus, deterministic (seeded), in delivery order."""
    rng = random.Random(1322)
    docx_b64 = base64.b64encode(mailfactory.report_docx()).decode()
    text_part = "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nXin gửi báo cáo năm 2024.\r\n"
    mixed = 'Content-Type: multipart/mixed; boundary="B"\r\n'
    mails = [
        BadMail("broken-base64-attachment", (_head(extra=mixed) + "\r\n" + text_part +
                "--B\r\nContent-Type: application/pdf; name=\"bc.pdf\"\r\nContent-Disposition: attachment; "
                "filename=\"bc.pdf\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK%%%%not*base64!!\r\nAAA\r\n--B--\r\n").encode(),
                RECORDED, "notes", "base64"),
        BadMail("broken-base64-body", (_head(extra="Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: base64\r\n") + "\r\nQsOhbyBjw6FvIG7Eg20gMjAyNA=\r\n***\r\n").encode(),
                RECORDED, "notes", "base64"),
        BadMail("broken-quoted-printable", (_head(extra="Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n") + "\r\nB=C3=A1o c=C3=A1o n=C4=83m 2024 =ZZ "
                                                                     "=C3\r\n=\r\n").encode(),
                RECORDED),
        BadMail("unknown-charset", (_head(extra="Content-Type: text/plain; charset=x-vn-unknown\r\n"
                "Content-Transfer-Encoding: 8bit\r\n") + "\r\n").encode() + "Báo cáo năm 2024".encode(),
                RECORDED, "notes", "charset"),
        BadMail("lying-charset-latin1", (_head(extra="Content-Type: text/plain; charset=iso-8859-1\r\n"
                "Content-Transfer-Encoding: 8bit\r\n") + "\r\n").encode()
                + "Báo cáo năm 2024 của tỉnh Tây Ninh".encode(),
                RECORDED, "notes", "utf-8"),
        BadMail("lying-charset-utf8-is-cp1258", (_head(extra="Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n") + "\r\n").encode()
                + "Báo cáo năm 2024 Tây Ninh".encode("cp1258"),
                RECORDED, "notes", "charset"),
        BadMail("8bit-headers-utf8", _head(subject="Báo cáo Chương trình 1322 năm 2024 (không mã hoá)").encode()
                + b"Content-Type: text/plain; charset=utf-8\r\n\r\nXin g\xe1\xbb\xadi b\xc3\xa1o c\xc3\xa1o.\r\n",
                RECORDED),
        BadMail("8bit-headers-cp1258",
                ("From: =?utf-8?q?V=C4=83n_th=C6=B0?= <" + SENDER + ">\r\nTo: baocao@tdc.example.vn\r\n"
                "Message-ID: <cp1258@skhcn.tayninh.gov.vn>\r\n").encode()
                + "Subject: Báo cáo năm 2024\r\n".encode("cp1258")
                + b"Content-Type: text/plain\r\n\r\nBao cao nam 2024.\r\n", RECORDED, "notes", "cp1258"),
        BadMail("header-over-10000-chars", (_head(subject="Báo cáo năm 2024 " + "rất dài " * 3000)
                + "Content-Type: text/plain; charset=utf-8\r\n\r\nNội dung.\r\n").encode(), RECORDED, "notes", "cut"),
        BadMail("unfolded-header-line-60000", (_head(extra="X-Junk: " + "x" * 60000 + "\r\n")
                + "Content-Type: text/plain; charset=utf-8\r\n\r\nNội dung.\r\n").encode(), RECORDED, "notes", "cut"),
        BadMail("truncated-multipart", (_head(extra=mixed) + "\r\n" + text_part +
                "--B\r\nContent-Type: application/octet-stream; name=\"a.docx\"\r\nContent-Transfer-Encoding: "
                "base64\r\n\r\n"
                + docx_b64[: len(docx_b64) // 2]).encode(), TAKEN, "notes", "boundary"),
        BadMail("multipart-missing-boundary", (_head(extra="Content-Type: multipart/mixed\r\n") + "\r\n" + text_part
                + "--B--\r\n").encode(), RECORDED, "notes", "boundary"),
        BadMail("multipart-wrong-boundary",
                (_head(extra='Content-Type: multipart/mixed; boundary="nothere"\r\n') + "\r\n"
                + text_part + "--B--\r\n").encode(), RECORDED, "notes"),
        BadMail("nesting-10-levels", _nested(10), RECORDED),
        BadMail("nesting-40-levels", _nested(40), RECORDED, "notes", "nesting"),
        BadMail("forwarded-rfc822", _forward(encoded=False), TAKEN),
        BadMail("forwarded-rfc822-base64", _forward(encoded=True), TAKEN),
        BadMail("tnef-winmail-dat", attachment_mail("winmail.dat", b"\x78\x9f\x3e\x22" + rng.randbytes(600),
                "application/ms-tnef"), TAKEN, "attachment_notes", "winmail.dat"),
        BadMail("enormous-message", attachment_mail("Quét.pdf", rng.randbytes(7 * 1024 * 1024), "application/pdf"),
                QUARANTINED, "quarantine_reason", "quá lớn"),
        BadMail("zero-byte-attachment", attachment_mail("Báo cáo năm 2024.docx", b""), TAKEN),
        BadMail("enormous-attachment", attachment_mail("Phụ lục.pdf", rng.randbytes(PART_LIMIT + 300_000),
                "application/pdf"), TAKEN, "notes", "skipped"),
        BadMail("zip-bomb", attachment_mail("Hồ sơ.zip", zip_bomb(), "application/zip"), TAKEN, "attachment_notes",
                "không mở"),
        BadMail("docx-bomb", attachment_mail("Báo cáo 2024.docx", docx_bomb()), TAKEN, "attachment_notes", "không mở"),
        BadMail("password-protected-docx", attachment_mail("Báo cáo mật.docx", encrypted_docx()), TAKEN,
                "attachment_notes", "mật khẩu"),
        BadMail("macro-docm", attachment_mail("Báo cáo.docm", macro_docm(),
                "application/vnd.ms-word.document.macroEnabled.12"), TAKEN, "attachment_notes", "macro"),
        BadMail("name-dot-dot", _raw_attachment_name('filename="../../../../etc/cron.d/bao-cao.docx"'), TAKEN),
        BadMail("name-absolute", _raw_attachment_name('filename="/etc/passwd.docx"'), TAKEN),
        BadMail("name-windows-absolute", _raw_attachment_name('filename="C:\\\\Windows\\\\System32\\\\bao-cao.docx"'),
                TAKEN),
        BadMail("name-nul", _raw_attachment_name("filename*=utf-8''bao%00cao%2F..%2F..%2Fx.docx"), TAKEN),
        BadMail("name-rtl-override", _raw_attachment_name("filename*=utf-8''B%C3%A1o%20c%C3%A1o%E2%80%AExcod.exe"),
                TAKEN),
        BadMail("duplicate-message-id-a", (_head(message_id="<same@skhcn.tayninh.gov.vn>") +
                "Content-Type: text/plain; charset=utf-8\r\n\r\nPhiên bản thứ nhất.\r\n").encode(), RECORDED),
        BadMail("duplicate-message-id-b", (_head(message_id="<same@skhcn.tayninh.gov.vn>") +
                "Content-Type: text/plain; charset=utf-8\r\n\r\nPhiên bản thứ hai, nội dung khác.\r\n").encode(),
                RECORDED),
        BadMail("no-message-id",
                (_head(message_id="")
                 + "Content-Type: text/plain; charset=utf-8\r\n\r\nKhông có Message-ID.\r\n").encode(),
                RECORDED),
        BadMail("date-1970", (_head().replace("Wed, 20 Nov 2024 09:00:00 +0700", "Thu, 01 Jan 1970 00:00:00 +0000")
                + "Content-Type: text/plain; charset=utf-8\r\n\r\nNgày 1970.\r\n").encode(), RECORDED, "notes", "1970"),
        BadMail("date-2099", (_head().replace("Wed, 20 Nov 2024 09:00:00 +0700", "Fri, 20 Nov 2099 09:00:00 +0700")
                + "Content-Type: text/plain; charset=utf-8\r\n\r\nNgày 2099.\r\n").encode(), RECORDED, "notes", "2099"),
        BadMail("empty-message", b"", QUARANTINED, "quarantine_reason", "rỗng", imap_ok=False),
        BadMail("only-headers", f"From: {SENDER}\r\nSubject: {_h('Chỉ có tiêu đề')}\r\n".encode(), RECORDED),
        BadMail("binary-garbage", rng.randbytes(4096).replace(b":", b"."), QUARANTINED, "quarantine_reason"),
        BadMail("no-from-address", (f"To: baocao@tdc.example.vn\r\nSubject: {_h('Báo cáo năm 2024')}\r\n"
                "Content-Type: text/plain\r\n\r\nKhông có người gửi.\r\n").encode(), QUARANTINED, "quarantine_reason"),
        BadMail("nul-bytes-in-body", (_head() + "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode()
                + b"B\xc3\xa1o c\xc3\xa1o\x00\x00 n\xc4\x83m 2024\x00\r\n", RECORDED),
        BadMail("encoded-word-bomb", (_head(subject=" ".join(["=?utf-8?q?=3D=3Futf-8=3Fq=3F?="] * 2000))
                + "Content-Type: text/plain\r\n\r\nx\r\n").encode(), RECORDED),
    ]
    return mails
