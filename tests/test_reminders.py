"""Reminders: the plan's calendar, due-ness windows, and who gets what.

The builders at the top (a five-agency roster, a 2024 campaign opened on
17/11 with a 30/11 deadline, a report recorded through
``workflow.season.submissions.record``) are shared with test_digest and
test_season_replay.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from intake.model import Classification, Envelope, GuardVerdict, RawMessage
from intake.pipeline import Understanding
from intake.store import StoredBlob
from reference.campaigns import Campaign, load_campaigns
from reference.roster import Roster, load_roster
from reference.time import last_day
from workflow.db import models
from workflow.db.engine import Database
from workflow.season.action_context import ActionContext
from workflow.season.actions import extend, request_resubmission
from workflow.season.reminders import (
    FIRM,
    NOTICE,
    OVERDUE,
    ReminderError,
    current_stage,
    due_reminders,
    reminder_plan,
    schedule,
    season_year,
    stage_offset,
)
from workflow.season.submissions import RecordContext, record
from workflow.settings import RemindersConfig

VN = ZoneInfo("Asia/Ho_Chi_Minh")
REPO = Path(__file__).resolve().parent.parent
YEAR = 2024
OPENED = date(2024, 11, 17)
DEADLINE = date(2024, 11, 30)

ROSTER_TOML = """
[[agency]]
slug = "bo-y-te"
name = "Bộ Y tế"
short_name = "Bộ Y tế"
kind = "ministry"
addresses = ["vanthu@moh.gov.vn"]
from = 2020

[[agency]]
slug = "hai-phong"
name = "Thành phố Hải Phòng"
short_name = "Hải Phòng"
kind = "province"
code = "31"
addresses = ["skhcn@haiphong.gov.vn"]
from = 2020

[[agency]]
slug = "bac-ninh"
name = "Tỉnh Bắc Ninh"
short_name = "Bắc Ninh"
kind = "province"
code = "27"
addresses = ["sokhcn@bacninh.gov.vn"]
from = 2020

[[agency]]
slug = "tay-ninh"
name = "Tỉnh Tây Ninh"
short_name = "Tây Ninh"
kind = "province"
code = "72"
addresses = ["skhcn@tayninh.gov.vn"]
from = 2020

