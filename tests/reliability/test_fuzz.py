"""Generated MIME trees against the parser and the whole understanding pipeline.

Hypothesis builds messages the way broken mailers do: random nesting of
multipart/mixed and /alternative, text parts in random (and bogus) charsets
and transfer encodings, header values with encoded-words and control
characters, hostile file names. Whatever comes in: the parser raises
nothing but ``MessageRejected``, ``understand`` raises nothing, and the
classifier never calls something a report that carries no programme words.
"""
from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from intake.limits import Limits
from intake.message.parse import MessageRejected, parse
from intake.model import RawMessage
from intake.pipeline import understand
from reference.text import fold
from tests.reliability import write_config
from workflow.app import App

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
ARRIVED = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)
LIMITS = Limits(max_message_bytes=2_000_000, max_part_bytes=500_000, max_nesting_depth=8)

CHARSETS = ["utf-8", "windows-1258", "cp1258", "iso-8859-1", "us-ascii", "koi8-r", "shift_jis", "big5",
            "x-bogus", "", "utf-7", "utf-16"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", ""]
VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"

any_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
vn_text = st.text(st.sampled_from(VIETNAMESE + VIETNAMESE.upper() + " 0123456789.,:;-()/\n\t"), max_size=200)


@st.composite
def encoded_words(draw) -> str:  # type: ignore[no-untyped-def]
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(any_text)
    data = text.encode("utf-8", "replace")
    if draw(st.booleans()):
        return f"=?{charset}?b?{base64.b64encode(data).decode()}?="
    return f"=?{charset}?q?{quopri.encodestring(data, header=True).decode(errors='replace')}?="


header_value = st.one_of(any_text, encoded_words(),
                         st.lists(st.one_of(any_text, encoded_words()), max_size=4).map(" ".join),
                         st.text(st.characters(max_codepoint=0x1F), max_size=10))
file_name = st.one_of(
    st.none(), any_text,
    st.sampled_from(["../../etc/passwd", "/etc/shadow", "C:\\Windows\\x.docx", "a\x00b.docx", "x\u202egpj.exe",
                     "Báo cáo.docx", "." * 300, "con.docx", "", "=?utf-8?b?QsOhbyBjw6Fv?=.pdf"]),
    st.text(min_size=200, max_size=400),
)


def _encode_body(text: str, charset: str, cte: str) -> str:
    try:
        data = text.encode(charset or "utf-8", "replace")
    except (LookupError, UnicodeError):
        data = text.encode("utf-8", "replace")
    if cte == "base64":
        return base64.encodebytes(data).decode()
    if cte == "quoted-printable":
        return quopri.encodestring(data).decode("ascii", "replace")
    return data.decode("latin-1")  # raw 8-bit bytes, carried through latin-1 to the final encode


@st.composite
def leaf(draw) -> str:  # type: ignore[no-untyped-def]
    ctype = draw(st.sampled_from(["text/plain", "text/html", "application/pdf", "application/octet-stream",
                                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                  "message/rfc822", "image/png", "text/x-weird", "multipart/mixed"]))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    name = draw(file_name)
    head = f"Content-Type: {ctype}" + (f'; charset="{charset}"' if charset else "") + "\r\n"
    if name is not None:
        disposition = draw(st.sampled_from(["attachment", "inline", "bogus"]))
        head += f'Content-Disposition: {disposition}; filename="{name}"\r\n'
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\r\n"
    return head + "\r\n" + _encode_body(draw(st.one_of(vn_text, any_text)), charset, cte)


def tree(max_leaves: int = 8):  # type: ignore[no-untyped-def]
    def extend(children):  # type: ignore[no-untyped-def]
        @st.composite
        def multipart(draw) -> str:  # type: ignore[no-untyped-def]
            subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report"]))
            boundary = draw(st.sampled_from(["b1", "=_x", "-", "Z" * 70, "b1"]))  # "b1" twice: clashes happen
            parts = draw(st.lists(children, max_size=4))
            close = draw(st.booleans())
            body = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + (f"--{boundary}--\r\n" if close else "")
            return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n{body}'
        return multipart()
    return st.recursive(leaf(), extend, max_leaves=max_leaves)


@st.composite
def messages(draw) -> bytes:  # type: ignore[no-untyped-def]
    headers = {
        "From": draw(st.one_of(header_value, st.just("Văn thư <vanthu@skhcn.tayninh.gov.vn>"))),
        "To": draw(header_value),
        "Subject": draw(header_value),
        "Date": draw(st.one_of(header_value, st.just("Wed, 20 Nov 2024 09:00:00 +0700"))),
        "Message-ID": draw(header_value),
    }
    for name in draw(st.lists(st.sampled_from(["Auto-Submitted", "Authentication-Results", "Reply-To",
                                                "Content-Disposition", "List-Id", "X-TDC-Bot", "Return-Path"]),
                              max_size=3)):
        headers[name] = draw(header_value)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if draw(st.booleans()) or k == "From")
    text = head + "MIME-Version: 1.0\r\n" + draw(tree())
    return text.encode("utf-8", "surrogatepass") if draw(st.booleans()) else text.encode("latin-1", "replace")


