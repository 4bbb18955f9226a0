"""Reminders to agencies that still owe their annual report.

The plan is a list of stages counted in days from each agency's deadline
day (d-14, d-7, d-3, d-1, d0, late+3, late+6, ...). A coordinator's extension
moves the agency's deadline and so its whole plan.

Due-ness is a *window*, not a date: the current stage is the latest one
whose day (Vietnam time) has come, and it is sent only if neither it nor a
later stage was queued before. A daemon that was down for three days
therefore sends one reminder per owing agency when it comes back, the one
for today, never the three it missed. Each stage is queued at most once:
the outbox dedupe key ``reminder:<agency>:<year>:<stage>`` is unique in the
database.

No stage is planned before the campaign opens (its dispatch date): a
reminder quoting a dispatch the agency has not received yet would confuse.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notifier.render import render_email
from reference.addresses import normalise_address
from reference.time import last_day, vn_date
from reference.time import today as vn_today
from workflow.db import models
from workflow.season.outbox_queue import queue_email
from workflow.season.status import season_status
from workflow.season.submissions import audit, deadline_for
from workflow.settings import RemindersConfig

if TYPE_CHECKING:
    from reference.campaigns import Campaign
    from reference.roster import Roster
    from workflow.app import App

log = logging.getLogger(__name__)

NOTICE = "reminder_notice"
FIRM = "reminder_firm"
OVERDUE = "reminder_overdue"
OWING_STATES = frozenset({models.MISSING, models.RESUBMISSION_REQUESTED})
# Without a dispatch date, a season is taken to open this long before the deadline.
SEASON_LEAD = timedelta(days=60)

_STAGE_RE = re.compile(r"^(?:d-(\d+)|d0|late\+(\d+))$")
# Mailboxes nobody reads: a reminder there is lost, and some answer it automatically.
_UNREAD_LOCAL = re.compile(
    r"^(?:no-?reply|do-?not-?reply|noreply-[a-z0-9]+|mailer-daemon|postmaster|bounces?|"
    r"notifications?|auto-?reply|daemon)(?:[+._-].*)?$"
)


class ReminderError(ValueError):
    """A request that cannot be planned (no campaign for the year); the text says why."""


def require_campaign(campaigns: Mapping[int, Campaign], year: int) -> Campaign:
    """The year's campaign, or a ReminderError naming the year (reminders and the digest both need one)."""
    campaign = campaigns.get(year)
    if campaign is None:
        from reference.campaigns import no_campaign

        raise ReminderError(no_campaign(year, campaigns))
    return campaign


# -- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str  # d-14, d0, late+3: part of the dedupe key
    offset: int  # days from the deadline day (negative: before it)
    template: str


@dataclass(frozen=True)
class ScheduledStage:
    stage: Stage
    on: date  # first day the stage is due (Vietnam)
    until: date  # first day it is no longer the current stage


def reminder_plan(config: RemindersConfig) -> tuple[Stage, ...]:
    stages = [
        Stage(f"d-{n}", -n, FIRM if n <= config.firm_within_days else NOTICE)
        for n in sorted(set(config.days_before), reverse=True)
    ]
    if config.on_deadline_day:
        stages.append(Stage("d0", 0, FIRM))
    stages += [
        Stage(f"late+{k}", k, OVERDUE)
        for k in range(config.late_every_days, config.late_until_days + 1, config.late_every_days)
    ]
    return tuple(stages)


def stage_offset(name: str) -> int | None:
    """'d-7' -> -7, 'd0' -> 0, 'late+3' -> 3; None for a name this code never wrote."""
    match = _STAGE_RE.match(name)
    if match is None:
        return None
    before, after = match.groups()
    return -int(before) if before else int(after) if after else 0


def campaign_opens(campaign: Campaign) -> date:
    return campaign.dispatch_date or (campaign.deadline - SEASON_LEAD)


def season_year(campaigns: Mapping[int, Campaign], now: datetime) -> int | None:
    """The reporting year whose season is current: the latest campaign already opened."""
    today = vn_today(now)
    opened = [year for year, c in campaigns.items() if campaign_opens(c) <= today]
    return max(opened) if opened else None


def schedule(config: RemindersConfig, deadline: date, opens: date | None) -> list[ScheduledStage]:
    """The plan's stages on the calendar, each with the window in which it is the current one."""
    dated = [(s, deadline + timedelta(days=s.offset)) for s in reminder_plan(config)]
    dated = [(s, d) for s, d in dated if opens is None or d >= opens]
    out = []
    for i, (stage, on) in enumerate(dated):
        until = dated[i + 1][1] if i + 1 < len(dated) else on + timedelta(days=config.late_every_days)
        out.append(ScheduledStage(stage, on, until))
    return out


def current_stage(stages: Iterable[ScheduledStage], today: date) -> ScheduledStage | None:
    return next((s for s in stages if s.on <= today < s.until), None)