[[agency]]
slug = "long-an"
name = "Tỉnh Long An"
short_name = "Long An"
kind = "province"
code = "80"
from = 2020
"""

CAMPAIGNS_TOML = """
[[campaign]]
year = 2024
dispatch = "1234/BKHCN-TĐC"
dispatch_date = 2024-11-17
deadline = 2024-11-30
notes = "Đợt báo cáo dùng cho kiểm thử (số công văn giả định)."
"""

SLUGS = ("bo-y-te", "bac-ninh", "hai-phong", "tay-ninh", "long-an")


def vn(y: int, m: int, d: int, hh: int = 8, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


def write_data(folder: Path) -> tuple[Path, Path]:
    """The test roster and campaigns (with the shipped outline) under ``folder``; returns their paths."""
    roster_dir = folder / "roster"
    roster_dir.mkdir(parents=True, exist_ok=True)
    (roster_dir / "agencies.toml").write_text(ROSTER_TOML, encoding="utf-8")
    campaigns = folder / "campaigns.toml"
    campaigns.write_text(CAMPAIGNS_TOML, encoding="utf-8")
    shutil.copytree(REPO / "config" / "outlines", folder / "outlines", dirs_exist_ok=True)
    return roster_dir, campaigns


@pytest.fixture
def data_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_data(tmp_path / "data")


@pytest.fixture
def roster(data_files: tuple[Path, Path]) -> Roster:
    return load_roster(data_files[0])


@pytest.fixture
def campaigns(data_files: tuple[Path, Path]) -> dict[int, Campaign]:
    return load_campaigns(data_files[1])


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'tdc.db'}")
    yield database
    database.dispose()


def report(tmp_path: Path, agency: str | None, arrived: datetime, sender: str, seed: str,
           year: int | None = YEAR, review_reasons: list[str] | None = None) -> Understanding:
    """A hand-built understanding of one report email, as intake would hand it to the workflow."""
    raw = f"From: {sender}\r\nSubject: Bao cao {seed}\r\n\r\n{seed}\r\n".encode()
    path = tmp_path / f"{seed}.eml"
    path.write_bytes(raw)
    envelope = Envelope(message_id=f"<{seed}@test.example.vn>", subject=f"Báo cáo kết quả năm {year} ({seed})",
                        from_addr=sender, from_name="Văn thư")
    return Understanding(
        raw=RawMessage(source_key=f"test:{seed}", raw=raw, arrived_at=arrived, mailbox="test"),
        blob=StoredBlob(sha256=hashlib.sha256(raw).hexdigest(), path=path, size=len(raw)),
        envelope=envelope,
        verdict=GuardVerdict("accept"),
        classification=Classification(kind="report", agency=agency, year=year, confidence=0.95,
                                      reasons=["người gửi thuộc danh sách"]),
        review_reasons=list(review_reasons or []),
    )


def record_report(database: Database, roster: Roster, campaigns: dict[int, Campaign], u: Understanding,
                  now: datetime | None = None) -> None:
    ctx = RecordContext(roster=roster, campaigns=campaigns, reply_address="baocao@tdc.example.vn",
                        domain="tdc.example.vn", now=now or u.raw.arrived_at)
    with database.transaction() as session:
        record(session, u, ctx)


def action_ctx(roster: Roster, campaigns: dict[int, Campaign], now: datetime) -> ActionContext:
    return ActionContext(roster=roster, campaigns=campaigns, now=now, actor="Điều phối viên",
                         domain="tdc.example.vn", reply_address="baocao@tdc.example.vn")


def plan_keys(database: Database, roster: Roster, campaigns: dict[int, Campaign], now: datetime) -> set[str]:
    with database.sessions() as session:
        return {r.dedupe_key for r in due_reminders(session, roster, campaigns, YEAR, now)}


def queue_due(database: Database, roster: Roster, campaigns: dict[int, Campaign], now: datetime) -> set[str]:
    """Queue what is due the way send_reminders does, returning the keys queued (no App needed)."""
    from workflow.season.outbox_queue import queue_email

    queued = set()
    with database.sessions() as session:
        due = due_reminders(session, roster, campaigns, YEAR, now, reporting_address="baocao@tdc.example.vn")
    for r in due:
        with database.transaction() as session:
            if queue_email(session, dedupe_key=r.dedupe_key, kind="reminder", template=r.template,
                           recipients=list(r.recipients), context=r.context, domain="tdc.example.vn", now=now,
                           agency_slug=r.agency, year=YEAR) is not None:
                queued.add(r.dedupe_key)
    return queued


def keys(*pairs: tuple[str, str]) -> set[str]:
    return {f"reminder:{agency}:{YEAR}:{stage}" for agency, stage in pairs}


# -- the plan on the calendar ----------------------------------------------------------------


def test_default_plan_names_stages_and_picks_the_wording() -> None:
    plan = reminder_plan(RemindersConfig())
    assert [s.name for s in plan] == ["d-14", "d-7", "d-3", "d-1", "d0"] + [f"late+{k}" for k in range(3, 31, 3)]
    templates = {s.name: s.template for s in plan}
    assert templates["d-14"] == templates["d-7"] == NOTICE
    assert templates["d-3"] == templates["d-1"] == templates["d0"] == FIRM
    assert {templates[f"late+{k}"] for k in range(3, 31, 3)} == {OVERDUE}
    assert [stage_offset(s.name) for s in plan] == [s.offset for s in plan]
    assert stage_offset("weekly") is None


def test_plan_is_configurable() -> None:
    plan = reminder_plan(RemindersConfig(days_before=[10, 2], on_deadline_day=False, late_every_days=5,
                                         late_until_days=12, firm_within_days=2))
    assert [(s.name, s.template) for s in plan] == [
        ("d-10", NOTICE), ("d-2", FIRM), ("late+5", OVERDUE), ("late+10", OVERDUE)]


def test_stage_dates_and_windows_for_the_2024_season() -> None:
    stages = schedule(RemindersConfig(), DEADLINE, opens=OPENED)
    dates = {s.stage.name: (s.on, s.until) for s in stages}
    # d-14 would be 16/11, the day before the dispatch: never planned.
    assert "d-14" not in dates
    assert dates["d-7"] == (date(2024, 11, 23), date(2024, 11, 27))
    assert dates["d-3"] == (date(2024, 11, 27), date(2024, 11, 29))
    assert dates["d-1"] == (date(2024, 11, 29), date(2024, 11, 30))
    assert dates["d0"] == (date(2024, 11, 30), date(2024, 12, 3))
    assert dates["late+3"] == (date(2024, 12, 3), date(2024, 12, 6))
    assert dates["late+30"] == (date(2024, 12, 30), date(2025, 1, 2))
    assert current_stage(stages, date(2024, 11, 22)) is None
    assert current_stage(stages, date(2024, 11, 25)).stage.name == "d-7"  # type: ignore[union-attr]
    assert current_stage(stages, date(2024, 12, 5)).stage.name == "late+3"  # type: ignore[union-attr]
    assert current_stage(stages, date(2025, 1, 2)) is None  # the plan has ended
    with_early = {s.stage.name for s in schedule(RemindersConfig(), DEADLINE, opens=date(2024, 11, 1))}
    assert "d-14" in with_early


def test_deadline_day_is_the_last_day_on_time(campaigns: dict[int, Campaign]) -> None:
    assert last_day(campaigns[YEAR].deadline_at()) == DEADLINE
    assert last_day(datetime(2024, 12, 10, 0, 0, tzinfo=VN)) == date(2024, 12, 9)


def test_season_year_is_the_latest_opened_campaign() -> None:
    def campaign(year: int, dispatch_date: date | None) -> Campaign:
        return Campaign(year, None, dispatch_date, date(year, 11, 30), None, ())

    cs = {2023: campaign(2023, date(2023, 11, 17)), 2024: campaign(2024, None)}
    assert season_year(cs, vn(2023, 11, 16)) is None
    assert season_year(cs, vn(2023, 11, 17)) == 2023
    assert season_year(cs, vn(2024, 9, 30)) == 2023  # 2024 opens 60 days before its deadline: 01/10
    assert season_year(cs, vn(2024, 10, 1)) == 2024


# -- due-ness ---------------------------------------------------------------------------------


ALL_OWING_WITH_ADDRESS = ("bo-y-te", "bac-ninh", "hai-phong", "tay-ninh")


def test_nothing_before_the_campaign_then_one_notice_per_owing_agency(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    assert plan_keys(db, roster, campaigns, vn(2024, 11, 17)) == set()
    due = keys(*((a, "d-7") for a in ALL_OWING_WITH_ADDRESS))
    assert plan_keys(db, roster, campaigns, vn(2024, 11, 23)) == due
    with db.sessions() as session:
        planned = due_reminders(session, roster, campaigns, YEAR, vn(2024, 11, 23), reporting_address="baocao@x.vn")
    byk = {r.agency: r for r in planned}
    assert byk["tay-ninh"].recipients == ("skhcn@tayninh.gov.vn",)
    assert byk["tay-ninh"].template == NOTICE and byk["tay-ninh"].days_left == 7
    assert byk["tay-ninh"].deadline == DEADLINE
    assert "Tây Ninh" in byk["tay-ninh"].subject and "30/11/2024" in byk["tay-ninh"].subject
    assert byk["tay-ninh"].context["dispatch"] == "1234/BKHCN-TĐC"
    assert [u.agency for u in planned.no_address] == ["long-an"]


def test_never_twice_for_the_same_stage(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    first = queue_due(db, roster, campaigns, vn(2024, 11, 23))
    assert first == keys(*((a, "d-7") for a in ALL_OWING_WITH_ADDRESS))
    # Later the same day, and the next days of the same window: nothing more.
    for moment in (vn(2024, 11, 23, 17), vn(2024, 11, 24), vn(2024, 11, 26, 23, 59)):
        assert plan_keys(db, roster, campaigns, moment) == set()
    assert queue_due(db, roster, campaigns, vn(2024, 11, 27)) == keys(*((a, "d-3") for a in ALL_OWING_WITH_ADDRESS))


def test_a_skipped_day_does_not_lose_a_stage(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    """Down on 23/11 (the d-7 day): the notice goes out on 24/11, inside its window."""
    assert queue_due(db, roster, campaigns, vn(2024, 11, 24)) == keys(*((a, "d-7") for a in ALL_OWING_WITH_ADDRESS))


def test_three_days_down_sends_one_reminder_per_agency(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    queue_due(db, roster, campaigns, vn(2024, 11, 23))
    # Down from 26/11 to 29/11: d-3 (27/11) was missed; on 29/11 only d-1 is due, once.
    assert queue_due(db, roster, campaigns, vn(2024, 11, 29)) == keys(*((a, "d-1") for a in ALL_OWING_WITH_ADDRESS))
    assert plan_keys(db, roster, campaigns, vn(2024, 11, 29, 20)) == set()
    with db.sessions() as session:
        stages = set(session.scalars(select(models.OutboxEmail.dedupe_key)))
    assert not any(k.endswith(":d-3") for k in stages)


def test_a_later_stage_already_queued_holds_back_an_earlier_one(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    """The plan moved later (extension after d-3 went out): the earlier d-7 is not sent backwards."""
    queue_due(db, roster, campaigns, vn(2024, 11, 27))  # d-3 to everyone
    with db.transaction() as session:
        extend(session, action_ctx(roster, campaigns, vn(2024, 11, 27, 9)), YEAR, date(2024, 12, 5),
               "Tỉnh đề nghị gia hạn do lịch họp", agency="tay-ninh")
    # 28/11 is d-7 of Tây Ninh's new deadline (05/12); d-3 was queued already, so nothing goes out.
    assert plan_keys(db, roster, campaigns, vn(2024, 11, 28)) == set()
    # On 29/11 the others reach d-1; Tây Ninh's plan says d-7 still: nothing for it.
    assert plan_keys(db, roster, campaigns,
                     vn(2024, 11, 29)) == keys(*((a, "d-1") for a in ("bo-y-te", "bac-ninh", "hai-phong")))


def test_an_extension_shifts_the_agency_plan(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        extend(session, action_ctx(roster, campaigns, vn(2024, 11, 20)), YEAR, date(2024, 12, 10),
               "Gia hạn theo đề nghị của Sở", agency="hai-phong")
    on_23 = plan_keys(db, roster, campaigns, vn(2024, 11, 23))
    assert on_23 == keys(("bo-y-te", "d-7"), ("bac-ninh", "d-7"), ("tay-ninh", "d-7"))  # Hải Phòng: d-14 is 26/11
    assert plan_keys(db, roster, campaigns, vn(2024, 11, 26)) >= keys(("hai-phong", "d-14"))
    with db.sessions() as session:
        planned = {r.agency: r for r in due_reminders(session, roster, campaigns, YEAR, vn(2024, 12, 3))}
    assert planned["hai-phong"].stage == "d-7" and planned["hai-phong"].deadline == date(2024, 12, 10)
    assert planned["hai-phong"].days_left == 7
    assert planned["bac-ninh"].stage == "late+3" and planned["bac-ninh"].template == OVERDUE
    assert planned["bac-ninh"].days_left == -3


def test_only_agencies_that_still_owe_are_reminded(db, roster, campaigns, tmp_path) -> None:  # type: ignore[no-untyped-def]
    record_report(db, roster, campaigns,
                  report(tmp_path, "bac-ninh", vn(2024, 11, 20, 10), "sokhcn@bacninh.gov.vn", "bn"))
    record_report(db, roster, campaigns,
                  report(tmp_path, "hai-phong", vn(2024, 11, 21, 10), "skhcn@haiphong.gov.vn", "hp"))
    record_report(db, roster, campaigns,
                  report(tmp_path, "tay-ninh", vn(2024, 11, 21, 11), "skhcn@tayninh.gov.vn", "tn",
                                                review_reasons=["độ tin cậy thấp"]))
    with db.transaction() as session:
        sub = session.scalar(select(models.Submission).where(models.Submission.agency_slug == "hai-phong"))
        sub.state = models.ACCEPTED
        session.add(models.Submission(agency_slug="bo-y-te", year=YEAR, state=models.EXEMPT, review_reasons=[],
                                      outline_missing=[]))
    # received/acknowledged (Bắc Ninh), accepted (Hải Phòng), needs_review (Tây Ninh), exempt (Bộ Y tế): none.
    assert plan_keys(db, roster, campaigns, vn(2024, 11, 23)) == set()
    with db.transaction() as session:
        request_resubmission(session, action_ctx(roster, campaigns, vn(2024, 11, 26)), "bac-ninh", YEAR,
                             "Thiếu phụ lục số liệu")
    assert plan_keys(db, roster, campaigns, vn(2024, 11, 27)) == keys(("bac-ninh", "d-3"))
    with db.sessions() as session:
        planned = due_reminders(session, roster, campaigns, YEAR, vn(2024, 11, 27))
    assert planned.reminders[0].context["resubmission"] is True
    from notifier.render import render_email

    assert "đã đề nghị gửi lại" in render_email(planned.reminders[0].template, **planned.reminders[0].context).text


def test_past_senders_are_suggestions_only_taught_addresses_are_reminded(db, roster, campaigns, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Changed with the contact book (#13): a sender nobody vouched for is a suggestion, never reminded.
    # Long An has no roster address; it sent mail last year from its department and from others.
    for seed, sender in (("la1", "vanphong@skhcn.longan.gov.vn"), ("la2", "no-reply@longan.gov.vn"),
                         ("la3", "chuyenvien.la@gmail.com"), ("la4", "baocao@tdc.example.vn")):
        record_report(db, roster, campaigns, report(tmp_path, "long-an", vn(2023, 11, 28), sender, seed, year=2023))
    with db.sessions() as session:
        planned = due_reminders(session, roster, campaigns, YEAR, vn(2024, 11, 23),
                                exclude=frozenset({"baocao@tdc.example.vn"}))
        from workflow.season.contacts import suggestions

        suggested = {s["email"] for s in suggestions(session, roster, agency="long-an")}
    assert "long-an" not in {r.agency for r in planned}
    assert [u.agency for u in planned.no_address] == ["long-an"]
    assert "vanphong@skhcn.longan.gov.vn" in suggested and "chuyenvien.la@gmail.com" in suggested
    with db.transaction() as session:  # a coordinator taught one (assign): it is reminded, noreply never
        from workflow.season.contacts import tie_sender

        for taught in ("thuky.la@yahoo.com", "no-reply@longan.gov.vn"):
            tie_sender(session, roster, "long-an", taught, actor="ĐPV", now=vn(2024, 11, 20), why="gán thư")
    with db.sessions() as session:
        planned = due_reminders(session, roster, campaigns, YEAR, vn(2024, 11, 23),
                                exclude=frozenset({"baocao@tdc.example.vn"}))
    by_agency = {r.agency: r for r in planned}
    assert by_agency["long-an"].recipients == ("thuky.la@yahoo.com",)
    assert planned.no_address == []


def test_unknown_year_is_a_clear_error(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    with db.sessions() as session, pytest.raises(ReminderError, match="2031"):
        due_reminders(session, roster, campaigns, 2031, vn(2031, 11, 20))


def test_disabled_reminders_plan_nothing_but_still_list_unreachable(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    with db.sessions() as session:
        planned = due_reminders(session, roster, campaigns, YEAR, vn(2024, 11, 23),
                                config=RemindersConfig(enabled=False))
    assert planned.reminders == [] and [u.agency for u in planned.no_address] == ["long-an"]


def test_reminder_emails_render_in_vietnamese_with_dates(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    from notifier.render import render_email

    for moment, stage in ((vn(2024, 11, 23), "d-7"), (vn(2024, 11, 29), "d-1"), (vn(2024, 12, 6), "late+6")):
        with db.sessions() as session:
            r = next(iter(due_reminders(session, roster, campaigns, YEAR, moment,
                                        reporting_address="baocao@tdc.example.vn")))
        assert r.stage == stage
        text = render_email(r.template, **r.context).text
        assert "30/11/2024" in text and "baocao@tdc.example.vn" in text and "1234/BKHCN-TĐC" in text
        if stage == "late+6":
            assert "quá hạn 6 ngày" in text
        if stage == "d-1":
            assert "còn 1 ngày" in text


def test_due_reminders_needs_an_aware_now(db, roster, campaigns) -> None:  # type: ignore[no-untyped-def]
    with db.sessions() as session, pytest.raises(ValueError):
        due_reminders(session, roster, campaigns, YEAR, datetime(2024, 11, 23, 8))


# -- through the real CLI, and as the daemon's daily job ---------------------------------------


def test_cli_remind_dry_run_json_then_queue(tmp_path: Path) -> None:
    import json

    from tests.cli_helpers import run_cli
    from tests.test_digest import cli_config

    url = f"sqlite:///{tmp_path / 'tdc.db'}"
    config = cli_config(tmp_path, url)
    args = ("remind", "--year", "2024", "--now", "2024-11-29T08:00", "--json")
    dry = json.loads(run_cli(*args, "--dry-run", config=config).stdout)
    assert dry["dry_run"] is True and dry["date"] == "29/11/2024"
    assert {(r["agency"], r["stage"]) for r in dry["reminders"]} == {(a, "d-1") for a in ALL_OWING_WITH_ADDRESS}
    tay_ninh = next(r for r in dry["reminders"] if r["agency"] == "tay-ninh")
    assert tay_ninh["recipients"] == ["skhcn@tayninh.gov.vn"] and tay_ninh["template"] == FIRM
    assert tay_ninh["subject"].startswith("Đề nghị khẩn trương gửi báo cáo năm 2024")
    assert "30/11/2024" in tay_ninh["subject"]
    assert dry["no_address"] == [{"agency": "long-an", "name": "Tỉnh Long An"}]
    database = Database(url)
    with database.sessions() as session:
        assert session.scalar(select(models.OutboxEmail.id)) is None  # a dry run queues nothing
    database.dispose()

    real = json.loads(run_cli(*args, config=config).stdout)
    assert {r["dedupe_key"] for r in real["reminders"]} == {r["dedupe_key"] for r in dry["reminders"]}
    again = json.loads(run_cli(*args, config=config).stdout)
    assert again["reminders"] == []
    database = Database(url)
    with database.sessions() as session:
        rows = session.scalars(select(models.OutboxEmail)).all()
    database.dispose()
    assert sorted(r.dedupe_key for r in rows) == sorted(keys(*((a, "d-1") for a in ALL_OWING_WITH_ADDRESS)))
    assert {r.kind for r in rows} == {"reminder"} and all(r.state == models.PENDING for r in rows)


def test_cli_remind_refuses_a_year_without_campaign(tmp_path: Path) -> None:
    from tests.cli_helpers import run_cli
    from tests.test_digest import cli_config

    proc = run_cli("remind", "--year", "2019", "--dry-run",
                   config=cli_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"),
                   check=False)
    assert proc.returncode == 1 and "2019" in proc.stderr


def test_daemon_daily_jobs_run_at_their_times_for_the_leader_only(tmp_path: Path) -> None:
    from apscheduler.triggers.cron import CronTrigger

    from tests.test_digest import cli_config
    from workflow.app import App
    from workflow.runtime.daemon import Daemon

    config = cli_config(tmp_path, f"sqlite:///{tmp_path / 'tdc.db'}")
    config.write_text(config.read_text(encoding="utf-8")
                      + '[schedule]\ndigest_time = "07:15"\nreminder_time = "08:45"\n', encoding="utf-8")
    app = App.load(str(config))
    clock = {"now": vn(2024, 11, 23, 8, 45)}
    daemon = Daemon(app, clock=lambda: clock["now"], holder="test-daemon")
    try:
        jobs = {job_id: (func, trigger) for job_id, func, trigger in daemon.extra_jobs()}
        # Started after both times of the day: each also runs once now (cron jobs forget missed runs).
        assert set(jobs) == {"reminders", "digest", "reminders-catch-up", "digest-catch-up"}
        clock["now"] = vn(2024, 11, 23, 6, 0)
        assert {job_id for job_id, _, _ in daemon.extra_jobs()} == {"reminders", "digest"}
        clock["now"] = vn(2024, 11, 23, 8, 45)
        for job_id, (hh, mm) in (("reminders", (8, 45)), ("digest", (7, 15))):
            trigger = jobs[job_id][1]
            assert isinstance(trigger, CronTrigger) and str(trigger.timezone) == "Asia/Ho_Chi_Minh"
            fires = trigger.get_next_fire_time(None, vn(2024, 11, 23, 0, 0))
            assert (fires.hour, fires.minute) == (hh, mm)
        daemon._is_leader = False
        assert jobs["reminders"][0]() is None  # a standby sends nothing
        with app.db.sessions() as session:
            assert session.scalar(select(models.OutboxEmail.id)) is None
        assert daemon.lease_tick()
        result = jobs["reminders"][0]()
        assert {r.dedupe_key for r in result.queued} == keys(*((a, "d-7") for a in ALL_OWING_WITH_ADDRESS))
        clock["now"] = vn(2024, 11, 24, 7, 15)
        assert jobs["digest"][0]().queued
        with app.db.sessions() as session:
            runs = {j.name: j for j in session.scalars(select(models.JobRun))}
            outbox = session.scalars(select(models.OutboxEmail)).all()
        assert runs["reminders"].ok and json.loads(runs["reminders"].result)["queued"] == 4
        assert runs["digest"].ok and runs["digest"].last_run_at == vn(2024, 11, 24, 7, 15)
        assert {r.state for r in outbox} == {models.SENT}  # the tick flushed (file transport)
        assert any(r.dedupe_key == "digest:2024-11-24" for r in outbox)
    finally:
        daemon.lease.release()
        app.close()
