"""Large messages: parsed without the stdlib's copies, with the same result, and read one at a time."""
from __future__ import annotations

import base64
import os
import threading
import time
import tracemalloc

import pytest
from sqlalchemy import select

import intake.message.large_bodies as large_bodies
from intake.limits import Limits
from intake.message.parse import MessageRejected, parse
from intake.sources.maildir import deliver
from tests import badmail, mailfactory
from tests.cli_helpers import write_config
from workflow.app import App
from workflow.db import models
from workflow.runtime import intake_cycle

MB = 1024 * 1024
HEAD = ("From: So KHCN <vanthu@skhcn.tayninh.gov.vn>\r\nTo: baocao@tdc.example.vn\r\n"
        "Subject: =?UTF-8?B?{}?=\r\nMessage-ID: <{}@skhcn.tayninh.gov.vn>\r\nMIME-Version: 1.0\r\n")
BIG = Limits(max_message_bytes=100 * MB, max_part_bytes=80 * MB, zip_max_total_bytes=200 * MB)


def _head(mid: str, extra: str = "") -> str:
    return HEAD.format(base64.b64encode("Báo cáo năm 2024".encode()).decode(), mid) + extra


def _b64_lines(data: bytes, eol: str = "\r\n") -> str:
    return base64.encodebytes(data).decode().replace("\n", eol)


def _with_attachment(data: bytes) -> bytes:
    return mailfactory.attachment_mail("bao-cao.docx", data, "application/octet-stream", subject="Báo cáo năm 2024",
                                       body="Kính gửi, Sở KH&CN Tây Ninh gửi báo cáo năm 2024.")


