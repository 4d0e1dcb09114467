"""Requests with supporters, written straight to the database, for campaign and support tests."""

from __future__ import annotations

from storage.models import Message, Request, Requester


def add_request(session, campaign_id: int, supporters: int, *, status: str = "received", network="sandbox") -> Request:
    request = Request(title=f"dataset wanted by {supporters}", status=status, campaign_id=campaign_id)
    session.add(request)
    session.flush()
    for index in range(supporters):
        person = Requester(network=network, external_user_id=f"u{request.id}-{index}", handle=f"@p{request.id}{index}")
        session.add(Message(network=network, external_id=f"m{request.id}-{index}", requester=person,
                            text="please open this data", request_id=request.id, campaign_id=campaign_id))
    session.flush()
    return request
