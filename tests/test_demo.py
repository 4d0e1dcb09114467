"""`datacall demo` on a fresh folder: the whole loop, and a summary that says where to look."""

from __future__ import annotations

import sqlite3

from typer.testing import CliRunner

from bot.cli.app import app
from bot.demo.scenario import sample_messages


def test_demo_runs_the_whole_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "--dir", "out"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    samples = sample_messages()
    assert len(samples) >= 18
    expected_requests = sum(s["expect"] == "data_request" for s in samples)
    db = sqlite3.connect(tmp_path / "out" / "datacall.db")
    assert db.execute("select count(*) from messages").fetchone()[0] == len(samples)
    statuses = dict(db.execute("select status, count(*) from requests group by status").fetchall())
    assert statuses["published"] == 1 and statuses["duplicate"] == 1
    assert sum(statuses.values()) == expected_requests
    # acknowledgements + one published + one duplicate notice, all sent, none twice
    assert db.execute("select state, count(*) from replies group by state").fetchall() == [
        ("sent", expected_requests + 2)
    ]
    twice = db.execute(
        "select in_reply_to_id, count(*) from sandbox_entries where from_bot = 1 and in_reply_to_id is not null "
        "group by in_reply_to_id, substr(text, 1, 12) having count(*) > 1"
    ).fetchall()
    assert twice == []
    assert "a second pass sent 0 more" in result.output
    # what the classifier left inside the review band, the demo officer decided, as the queue records it;
    left_to_officer = db.execute("select count(*) from label_decisions").fetchone()[0]
    assert db.execute("select count(*) from messages where needs_review").fetchone()[0] == 0
    # ... and the automatic decisions drawn for a spot check ([classifier] spot_check_share), as such
    spot = db.execute("select count(*) from messages where spot_check").fetchone()[0]
    why = f"{left_to_officer - spot} uncertain" + (f", {spot} drawn for a spot check" if spot else "")
    said = f"{left_to_officer} messages left to an officer ({why})" if left_to_officer else "decided automatically"
    assert said in " ".join(result.output.replace("│", " ").split())  # the summary box wraps its lines
    assert str(tmp_path / "out" / "datacall.db") in result.output
    assert "request list --config" in result.output


def test_demo_again_starts_afresh(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    runner.invoke(app, ["demo", "--dir", "out"], catch_exceptions=False)
    result = runner.invoke(app, ["demo", "--dir", "out"], catch_exceptions=False)
    assert result.exit_code == 0
    db = sqlite3.connect(tmp_path / "out" / "datacall.db")
    assert db.execute("select count(*) from messages").fetchone()[0] == len(sample_messages())
