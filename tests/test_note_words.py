"""What intake notes about a message, as a coordinator reads it on the board and in `show`: Vietnamese.

Intake stores its findings in a stable technical form; notifier.labels.note_words words them. The
notes here are the ones intake really writes: every message of ../shared/realmail and the project's
hostile MIME and zip fixtures go through intake.message.parse and intake.documents.containers, and no English word of
intake's vocabulary may be left in what a coordinator is shown.
"""
from __future__ import annotations

import re

import pytest

from intake.documents.containers import inspect
from intake.limits import Limits
from intake.message.header_repair import repair_header_block
from intake.message.parse import ParseError, parse
from notifier.labels import note_words
from tests import badmail, hostile_mime
from tests.fixtures.documents import zip_bytes
from tests.test_realmail import corpus

# Words of intake's technical notes; none is a Vietnamese word written without diacritics.
ENGLISH = re.compile(r"\b(declared|decoded|charset|header|part|forwarded|message|skipped|address|usable|junk|line|"
                     r"dropped|boundary|multipart|payload|nesting|members|limit|over|archive|bytes|readable|"
                     r"decompress\w*|encrypted|macros|stopped|invalid|mismatch|replacement|characters)\b", re.I)
# What is quoted from the message itself (a header value, a boundary, a file name) is the sender's text.
QUOTED = re.compile(r"b?'[^']*'|b?\"[^\"]*\"|\([A-Za-z]+(?:Defect|Error)\)|\([^()]*Error[^()]*\)")


def notes_of(raw: bytes) -> list[str]:
    """What intake notes while reading one message: the header repair, then the parse (as the pipeline does)."""
    repaired, notes = repair_header_block(raw)
    try:
        return notes + parse(repaired, Limits()).defects
    except ParseError:
        return notes


def english_left(note: str) -> list[str]:
    return ENGLISH.findall(QUOTED.sub(" ", note_words(note)))


def test_every_note_the_real_mail_corpus_produces_is_worded_in_vietnamese() -> None:
    notes = {d for _, _, raw in corpus() for d in notes_of(raw)}
    assert len(notes) > 50  # the corpus does make intake note things
    left = {n: english_left(n) for n in notes if english_left(n)}
    assert left == {}


@pytest.mark.parametrize("raw", [hostile_mime.unusable_boundary(3), hostile_mime.encoded_forward(3),
                                 hostile_mime.repaired_header(3), hostile_mime.nested_multiparts(60),
                                 hostile_mime.encoded_forward(3, "quoted-printable")])
def test_notes_on_hostile_mime_are_worded_in_vietnamese(raw: bytes) -> None:
    notes = notes_of(raw)
    assert notes
    assert {n: english_left(n) for n in notes if english_left(n)} == {}


def test_notes_on_hostile_attachments_are_worded_in_vietnamese() -> None:
    limits = Limits(zip_max_members=2)
    notes = inspect("a.zip", zip_bytes({"../../etc/passwd": b"x", "b": b"y", "c": b"z"}), limits)
    for name, data in (("b.zip", b"PK\x03\x04 broken"), ("bom.zip", badmail.zip_bomb()),
                       ("bc.docx", badmail.docx_bomb()), ("bc.docx", badmail.encrypted_docx()),
                       ("bc.docm", badmail.macro_docm())):
        notes += inspect(name, data)
    assert len(notes) >= 7, notes
    worded = [note_words(n) for n in notes]
    assert {n: english_left(n) for n in notes if english_left(n)} == {}, worded
    assert any("đường dẫn có '..'" in w for w in worded) and any("có macro (không chạy)" in w for w in worded)


def test_the_words_keep_the_facts() -> None:
    assert note_words("part 2: no charset declared; decoded as cp1252") == (
        "phần 2: không khai báo bảng mã; đã đọc theo cp1252")
    assert note_words("forward: part 1.fwd: forwarded message was base64-encoded; decoded") == (
        "thư chuyển tiếp: phần 1 (thư chuyển tiếp): thư chuyển tiếp được mã hóa base64; đã giải mã")
    assert note_words("subject: 8-bit header decoded as cp1258") == (
        "tiêu đề Subject: viết bằng byte 8-bit; đã đọc theo cp1258")
    assert note_words("ngày trong tiêu đề thư lệch") == "ngày trong tiêu đề thư lệch"  # already Vietnamese: as is
