"""Campaign notes on the public web app: /campaigns/SLUG, and its charts as SVG images.

The note is computed from the database as `datacall report` writes it, in the
visitor's language, and kept a minute in memory (drawing charts takes a
moment). Charts are served as images of this site, so the page keeps the
site's content policy: no script, no inline style.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from bot.report import ReportError, compute_note
from bot.report.charts import CHARTS, draw_all
from bot.report.render import note_body_html, status_label
from bot.web.views import Ctx, view
from storage.models import Campaign

NOTE_TTL = 60.0  # seconds a note may lag the database


def _note(ctx: Ctx, slug: str):
    """(note, charts) for this campaign in the visitor's language; None if there is no such campaign."""

    # Unknown slugs are answered without touching the cache, so random URLs cannot fill it.
    if ctx.db.scalar(select(Campaign.id).where(Campaign.slug == slug)) is None:
        return None

    def build():
        try:
            note = compute_note(ctx.db, slug, lang=ctx.lang)
        except ReportError:  # deleted meanwhile
            return None
        return note, draw_all(note, status_label(ctx.lang))

    return ctx.cache.get(("campaign.note", slug, ctx.lang), NOTE_TTL, build)


@view()
def campaign_note(ctx: Ctx):
    slug = ctx.request.path_params["slug"]
    found = _note(ctx, slug)
    if found is None:
        return ctx.error(404, "error.not_found")
    note, _ = found
    body = note_body_html(note, lambda name: f"/campaigns/{slug}/charts/{name}.svg?lang={ctx.lang}")
    return ctx.render("campaign_note.html", note=note, body=body)


@view()
def campaign_chart(ctx: Ctx):
    slug, name = ctx.request.path_params["slug"], ctx.request.path_params["name"]
    found = _note(ctx, slug) if name in CHARTS else None
    if found is None:
        return ctx.error(404, "error.not_found")
    return Response(found[1][name], media_type="image/svg+xml",
                    headers={"cache-control": f"public, max-age={int(NOTE_TTL)}"})


routes = [
    Route("/campaigns/{slug:str}", campaign_note, methods=["GET"]),
    Route("/campaigns/{slug:str}/charts/{name:str}.svg", campaign_chart, methods=["GET"]),
]
