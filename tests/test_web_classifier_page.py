"""`/queue/classifier`: the classifier's figures on the deployment's own messages, for officers."""

from __future__ import annotations

import html
import json
import re

from bot.config import load_config
from bot.web import classifier_page
from tests.web_support import add_message, login, post


def text_of(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|p|table)>', page, re.S)
    assert found, element_id
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_officers_see_agreement_spot_checks_and_what_the_model_has_not_learned(client, users, monkeypatch):
    with users.sessions() as session, session.begin():
        drawn_request = add_message(session, "@a", "Please publish the bus data", score=0.95, needs_review=True)
        drawn_chatter = add_message(session, "@b", "lovely day at the park", label="off_topic", score=0.02,
                                    needs_review=True)
        unsure = add_message(session, "@c", "bus data maybe?", score=0.5, needs_review=True)
        drawn_request.spot_check = drawn_chatter.spot_check = True
        ids = (drawn_request.id, drawn_chatter.id, unsure.id)
    monkeypatch.setattr(classifier_page, "model_meta", lambda config: {
        "model_version": "textcat-0123abcd", "review_band": [0.1, 0.9], "last_decision_id": 1})
    login(client)
    assert "No decision yet." in client.get("/queue/classifier").text
    assert 'href="/queue/classifier"' in client.get("/queue").text

    post(client, f"/queue/messages/{ids[0]}/off-topic")  # the officer overturns a confident request
    post(client, f"/queue/messages/{ids[1]}/off-topic")
    post(client, f"/queue/messages/{ids[2]}/confirm")
    page = client.get("/queue/classifier").text
    assert "textcat-0123abcd" in page and "scores from 0.100 to 0.900" in page
    assert text_of(page, "agreement") == "3 messages decided; the model's score was on the same side for 2 (67 %)"
    table = text_of(page, "spot-checks")
    assert "Data request 1 0 0.00 0.00–0.79" in table  # one check, wrong: the interval says how little it says
    assert "Off-topic 1 1 1.00 0.21–1.00" in table
    assert text_of(page, "unseen").startswith("2 messages decided since the model was trained")

    client.cookies.clear()
    assert client.get("/queue/classifier", follow_redirects=False).status_code == 303  # officers only


def test_the_page_reads_the_configured_models_meta_without_loading_it(tmp_path, write_config):
    model = tmp_path / "model"
    model.mkdir()
    config = load_config(write_config(f'[classifier]\nmodel_path = "{model.as_posix()}"\n'))
    assert classifier_page.model_meta(config) is None  # nothing trained there yet, and nothing is trained
    (model / "meta.json").write_text(json.dumps({"datacall": {"model_version": "textcat-x", "review_band": [0, 1]}}))
    assert classifier_page.model_meta(config) == {"model_version": "textcat-x", "review_band": [0, 1]}
    assert list(model.iterdir()) == [model / "meta.json"]
