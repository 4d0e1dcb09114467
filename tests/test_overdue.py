"""Overdue requests: working days with holidays, the SQL rule against the per-request rule, CLI, web and dashboard."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.config import ConfigError, load_config
from bot.overdue import OverdueRule, WorkingDays, overdue_count, overdue_requests
from bot.pipeline.status import parse_expected
from storage.models import Request, utcnow
from tests.web_support import add_message, login, post, seed

FRANCE = WorkingDays("FR")


def test_one_parser_reads_the_expected_date_for_the_command_line_and_the_form():
    assert parse_expected(" 2027-03-15 ") == date(2027, 3, 15)
    assert parse_expected("") is None and parse_expected(None) is None and parse_expected("  ") is None
    for bad in ("2027-13-01", "someday", "15/03/2027"):
        with pytest.raises(ValueError):
            parse_expected(bad)


def test_weekends_and_french_holidays_are_not_working_days():
    assert FRANCE.is_working(date(2027, 7, 13))  # a Tuesday
    assert not FRANCE.is_working(date(2027, 7, 14))  # Bastille Day, a Wednesday
    assert not FRANCE.is_working(date(2027, 7, 17))  # Saturday
    assert not FRANCE.is_working(date(2027, 5, 6))  # Ascension Thursday (Easter is 28 March)
    # Friday 9 to Friday 16 July: Mon 12, Tue 13, Thu 15, Fri 16 (the 14th is a holiday).
    assert FRANCE.between(date(2027, 7, 9), date(2027, 7, 16)) == 4
    assert WorkingDays("").between(date(2027, 7, 9), date(2027, 7, 16)) == 5
    extra = WorkingDays("FR", frozenset({date(2027, 7, 15)}))
    assert extra.between(date(2027, 7, 9), date(2027, 7, 16)) == 3


@settings(max_examples=1000, deadline=None)
@given(
    received=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    later=st.integers(min_value=0, max_value=60),
    allowed=st.integers(min_value=1, max_value=25),
)
def test_the_cutoff_date_agrees_with_counting_working_days(received, later, allowed):
    """The SQL rule compares dates with a cutoff; it must flag exactly what counting the days flags."""
    today = received + timedelta(days=later)
    late_by_count = FRANCE.between(received, today) > allowed
    assert (received < FRANCE.cutoff(today, allowed)) == late_by_count


def _open(session, handle: str, created: datetime, status: str = "received", expected: date | None = None) -> int:
    message = add_message(session, handle, f"Publish the dataset of {handle}")
    request = Request(title=f"Data of {handle}", status=status, created_at=created, expected_at=expected)
    session.add(request)
    session.flush()
    message.request_id = request.id
    return request.id


def test_received_and_accepted_requests_are_flagged_on_both_databases(sessions):
    rule = OverdueRule(20, FRANCE)
    today = date(2027, 3, 1)  # a Monday
    at = lambda day: datetime.combine(day, time(10), tzinfo=UTC)  # noqa: E731
    with sessions() as session, session.begin():
        late = _open(session, "@late", at(date(2027, 1, 29)))  # 21 working days before
        just = _open(session, "@just", at(date(2027, 2, 1)))  # exactly 20: not late yet
        answered = _open(session, "@answered", at(date(2027, 1, 4)), status="under_review")
        promised_late = _open(session, "@promised", at(date(2027, 2, 20)), "accepted", date(2027, 2, 28))
        promised_ok = _open(session, "@ontime", at(date(2027, 2, 20)), "accepted", date(2027, 3, 1))
        promised_no_date = _open(session, "@nodate", at(date(2026, 1, 1)), "accepted")
    with sessions() as session:
        found = [request.id for request in overdue_requests(session, rule, today=today)]
        assert found == [late, promised_late]
        assert overdue_count(session, rule, today=today) == 2
        for request_id in (just, answered, promised_ok, promised_no_date):
            assert rule.reason(session.get(Request, request_id), today) is None
        assert rule.reason(session.get(Request, late), today) == "received"
        assert rule.reason(session.get(Request, promised_late), today) == "accepted"


def test_config_keys_are_validated(write_config):
    config = load_config(write_config(
        '[campaigns]\nanswer_within_working_days = 5\nholidays_country = "be"\nextra_holidays = ["2027-07-15"]\n'
    ))
    assert config.campaigns.holidays_country == "BE"
    assert OverdueRule.from_config(config).calendar.extra == frozenset({date(2027, 7, 15)})
    for text, key in (
        ('[campaigns]\nholidays_country = "XX"\n', "campaigns.holidays_country"),
        ('[campaigns]\nextra_holidays = ["not a date"]\n', "campaigns.extra_holidays"),
        ("[campaigns]\nanswer_within_working_days = 0\n", "campaigns.answer_within_working_days"),
    ):
        try:
            load_config(write_config(text, "bad.toml"))
        except ConfigError as exc:
            assert key in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")


def test_cli_queue_flags_overdue_and_set_status_takes_an_expected_date(cli, sessions):
    cli("init")
    with sessions() as session, session.begin():
        old = _open(session, "@old", utcnow() - timedelta(days=60))
        fresh = _open(session, "@fresh", utcnow())
    out = cli("queue").output
    old_line = next(line for line in out.splitlines() if f"│ {old} " in line)
    fresh_line = next(line for line in out.splitlines() if f"│ {fresh} " in line)
    assert "overdue" in old_line and "overdue" not in fresh_line
    assert "overdue" in cli(f"request show {old}").output

    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    cli(f"request set-status {fresh} accepted --expected {yesterday} --actor alice")
    with sessions() as session:
        assert session.get(Request, fresh).expected_at.isoformat() == yesterday
    assert f"#{fresh} ({yesterday})" in cli("queue").output
    assert f"expected: {yesterday}" in cli(f"request show {fresh}").output

    bad = cli(f"request set-status {fresh} accepted --expected 2027-13-01", expect=2)
    assert "--expected" in bad.output and "YYYY-MM-DD" in bad.output
    wrong = cli(f"request set-status {old} declined --answer No --expected 2027-01-01", expect=2)
    assert "only status accepted takes an expected date" in wrong.output
    with sessions() as session:
        assert session.get(Request, old).status == "received"  # refused: nothing changed


def test_web_queue_badge_request_form_and_dashboard_count(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        session.execute(update(Request).where(Request.id == ids["velo_request"])
                        .values(created_at=utcnow() - timedelta(days=60)))
    login(client)
    queue = client.get("/queue").text
    velo_block = queue[queue.index(f'/queue/requests/{ids["velo_request"]}"'):][:400]
    canteen_block = queue[queue.index(f'/queue/requests/{ids["canteen_request"]}"'):][:400]
    assert 'class="badge overdue"' in velo_block
    assert 'class="badge overdue"' not in canteen_block
    assert "No answer for more than 20 working days" in client.get(f"/queue/requests/{ids['velo_request']}").text

    expected = (utcnow() - timedelta(days=2)).date().isoformat()
    page = f"/queue/requests/{ids['canteen_request']}"
    response = post(client, f"{page}/status", {"status": "accepted", "expected": expected}, page=page)
    assert response.status_code == 303
    with users.sessions() as session:
        assert session.get(Request, ids["canteen_request"]).expected_at.isoformat() == expected
    assert "Expected date passed" in client.get(page).text
    post(client, f"{page}/status", {"status": "accepted", "expected": "someday"}, page=page)
    assert "Invalid date: someday" in client.get(page).text

    post(client, "/logout")
    dashboard = client.get("/").text
    assert "2 overdue requests" in dashboard
    with users.sessions() as session:
        assert len(session.scalars(select(Request.id).where(Request.status == "accepted")).all()) == 1
