"""`/queue/classifier`: how the classifier does on this deployment's own messages.

The same figures as `datacall status` and `datacall evaluate --decisions`, for officers who
never open a terminal: the model in use, how often its score agreed with their decisions, the
spot checks of its automatic decisions with their 95 % interval, and how many decided messages
it has not learned from yet. Reads the model's meta.json; never loads or trains a model.
"""

from __future__ import annotations

from starlette.routing import Route

from bot.config import Config
from bot.paths import configured_model_path
from bot.web.views import Ctx, view
from classifiers.cache import default_model_path
from classifiers.cache import model_meta as read_model_meta
from classifiers.corpus import default_corpus_path
from classifiers.metrics import wilson_interval
from storage import queries


def model_meta(config: Config) -> dict | None:
    """The `datacall` part of the configured model's meta.json, or None if no model is trained there."""
    return read_model_meta(configured_model_path(config) or default_model_path(default_corpus_path()))


@view(login=True)
def classifier_page(ctx: Ctx):
    config = ctx.runtime.config
    threshold = config.classifier.threshold
    meta = model_meta(config)
    band = config.classifier.review_band or (meta or {}).get("review_band")
    decided, agreed = queries.decision_agreement(ctx.db, threshold=threshold)
    checks = [
        {"label": label, "checked": n, "right": right, "interval": wilson_interval(right, n)}
        for label, (n, right) in queries.spot_check_results(ctx.db, threshold=threshold).items()
    ]
    last = (meta or {}).get("last_decision_id")
    unseen = queries.decided_after(ctx.db, decision_id=last if isinstance(last, int) else 0)
    return ctx.render(
        "classifier.html", meta=meta, band=band, spot_share=config.classifier.spot_check_share,
        decided=decided, agreed=agreed, checks=checks, unseen=unseen,
    )


routes = [Route("/queue/classifier", classifier_page, methods=["GET"])]
