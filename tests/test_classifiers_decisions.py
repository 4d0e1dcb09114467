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


def add_decisions(sessions, decisions: list[tuple[str, list[str]]], batch: str = "") -> None:
    """One message per (text, labels); its decisions in order, one minute apart. A new `batch` adds more."""
    start = utcnow() - timedelta(hours=1)
    with sessions() as session, session.begin():
        requester = Requester(network="sandbox", external_user_id=f"u1{batch}", handle="@u1")
        session.add(requester)
        for number, (text, labels) in enumerate(decisions):
            message = Message(network="sandbox", external_id=f"{batch}{number}", requester=requester, text=text,
                              lang="en")
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
    assert [{k: v for k, v in r.items() if k != "decision_id"} for r in records] == [
        {"text": "publish the pool opening hours", "label": D, "lang": "en"},
        {"text": "the pool is cold", "label": OFF, "lang": "en"},
    ]
    assert records[0]["decision_id"] == 2 and records[1]["decision_id"] == 3  # each message's highest id


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


def test_evaluate_decisions_scores_the_model_on_what_it_has_not_learned(cli, sessions, tmp_path, write_config, db_url):
    """The deployment's own figure: officers' decisions, minus those the model was trained on."""
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    out = tmp_path / "model"
    config = write_config(f'[database]\nurl = "{db_url}"\n'
                          f'[classifier]\nmodel_path = "{out.as_posix()}"\nreview_band = [0.1, 0.9]\n', "eval.toml")

    def run(args):
        return cli(args, config=config)

    run(["train", "--corpus", str(corpus), "--out", str(out)])
    assert "none yet" in run(["evaluate", "--decisions"]).output  # no decision yet: says so, exit 0
    learned = [(f"Please publish the {t} statistics per district", [D]) for t in ("pool", "market")]
    learned += [("the pool was freezing again", [OFF])]
    add_decisions(sessions, learned)

    before = run(["evaluate", "--decisions", "--out", str(tmp_path / "a.json")])
    assert "this model learned from none" in before.output
    assert json.loads((tmp_path / "a.json").read_text())["n"] == 3  # a model without decisions has seen none

    run(["train", "--with-decisions", "--corpus", str(corpus), "--out", str(out)])
    assert json.loads((out / "meta.json").read_text())["datacall"]["last_decision_id"] == 3
    nothing_new = run(["evaluate", "--decisions"])
    assert "none yet" in nothing_new.output

    later = [("Could you open the ice rink attendance data as CSV", [D]), ("the rink smells of paint", [OFF])]
    add_decisions(sessions, later, batch="b")
    with sessions() as session, session.begin():  # a learned message decided again: still not unseen
        session.add(LabelDecision(message_id=1, label=OFF, officer="officer@city"))
    after = run(["evaluate", "--decisions", "--out", str(tmp_path / "b.json")])
    assert "since this model was trained" in after.output and "macro-F1" in after.output
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["n"] == 2
    assert report["review_band"]["low"] == 0.1  # the deployment's band, as the pipeline applies it


def test_evaluate_needs_a_file_or_decisions_but_not_both(cli, tmp_path):
    labelled = tmp_path / "l.jsonl"
    labelled.write_text(json.dumps({"text": "publish the bins data", "label": D}) + "\n")
    assert "one of the two" in cli(["evaluate"], expect=2).output
    assert "one of the two" in cli(["evaluate", str(labelled), "--decisions"], expect=2).output


def test_status_says_how_often_the_classifier_agreed_with_the_officers(cli, sessions):
    empty = cli("status").output
    assert "officers' decisions: 0 messages" in empty
    assert "spot checks of automatic decisions: none decided yet" in empty
    add_decisions(sessions, [("publish the pool data", [D]), ("the pool is cold", [OFF]), ("pool times?", [D]),
                             ("hello", [])])
    scores = {1: 0.8, 2: 0.2, 3: 0.3}  # the model said request, off-topic, off-topic
    with sessions() as session, session.begin():
        for decision in session.query(LabelDecision):
            decision.previous_score = scores[decision.message_id]
        # Decided again later, now against the model's 0.8: the latest decision counts, once.
        session.add(LabelDecision(message_id=1, label=OFF, previous_label=D, previous_score=0.8, officer="o"))
    assert ("officers' decisions: 3 messages; the classifier's score had put 1 (33%) on the same side"
            in cli("status").output)
