"""The parser on what Vietnamese mailers really send, built from code here."""
from __future__ import annotations

import base64
import unicodedata
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import mailparser
import pytest

from intake.limits import Limits
from intake.message.charsets import decode_text
from intake.message.parse import LimitExceeded, MessageRejected, ParseError, parse

SUBJECT = "Báo cáo năm 2024"
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: base letters precomposed, tone marks combining."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out += (base + "".join(c for c in parts if c in _TONES)).encode("cp1258")
    return bytes(out)


def b_word(text: str, charset: str = "UTF-8") -> str:
    data = text.encode("utf-8") if charset.upper() == "UTF-8" else cp1258(text)
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def q_word(text: str, charset: str = "UTF-8") -> str:
    data = text.encode("utf-8") if charset.upper() == "UTF-8" else cp1258(text)
    body = "".join("_" if b == 0x20 else (chr(b) if chr(b).isalnum() and b < 128 else f"={b:02X}") for b in data)
    return f"=?{charset}?Q?{body}?="


def raw_message(headers: list[tuple[str, str | bytes]], body: bytes = b"noi dung\r\n") -> bytes:
    lines = []
    for name, value in headers:
        value_bytes = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode() + b": " + value_bytes)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def simple(subject: str | bytes, extra: list[tuple[str, str | bytes]] | None = None, body: bytes = b"x\r\n") -> bytes:
    return raw_message([("From", "So KHCN <skhcn@tayninh.gov.vn>"), ("To", "tdc@tcvn.gov.vn"),
                        ("Subject", subject), *(extra or [])], body)


# ------------------------------------------------------------------ subjects


@pytest.mark.parametrize(
    "header",
    [
        # encoder put the space inside the first word (Outlook, Thunderbird)
        f"{b_word('Báo cáo ')} {q_word('năm')} 2024",
        # encoded word followed by plain text: the space between them is real text
        f"{b_word('Báo cáo năm')} 2024",
        # folded across lines, Q words with underscores for spaces
        f"{q_word('Báo cáo')}\r\n {q_word(' năm 2024')}",
        # windows-1258 and UTF-8 encoded-words mixed in one subject
        f"{b_word('Báo cáo ', 'windows-1258')} {q_word('năm 2024')}",
    ],
)
def test_mixed_encoded_word_subjects_keep_their_spaces(header: str) -> None:
    env = parse(simple(header))
    assert env.subject == SUBJECT
    assert unicodedata.is_normalized("NFC", env.subject)


def test_subject_agrees_with_policy_default_on_legal_encodings() -> None:
    header = f"{b_word('Báo cáo kết quả ')} {b_word('Chương trình 1322', 'windows-1258')} năm 2024"
    raw = simple(header)
    reference = str(BytesParser(policy=policy.default).parsebytes(raw)["subject"])
    assert parse(raw).subject == unicodedata.normalize("NFC", reference)
    assert parse(raw).subject == "Báo cáo kết quả Chương trình 1322 năm 2024"


def test_whitespace_between_adjacent_encoded_words_is_dropped_as_rfc2047_says() -> None:
    """RFC 2047 6.2: only the space *inside* a word is text. Encoders split long words
    anywhere ("Chương tr" / "ình"), so inventing a space there would break words."""
    raw = simple(f"{b_word('Chương tr')} {b_word('ình năm 2024')}")
    reference = str(BytesParser(policy=policy.default).parsebytes(raw)["subject"])
    assert parse(raw).subject == reference == "Chương trình năm 2024"


def test_raw_utf8_header_with_encoded_word_where_mail_parser_gives_up() -> None:
    """Webmail sends raw UTF-8 next to an encoded-word; mail-parser returns the encoded-word raw."""
    raw = simple(f"{b_word('Báo cáo')} năm 2024".encode())
    assert "=?UTF-8?B?" in mailparser.parse_from_bytes(raw).subject  # why we decode headers ourselves
    assert parse(raw).subject == SUBJECT


def test_raw_windows_1258_subject_is_repaired_and_noted() -> None:
    env = parse(simple(cp1258(SUBJECT)))
    assert env.subject == SUBJECT
    assert any("cp1258" in d for d in env.defects)


