"""Suggestions where officers decide: each one a line with its one-click decision and a "Dismiss".

"Merge" and "Use this answer" open the request's status preview already filled
in (the exact replies, the number of people), so nothing is sent before the
officer has seen it and pressed the button there. Dismissing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.routing import Route

from bot.web.acting import act
from bot.web.decisions import DecisionError
from bot.web.views import Ctx, safe_href, view
from storage.models import CatalogueDataset, Request, Suggestion
from storage.suggestions import dismiss

# Suggested requests that can still take supporters.
MERGEABLE = ("received", "under_review", "accepted", "in_progress")


@dataclass(frozen=True)
class Shown:
    """One suggestion as the page shows it."""

    id: int
    request_id: int
    kind: str  # duplicate | already_available | out_of_scope
    label: str  # "#2 Bike counts" | the dataset's title | the rule's name
    href: str | None  # the other request, or the dataset
    answer: str | None
    decide: str  # the request page's preview, filled in


def shown_for(db, request_ids: list[int]) -> dict[int, list[Shown]]:
    """The open suggestions of these requests (a page of the queue, or one request), best first."""
    if not request_ids:
        return {}
    rows = db.scalars(
        select(Suggestion).where(Suggestion.request_id.in_(request_ids), Suggestion.dismissed_at.is_(None))
        .order_by(Suggestion.request_id, Suggestion.kind, Suggestion.score.desc(), Suggestion.id)
    ).all()
    refs = {kind: [int(s.target.partition(":")[2]) for s in rows if s.target.startswith(kind + ":")
                   and s.target.partition(":")[2].isdigit()] for kind in ("request", "dataset")}
    others = {r.id: r for r in db.scalars(select(Request).where(Request.id.in_(refs["request"])))}
    datasets = dict(db.execute(select(CatalogueDataset.id, CatalogueDataset.title)
                               .where(CatalogueDataset.id.in_(refs["dataset"]))).all())
    shown: dict[int, list[Shown]] = {}
    for s in rows:
        kind, _, ref = s.target.partition(":")
        base = f"/queue/requests/{s.request_id}?"
        if kind == "request":
            other = others.get(int(ref)) if ref.isdigit() else None
            if other is None or other.status not in MERGEABLE:
                continue  # decided or merged since: nothing to merge into
            item = Shown(s.id, s.request_id, s.kind, f"#{other.id} {other.title}", f"/queue/requests/{other.id}",
                         None, base + urlencode({"status": "duplicate", "of": other.id}) + "#status")
        elif kind == "dataset":
            title = datasets.get(int(ref)) if ref.isdigit() else None
            item = Shown(s.id, s.request_id, s.kind, title or s.url or s.target, safe_href(s.url), None,
                         base + urlencode({"status": "already_available", "url": s.url or ""}) + "#status")
        else:
            item = Shown(s.id, s.request_id, s.kind, ref, None, s.answer,
                         base + urlencode({"status": "out_of_scope", "answer": s.answer or ""}) + "#status")
        shown.setdefault(s.request_id, []).append(item)
    return shown


@view(write=True)
def dismiss_one(ctx: Ctx):
    request_id, suggestion_id = ctx.request.path_params["request_id"], ctx.request.path_params["suggestion_id"]

    def work():
        if dismiss(ctx.db, request_id=request_id, suggestion_id=suggestion_id, officer=ctx.user.name) is None:
            raise DecisionError("error.no_suggestion", id=suggestion_id)
        return ctx.t("done.dismissed", id=request_id)

    return act(ctx, work, f"/queue/requests/{request_id}")


routes = [
    Route("/queue/requests/{request_id:int}/suggestions/{suggestion_id:int}/dismiss", dismiss_one, methods=["POST"]),
]
