"""The 2024 season replayed day by day, on SQLite and PostgreSQL.

Campaign opened 17/11/2024, deadline 30/11/2024. Every morning from 16/11 to
10/12 the digest runs at 07:30 and the reminders at 08:00 (the clock is
given, as ``--now`` would); the day's events happen after that. Each day the
test checks the exact set of reminders queued and what the digest says about
who is missing.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from tests.test_digest import cli_config
from tests.test_reminders import YEAR, action_ctx, record_report, report, vn
from workflow.app import App
from workflow.db import models
from workflow.season import contacts
from workflow.season.actions import request_resubmission
from workflow.season.digest import queue_digest
from workflow.season.reminders import send_reminders

DEADLINE = date(2024, 11, 30)
FIRST, LAST = date(2024, 11, 16), date(2024, 12, 10)

# What happens during the day (after the morning jobs), and what it does to "still owes".
EVENTS: dict[date, list[tuple[str, str, int]]] = {
    date(2024, 11, 20): [("report", "hai-phong", 10)],
    date(2024, 11, 24): [("report", "bac-ninh", 14)],
    date(2024, 11, 26): [("resubmission", "bac-ninh", 9)],
    date(2024, 11, 28): [("report", "bac-ninh", 15)],
    date(2024, 11, 29): [("review", "tay-ninh", 16)],
    date(2024, 12, 2): [("learn", "long-an", 10)],
    date(2024, 12, 3): [("report", "bo-y-te", 11)],  # late
}
SENDERS = {"hai-phong": "skhcn@haiphong.gov.vn", "bac-ninh": "sokhcn@bacninh.gov.vn",
           "tay-ninh": "skhcn@tayninh.gov.vn", "bo-y-te": "vanthu@moh.gov.vn"}

# The plan, by hand: d-7 on 23/11, d-3 on 27/11, d-1 on 29/11, d0 on 30/11, late+3/6/9 on 03, 06, 09/12,
# each to the agencies that still owe that morning and can be written to.
EXPECTED_REMINDERS: dict[date, set[tuple[str, str]]] = {
    date(2024, 11, 23): {("bo-y-te", "d-7"), ("bac-ninh", "d-7"), ("tay-ninh", "d-7")},
    date(2024, 11, 27): {("bo-y-te", "d-3"), ("bac-ninh", "d-3"), ("tay-ninh", "d-3")},  # Bắc Ninh asked to resend
    date(2024, 11, 29): {("bo-y-te", "d-1"), ("tay-ninh", "d-1")},
    date(2024, 11, 30): {("bo-y-te", "d0")},
    date(2024, 12, 3): {("bo-y-te", "late+3"), ("long-an", "late+3")},  # Long An reachable since 02/12
    date(2024, 12, 6): {("long-an", "late+6")},
    date(2024, 12, 9): {("long-an", "late+9")},
}


def owing_in_the_morning(day: date) -> set[str]:
    """Who still owes at 08:00 on ``day``, from the event table alone."""
    owing = {"bo-y-te", "bac-ninh", "hai-phong", "tay-ninh", "long-an"}
    for when, events in sorted(EVENTS.items()):
        if when >= day:
            break
        for kind, agency, _ in events:
            if kind in ("report", "review"):
                owing.discard(agency)
            elif kind == "resubmission":
                owing.add(agency)
    return owing


def happen(app: App, tmp_path: Path, day: date) -> None:
    for kind, agency, hour in EVENTS.get(day, []):
        at = vn(day.year, day.month, day.day, hour)
        if kind in ("report", "review"):
            reasons = ["thiếu mục I.2 của đề cương"] if kind == "review" else None
            u = report(tmp_path, agency, at, SENDERS[agency], f"{agency}-{day:%m%d}", review_reasons=reasons)
            record_report(app.db, app.roster, app.campaigns, u)
        elif kind == "resubmission":
            with app.db.transaction() as session:
                request_resubmission(session, action_ctx(app.roster, app.campaigns, at), agency, YEAR,
                                     "Báo cáo thiếu biểu số liệu chỉ tiêu")
        elif kind == "learn":
            with app.db.transaction() as session:
                contacts.tie_sender(session, app.roster_base, agency, "vanphong@skhcn.longan.gov.vn",
                                    actor="Điều phối viên", now=at, why="gán thư")


def test_replayed_2024_season(tmp_path: Path, db_url: str) -> None:
    app = App.load(str(cli_config(tmp_path, db_url)))
    try:
        day = FIRST
        while day <= LAST:
            morning_digest = vn(day.year, day.month, day.day, 7, 30)
            morning = vn(day.year, day.month, day.day, 8, 0)
            owing = owing_in_the_morning(day)

            digest = queue_digest(app, YEAR, morning_digest)
            assert digest.queued, day
            assert {m["slug"] for m in digest.data.missing} == owing, day
            assert {m["days_left"] for m in digest.data.missing} <= {(DEADLINE - day).days}, day
            reachable_long_an = day > date(2024, 12, 2)
            expected_no_address = [] if reachable_long_an or "long-an" not in owing else ["long-an"]
            assert [n["agency"] for n in digest.data.no_address] == expected_no_address, day

            run = send_reminders(app, YEAR, morning)
            expected = {f"reminder:{a}:{YEAR}:{s}" for a, s in EXPECTED_REMINDERS.get(day, set())}
            assert {r.dedupe_key for r in run.queued} == expected, day
            assert {r.agency for r in run.queued} <= owing, day

            happen(app, tmp_path, day)
            day += timedelta(days=1)

        with app.db.sessions() as session:
            outbox = session.scalars(select(models.OutboxEmail)).all()
            subs = {s.agency_slug: s for s in session.scalars(select(models.Submission))}
        reminders = sorted(r.dedupe_key for r in outbox if r.kind == "reminder")
        assert reminders == sorted(f"reminder:{a}:{YEAR}:{s}" for v in EXPECTED_REMINDERS.values() for a, s in v)
        digests = sorted(r.dedupe_key for r in outbox if r.kind == "digest")
        assert digests == [f"digest:{FIRST + timedelta(days=i):%Y-%m-%d}" for i in range((LAST - FIRST).days + 1)]
        assert all(r.attachments and Path(r.attachments[0]["path"]).is_file() for r in outbox if r.kind == "digest")
        assert subs["bo-y-te"].on_time is False and subs["hai-phong"].on_time is True
        assert subs["bac-ninh"].state == models.ACKNOWLEDGED and subs["tay-ninh"].state == models.NEEDS_REVIEW
        long_an = next(r for r in outbox if r.dedupe_key == f"reminder:long-an:{YEAR}:late+3")
        assert long_an.recipients == ["vanphong@skhcn.longan.gov.vn"]
    finally:
        app.close()


def test_digest_on_the_day_after_a_late_report_says_so(tmp_path: Path, db_url: str) -> None:
    app = App.load(str(cli_config(tmp_path, db_url)))
    try:
        queue_digest(app, YEAR, vn(2024, 12, 3, 7, 30))
        record_report(app.db, app.roster, app.campaigns,
                      report(tmp_path, "bo-y-te", vn(2024, 12, 3, 11), SENDERS["bo-y-te"], "byt"))
        data = queue_digest(app, YEAR, vn(2024, 12, 4, 7, 30)).data
        (new,) = data.new_since_yesterday
        assert new["agency"] == "bo-y-te" and new["on_time"] is False
        assert {m["days_left"] for m in data.missing} == {-4}
        assert "bo-y-te" not in {m["slug"] for m in data.missing}
        assert isinstance(data.since, datetime) and data.since == vn(2024, 12, 3, 7, 30)
    finally:
        app.close()


# -- the contact book (#13): the shipped roster, every agency reminded by its imported addresses --------

STAGE_DAYS = [date(2024, 11, 16), date(2024, 11, 23), date(2024, 11, 27), date(2024, 11, 29), date(2024, 11, 30),
              date(2024, 12, 3), date(2024, 12, 6), date(2024, 12, 9)]


def _contact_sheet(path: Path, agencies) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The coordinators' sheet for every agency: a focal point and a clerk each; returns slug -> (focal, clerk)."""
    addresses = {}
    lines = ["Đơn vị;Họ và tên;Vai trò;Email;Kính gửi"]
    for agency in agencies:
        key = agency.slug.replace("-", "")
        focal, clerk = f"daumoi.{key}@example.org", f"vanthu.{key}@example.org"
        addresses[agency.slug] = (focal, clerk)
        lines.append(f"{agency.name};Đầu mối {agency.short_name};Đầu mối;{focal};Sở Khoa học và Công nghệ "
                     f"{agency.short_name}")
        lines.append(f"{agency.short_name};Văn thư;văn thư;{clerk};")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return addresses


