"""The submission state machine: the table, the refusals, and the audit entry of every change."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.cli_helpers import write_config
from workflow.app import App
from workflow.db import models
from workflow.season import states, submissions

NOW = datetime(2024, 11, 25, 3, 0, tzinfo=UTC)


# --- the table (no database) ------------------------------------------------------------------
def test_every_state_has_a_vietnamese_label_with_diacritics():
    assert set(states.STATE_LABELS_VI) == set(models.STATES)
    assert states.STATE_LABELS_VI[models.MISSING] == "chưa nộp"
    assert len(set(states.STATE_LABELS_VI.values())) == len(models.STATES)


def test_table_only_names_known_states_and_events_and_never_a_self_loop():
    for (source, target), events in states.TRANSITIONS.items():
        assert source in models.STATES and target in models.STATES and source != target
        assert events and events <= set(states.EVENTS)


def test_accept_is_allowed_only_after_a_report_was_received():
    allowed = {s for s in models.STATES if states.is_allowed(s, models.ACCEPTED, states.ACCEPT)}
    assert allowed == {models.RECEIVED, models.ACKNOWLEDGED, models.NEEDS_REVIEW}


def test_exempt_from_anywhere_and_reopen_only_from_exempt():
    assert {s for s in models.STATES if states.is_allowed(s, models.EXEMPT, states.EXEMPT_EVENT)} == (
        set(models.STATES) - {models.EXEMPT})
    assert {s for (s, _t), ev in states.TRANSITIONS.items() if states.REOPEN in ev} == {models.EXEMPT}
    assert not states.is_allowed(models.EXEMPT, models.ACCEPTED)


def test_every_move_record_makes_is_in_the_table():
    """record() moves every non-exempt state to received / needs_review with these events."""
    for source in set(models.STATES) - {models.EXEMPT}:
        event = states.REPORT_RECEIVED if source in (models.MISSING,
                                                     models.RESUBMISSION_REQUESTED) else states.SUPERSEDED
        for target in (models.RECEIVED, models.NEEDS_REVIEW):
            if source != target:
                assert states.is_allowed(source, target, event), (source, target, event)
    assert states.is_allowed(models.RECEIVED, models.ACKNOWLEDGED, states.ACK_QUEUED)
    assert not states.is_allowed(models.EXEMPT, models.RECEIVED, states.REPORT_RECEIVED)


def test_refusal_text_names_the_agency_state_and_reason_in_both_languages():
    text = states.refusal("Tỉnh Tây Ninh", 2024, models.RESUBMISSION_REQUESTED, models.ACCEPTED, states.ACCEPT)
    assert text == ("Không thể chấp nhận báo cáo của Tỉnh Tây Ninh năm 2024: trạng thái hiện tại là "
                    "'đề nghị gửi lại' (resubmission_requested). Cannot accept: a resubmission was requested; "
                    "wait for the new report.")


# --- transition() on a real database ----------------------------------------------------------
@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    a = App.load(str(write_config(tmp_path, db_url)))
    yield a
    a.close()


def _new_submission(app: App, state: str) -> int:
    with app.db.transaction() as s:
        sub = submissions._get_submission(s, "tay-ninh", 2024, NOW)
        sub.state = state
        return sub.id


def test_transition_changes_state_and_writes_one_audit_entry(app):
    sid = _new_submission(app, models.RECEIVED)
    with app.db.transaction() as s:
        sub = s.get(models.Submission, sid)
        before = states.transition(s, sub, models.ACCEPTED, actor="pham.thi.d", reason="đầy đủ", now=NOW,
                                   message_id=7, event=states.ACCEPT)
    assert before == models.RECEIVED
    with app.db.sessions() as s:
        assert s.get(models.Submission, sid).state == models.ACCEPTED
        [entry] = s.scalars(select(models.AuditEntry)).all()
    assert (entry.actor, entry.action, entry.from_state, entry.to_state, entry.reason, entry.message_id) == (
        "pham.thi.d", "accept", "received", "accepted", "đầy đủ", 7)
    assert (entry.agency_slug, entry.year, entry.submission_id, entry.at) == ("tay-ninh", 2024, sid, NOW)


def test_illegal_transition_is_refused_and_changes_nothing(app):
    sid = _new_submission(app, models.MISSING)
    with pytest.raises(states.IllegalTransition) as err, app.db.transaction() as s:
        states.transition(s, s.get(models.Submission, sid), models.ACCEPTED, actor="x", reason="", now=NOW,
                          event=states.ACCEPT)
    assert str(err.value) == ("Không thể chấp nhận báo cáo của Tỉnh Tây Ninh năm 2024: trạng thái hiện tại là "
                              "'chưa nộp' (missing). Cannot accept: nothing was received.")
    assert (err.value.from_state, err.value.to_state) == (models.MISSING, models.ACCEPTED)
    with app.db.sessions() as s:
        assert s.get(models.Submission, sid).state == models.MISSING
        assert s.scalars(select(models.AuditEntry)).all() == []


def test_an_event_that_does_not_cause_that_move_is_refused(app):
    sid = _new_submission(app, models.RECEIVED)
    with pytest.raises(states.IllegalTransition, match="Cannot reopen"), app.db.transaction() as s:
        states.transition(s, s.get(models.Submission, sid), models.MISSING, actor="x", reason="", now=NOW,
                          event=states.REOPEN)
    with pytest.raises(states.IllegalTransition), app.db.transaction() as s:
        states.transition(s, s.get(models.Submission, sid), models.RECEIVED, actor="x", reason="", now=NOW)
    with pytest.raises(ValueError), app.db.transaction() as s:
        states.transition(s, s.get(models.Submission, sid), "archived", actor="x", reason="", now=NOW)
