"""`datacall queue --least-sure-first`: the messages the model is least sure of come first."""

from __future__ import annotations

from storage import queries
from storage.models import Message, Requester, utcnow

SCORES = {"sure request": 0.93, "coin toss": 0.51, "fairly sure no": 0.2, "unsure no": 0.42}


def seed(sessions) -> None:
    with sessions() as session, session.begin():
        requester = Requester(network="sandbox", external_user_id="u1", handle="@u1")
        session.add(requester)
        for number, (text, score) in enumerate(SCORES.items()):
            session.add(Message(
                network="sandbox", external_id=str(number), requester=requester, text=text, lang="en",
                label="data_request" if score >= 0.5 else "off_topic", score=score, needs_review=True,
                classified_at=utcnow(),
            ))
        session.add(Message(network="sandbox", external_id="settled", requester=requester, text="settled",
                            lang="en", label="off_topic", score=0.5, needs_review=False, classified_at=utcnow()))


def test_messages_to_review_by_uncertainty(cli, sessions):
    cli("init")
    seed(sessions)
    with sessions() as session:
        oldest = [m.text for m in queries.messages_to_review(session)]
        least_sure = [m.text for m in queries.messages_to_review(session, least_sure_first=True)]
        top_two = [m.text for m in queries.messages_to_review(session, least_sure_first=True, limit=2)]
    assert oldest == list(SCORES)
    assert least_sure == ["coin toss", "unsure no", "fairly sure no", "sure request"]
    assert top_two == ["coin toss", "unsure no"]


def test_queue_command_lists_the_least_sure_first(cli, sessions):
    cli("init")
    seed(sessions)
    output = cli("queue --least-sure-first").output
    assert "least sure first" in output and "settled" not in output
    positions = [output.index(text) for text in ("coin toss", "unsure no", "fairly sure no", "sure request")]
    assert positions == sorted(positions)
    plain = cli("queue").output
    assert plain.index("sure request") < plain.index("coin toss")  # oldest first without the flag
