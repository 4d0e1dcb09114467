"""`datacall train --with-decisions`: officer decisions join the train split; a worse model is not kept."""

from __future__ import annotations

import json
from datetime import timedelta

import classifiers
from bot.training_data import decision_records
from storage.models import LabelDecision, Message, Requester, utcnow

D, OFF = "data_request", "off_topic"
TOPICS = [
    "bus timetables", "playgrounds", "school menus", "bike lanes", "tree inventory", "air quality",
    "parking spaces", "public toilets", "street lights", "noise levels", "library loans", "bin collection",
]
ASKS = [
    "Please publish the {} dataset as open data",
    "Where can I find data about {}? #opendata",
    "Could you open the {} data as CSV",
]
COMPLAINTS = [
    "the {} are a disgrace again this morning",
    "thanks to the team for the {} work",
    "my neighbours complain about the {} all night",
]


def corpus_records() -> list[dict]:
    """72 English texts: asks for data, or talks about the same topics without asking."""
    records = [{"text": t.format(topic), "label": D, "lang": "en"} for t in ASKS for topic in TOPICS]
    records += [{"text": t.format(topic), "label": OFF, "lang": "en"} for t in COMPLAINTS for topic in TOPICS]
    return records


def write_corpus(path):
    path.write_text("".join(json.dumps(r) + "\n" for r in corpus_records()), encoding="utf-8")
    return path


def add_decisions(sessions, decisions: list[tuple[str, list[str]]]) -> None:
    """One message per (text, labels); its decisions in order, one minute apart."""
    start = utcnow() - timedelta(hours=1)
    with sessions() as session, session.begin():
        requester = Requester(network="sandbox", external_user_id="u1", handle="@u1")
        session.add(requester)
        for number, (text, labels) in enumerate(decisions):
            message = Message(network="sandbox", external_id=str(number), requester=requester, text=text, lang="en")
            session.add(message)
            for minute, label in enumerate(labels):
                session.add(
                    LabelDecision(
                        message=message, label=label, officer="officer@city",
                        created_at=start + timedelta(minutes=minute),
                    )
                )


def test_decision_records_keep_the_latest_decision_per_message(sessions):
    add_decisions(
        sessions,
        [
            ("publish the pool opening hours", [OFF, D]),  # corrected: the latest wins
            ("the pool is cold", [OFF]),
            ("an undecided message", []),
            ("   ", [D]),  # erased text: nothing to learn from
            ("what is this", [OFF, "spam"]),  # unknown label: ignored, not the earlier one
        ],
    )
    with sessions() as session:
        records = decision_records(session)
    assert records == [
        {"text": "publish the pool opening hours", "label": D, "lang": "en"},
        {"text": "the pool is cold", "label": OFF, "lang": "en"},
    ]


def test_train_with_decisions_replaces_a_model_only_if_not_worse(cli, sessions, tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    out = tmp_path / "model"
    helpful = [(f"Please publish the {t} statistics per district", [D]) for t in ("pool", "market", "museum")]
    add_decisions(sessions, helpful)

    first = cli(["train", "--with-decisions", "--corpus", str(corpus), "--out", str(out)])
    assert "3 officer decisions" in first.output
    assert "replaced" in first.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["extra_train"] == 3
    assert metrics["sizes"]["train"] >= 3
    version = classifiers.load(out).version

    second = cli(["train", "--with-decisions", "--corpus", str(corpus), "--out", str(out)])
    assert "dev macro-F1: current model" in second.output
    assert ("replaced" in second.output) != ("kept the current model" in second.output)
    # same corpus, decisions and seed: the same model either way
    assert classifiers.load(out).version == version


def test_train_with_decisions_needs_an_initialised_database(cli, tmp_path):
    result = cli(["train", "--with-decisions", "--out", str(tmp_path / "model")], expect=1)
    assert "datacall init" in result.output
    assert not (tmp_path / "model").exists()


def test_retrain_keeps_the_current_model_when_decisions_make_it_worse(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    out = tmp_path / "model"
    classifiers.train(corpus, out)
    before = classifiers.load(out).version
    # Officers "correcting" every request-like text to off_topic: a poisoned train split.
    poison = [{"text": t.format(topic + " data"), "label": OFF} for t in ASKS for topic in TOPICS]
    poison += [{"text": f"Please publish the {t} dataset as open data now", "label": OFF} for t in range(60)]
    result = classifiers.retrain(corpus, out, extra_train=poison)
    assert result["current"] is not None and result["candidate"] < result["current"]
    assert result["replaced"] is False
    assert classifiers.load(out).version == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary dir left behind"


def test_extra_examples_never_leak_into_held_out_splits():
    splits = {"train": [{"text": "a", "label": OFF}], "dev": [{"text": "Held Out", "label": D}], "test": []}
    extra = [{"text": "held  out", "label": OFF}, {"text": "A", "label": D}, {"text": "new", "label": D}]
    merged = classifiers.training.with_extra_train(splits, extra)
    assert merged["dev"] == splits["dev"]
    assert merged["train"] == [{"text": "A", "label": D}, {"text": "new", "label": D}]
