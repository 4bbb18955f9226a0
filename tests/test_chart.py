"""The digest chart: the two series from the database, and the PNG itself."""
from __future__ import annotations

import struct
from datetime import UTC, date, datetime

import pytest

from notifier.chart import HEIGHT_PX, WIDTH_PX, submissions_chart
from tests.cli_helpers import write_config
from workflow.app import App
from workflow.db import models
from workflow.season.chart_data import chart_series, days_to_deadline, submission_series

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def app(tmp_path):
    application = App.load(str(write_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")))
    yield application
    application.close()


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def seed(app: App) -> None:
    """2024 (deadline 30/11): two on 20/11, one late on 02/12, one still missing; 2023: one on 29/11."""
    rows = [
        ("tay-ninh", 2024, _utc(2024, 11, 20, 2, 0)),
        ("can-tho", 2024, _utc(2024, 11, 20, 9, 0)),
        # 19:30 UTC on 19/11 is 02:30 on 20/11 in Vietnam: counted on 20/11, not the 19th.
        ("ha-noi", 2024, _utc(2024, 11, 19, 19, 30)),
        ("bo-y-te", 2024, _utc(2024, 12, 2, 1, 0)),
        ("bo-cong-thuong", 2024, None),
        ("tay-ninh", 2023, _utc(2023, 11, 29, 1, 0)),
    ]
    with app.db.transaction() as session:
        for slug, year, first in rows:
            session.add(models.Submission(agency_slug=slug, year=year, first_received_at=first,
                                          state=models.RECEIVED if first else models.MISSING,
                                          review_reasons=[], outline_missing=[]))


def test_days_to_deadline():
    deadline = date(2024, 11, 30)
    assert [days_to_deadline(date(2024, 11, d), deadline) for d in (20, 30)] == [10, 0]
    assert days_to_deadline(date(2024, 12, 2), deadline) == -2


def test_series_are_cumulative_per_vietnam_day(app):
    seed(app)
    with app.db.sessions() as session:
        this_year, last_year = chart_series(session, app.campaigns, 2024)
        assert this_year == [(10, 3), (-2, 4)]
        assert last_year == [(1, 1)]
        assert submission_series(session, 2022, date(2022, 11, 30)) == []


def test_chart_png_is_valid_and_small(tmp_path):
    path = submissions_chart([(10, 3), (-2, 4)], [(1, 1)], 2024, tmp_path / "digest" / "chart.png")
    data = path.read_bytes()
    assert png_size(data) == (WIDTH_PX, HEIGHT_PX) == (700, 350)
    assert len(data) < 100_000
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".chart-")]  # no temporary left behind


def test_chart_with_no_data_still_draws(tmp_path):
    path = submissions_chart([], [], 2025, tmp_path / "empty.png")
    assert png_size(path.read_bytes()) == (700, 350)