def test_addresses_dates_and_headers() -> None:
    raw = raw_message([
        ("From", f"{b_word('Sở KH&CN Tây Ninh')} <SKHCN@TayNinh.Gov.VN>"),
        ("To", "TDC@tcvn.gov.vn, b@x.vn"),
        ("Cc", "c@x.vn"),
        ("Reply-To", "vanthu@tayninh.gov.vn"),
        ("Subject", "bc"),
        ("Date", "Mon, 18 Nov 2024 09:15:00 +0700"),
        ("Message-ID", "<abc@tayninh.gov.vn>"),
        ("Auto-Submitted", "no"),
        ("Received", "from a by b; Mon, 18 Nov 2024 09:15:01 +0700"),
        ("Received", "from c by d; Mon, 18 Nov 2024 09:15:00 +0700"),
    ])
    env = parse(raw)
    assert env.from_addr == "skhcn@tayninh.gov.vn"
    assert env.from_name == "Sở KH&CN Tây Ninh"
    assert env.to == ["tdc@tcvn.gov.vn", "b@x.vn"]
    assert env.cc == ["c@x.vn"] and env.reply_to == ["vanthu@tayninh.gov.vn"]
    assert env.date_header == datetime(2024, 11, 18, 2, 15, tzinfo=UTC)
    assert env.message_id == "<abc@tayninh.gov.vn>"
    assert len(env.headers["received"]) == 2
    assert env.header("Auto-Submitted") == "no"
    assert env.size == len(raw)


def test_garbage_date_is_none_with_a_defect() -> None:
    env = parse(simple("x", [("Date", "Thứ hai, 31/02/2024")]))
    assert env.date_header is None
    assert any(d.startswith("date:") for d in env.defects)


def test_long_header_line_is_handled_and_over_limit_is_cut() -> None:
    long_value = "a" * 15_000
    env = parse(simple("x", [("X-Long", long_value)]))
    assert env.header("x-long") == long_value
    env = parse(simple("x", [("X-Long", long_value)]), Limits(max_header_chars=1000))
    assert len(env.header("x-long")) == 1000
    assert any("x-long" in d and "cut" in d for d in env.defects)


def test_hostile_nested_comments_in_from_do_not_crash() -> None:
    env = parse(simple("x", [("Cc", "(" * 5000 + "a@b.vn")]))
    assert env.subject == "x"


# ------------------------------------------------------------------ bodies


def test_windows_1258_body_declared_correctly() -> None:
    text = "Kính gửi Bộ Khoa học và Công nghệ, báo cáo kết quả năm 2024."
    raw = simple("x", [("Content-Type", "text/plain; charset=windows-1258"),
                       ("Content-Transfer-Encoding", "8bit")], cp1258(text))
    env = parse(raw)
    assert env.text_body == text  # NFC: cp1258's combining tone marks recomposed


def test_lying_charset_body_is_repaired() -> None:
    text = "Sở Khoa học và Công nghệ tỉnh Tây Ninh báo cáo năm 2024"
    raw = simple("x", [("Content-Type", "text/plain; charset=iso-8859-1"),
                       ("Content-Transfer-Encoding", "8bit")], text.encode("utf-8"))
    env = parse(raw)
    assert env.text_body == text
    assert any("iso-8859-1" in d and "utf-8" in d for d in env.defects)


def test_unknown_charset_is_detected() -> None:
    text = ("Kính gửi: Bộ Khoa học và Công nghệ.\nSở Khoa học và Công nghệ tỉnh Tây Ninh báo cáo kết quả "
            "thực hiện Chương trình năng suất chất lượng năm 2024 như sau.")
    raw = simple("x", [("Content-Type", "text/plain; charset=x-vn-unknown"),
                       ("Content-Transfer-Encoding", "8bit")], cp1258(text))
    env = parse(raw)
    assert env.text_body == text
    assert any("x-vn-unknown" in d for d in env.defects)


def test_decode_text_trusts_a_correct_declaration() -> None:
    assert decode_text("năm".encode(), "utf-8") == ("năm", None)


def test_html_and_plain_alternative() -> None:
    msg = EmailMessage()
    msg["From"] = "a@x.vn"
    msg["Subject"] = "s"
    msg.set_content("Báo cáo")
    msg.add_alternative("<p>Báo cáo</p>", subtype="html")
    env = parse(msg.as_bytes())
    assert env.text_body.strip() == "Báo cáo"
    assert env.html_body.strip() == "<p>Báo cáo</p>"
    assert env.attachments == []


# ------------------------------------------------------------------ attachments


def _multipart(parts: list[bytes], boundary: str = "BND", close: bool = True) -> bytes:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    if close:
        body += b"--" + boundary.encode() + b"--\r\n"
    return raw_message([("From", "a@x.vn"), ("Subject", "s"), ("MIME-Version", "1.0"),
                        ("Content-Type", f'multipart/mixed; boundary="{boundary}"')], body)


TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nKinh gui"


