"""`datacall classify`, `train` and `evaluate` as the contract says."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from bot.cli.app import app

TEXTS = [
    "Pourriez-vous publier la liste des aires de jeux avec leurs coordonnées ?",
    "Please publish bus punctuality per line, monthly, as CSV.",
    "the bus is late again, third time this week!!",
    "Poubelles pas ramassées rue des Lilas depuis lundi",
    "",
]


def invoke(argv, input=None):
    return CliRunner().invoke(app, argv, input=input, catch_exceptions=False)


def test_one_json_object_per_input_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["classify"], input="\n".join(TEXTS) + "\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip("\n").split("\n")
    assert len(lines) == len(TEXTS)
    objects = [json.loads(line) for line in lines]
    for obj in objects:
        assert set(obj) == {"label", "score", "lang"}
        assert obj["label"] in ("data_request", "off_topic")
        assert 0.0 <= obj["score"] <= 1.0
        assert isinstance(obj["lang"], str) and obj["lang"]
        assert (obj["score"] >= 0.5) == (obj["label"] == "data_request")
    assert [o["label"] for o in objects[:4]] == ["data_request", "data_request", "off_topic", "off_topic"]
    assert [o["lang"] for o in objects[:4]] == ["fr", "en", "en", "fr"]


def test_jsonl_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stdin = "\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(TEXTS[:2])) + "\n"
    result = invoke(["classify", "--jsonl"], input=stdin)
    assert result.exit_code == 0
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == ["data_request"] * 2


def test_jsonl_input_error_names_the_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["classify", "--jsonl"], input='{"text": "ok"}\n{"txt": "oops"}\n')
    assert result.exit_code == 2
    assert "stdin:2" in result.output


def test_threshold_comes_from_config(tmp_path, write_config):
    config = write_config("[classifier]\nthreshold = 0.999999\n")
    result = invoke(["classify", "--config", str(config)], input="Can you publish the tree inventory?\n")
    obj = json.loads(result.stdout)
    assert obj["label"] == ("data_request" if obj["score"] >= 0.999999 else "off_topic")


def test_evaluate_reports_metrics_and_writes_the_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labelled = tmp_path / "eval.jsonl"
    labelled.write_text(
        "\n".join(
            json.dumps({"text": text, "label": label})
            for text, label in zip(TEXTS[:4], ["data_request", "data_request", "off_topic", "off_topic"], strict=False)
        )
        + "\n"
    )
    result = invoke(["evaluate", str(labelled), "--out", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n"] == 4 and 0 <= report["macro_f1"] <= 1
    band = report["review_band"]  # the packaged model's, measured when it was trained
    assert band["n"] == 4 and band["in_band"] + band["auto_data_request"] + band["auto_off_topic"] == 4
    assert "review band" in result.output
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 4


def test_evaluate_rejects_a_bad_file_with_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labelled = tmp_path / "bad.jsonl"
    labelled.write_text('{"text": "a", "label": "data_request"}\n{"text": "b", "label": "maybe"}\n')
    result = invoke(["evaluate", str(labelled)])
    assert result.exit_code == 2
    assert f"{labelled}:2" in result.output


def test_train_writes_a_model_and_metrics(tmp_path, monkeypatch):
    """A small real training run: the metrics file it writes is checked."""
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "small.jsonl"
    rows = []
    for i in range(30):
        rows.append(
            {"text": f"Please publish dataset number {i} as CSV open data", "label": "data_request", "lang": "en"}
        )
        rows.append({"text": f"Merci de publier les données {i} en open data", "label": "data_request", "lang": "fr"})
        rows.append({"text": f"The bus {i} is late again, so annoying", "label": "off_topic", "lang": "en"})
        rows.append({"text": f"Le bus {i} est encore en retard ce matin", "label": "off_topic", "lang": "fr"})
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    out = tmp_path / "model"
    result = invoke(["train", "--corpus", str(corpus), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["macro_f1"] >= 0.9
    assert (out / "meta.json").is_file()
    band = metrics["review_band"]
    assert 0.0 <= band["low"] <= band["high"] <= 1.0
    # A band calibrated on held-out groups (config.cfg) reports what it does on dev.
    measured = band["dev"] if band["source"] == "held_out_groups" else band[band["source"]]
    assert 0.0 <= measured["share_in_band"] <= 1.0
    assert "review band" in result.output


def test_classify_imports_neither_spacy_nor_the_database_layer(tmp_path, monkeypatch):
    """Start-up of a one-line `classify` stays short: no spaCy (the bag of words is scored in numpy), no
    SQLAlchemy, no web or network code, even on a deployment's config: it reads `[classifier]` only,
    and runs where the networks' secrets are not set."""
    for variable in [name for name in os.environ if name.startswith("DATACALL_")]:
        if variable != "DATACALL_CACHE_DIR":
            monkeypatch.delenv(variable)
    import subprocess
    import sys

    import classifiers

    model = classifiers.ensure_model(None)
    config = tmp_path / "datacall.toml"
    # A deployment's config: every network on, their secrets not in this environment, PostgreSQL.
    config.write_text(
        f'[classifier]\nmodel_path = "{model.as_posix()}"\n'
        '[database]\nurl = "postgresql+psycopg://datacall@db.internal/datacall"\n'
        '[networks.twitter]\nenabled = true\nusername = "city"\n'
        '[networks.mastodon]\nenabled = true\napi_base_url = "https://social.example"\n'
        '[networks.telegram]\nenabled = true\n',
        encoding="utf-8",
    )
    probe = (
        "import sys\n"
        "from bot.cli.app import main\n"
        "sys.argv = ['datacall', 'classify', '--config', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'spacy', 'thinc', 'sqlalchemy', 'starlette', "
        "'tweepy', 'mastodon', 'telegram'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(config)], input="Publiez les horaires des bus\n",
                          capture_output=True, text=True, cwd=tmp_path, check=True)
    assert json.loads(done.stdout)["label"] in ("data_request", "off_topic")
    assert "HEAVY []" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[clasifier]\nthreshold = 0.6\n', "clasifier: unknown key"),
        ('[classifier]\nthreshold = "high"\n', "classifier.threshold"),
    ],
)
def test_classify_still_names_a_bad_key_of_the_config(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "datacall.toml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["classify", "--config", str(config)], input="Publiez les horaires\n")
    assert result.exit_code == 2
    assert f"{config}: {expected}" in result.output
