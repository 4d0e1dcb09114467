"""tools/fresh.py: a model trained on the whole corpus, scored on the evaluation-only fresh set."""

from __future__ import annotations

import pytest

from classifiers.corpus import read_jsonl
from classifiers.labels import LABELS
from tests.test_classifiers import small_records, write_jsonl
from tools.fresh import FRESH_PATH, main

FRESH = [
    {"text": "Publiez les horaires des piscines en CSV svp", "label": "data_request", "lang": "fr",
     "register": "tweet_reply"},
    {"text": "Please publish the parking dataset as open data", "label": "data_request", "lang": "en",
     "register": "email"},
    {"text": "la piscine est encore fermée 😡", "label": "off_topic", "lang": "fr", "register": "tweet_reply"},
    {"text": "thanks a lot for your work!", "label": "off_topic", "lang": "en", "register": "email"},
]


def test_fresh_scores_a_model_trained_on_the_corpus_and_fills_the_card(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", small_records() * 3)  # enough texts for 5 epochs
    fresh = write_jsonl(tmp_path / "fresh.jsonl", FRESH)
    card = tmp_path / "CARD.md"
    card.write_text("# Card\n<!-- begin:fresh -->\nold\n<!-- end:fresh -->\nrest\n", encoding="utf-8")
    assert main(["--corpus", str(corpus), "--fresh", str(fresh), "--card", str(card)]) == 0
    text = card.read_text(encoding="utf-8")
    assert "old" not in text and text.endswith("<!-- end:fresh -->\nrest\n")
    assert "4 fresh texts (2 data_request, 2 off_topic)" in text
    row = next(line for line in text.splitlines() if line.startswith("| `bow-bigrams`"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "1.000"  # the four texts are the small corpus's own two styles
    assert cells[2:4] == ["1.000", "1.000"] and cells[4:6] == ["1.000", "1.000"]  # fr, en, email, tweet_reply
    assert cells[6].endswith("%")  # share sent to officers by the model's band
    assert "bow-bigrams" in capsys.readouterr().err


def test_a_card_without_the_block_is_refused(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", small_records() * 3)
    fresh = write_jsonl(tmp_path / "fresh.jsonl", FRESH)
    card = tmp_path / "CARD.md"
    card.write_text("# Card\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no <!-- begin:fresh -->"):
        main(["--corpus", str(corpus), "--fresh", str(fresh), "--card", str(card)])


def test_the_packaged_fresh_set_is_valid_and_never_in_the_corpus():
    fresh = read_jsonl(FRESH_PATH)
    assert len(fresh) >= 300 and {r["label"] for r in fresh} == set(LABELS)
    corpus_texts = {r["text"].casefold() for r in read_jsonl(FRESH_PATH.with_name("corpus.jsonl"))}
    assert not [r["text"] for r in fresh if r["text"].casefold() in corpus_texts]