def _attachment(disposition: str, data: bytes = b"PK\x03\x04 docx bytes") -> bytes:
    return (b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: " + disposition.encode("utf-8") + b"\r\n\r\n" + base64.encodebytes(data))


@pytest.mark.parametrize(
    "disposition",
    [
        "attachment; filename*=utf-8''B%C3%A1o%20c%C3%A1o.docx",
        'attachment; filename="=?UTF-8?B?QsOhbyBjw6FvLmRvY3g=?="',
        "attachment; filename*0*=utf-8''B%C3%A1o%20; filename*1*=c%C3%A1o.docx",
        'attachment; filename="Báo cáo.docx"',  # raw 8-bit UTF-8
        # NFD spelling, as macOS writes it
        "attachment; filename*=utf-8''" + "".join(
            f"%{b:02X}" for b in unicodedata.normalize("NFD", "Báo cáo.docx").encode()),
    ],
)
def test_attachment_names_rfc2231_rfc2047_and_nfc(disposition: str) -> None:
    env = parse(_multipart([TEXT_PART, _attachment(disposition)]))
    assert [a.filename for a in env.attachments] == ["Báo cáo.docx"]
    att = env.attachments[0]
    assert att.safe_name == "Báo cáo.docx"
    assert att.data == b"PK\x03\x04 docx bytes"
    assert att.from_forward is False
    assert env.text_body == "Kinh gui"


def test_windows_1258_raw_filename() -> None:
    disposition = b'attachment; filename="' + cp1258("Báo cáo.docx") + b'"'
    part = (b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: " + disposition + b"\r\n\r\nUEs=\r\n")
    env = parse(_multipart([TEXT_PART, part]))
    assert env.attachments[0].filename == "Báo cáo.docx"


def test_path_traversal_name_is_kept_for_humans_but_made_safe() -> None:
    env = parse(_multipart([_attachment('attachment; filename="../../etc/passwd"')]))
    assert env.attachments[0].filename == "../../etc/passwd"
    assert env.attachments[0].safe_name == "passwd"


def test_forward_with_attachment_inside_message_rfc822() -> None:
    inner = EmailMessage()
    inner["From"] = "Chi cục TĐC <chicuc@tayninh.gov.vn>"
    inner["Subject"] = "Báo cáo năm 2024"
    inner.set_content("Gửi kèm báo cáo")
    inner.add_attachment(b"%PDF-1.4 tiny", maintype="application", subtype="pdf", filename="Báo cáo.pdf")
    outer = EmailMessage()
    outer["From"] = "vanthu@tayninh.gov.vn"
    outer["Subject"] = "Fwd: Báo cáo năm 2024"
    outer.set_content("Chuyển tiếp")
    outer.add_attachment(b"PK\x03\x04", maintype="application", subtype="zip", filename="phu-luc.zip")
    outer.add_attachment(inner)
    env = parse(outer.as_bytes())
    assert len(env.forwarded) == 1
    fwd = env.forwarded[0]
    assert fwd.from_addr == "chicuc@tayninh.gov.vn"
    assert fwd.subject == "Báo cáo năm 2024"
    assert [a.filename for a in fwd.attachments] == ["Báo cáo.pdf"]
    assert [(a.filename, a.from_forward) for a in env.attachments] == [("phu-luc.zip", False), ("Báo cáo.pdf", True)]
    assert env.attachments[1].data == b"%PDF-1.4 tiny"
    assert env.text_body.strip() == "Chuyển tiếp"


def test_tnef_is_kept_as_an_attachment_for_the_document_reader() -> None:
    """The parser keeps winmail.dat whole; intake.documents opens it (issue 24), so it is no defect."""
    from intake.documents import sniff_format

    part = (b"Content-Type: application/ms-tnef; name=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=winmail.dat\r\n\r\neJ8+IgAA\r\n")
    env = parse(_multipart([TEXT_PART, part]))
    att = env.attachments[0]
    assert (att.filename, att.data) == ("winmail.dat", b"\x78\x9f\x3e\x22\x00\x00")
    assert sniff_format(att.filename, att.content_type, att.data) == "tnef"
    assert not any("TNEF" in d for d in env.defects)


# ------------------------------------------------------------------ broken structure


def test_broken_base64_is_decoded_as_far_as_possible() -> None:
    part = (b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=a.pdf\r\n\r\nJVBERi0xLjQ*!!gdGlue\r\nQ")
    env = parse(_multipart([TEXT_PART, part]))
    assert env.attachments[0].data.startswith(b"%PDF-1.4")
    assert any("Base64" in d for d in env.defects)


def test_missing_boundary_parameter_is_recovered() -> None:
    body = b"--XYZ\r\n" + TEXT_PART + b"\r\n--XYZ\r\n" + _attachment("attachment; filename=a.docx") + b"\r\n--XYZ--\r\n"
    raw = raw_message([("From", "a@x.vn"), ("Subject", "s"), ("Content-Type", "multipart/mixed")], body)
    env = parse(raw)
    assert env.text_body == "Kinh gui"
    assert [a.filename for a in env.attachments] == ["a.docx"]
    assert any("boundary" in d for d in env.defects)


def test_wrong_boundary_is_recovered_from_the_body() -> None:
    body = (b"--REAL\r\n" + TEXT_PART + b"\r\n--REAL\r\n" + _attachment("attachment; filename=a.pdf")
            + b"\r\n--REAL--\r\n")
    raw = raw_message([("From", "a@x.vn"), ("Subject", "s"), ("Content-Type", 'multipart/mixed; boundary="DECLARED"')],
                      body)
    env = parse(raw)
    assert env.text_body == "Kinh gui"
    assert [a.filename for a in env.attachments] == ["a.pdf"]
    assert any("recovered as 'REAL'" in d for d in env.defects)


def test_multipart_without_any_boundary_lines_becomes_text() -> None:
    raw = raw_message([("From", "a@x.vn"), ("Subject", "s"), ("Content-Type", "multipart/mixed")], b"just text\r\n")
    env = parse(raw)
    assert "just text" in env.text_body
    assert any("boundary" in d for d in env.defects)


def test_truncated_multipart_keeps_what_arrived() -> None:
    raw = _multipart([TEXT_PART, _attachment("attachment; filename=a.docx")], close=False)
    raw = raw[: len(raw) - 6]  # cut inside the base64 of the last part
    env = parse(raw)
    assert env.text_body == "Kinh gui"
    assert env.attachments and env.attachments[0].filename == "a.docx"
    assert any("CloseBoundaryNotFound" in d for d in env.defects)


def _nested(levels: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for i in range(levels):
        b = b"b%d" % i
        body = (b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n"
                + body + b"\r\n--" + b + b"--\r\n")
    return b"From: a@x.vn\r\nSubject: deep\r\n" + body


def test_deep_nesting_stops_with_a_defect() -> None:
    env = parse(_nested(30), Limits(max_nesting_depth=12))
    assert env.text_body == ""
    assert any("nesting deeper than 12" in d for d in env.defects)
    assert parse(_nested(5)).text_body.strip() == "leaf"


def test_absurd_nesting_is_rejected_not_crashed() -> None:
    with pytest.raises(ParseError) as err:
        parse(_nested(3000))
    assert err.value.reason


def test_oversize_message_raises_limit_exceeded() -> None:
    raw = simple("x", body=b"a" * 5000)
    with pytest.raises(LimitExceeded) as err:
        parse(raw, Limits(max_message_bytes=1000))
    assert isinstance(err.value, MessageRejected)
    assert "giới hạn" in err.value.reason


def test_oversize_part_and_too_many_attachments_are_skipped() -> None:
    big = _attachment("attachment; filename=big.pdf", b"x" * 20_000)
    small = [_attachment(f"attachment; filename=s{i}.pdf", b"y") for i in range(3)]
    env = parse(_multipart([TEXT_PART, big, *small]), Limits(max_part_bytes=10_000, max_attachments=2))
    assert [a.filename for a in env.attachments] == ["s0.pdf", "s1.pdf"]
    assert any("big.pdf" in d and "skipped" in d for d in env.defects)
    assert any("s2.pdf" in d and "skipped" in d for d in env.defects)


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x89PNG\r\n\x1a\n\x00\x00binary"])
def test_unreadable_input_raises_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse(raw)


@pytest.mark.parametrize("header, expected", [
    ("eve@example.com <frank@example.com>", ["frank@example.com"]),  # the angle address, as for From
    ("Smith@gmail.com, Mikel@Lindsaar <raasdnil@gmail.com>", ["smith@gmail.com", "raasdnil@gmail.com"]),
    ("=?utf-8?b?VsSDbiB0aMawIFPhu58=?= <VanThu@SKHCN.tayninh.gov.vn>", ["vanthu@skhcn.tayninh.gov.vn"]),
    ("undisclosed-recipients:;", []),  # a group the strict parser refuses: the tolerant chain answers
    ("a@x.vn,, b@y.vn", ["a@x.vn", "b@y.vn"]),
])
def test_recipient_addresses(header: str, expected: list[str]) -> None:
    raw = f"From: a@b.vn\r\nTo: {header}\r\nCc: {header}\r\nSubject: x\r\n\r\nbody\r\n".encode()
    env = parse(raw)
    assert env.to == expected and env.cc == expected
