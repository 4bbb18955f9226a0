"""The issue 24 shapes (tests/corpus/shapes.py) through the whole chain, every field of the reading.

As tests/test_classify_corpus.py does for the main corpus: prints the accuracy
per field and every miss with the reasons; any miss fails. Besides kind,
agency and year it checks how the report came (delivery), the links, the
files a reading stands on, the further readings (another year's file), the
office a copied mail was addressed to, and a phrase the reasons must hold.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from intake.documents.budget import DocLimits
from intake.limits import Limits
from intake.model import Classification, RawMessage
from intake.pipeline import IntakeContext, understand
from reference.text import words
from tests.corpus.build import BOT
from tests.corpus.shapes import build

FIELDS = ("kind", "agency", "year", "delivery", "links", "documents", "also", "copied_to", "reason")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> list[tuple[Path, dict]]:
    return build(tmp_path_factory.mktemp("shapes"))


def _got(reading: Classification, label: dict) -> dict:
    got = reading.as_dict()
    got["also"] = [{"year": a["year"], "documents": a["documents"]} for a in got["also"]]
    phrase = label["reason"]
    got["reason"] = phrase if phrase is None or phrase in words(" ".join(reading.reasons)) else None
    return got


def test_the_shapes_cover_every_delivery_and_the_lookalikes(shapes):
    labels = [label for _, label in shapes]
    assert {label["delivery"] for label in labels if label["kind"] == "report"} == {"file", "link", "body", "photos"}
    assert {label["kind"] for label in labels} == {"report", "periodic", "other"}
    assert any(label["also"] for label in labels) and any(label["copied_to"] for label in labels)


def test_shapes_accuracy(shapes, roster, campaigns, capsys):
    hits = dict.fromkeys(FIELDS, 0)
    misses: list[str] = []
    ctx = IntakeContext(roster=roster, campaigns=campaigns, limits=Limits(), doc_limits=DocLimits(),
                        own_addresses=frozenset({BOT}), own_domain=None, review_threshold=0.6)
    for path, label in shapes:
        raw = RawMessage(f"file:{path.name}", path.read_bytes(), datetime.fromisoformat(label["arrived_at"]), "corpus")
        reading = understand(raw, ctx, store=None).reading()
        got = _got(reading, label)
        wrong = [f for f in FIELDS if got[f] != label[f]]
        for f in FIELDS:
            hits[f] += f not in wrong
        if wrong:
            misses.append(f"{path.name}: " + ", ".join(f"{f} {got[f]!r} ≠ {label[f]!r}" for f in wrong)
                          + f"\n    ({label['note']})\n    lý do: " + " | ".join(reading.reasons))
    with capsys.disabled():
        print()
        for f in FIELDS:
            print(f"  {f:9s} {hits[f]}/{len(shapes)} = {hits[f] / len(shapes):.1%}")
        for miss in misses:
            print("  MISS " + miss)
    assert not misses, f"{len(misses)} of {len(shapes)} shapes misread"
