"""`datacall campaign rehearse`: the whole 12-week cycle on a copy of the database, in seconds."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.networks.sandbox import timeline
from storage.copy import CopyError, copy_to_sqlite
from storage.database import make_engine, make_session_factory
from storage.models import Post, SandboxEntry, SurveyOption


def test_rehearsal_plays_the_quarter_on_a_copy_and_prints_a_dated_timeline(cli, sessions, tmp_path):
    cli("init")
    cli(["campaign", "create", "2027-q1", "--start", "2027-01-04", "--title", "Q1 2027",
         "--meetup", "2027-01-14 18:30", "--meetup-place", "City hall"])
    out = tmp_path / "rehearsal"
    lines = cli(["campaign", "rehearse", "2027-q1", "--out", str(out)]).output.strip().splitlines()

    assert lines and all(re.match(r"^\d{4}-\d{2}-\d{2} ", line) for line in lines), lines
    assert lines == sorted(lines, key=lambda line: line[:16])
    assert lines[0].startswith("2027-01-04 00:00  phase call begins")
    text = "\n".join(lines)
    for expected in (
        "2027-01-04 09:30  call posted on sandbox: 📣 Appel à contributions « Q1 2027 »",
        "2027-01-05 09:30  meetup posted on sandbox",
        "2027-01-08 09:30  reminder posted on sandbox",
        "2027-01-13 09:30  meetup_reminder posted on sandbox",
        "2027-01-14 18:30  meetup",
        "2027-01-18 09:30  survey posted on sandbox: 🗳 Sondage",
        "2027-01-20 09:30  24 votes in the survey",  # 8 requests: two polls of 4 options
        "2027-02-01 00:01  survey closed, votes: #",
        "2027-02-02 10:00  officer accepts request #",
        "2027-02-15 10:00  officer publishes request #",
        "2027-03-08 09:30  note posted on sandbox",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "citizens answer the call of 2027-01-04" in text
    assert "citizens answer the reminder of 2027-01-08" in text
    assert re.search(r"messages classified: \d+ data_request, \d+ off_topic", text)
    # The research update is written when it goes out: by then requests were accepted.
    [update] = [line for line in lines if "research_update posted" in line]
    assert update.startswith("2027-02-15 09:30")
    accepted = int(re.search(r"(\d+) acceptées", update).group(1))
    assert accepted == text.count("officer accepts request") > 0
    assert lines[-1].startswith("2027-03-28 23:59  end of the rehearsal")

    # The copy holds the whole quarter, stamped with the simulated dates.
    copy = make_session_factory(make_engine(f"sqlite:///{out / 'rehearsal.db'}"))
    with copy() as session:
        posted = session.scalars(select(Post).where(Post.state == "posted").order_by(Post.due_at)).all()
        assert [p.kind for p in posted] == [
            "call", "meetup", "reminder", "reminder", "meetup_reminder", "survey", "survey", "research_update", "note",
        ]
        assert all(p.posted_at == p.due_at for p in posted)
        assert session.scalar(select(func.sum(SurveyOption.votes))) == 24
        citizens = timeline(session, from_bot=False)
        assert citizens and all(e.created_at.year == 2027 for e in citizens)
    # The publication note of the rehearsed quarter is written next to the copy.
    assert f"publication note written: {out / 'index.html'}" in text
    note = (out / "index.html").read_text(encoding="utf-8")
    assert "Q1 2027" in note and (out / "note.md").exists() and list(out.glob("*.svg"))
    # ...and the source database is untouched.
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SandboxEntry)) == 0
        assert {p.state for p in session.scalars(select(Post))} == {"pending"}


def test_rehearsal_needs_a_calendar(cli):
    cli("init")
    cli("campaign create 2027-q2")
    result = cli("campaign rehearse 2027-q2", expect=2)
    assert "has no calendar" in result.output and len(result.output.strip().splitlines()) == 1
    assert "no campaign" in cli("campaign rehearse nope", expect=2).output


def test_rehearsal_of_a_text_survey_counts_plus_n_replies(cli, write_config, db_url, tmp_path):
    config = write_config(f'[database]\nurl = "{db_url}"\n[networks.sandbox]\npolls = false\n', "text.toml")
    cli("init", config=config)
    cli("campaign create 2027-q1 --start 2027-01-04", config=config)
    out = tmp_path / "text"
    text = cli(["campaign", "rehearse", "2027-q1", "--out", str(out)], config=config).output
    assert "survey posted on sandbox: 🗳 Sondage" in text and "+1 Demande n° " in text
    assert "12 votes in the survey" in text
    copy = make_session_factory(make_engine(f"sqlite:///{out / 'rehearsal.db'}"))
    with copy() as session:
        assert session.scalar(select(func.sum(SurveyOption.votes))) == 12
        assert session.scalar(select(func.count()).select_from(Post).where(Post.kind == "survey")) == 1


def test_copy_of_a_missing_or_broken_sqlite_file_is_one_clear_error(tmp_path):
    with pytest.raises(CopyError, match="no database at"):
        copy_to_sqlite(f"sqlite:///{tmp_path / 'absent.db'}", tmp_path / "copy.db")
    broken = tmp_path / "broken file.db"
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CopyError, match="cannot copy"):
        copy_to_sqlite(f"sqlite:///{broken}", tmp_path / "copy.db")
