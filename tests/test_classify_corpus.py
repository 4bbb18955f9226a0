"""The whole chain (parse → guards → documents → classify) on the labelled corpus.

Prints the accuracy per field and every miss with the classifier's reasons,
so a regression shows *why* at once; any miss fails the test.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.build import build, check_readings, read_cases, reading_context

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
    def scored():  # type: ignore[no-untyped-def]
        for path, label, understood in read_cases(corpus, reading_context(roster, campaigns)):
            reading = understood.reading()
            yield path.name, reading.as_dict(), label, reading.reasons

    check_readings(scored(), FIELDS, capsys, "messages")