def _odd_messages() -> dict[str, bytes]:
    """Shapes where a cut-out run must be put back exactly (or decoded with the same defects)."""
    blob = os.urandom(3000)
    mixed = 'Content-Type: multipart/mixed; boundary="B"\r\n'
    part = "--B\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    text = "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nXin gửi báo cáo.\r\n"
    good = _b64_lines(blob)
    inner = mailfactory.report_email(sender="vanthu@skhcn.cantho.gov.vn", province="Cần Thơ")
    return {
        "clean": _head("a", mixed) + "\r\n" + text + part + good + "--B--\r\n",
        "lf-only": (_head("b", mixed) + "\r\n" + text + part + good + "--B--\r\n").replace("\r\n", "\n"),
        "bad-padding": _head("c", mixed) + "\r\n" + text + part + good.rstrip("=\r\n") + "A\r\n--B--\r\n",
        "bad-chars": _head("d", mixed) + "\r\n" + text + part + good[:400] + "*!*\r\n" + good[400:] + "--B--\r\n",
        "leading-text": _head("e", mixed) + "\r\n" + text + part + "  \r\n" + good + "--B--\r\n",
        "blank-line-inside": _head("f", mixed) + "\r\n" + text + part + good[:800] + "\r\n" + good[800:] + "--B--\r\n",
        "lone-cr": _head("g", mixed) + "\r\n" + text + part + good[:700] + "\r" + good[700:] + "--B--\r\n",
        "base64-text-body": _head("h",
                                  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n")
        + "\r\n" + _b64_lines(("Kính gửi Bộ KH&CN. " * 200).encode()),
        "at-eof-no-newline": _head("i", "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n")
        + "\r\n" + good.rstrip("\r\n"),
        "headerless-part": _head("j", mixed) + "\r\n" + text + "--B\r\n\r\n" + good + "--B--\r\n",
        "no-boundary": _head("k", "Content-Type: multipart/mixed\r\n") + "\r\n" + text + part + good + "--B--\r\n",
        "encoded-forward": _head("l", mixed) + "\r\n" + text
        + "--B\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + _b64_lines(inner) + "--B--\r\n",
        "quoted-printable": _head("m", "Content-Type: text/plain; charset=utf-8\r\n"
                                       "Content-Transfer-Encoding: quoted-printable\r\n") + "\r\n" + good,
    }


def _corpus() -> list[tuple[str, bytes]]:
    mails = [(m.kind, m.raw) for m in badmail.build()]
    mails += [(k, v.encode("utf-8", "surrogateescape")) for k, v in _odd_messages().items()]
    mails += [("report", mailfactory.report_email()), ("auto-reply", mailfactory.auto_reply()),
              ("bounce", mailfactory.bounce()), ("newsletter", mailfactory.newsletter())]
    return mails


def _parse_both(raw: bytes, monkeypatch: pytest.MonkeyPatch, limits: Limits | None = None):
    """The envelope as the plain stdlib path gives it, and with every base64-looking line cut out."""
    def run(message_bytes: int, run_bytes: int):
        monkeypatch.setattr(large_bodies, "LEAN_MESSAGE_BYTES", message_bytes)
        monkeypatch.setattr(large_bodies, "LEAN_RUN_BYTES", run_bytes)
        try:
            return parse(raw, limits)
        except MessageRejected as exc:
            return type(exc).__name__, exc.reason
    return run(1 << 62, 1 << 62), run(0, 1)


@pytest.mark.parametrize(("kind", "raw"), _corpus(), ids=[k for k, _ in _corpus()])
def test_cutting_out_base64_lines_changes_nothing_the_parser_reports(kind, raw, monkeypatch):
    plain, lean = _parse_both(raw, monkeypatch)
    assert lean == plain


def test_odd_shapes_really_take_the_repair_paths(monkeypatch):
    """The equivalence above is only worth something if those shapes do produce defects and attachments."""
    odd = {k: parse(v.encode("utf-8", "surrogateescape")) for k, v in _odd_messages().items()}
    assert any("InvalidBase64" in d for d in odd["bad-padding"].defects)
    assert any("InvalidBase64CharactersDefect" in d for d in odd["bad-chars"].defects)
    assert any("boundary" in d for d in odd["no-boundary"].defects)
    assert any("forwarded message was base64-encoded" in d for d in odd["encoded-forward"].defects)
    assert odd["encoded-forward"].forwarded and odd["encoded-forward"].forwarded[0].attachments
    assert "Kính gửi Bộ KH&CN" in odd["base64-text-body"].text_body
    assert [len(a.data) for a in odd["clean"].attachments] == [3000]


def test_a_large_attachment_is_decoded_once_and_exactly(monkeypatch):
    data = os.urandom(4 * MB)
    raw = _with_attachment(data)
    tracemalloc.start()
    try:
        env = parse(raw, BIG)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [a.data for a in env.attachments] == [data]
    assert "Sở KH&CN Tây Ninh" in env.text_body and env.subject == "Báo cáo năm 2024"
    # the stdlib path alone peaks at ~8x the message; one decoded copy is 0.75x
    assert peak < 1.2 * len(raw), f"parse peaked at {peak / MB:.1f} MB for a {len(raw) / MB:.1f} MB message"
    plain, lean = _parse_both(raw, monkeypatch, BIG)
    assert lean == plain


def test_part_size_limit_counts_the_cut_out_bytes(monkeypatch):
    """An oversized part is skipped on its encoded size, before anything is decoded."""
    def no_decoding(_data):
        raise AssertionError("an oversized part was decoded")
    monkeypatch.setattr(large_bodies, "a2b_base64", no_decoding)
    raw = _with_attachment(os.urandom(2 * MB))
    env = parse(raw, Limits(max_message_bytes=10 * MB, max_part_bytes=1 * MB))
    assert env.attachments == []
    assert any("over 1048576 bytes skipped" in d for d in env.defects)


def test_a_forged_token_is_plain_text(monkeypatch):
    """Tokens carry a per-parse nonce: text that imitates one is left alone."""
    monkeypatch.setattr(large_bodies, "LEAN_MESSAGE_BYTES", 0)
    monkeypatch.setattr(large_bodies, "LEAN_RUN_BYTES", 1)
    raw = (_head("z", "Content-Type: text/plain; charset=utf-8\r\n") + "\r\ntdcbulk0000000000000000n00000000\r\n"
           "Xin gửi.\r\n").encode()
    assert parse(raw).text_body.splitlines()[0] == "tdcbulk0000000000000000n00000000"


def _concurrency_probe(monkeypatch) -> list[int]:
    """Wrap understand() to record how many run at the same time."""
    real = intake_cycle.understand
    lock, running, seen = threading.Lock(), [0], []

    def probe(raw, ctx, store, fingerprint=None):
        with lock:
            running[0] += 1
            seen.append(running[0])
        try:
            time.sleep(0.05)
            return real(raw, ctx, store, fingerprint)
        finally:
            with lock:
                running[0] -= 1
    monkeypatch.setattr(intake_cycle, "understand", probe)
    return seen


@pytest.mark.parametrize("serial_from", [1, intake_cycle.SERIAL_FROM_BYTES])
def test_a_fetch_over_the_byte_bound_is_understood_one_message_at_a_time(tmp_path, monkeypatch, serial_from):
    monkeypatch.setattr(intake_cycle, "SERIAL_FROM_BYTES", serial_from)
    seen = _concurrency_probe(monkeypatch)
    app = App.load(str(write_config(tmp_path, f"sqlite:///{tmp_path}/tdc.db")))
    try:
        for i in range(4):
            deliver(tmp_path / "mail", mailfactory.report_email(message_id=f"<big-{i}@skhcn.tayninh.gov.vn>"))
        stats = intake_cycle.open_cycle(app).run_once()
        with app.db.sessions() as s:
            rows = list(s.scalars(select(models.Message)))
    finally:
        app.close()
    assert stats.stopped_early is None and len(rows) == 4 and all(r.marked_done for r in rows)
    assert len(seen) == 4
    if serial_from == 1:
        assert max(seen) == 1
    else:  # small fetches still overlap, so the probe above can see overlap
        assert max(seen) > 1
