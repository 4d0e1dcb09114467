"""Support (supporters + survey votes) where officers and the public see it."""

from __future__ import annotations

from bot.config import load_config
from bot.runtime import Runtime
from bot.web.app import create_app
from storage.models import Campaign, Post, SurveyOption
from tests.campaign_data import add_request
from tests.web_support import TestClient


def seed(sessions) -> tuple[int, int]:
    """Two requests: 2 supporters and 5 survey votes, and 3 supporters without votes."""
    with sessions() as session, session.begin():
        campaign = Campaign(slug="2027-q1", title="Q1", call_text="call")
        session.add(campaign)
        session.flush()
        voted = add_request(session, campaign.id, 2)
        plain = add_request(session, campaign.id, 3)
        survey = Post(campaign_id=campaign.id, network="sandbox", kind="survey", text="?", state="posted")
        session.add(survey)
        session.flush()
        session.add(SurveyOption(post_id=survey.id, request_id=voted.id, option_index=0, label="Request #1",
                                 votes=5, closes_at=campaign.created_at))
        return voted.id, plain.id


def test_queue_and_request_show_print_the_support(cli, sessions):
    cli("init")
    voted, plain = seed(sessions)
    queue = cli("queue").output
    assert "support" in queue
    cells = [[cell.strip() for cell in line.split("│")] for line in queue.splitlines() if "received" in line]
    rows = {int(row[1]): int(row[5]) for row in cells}  # id, status, created, campaign, support
    assert rows == {voted: 7, plain: 3}
    shown = cli(f"request show {voted}").output
    assert "support: 7 (survey votes: 5)" in shown


def test_public_dashboard_counts_survey_votes(cli, sessions, config_file):
    cli("init")
    voted, plain = seed(sessions)
    runtime = Runtime.from_config(load_config(config_file))
    try:
        with TestClient(create_app(runtime)) as client:
            page = client.get("/", headers={"accept-language": "en"}).text
    finally:
        runtime.close()
    assert "7 supporters" in page and "3 supporters" in page
