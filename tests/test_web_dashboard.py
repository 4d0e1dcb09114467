"""The public dashboard's charts, search, campaign links and open-data downloads; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import timedelta

from sqlalchemy import update

from bot.web.charts import status_over_time
from storage.models import Request, RequestNote, StatusEvent, utcnow
from tests.test_web_public import assert_no_personal_data, decide
from tests.web_support import seed


def test_charts_are_inline_svg_with_their_numbers(client, users):
    ids = seed(users)
    decide(client, ids)  # canteen merged into velo, velo published
    page = client.get("/").text
    assert page.count('<svg class="chart"') == 2 and "<script" not in page
    assert 'aria-label="Requests per status, at the end of each month"' in page
    assert 'aria-label="Requests per status, per campaign"' in page
    month = f"{utcnow():%Y-%m}"
    # The table under the time chart: this month ends with one published request (the merged one is not counted).
    assert re.search(rf"<th scope=\"row\">{month}</th><td>1</td>", page)
    assert "<title>2027-q1: Published 1</title>" in page
    assert_no_personal_data(page)


def test_status_over_time_counts_each_request_in_its_status_at_each_month_end(users):
    ids = seed(users)
    now = utcnow()
    with users.sessions() as session, session.begin():
        # The bike request arrived two months ago and was accepted last month.
        session.execute(update(StatusEvent).where(StatusEvent.request_id == ids["velo_request"])
                        .values(created_at=now - timedelta(days=62)))
        session.add(StatusEvent(request_id=ids["velo_request"], status="accepted", actor="ada",
                                created_at=now - timedelta(days=31)))
    with users.sessions() as session:
        series = status_over_time(session, now=now)
    counts = dict(zip(series.labels, series.counts, strict=False))
    two_ago = (now - timedelta(days=62)).strftime("%Y-%m")
    last = (now - timedelta(days=31)).strftime("%Y-%m")
    assert len(series.labels) == 12 and series.labels[-1] == f"{now:%Y-%m}"
    assert counts[two_ago] == {"received": 1}
    assert counts[last] == {"accepted": 1}
    assert counts[f"{now:%Y-%m}"] == {"accepted": 1, "received": 1}


def test_search_and_the_campaign_note_link(client, users):
    ids = seed(users)
    # Only public words are searched: a draft title nobody approved is not found.
    assert len(re.findall(r'<li class="card">', client.get("/?q=CANTEEN").text)) == 0
    with users.sessions() as session, session.begin():
        session.execute(update(Request).where(Request.id == ids["canteen_request"])
                        .values(public_title="School canteen menus"))
    page = client.get("/?q=CANTEEN").text
    assert len(re.findall(r'<li class="card">', page)) == 1 and "canteen menus" in page
    assert len(re.findall(r'<li class="card">', client.get("/?q=50%25").text)) == 0
    assert len(re.findall(r'<li class="card">', client.get("/?q=camille_velo").text)) == 0  # handles are not searched
    assert 'href="/campaigns/2027-q1"' in client.get("/").text


def test_downloads_are_made_on_demand_and_keep_their_date(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        session.add(RequestNote(request_id=ids["velo_request"], author="alice", text="internal: ring the team"))
    page = client.get("/").text
    for name in ("requests.csv", "status_events.csv", "requests.json", "datapackage.zip"):
        assert f'href="/exports/{name}"' in page
    assert "file made when downloaded" in page
    response = client.get("/exports/requests.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="requests.csv"' == response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {row["id"] for row in rows} == {str(ids["velo_request"]), str(ids["canteen_request"])}
    listing = client.get("/").text
    assert re.search(r"requests\.csv</a>\s*<span class=\"muted\">file of \d{4}-\d\d-\d\d \d\d:\d\d \(UTC\)", listing)
    assert client.get("/exports/requests.csv").headers["last-modified"] == response.headers["last-modified"]
    data = client.get("/exports/requests.json").json()
    assert len(data["requests"]) == 2
    archive = zipfile.ZipFile(io.BytesIO(client.get("/exports/datapackage.zip").content))
    names = sorted(archive.namelist())
    assert names == ["datacall-requests/datapackage.json", "datacall-requests/requests.csv",
                     "datacall-requests/status_events.csv"]
    assert json.loads(archive.read("datacall-requests/datapackage.json"))["licenses"][0]["name"] == "ODbL-1.0"
    everything = b"".join([client.get(f"/exports/{n}").content for n in ("requests.csv", "status_events.csv",
                                                                          "requests.json")])
    for secret in (b"camille_velo", b"ring the team", b"alice"):
        assert secret not in everything
    assert client.get("/exports/../../etc/passwd").status_code == 404
    assert client.get("/exports/secrets.csv").status_code == 404
