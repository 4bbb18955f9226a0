"""`tdc-bot classify --json` on the labelled corpus gives the labelled answer for every message."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from intake.message.arrival import arrival_from_headers
from tests.cli_helpers import run_cli, write_config
from tests.corpus.build import build


def test_classify_cli_matches_every_label(tmp_path):
    corpus = tmp_path / "corpus"
    built = build(corpus)
    labels = json.loads((corpus / "labels.json").read_text(encoding="utf-8"))
    files = sorted(str(p) for p, _ in built)
    proc = run_cli("classify", "--json", *files, config=write_config(tmp_path, f"sqlite:///{tmp_path}/t.db"))
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(files) >= 40
    misses = []
    for row in rows:
        assert set(row) >= {"file", "kind", "agency", "year", "confidence", "reasons"}
        assert 0.0 <= row["confidence"] <= 1.0 and row["reasons"], row
        label = labels[Path(row["file"]).name]
        for field in ("kind", "agency", "year"):
            if row[field] != label[field]:
                misses.append((Path(row["file"]).name, field, label[field], row[field], row["reasons"]))
    assert misses == []


def test_arrival_prefers_the_topmost_received_header():
    raw = (b"Received: from mx2 by mx1; Fri, 29 Nov 2024 23:30:00 +0700\r\n"
           b"Received: from client by mx2; Fri, 29 Nov 2024 23:29:00 +0700\r\n"
           b"Date: Mon, 2 Dec 2024 08:00:00 +0700\r\nSubject: x\r\n\r\nbody\r\n")
    fallback = datetime(2030, 1, 1, tzinfo=UTC)
    when, source = arrival_from_headers(raw, fallback)
    assert source == "received" and when == datetime(2024, 11, 29, 16, 30, tzinfo=UTC)
    when, source = arrival_from_headers(b"Date: Mon, 2 Dec 2024 08:00:00 +0700\r\n\r\nx", fallback)
    assert source == "date" and when == datetime(2024, 12, 2, 1, 0, tzinfo=UTC)
    assert arrival_from_headers(b"Subject: none\r\n\r\nx", fallback) == (fallback, "file")
