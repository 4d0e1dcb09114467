"""The campaign calendar: phases and posts from dates, `campaign create --start|show|calendar`, the .ics."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from bot.campaigns import calendar
from bot.config import load_config
from bot.runtime import Runtime
from bot.web.app import create_app
from storage.models import Campaign, Post
from tests.web_support import TestClient

PARIS = ZoneInfo("Europe/Paris")
UTC = UTC


def test_four_phases_from_local_midnight_across_a_clock_change():
    phases = calendar.phases(date(2027, 3, 1), [2, 2, 5, 3], PARIS)
    assert [p.name for p in phases] == ["call", "sorting", "research", "note"]
    assert phases[0].starts_at == datetime(2027, 2, 28, 23, 0, tzinfo=UTC)  # 00:00 in Paris, winter time
    # Paris moves to summer time on 2027-03-28: the research phase still starts at local midnight.
    assert phases[2].starts_at.astimezone(PARIS).time() == time(0)
    assert phases[2].starts_at == datetime(2027, 3, 28, 23, 0, tzinfo=UTC) - timedelta(hours=1)
    assert all(a.ends_at == b.starts_at for a, b in zip(phases, phases[1:], strict=False))
    assert phases[-1].ends_at.astimezone(PARIS).date() == date(2027, 3, 1) + timedelta(weeks=12)


def test_plan_places_every_post_in_its_phase():
    phases = calendar.phases(date(2027, 1, 4), [2, 2, 5, 3], PARIS)
    meetup = datetime(2027, 1, 14, 18, 30, tzinfo=PARIS).astimezone(UTC)
    posts = calendar.plan(phases, zone=PARIS, post_time=time(9, 30), reminder_days=[4, 9], meetup_at=meetup)
    local = [(p.kind, p.due_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")) for p in posts]
    assert local == [
        ("call", "2027-01-04 09:30"),
        ("meetup", "2027-01-05 09:30"),
        ("reminder", "2027-01-08 09:30"),
        ("reminder", "2027-01-13 09:30"),
        ("meetup_reminder", "2027-01-13 09:30"),
        ("survey", "2027-01-18 09:30"),
        ("research_update", "2027-02-15 09:30"),
        ("note", "2027-03-08 09:30"),
    ]
    assert calendar.window_end("reminder", phases, meetup) == phases[0].ends_at
    assert calendar.window_end("survey", phases, meetup) == phases[1].ends_at
    assert calendar.window_end("meetup_reminder", phases, meetup) == meetup
    assert calendar.window_end("call", phases, meetup) is None


@pytest.mark.parametrize("problem", ["reminder", "meetup"])
def test_impossible_dates_are_refused(problem):
    phases = calendar.phases(date(2027, 1, 4), [2, 2, 5, 3], PARIS)
    with pytest.raises(calendar.CalendarError):
        if problem == "reminder":
            calendar.plan(phases, zone=PARIS, post_time=time(9), reminder_days=[20])
        else:
            calendar.plan(phases, zone=PARIS, post_time=time(9), reminder_days=[4],
                          meetup_at=datetime(2028, 1, 1, tzinfo=UTC))


def test_create_with_start_builds_phases_and_posts_fitted_to_each_network(cli, sessions, write_config, db_url):
    config = write_config(f"""