@pytest.fixture(scope="module")
def context(tmp_path_factory):  # type: ignore[no-untyped-def]
    from workflow.runtime.intake_cycle import intake_context

    tmp = tmp_path_factory.mktemp("fuzz")
    app = App.load(str(write_config(tmp, db_url=f"sqlite:///{tmp / 'tdc.db'}")))
    ctx = intake_context(app, roster=app.roster_base)
    yield ctx
    app.close()


@FUZZ
@given(raw=messages())
def test_parse_raises_only_message_rejected(raw):
    try:
        env = parse(raw, LIMITS)
    except MessageRejected as exc:
        assert exc.reason
        return
    assert isinstance(env.subject, str) and isinstance(env.text_body, str)
    for att in env.attachments:
        assert "/" not in att.safe_name and "\\" not in att.safe_name and "\0" not in att.safe_name


@FUZZ
@given(raw=st.one_of(messages(), st.binary(max_size=3000)))
def test_understand_never_raises(context, raw):
    u = understand(RawMessage("fuzz:1", raw, ARRIVED, "fuzz"), context, store=None)
    assert u.status in {"recorded", "ignored", "quarantined"}
    if u.status == "quarantined":
        assert u.quarantine_reason


def _empty_message(extra_headers: str) -> bytes:
    return ("From: Văn thư <vanthu@skhcn.tayninh.gov.vn>\r\nTo: baocao@tdc.example.vn\r\n"
            f"Date: Wed, 20 Nov 2024 09:00:00 +0700\r\n{extra_headers}\r\n").encode()


@FUZZ
@given(extra=st.sampled_from(["", "Subject: \r\n", "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n",
                              "Content-Type: text/plain\r\n"]))
def test_an_empty_message_is_never_a_report(context, extra):
    u = understand(RawMessage("fuzz:empty", _empty_message(extra), ARRIVED, "fuzz"), context, store=None)
    assert u.classification is None or u.classification.kind != "report"


PROGRAMME_WORDS = ("bao cao", "nang suat", "chat luong", "1322", "nscl", "chuong trinh", "ket qua", "report",
                   "baocao", "khcn", "tdc", "tieu chuan", "do luong")


@FUZZ
@given(subject=vn_text, body=vn_text)
def test_random_text_without_programme_words_is_not_a_report(context, subject, body):
    folded = fold(f"{subject} {body}")
    assume(not any(w in folded or w.replace(" ", "") in folded.replace(" ", "") for w in PROGRAMME_WORDS))
    raw = (_empty_message("").decode().rstrip("\r\n") + "\r\n" + "Subject: " + subject.replace("\n", " ") +
           "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
    u = understand(RawMessage("fuzz:text", raw, ARRIVED, "fuzz"), context, store=None)
    assert u.classification is not None
    assert u.classification.kind != "report", (subject, body, u.classification.reasons)