# -- who and where ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedReminder:
    agency: str
    agency_name: str
    stage: str
    template: str
    recipients: tuple[str, ...]
    deadline: date
    days_left: int
    dedupe_key: str
    subject: str
    context: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    cc: tuple[str, ...] = ()  # the agency's other contacts (To holds the focal points)

    def as_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency, "agency_name": self.agency_name, "stage": self.stage, "template": self.template,
            "recipients": list(self.recipients), "cc": list(self.cc), "subject": self.subject,
            "dedupe_key": self.dedupe_key,
            "deadline": vn_date(self.deadline), "days_left": self.days_left,
        }


@dataclass(frozen=True)
class Unreachable:
    """An agency that owes the report but has no address the bot could remind."""

    agency: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"agency": self.agency, "name": self.name}


@dataclass
class DueReminders:
    """What is due now; iterating gives the reminders, ``no_address`` who cannot be reached."""

    year: int
    today: date
    reminders: list[PlannedReminder] = field(default_factory=list)
    no_address: list[Unreachable] = field(default_factory=list)

    def __iter__(self) -> Iterator[PlannedReminder]:
        return iter(self.reminders)

    def __len__(self) -> int:
        return len(self.reminders)


def is_unread_mailbox(address: str) -> bool:
    return bool(_UNREAD_LOCAL.match(address.partition("@")[0]))


@dataclass(frozen=True)
class Recipients:
    """Who one agency's reminder goes to, and the unit named after "Kính gửi:"."""

    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    unit: str = ""

    @property
    def all(self) -> list[str]:
        return [*self.to, *self.cc]


def reminder_recipients(session: Session, roster: Roster, slugs: Iterable[str], year: int,
                        exclude: frozenset[str] = frozenset(),
                        config: RemindersConfig | None = None) -> dict[str, Recipients]:
    """Per agency: its confirmed contacts (To: the focal points, Cc: the others) and the roster's addresses.

    The confirmed contacts include the senders coordinators tied to the
    agency with ``assign`` (learned contacts). Senders nobody vouched for are
    only suggestions (workflow.season.contacts.suggestions) and an address
    that bounced is skipped until a coordinator confirms it again.
    """
    from workflow.season import contacts

    config = config or RemindersConfig()
    wanted = list(dict.fromkeys(slugs))
    book = contacts.usable(session, wanted, year)
    failing = contacts.failing_addresses(session)

    def ok(raw: str) -> str | None:
        address = normalise_address(raw)
        if address is None or address in exclude or address in failing or is_unread_mailbox(address):
            return None
        return address

    vouched: dict[str, list[str]] = {slug: [] for slug in wanted}
    for slug in wanted:
        vouched[slug] += [a for a in (ok(x) for x in roster.get(slug, year).addresses) if a]
    out: dict[str, Recipients] = {}
    for slug in wanted:
        rows = [c for c in book.get(slug, []) if ok(c.email)]
        to, cc, unit = contacts.split_recipients(rows, sorted(set(vouched[slug])), config.to_roles, config.cc_others)
        out[slug] = Recipients(tuple(to), tuple(cc), unit)
    return out