def test_2024_season_reminds_all_69_agencies_by_imported_addresses(tmp_path: Path, db_url: str) -> None:
    from tests.cli_helpers import run_cli
    from tests.test_contacts import shipped_config

    config = shipped_config(tmp_path, db_url)
    app = App.load(str(config))
    try:
        agencies = app.roster_base.owing(YEAR)
        assert len(agencies) == 69
        addresses = _contact_sheet(tmp_path / "dau-moi.csv", agencies)
        run_cli("contacts", "import", str(tmp_path / "dau-moi.csv"), config=config)
        slugs = [a.slug for a in agencies]
        # Who reports when (after that morning's reminders); the last 14 never do.
        reports = {date(2024, 11, 20): slugs[:10], date(2024, 11, 25): slugs[10:30],
                   date(2024, 11, 29): slugs[30:45], date(2024, 12, 4): slugs[45:55]}
        owing = set(slugs)
        reminded: dict[str, list[str]] = {}
        day = date(2024, 11, 16)
        while day <= date(2024, 12, 10):
            run = send_reminders(app, YEAR, vn(day.year, day.month, day.day, 8))
            assert run.due.no_address == [], day
            queued = {r.agency: r for r in run.queued}
            assert set(queued) == (owing if day in STAGE_DAYS else set()), day
            for slug, planned in queued.items():
                assert planned.recipients == (addresses[slug][0],) and planned.cc == (addresses[slug][1],), slug
                reminded.setdefault(slug, []).append(planned.stage)
            for i, slug in enumerate(reports.get(day, [])):
                at = vn(day.year, day.month, day.day, 10, i)
                record_report(app.db, app.roster, app.campaigns,
                              report(tmp_path, slug, at, addresses[slug][0], f"{slug}-{day:%m%d}"))
                owing.discard(slug)
            day += timedelta(days=1)
        assert set(reminded) == set(slugs)  # every agency was reached
        # Each stopped at its report: 20/11 after d-14, 25/11 after d-7, 29/11 after d-1, 04/12 after late+3.
        assert [len(reminded[slugs[i]]) for i in (0, 12, 40, 50, 68)] == [1, 2, 4, 6, len(STAGE_DAYS)]
        assert reminded[slugs[68]] == ["d-14", "d-7", "d-3", "d-1", "d0", "late+3", "late+6", "late+9"]
        with app.db.sessions() as session:
            outbox = session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.kind == "reminder")).all()
        assert {r.agency_slug for r in outbox} == set(slugs)
        assert all(set(r.recipients) | set(r.cc or []) <= set(addresses[r.agency_slug]) for r in outbox)
    finally:
        app.close()