[database]
url = "{db_url}"
[networks.sandbox]
max_length = 200
[web]
public_url = "https://data.example.org/call"
[campaigns]
default_language = "en"
""")
    cli("init", config=config)
    result = cli(["campaign", "create", "2027-q1", "--start", "2027-01-04", "--title", "First quarter 2027",
                  "--meetup", "2027-01-14 18:30", "--meetup-place", "City hall, room 2",
                  "--meetup-url", "https://meet.example.org/q1"], config=config)
    assert "2027-01-04 to 2027-03-28" in result.output
    with sessions() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == "2027-q1"))
        assert [p.name for p in campaign.phases] == ["call", "sorting", "research", "note"]
        assert campaign.meetup_at == datetime(2027, 1, 14, 17, 30, tzinfo=UTC)
        posts = session.scalars(select(Post).order_by(Post.due_at, Post.id)).all()
    kinds = [p.kind for p in posts]
    assert kinds.count("reminder") == 2 and kinds.count("call") == 1
    assert set(kinds) == {"call", "reminder", "meetup", "meetup_reminder", "survey", "research_update", "note"}
    assert all(p.state == "pending" and p.network == "sandbox" and len(p.text) <= 200 for p in posts)
    by_kind = {p.kind: p for p in posts}
    assert "January 17" in by_kind["call"].text  # the call's last day
    assert "18:30" in by_kind["meetup"].text and "City hall" in by_kind["meetup"].text
    assert by_kind["note"].text.endswith("https://data.example.org/call/campaigns/2027-q1")
    # The title is shortened first when a post is too long; links are kept whole.
    assert campaign.call_text == by_kind["call"].text

    shown = cli("campaign show 2027-q1", config=config).output
    assert "research" in shown and "2027-02-01" in shown and "2027-03-07" in shown
    assert "meetup_reminder" in shown and "2027-01-13 09:30" in shown


def test_create_refuses_bad_dates_in_one_line(cli):
    cli("init")
    for args, problem in [
        ("campaign create q --start 2027-13-01", "--start"),
        ("campaign create q --start 2027-01-04 --meetup 'next tuesday'", "not a date and time"),
        ("campaign create q --start 2027-01-04 --meetup '2027-06-01 18:00'", "during the campaign"),
        ("campaign create q --meetup '2027-01-14 18:00'", "need --start"),
    ]:
        result = cli(args, expect=2)
        assert problem in result.output and len(result.output.strip().splitlines()) == 1
    assert "no campaign" in cli("campaign show q", expect=2).output


def test_create_without_start_keeps_the_call_on_demand(cli, sessions):
    cli("init")
    cli("campaign create 2027-q2")
    with sessions() as session:
        assert session.scalars(select(Post)).all() == []
        assert session.scalar(select(Campaign)).phases == []
    assert "call queued" in cli("campaign post 2027-q2").output


def test_ics_file_and_web_route_parse_back(cli, tmp_path, config_file):
    cli("init")
    cli(["campaign", "create", "2027-q1", "--start", "2027-01-04", "--meetup", "2027-01-14 18:30",
         "--meetup-place", "City hall"])
    target = tmp_path / "q1.ics"
    cli(["campaign", "calendar", "2027-q1", "--ics", str(target)])
    parsed = icalendar.Calendar.from_ical(target.read_bytes())
    events = list(parsed.walk("VEVENT"))
    assert len(events) == 5
    phases = {str(e["SUMMARY"]).split(": ")[1]: e for e in events}
    call = phases["call for contributions"]
    assert call.decoded("DTSTART") == date(2027, 1, 4) and call.decoded("DTEND") == date(2027, 1, 18)
    assert phases["publication note"].decoded("DTEND") == date(2027, 3, 29)
    meetup = phases["meetup"]
    assert meetup.decoded("DTSTART") == datetime(2027, 1, 14, 17, 30, tzinfo=UTC)
    assert str(meetup["LOCATION"]) == "City hall"
    assert len({str(e["UID"]) for e in events}) == 5

    runtime = Runtime.from_config(load_config(config_file))
    try:
        with TestClient(create_app(runtime)) as client:
            response = client.get("/campaigns/2027-q1/calendar.ics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/calendar")
            assert icalendar.Calendar.from_ical(response.content).to_ical() == target.read_bytes()
            assert client.get("/campaigns/nope/calendar.ics").status_code == 404
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[campaigns]\ntimezone = "Mars/Olympus"\n', "campaigns.timezone", "unknown time zone"),
        ("[campaigns]\nphase_weeks = [2, 2, 5]\n", "campaigns.phase_weeks", "at least 4"),
        ("[campaigns]\nreminder_days = [4, 20]\n", "campaigns", "within the call phase"),
        ('[campaigns]\npost_time = "half past nine"\n', "campaigns.post_time", "hh:mm"),
        ("[campaigns]\nsurvey_size = 0\n", "campaigns.survey_size", "greater than or equal to 1"),
        ('[campaigns]\ntemplates = "missing.toml"\n', "missing.toml", "no such file"),
    ],
)
def test_bad_campaign_settings_give_one_line(cli, write_config, text, key, problem):
    result = cli("campaign list", config=write_config(text, "bad.toml"), expect=2)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and problem in lines[0].lower(), result.output


def test_campaign_templates_can_be_edited_and_are_checked(cli, write_config, db_url, tmp_path, sessions):
    from bot.campaigns.texts import PACKAGED

    edited = tmp_path / "posts.toml"
    edited.write_text(PACKAGED.read_text(encoding="utf-8").replace("📣 Appel à contributions", "📣 Grand appel"),
                      encoding="utf-8")
    config = write_config(f'[database]\nurl = "{db_url}"\n[campaigns]\ntemplates = "posts.toml"\n', "edited.toml")
    cli("init", config=config)
    cli("campaign create q --start 2027-01-04", config=config)
    with sessions() as session:
        assert session.scalar(select(Post.text).where(Post.kind == "call")).startswith("📣 Grand appel")
    edited.write_text(PACKAGED.read_text(encoding="utf-8").replace("{call_ends}", "{deadline}"), encoding="utf-8")
    result = cli("campaign list", config=config, expect=2)
    assert "[call] fr: unknown placeholder {deadline}" in result.output