def agency_addresses(session: Session, roster: Roster, slugs: Iterable[str], year: int,
                     exclude: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Every address a reminder to each agency would reach (To and Cc), sorted."""
    found = reminder_recipients(session, roster, slugs, year, exclude)
    return {slug: sorted(r.all) for slug, r in found.items()}


def queued_stages(session: Session, year: int) -> dict[str, set[str]]:
    """Stage names already queued this year, per agency (from the outbox dedupe keys)."""
    out: dict[str, set[str]] = {}
    keys = session.scalars(select(models.OutboxEmail.dedupe_key).where(
        models.OutboxEmail.dedupe_key.like(f"reminder:%:{year}:%")))
    for key in keys:
        parts = key.split(":")
        if len(parts) == 4 and parts[2] == str(year):
            out.setdefault(parts[1], set()).add(parts[3])
    return out


def reminder_key(agency: str, year: int, stage: str) -> str:
    return f"reminder:{agency}:{year}:{stage}"


def due_reminders(
    session: Session,
    roster: Roster,
    campaigns: Mapping[int, Campaign],
    year: int,
    now: datetime,
    *,
    config: RemindersConfig | None = None,
    reporting_address: str = "",
    exclude: frozenset[str] = frozenset(),
) -> DueReminders:
    """The reminders due at ``now`` for ``year``, and the owing agencies nobody can be reminded at."""
    config = config or RemindersConfig()
    campaign = require_campaign(campaigns, year)
    today = vn_today(now)
    result = DueReminders(year=year, today=today)
    owing = [row for row in season_status(session, roster, year) if row.state in OWING_STATES]
    addresses = reminder_recipients(session, roster, (r.agency for r in owing), year, exclude, config)
    queued = queued_stages(session, year)
    opens = campaign_opens(campaign)
    for row in owing:
        who = addresses.get(row.agency)
        if who is None or not who.to:
            result.no_address.append(Unreachable(row.agency, row.name))
            continue
        if not config.enabled:
            continue
        last_on_time = last_day(deadline_for(session, campaign, row.agency))
        current = current_stage(schedule(config, last_on_time, opens), today)
        if current is None:
            continue
        done = [o for o in (stage_offset(n) for n in queued.get(row.agency, ())) if o is not None]
        if any(o >= current.stage.offset for o in done):
            continue  # this stage or a later one went out already: never twice, never backwards
        days_left = (last_on_time - today).days
        context = {
            "agency_name": row.name,
            "year": year,
            "deadline": last_on_time,
            "days_left": days_left,
            "dispatch": campaign.dispatch,
            "dispatch_date": campaign.dispatch_date,
            "reporting_address": reporting_address,
            "stage": current.stage.name,
            "resubmission": row.state == models.RESUBMISSION_REQUESTED,
            "contact_unit": who.unit or None,
            "awaiting": _awaiting(session, row.agency, year) if row.awaiting else None,
        }
        subject = render_email(current.stage.template, **context).subject
        result.reminders.append(PlannedReminder(
            agency=row.agency, agency_name=row.name, stage=current.stage.name, template=current.stage.template,
            recipients=who.to, cc=who.cc, deadline=last_on_time, days_left=days_left,
            dedupe_key=reminder_key(row.agency, year, current.stage.name), subject=subject, context=context,
        ))
    return result


# -- queueing --------------------------------------------------------------------------------


@dataclass
class ReminderRun:
    due: DueReminders
    queued: list[PlannedReminder] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (dedupe key, why)
    dry_run: bool = False

    def as_data(self) -> dict[str, Any]:
        return {"kind": "reminders", "year": self.due.year, "due": len(self.due.reminders), "queued": len(self.queued),
                "no_address": len(self.due.no_address), "dry_run": self.dry_run}

    def summary(self) -> str:
        from notifier.labels import reminder_summary

        return reminder_summary(self.as_data())


def plan_for_app(app: App, year: int, now: datetime) -> DueReminders:
    with app.db.sessions() as session:
        return due_reminders(
            session, app.roster, app.campaigns, year, now, config=app.settings.reminders,
            reporting_address=app.reporting_address(year), exclude=app.staff_addresses(year),
        )


def send_reminders(app: App, year: int, now: datetime, dry_run: bool = False) -> ReminderRun:
    """Queue what is due, one transaction per agency, so one failure does not hold back the rest."""
    if not dry_run:
        from workflow.season.contacts import carry_over

        with app.db.transaction() as session:  # a merged unit is offered its predecessors' contacts
            carry_over(session, app.roster_base, year, now=now)
    run = ReminderRun(due=plan_for_app(app, year, now), dry_run=dry_run)
    if dry_run:
        return run
    domain = app.own_domain
    for planned in run.due.reminders:
        try:
            with app.db.transaction() as session:
                if _still_owing(session, planned.agency, year) is False:
                    run.skipped.append((planned.dedupe_key, "đã nộp báo cáo"))
                    continue
                row = queue_email(
                    session, dedupe_key=planned.dedupe_key, kind="reminder", template=planned.template,
                    recipients=list(planned.recipients), context=planned.context, domain=domain, now=now,
                    agency_slug=planned.agency, year=year, cc=list(planned.cc),
                )
                if row is None:
                    run.skipped.append((planned.dedupe_key, "đã có trong hàng đợi"))
                    continue
                audit(session, action="reminder_queued", agency_slug=planned.agency, year=year, at=now,
                      reason=f"{planned.stage} → {', '.join(planned.recipients)}"
                      + (f"; cc {', '.join(planned.cc)}" if planned.cc else ""))
            run.queued.append(planned)
        except IntegrityError:
            # Another daemon queued the same key between our check and our commit.
            run.skipped.append((planned.dedupe_key, "đã có trong hàng đợi"))
    log.info("reminders: %s", run.summary())
    return run


def _awaiting(session: Session, agency: str, year: int) -> dict[str, Any] | None:
    """The latest mail that may be the agency's report and waits for a coordinator: the reminder says so."""
    msg = session.scalar(select(models.Message).where(
        models.Message.agency_slug == agency, models.Message.year == year, models.Message.kind == "report",
        models.Message.status == "recorded", models.Message.submission_id.is_(None),
        models.Message.dismissed_at.is_(None)).order_by(models.Message.arrived_at.desc()).limit(1))
    if msg is None:
        return None
    return {"sender": (msg.from_addr or "(không rõ)")[:120],
            "received_at": msg.arrived_at}  # parsed strictly: an address


def _still_owing(session: Session, agency: str, year: int) -> bool:
    sub = session.scalar(select(models.Submission).where(
        models.Submission.agency_slug == agency, models.Submission.year == year))
    return sub is None or sub.state in OWING_STATES
