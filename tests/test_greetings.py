"""classifiers/greetings.py: copies of training texts wrapped in greetings and closings."""

from __future__ import annotations

import pytest

from classifiers.greetings import GREETINGS_FILE, load, wrapped_copies

RECORDS = [
    {"text": f"publiez les horaires [{n}]", "lang": "fr", "label": "data_request", "kind": "new_dataset"}
    for n in range(200)
] + [
    {"text": f"thanks for the call [{n}]", "lang": "en", "label": "off_topic", "kind": "thanks"} for n in range(200)
] + [{"text": f"bitte [{n}]", "lang": "de", "label": "data_request"} for n in range(50)]


def test_the_packaged_greetings_cover_both_languages():
    greetings = load()
    assert set(greetings) == {"fr", "en"}
    assert all(len(greetings[lang][key]) >= 5 for lang in greetings for key in ("openings", "closings"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('[fr]\nopenings = ["Bonjour,"]\n', "fr.closings: expected a non-empty list of texts"),
        ('[en]\nopenings = []\nclosings = ["Thanks."]\n', "en.openings: expected a non-empty list of texts"),
        ("[en\n", "Expected ']'"),
    ],
)
def test_a_bad_file_is_named_with_its_key(tmp_path, content, problem):
    file = tmp_path / "greetings.toml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load(file)
    assert str(error.value).startswith(f"{file}: ") and problem in str(error.value)


def test_copies_keep_their_label_and_kind_and_only_gain_words_around_them():
    copies = wrapped_copies(RECORDS, 0.5, seed=0)
    originals = {r["text"]: r for r in RECORDS}
    greetings = load(GREETINGS_FILE)
    assert 150 <= len(copies) <= 250  # about half of the 400 French and English texts
    for copy in copies:
        source = next(r for text, r in originals.items() if text in copy["text"] and text != copy["text"])
        assert (copy["label"], copy.get("kind"), copy["lang"]) == (source["label"], source.get("kind"), source["lang"])
        around = copy["text"].replace(source["text"], "\0")
        opening, _, closing = around.partition("\0")
        assert opening.strip() in ("", *greetings[copy["lang"]]["openings"])
        assert closing.strip() in ("", *greetings[copy["lang"]]["closings"])
        assert opening.strip() or closing.strip()
    assert not any(copy["lang"] == "de" for copy in copies)  # no greetings written for other languages
    assert wrapped_copies(RECORDS, 0.5, seed=0) == copies and wrapped_copies(RECORDS, 0.5, seed=1) != copies
    assert wrapped_copies(RECORDS, 0.0, seed=0) == []
