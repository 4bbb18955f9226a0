"""The issue 24 shapes (tests/corpus/shapes.py) through the whole chain, every field of the reading.

As tests/test_classify_corpus.py does for the main corpus: prints the accuracy
per field and every miss with the reasons; any miss fails. Besides kind,
agency and year it checks how the report came (delivery), the links, the
files a reading stands on, the further readings (another year's file), the
office a copied mail was addressed to, and a phrase the reasons must hold.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from intake.model import Classification
from reference.text import words
from tests.corpus.build import check_readings, read_cases, reading_context
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
    def scored():  # type: ignore[no-untyped-def]
        for path, label, understood in read_cases(shapes, reading_context(roster, campaigns)):
            reading = understood.reading()
            yield path.name, _got(reading, label), label, reading.reasons

    check_readings(scored(), FIELDS, capsys, "shapes")
