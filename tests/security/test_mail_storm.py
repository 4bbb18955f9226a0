"""No mail storm from the ministry's address (issue 21 §4), through the real daemon.

Forty reports from forty forged senders used to be forty acknowledgements.
Now answers to strangers (neither verified nor a known address) go out at
most ``max_stranger_acks_per_hour`` an hour and the rest wait, held, where
coordinators see them; an agency's own report is never held behind them.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from intake.sources.maildir import deliver
from tests import mailfactory
from tests.reliability import ARRIVED, write_config
from workflow.app import App
from workflow.db import models
from workflow.runtime.daemon import Daemon


def test_forty_forged_senders_get_at_most_the_hourly_cap_and_an_agency_is_not_held(tmp_path):
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'tdc.db'}",
                          smtp_extra="max_stranger_acks_per_hour = 5\n")
    mail = config.parent / "mail"
    for n in range(40):
        deliver(mail, mailfactory.report_email(sender=f"nguoi{n}@gmail.com", province="Bến Tre",
                                               message_id=f"<storm-{n}@gmail.com>"),
                                               when=ARRIVED + timedelta(seconds=n))
    deliver(mail, mailfactory.report_email(), when=ARRIVED + timedelta(minutes=5))  # Tây Ninh, its own domain
    app = App.load(str(config))
    try:
        Daemon(app, clock=lambda: ARRIVED + timedelta(minutes=10)).run_once()
        with app.db.sessions() as session:
            rows = list(session.scalars(select(models.OutboxEmail).order_by(models.OutboxEmail.id)))
            states = [(r.recipients[0], r.state, r.to_stranger) for r in rows]
        assert len(rows) == 41
        assert sum(1 for _, state, _ in states if state == models.SENT) == 6  # five strangers and Tây Ninh
        assert ("vanthu@skhcn.tayninh.gov.vn", models.SENT, False) in states
        held = [s for s in states if s[1] == models.HELD]
        assert len(held) == 35 and all(stranger for _, _, stranger in held)
        Daemon(app, clock=lambda: ARRIVED + timedelta(minutes=75)).run_once()  # an hour later: five more
        with app.db.sessions() as session:
            sent = session.scalars(select(models.OutboxEmail).where(models.OutboxEmail.state == models.SENT)).all()
        assert len(sent) == 11
    finally:
        app.close()
