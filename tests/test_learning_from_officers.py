"""Learning from officers, proven: a city writes in a register the model has never seen.

The model is trained without one register of the packaged corpus. The city's
first messages arrive through the sandbox, officers decide them in the way the
web app records decisions, `datacall train --with-decisions` retrains, and the
model must do better on the rest of that register than before.
"""

from __future__ import annotations

import hashlib
import json
import shlex

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import classifiers
from bot.cli.app import app
from bot.config import load_config
from bot.runtime import Runtime
from bot.web.decisions import confirm_request, mark_off_topic
from storage.models import LabelDecision, Message
from tests.helpers import citizens_reply
from tools.heldout import register_of

CITY_REGISTER = "portal_discussion"  # the city's residents write long, forum-like messages
DECIDED = 60  # the city's first messages, decided by officers
BASE_STRIDE = 3  # a third of the other registers: keeps two trainings within CI's budget


def _bucket(text: str) -> int:
    return hashlib.sha256(text.encode()).digest()[0]


@pytest.fixture
def city(tmp_path):
    records = classifiers.read_jsonl(classifiers.default_corpus_path())
    others = [r for r in records if register_of(r) != CITY_REGISTER][::BASE_STRIDE]
    messages = sorted((r for r in records if register_of(r) == CITY_REGISTER), key=lambda r: _bucket(r["text"]))
    if len(messages) < DECIDED + 40:
        pytest.fail(f"the packaged corpus has {len(messages)} {CITY_REGISTER} texts; this test needs {DECIDED + 40}")
    base = tmp_path / "base.jsonl"
    base.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in others), encoding="utf-8")
    config = tmp_path / "datacall.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "city.db"}"\n\n'
        f'[classifier]\nmodel_path = "{tmp_path / "model"}"\n',
        encoding="utf-8",
    )
    return {"base": base, "config": config, "model": tmp_path / "model",
            "first": messages[:DECIDED], "rest": messages[DECIDED:]}


def _cli(args: str, config) -> str:
    result = CliRunner().invoke(app, [*shlex.split(args), "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _macro_f1(model_dir, records) -> float:
    return classifiers.evaluate(classifiers.load(model_dir), records)["macro_f1"]


@pytest.mark.slow
def test_officers_decisions_on_an_unseen_register_improve_the_model(city):
    config = city["config"]
    _cli(f"train --corpus {city['base']}", config)
    before = _macro_f1(city["model"], city["rest"])

    _cli("init", config)
    rt = Runtime.from_config(load_config(config))
    try:
        residents = [(f"@resident{i}", r["text"]) for i, r in enumerate(city["first"])]
        citizens_reply(rt.sessions, to=None, citizens=residents)
        _cli("run --once", config)
        gold = {r["text"]: r["label"] for r in city["first"]}
        writer = rt.reply_writer()
        with rt.sessions() as session, session.begin():
            for message in session.scalars(select(Message).order_by(Message.id)):
                decide = confirm_request if gold[message.text] == "data_request" else mark_off_topic
                decide(session, message.id, officer="officer@city", writer=writer)
        with rt.sessions() as session:
            assert len(session.scalars(select(LabelDecision)).all()) == DECIDED
    finally:
        rt.close()

    output = _cli(f"train --with-decisions --corpus {city['base']}", config)
    assert f"{DECIDED} officer decisions" in output and "replaced the model" in output
    after = _macro_f1(city["model"], city["rest"])
    assert after > before, f"macro-F1 on the rest of {CITY_REGISTER}: {before:.3f} before, {after:.3f} after"
