"""The assembled application: configuration, database, roster, campaigns, store.

Every command and the daemon build one ``App`` at start; building it is
where a bad config, roster or campaign file fails, before any mail is read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from reference.addresses import normalise_address
from reference.campaigns import Campaign, load_campaigns
from reference.roster import Roster, load_roster
from reference.time import zone
from workflow.db import models
from workflow.db.engine import Database, startup_lock
from workflow.settings import LoadedConfig, load_config
from workflow.settings_keys import mark_checked, sqlite_file


@dataclass
class App:
    config: LoadedConfig
    migrate: bool = True
    _db: Database | None = field(default=None, repr=False)

    @classmethod
    def load(cls, config_path: str | None = None, migrate: bool = True, need_secrets: bool = True) -> App:
        app = cls(load_config(config_path, need_secrets=need_secrets), migrate=migrate)
        # Fail now, not at the first email, on broken data files.
        app.roster_base  # noqa: B018 - the property loads and checks the file
        app.campaigns  # noqa: B018
        database = sqlite_file(app.settings.database.url)
        if database is not None:  # accepted: `status` may now take the fast lane on this content
            mark_checked(database, app.config.digest)
        return app

    @property
    def settings(self):
        return self.config.settings

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.settings.schedule.timezone)

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database.url, migrate=self.migrate)
            if self.migrate:
                self.sync_reference_data()
        return self._db

    @cached_property
    def roster_base(self) -> Roster:
        path = Path(self.settings.roster_dir) if self.settings.roster_dir else None
        return load_roster(path)

    @property
    def roster(self) -> Roster:
        """The configured roster plus the addresses the bot may trust as an agency's.

        Those are the confirmed contacts of the contact book (workflow.season.contacts),
        the senders coordinators tied to an agency with ``assign`` among them.
        """
        from workflow.season.contacts import confirmed_addresses

        with self.db.sessions() as session:
            learned = confirmed_addresses(session)
        return self.roster_base.with_learned(learned) if learned else self.roster_base

    @cached_property
    def campaigns(self) -> dict[int, Campaign]:
        path = Path(self.settings.campaigns_file) if self.settings.campaigns_file else None
        return load_campaigns(path)

    @property
    def store_root(self) -> Path:
        return Path(self.settings.storage.path)

    def sync_reference_data(self) -> None:
        """Mirror the roster and campaigns (config is the truth) into their tables.

        Every command runs this at start, so it first reads both tables in two
        queries and writes (one merge per changed row) only when the files
        changed: a merge per agency at every ``tdc-bot status`` cost more than
        the status itself.
        """
        agencies = {a.slug: (a.name, a.kind, a.from_year, a.until_year) for a in self.roster_base.all()}
        campaigns = {c.year: (c.dispatch, c.deadline_at()) for c in self.campaigns.values()}
        with self.db.sessions() as session:
            stored_agencies = {r[0]: tuple(r[1:]) for r in session.execute(select(
                models.Agency.slug, models.Agency.name, models.Agency.kind, models.Agency.from_year,
                models.Agency.until_year))}
            stored_campaigns = {r[0]: tuple(r[1:]) for r in session.execute(select(
                models.Campaign.year, models.Campaign.dispatch, models.Campaign.deadline_at))}
        changed_agencies = [slug for slug, row in agencies.items() if stored_agencies.get(slug) != row]
        changed_campaigns = [year for year, row in campaigns.items() if stored_campaigns.get(year) != row]
        if not changed_agencies and not changed_campaigns:
            return
        with startup_lock(self.db.engine), self.db.transaction() as session:
            for slug in changed_agencies:
                name, kind, from_year, until_year = agencies[slug]
                session.merge(models.Agency(slug=slug, name=name, kind=kind, from_year=from_year,
                                            until_year=until_year))
            for year in changed_campaigns:
                dispatch, deadline_at = campaigns[year]
                session.merge(models.Campaign(year=year, dispatch=dispatch, deadline_at=deadline_at))

    def own_addresses(self, year: int | None = None) -> frozenset[str]:
        """The bot's own identities: never learned as an agency's, never answered, never written to.

        With a year, the mailbox that year's dispatch names is one of them too.
        """
        smtp, mailbox = self.settings.smtp, self.settings.mailbox
        raw = [smtp.from_, smtp.reply_to or ""]
        if "@" in mailbox.username:
            raw.append(mailbox.username)
        campaign = self.campaigns.get(year) if year is not None else None
        if campaign is not None and campaign.mailbox:
            raw.append(campaign.mailbox)
        return frozenset(a for a in (normalise_address(r) for r in raw) if a)

    def staff_addresses(self, year: int | None = None) -> frozenset[str]:
        """The bot's and the coordinators' addresses: never an agency's, whoever forwarded from them."""
        coordinators = (normalise_address(a) for a in self.settings.coordinators.emails)
        return self.own_addresses(year) | frozenset(a for a in coordinators if a)

    @property
    def own_domain(self) -> str:
        """The domain of the bot's Message-IDs and content ids."""
        return self.settings.smtp.from_address.rpartition("@")[2] or "tdc-intake.invalid"

    def reporting_address(self, year: int) -> str:
        """Where reports go: the mailbox the dispatch names, else where the bot's mail is answered."""
        campaign = self.campaigns.get(year)
        if campaign is not None and campaign.mailbox:
            return campaign.mailbox
        return self.settings.smtp.reply_address

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
