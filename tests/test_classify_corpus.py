"""The whole chain (parse → guards → documents → classify) on the labelled corpus.

Prints the accuracy per field and every miss with the classifier's reasons,
so a regression shows *why* at once; any miss fails the test.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from intake.documents.budget import DocLimits
from intake.limits import Limits
from intake.model import RawMessage
from intake.pipeline import IntakeContext, understand
from tests.corpus.build import BOT, build

FIELDS = ("kind", "agency", "year")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[Path, dict]]:
    return build(tmp_path_factory.mktemp("corpus"))


def test_corpus_is_large_and_varied(corpus):
    kinds = {label["kind"] for _, label in corpus}
    assert len(corpus) >= 40
    assert kinds == {"report", "other", "auto_reply", "bounce", "list"}
    assert (corpus[0][0].parent / "labels.json").exists()


def test_corpus_accuracy(corpus, roster, campaigns, capsys):
    hits = dict.fromkeys(FIELDS, 0)
    misses: list[str] = []
    for path, label in corpus:
        arrived = datetime.fromisoformat(label["arrived_at"])
        ctx = IntakeContext(roster=roster, campaigns=campaigns, limits=Limits(), doc_limits=DocLimits(),
                            own_addresses=frozenset({BOT}), own_domain=None, review_threshold=0.6)
        raw = RawMessage(f"file:{path.name}", path.read_bytes(), arrived, "corpus")
        result = understand(raw, ctx, store=None).reading()
        got = result.as_dict()
        wrong = [f for f in FIELDS if got[f] != label[f]]
        for f in FIELDS:
            hits[f] += f not in wrong
        if wrong:
            misses.append(
                f"{path.name}: " + ", ".join(f"{f} {got[f]!r} ≠ {label[f]!r}" for f in wrong)
                + f"\n    ({label['note']})\n    lý do: " + " | ".join(result.reasons)
            )
    with capsys.disabled():
        print()
        for f in FIELDS:
            print(f"  {f:7s} {hits[f]}/{len(corpus)} = {hits[f] / len(corpus):.1%}")
        for miss in misses:
            print("  MISS " + miss)
    assert not misses, f"{len(misses)} of {len(corpus)} messages misread"
