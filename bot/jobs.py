"""The jobs of `datacall run`: each one pass over its rows, safe to repeat and to interrupt."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select

from bot.catalogue_job import import_sources
from bot.digest import run_digest
from bot.overdue import OverdueRule, today_utc
from bot.pipeline import ingest
from bot.pipeline.classify import classify_pending
from bot.pipeline.follow_up import queue_follow_ups
from bot.pipeline.outbox import post_due, send_due_replies
from bot.pipeline.probe import probe_paused
from bot.pipeline.route import route_classified
from bot.pipeline.suggest import rules_from_config, suggest_new
from bot.runtime import Runtime
from storage.database import reading
from storage.models import Message

log = logging.getLogger(__name__)

# Messages routed per write transaction: the statements per batch are fixed, so bigger batches
# cost less per message; the plan (titles, texts) for this many takes a few milliseconds.
ROUTE_BATCH = 500


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[], int]
    interval_seconds: float


def build_jobs(runtime: Runtime) -> list[Job]:
    """Probe paused networks, due posts, one poll per enabled network, classification and routing, replies,
    then suggestions."""
    config = runtime.config
    attempts, retry_base = config.replies.max_attempts, config.replies.retry_base_seconds
    jobs = [
        # First, so a network that came back is polled and sent to in the same pass; as often as sending.
        Job("probe", partial(probe_paused, runtime.sessions, runtime.connectors),
            config.scheduler.send_interval_seconds),
        Job(
            "post",
            lambda: post_due(
                runtime.sessions, runtime.connectors, publisher=runtime.publisher(), claims=runtime.claims,
                max_attempts=attempts, retry_base_seconds=retry_base,
            ),
            config.scheduler.post_interval_seconds,
        )
    ]
    for name, connector in runtime.connectors.items():
        jobs.append(
            Job(
                f"poll:{name}",
                partial(ingest.poll, connector, runtime.sessions, max_pages=config.scheduler.max_pages_per_poll),
                config.scheduler.poll_interval_seconds,
            )
        )
    jobs.append(Job("classify", partial(classify_and_route, runtime), config.scheduler.classify_interval_seconds))
    jobs.append(
        Job(
            "follow_up",
            lambda: queue_follow_ups(
                runtime.sessions, writer=runtime.reply_writer(), after_days=config.campaigns.follow_up_after_days
            ),
            config.scheduler.send_interval_seconds,
        )
    )
    jobs.append(
        Job(
            "send",
            lambda: send_due_replies(
                runtime.sessions, runtime.connectors, claims=runtime.claims, stopping=runtime.stopping.is_set,
                max_attempts=attempts, retry_base_seconds=retry_base,
            ),
            config.scheduler.send_interval_seconds,
        )
    )
    # Its own job, after send: suggestions help officers later, so a slow suggestion pass holds up
    # neither classifying and routing nor the acknowledgements (in `run --once` too).
    jobs.append(Job("suggest", partial(suggest, runtime), config.scheduler.classify_interval_seconds))
    # Once-a-slot jobs: they check every pass and act only when their slot has come.
    jobs.append(Job("digest", partial(daily_digest, runtime), config.scheduler.post_interval_seconds))
    if config.catalogue.sources:
        jobs.append(
            Job(
                "catalogue",
                lambda: import_sources(
                    runtime.sessions, config.catalogue, base_dir=config.source.parent if config.source else None
                ),
                config.scheduler.post_interval_seconds,
            )
        )
    return jobs


def daily_digest(runtime: Runtime) -> int:
    """The officers' digest, once a day: how many requests are overdue (0 when not its time)."""
    digest = run_digest(
        runtime.sessions, OverdueRule.from_config(runtime.config), runtime.config.digest,
        today=today_utc(), public_url=runtime.config.web.public_url,
    )
    return len(digest.overdue) if digest else 0


def classify_and_route(runtime: Runtime) -> int:
    """Classify new messages, then turn data requests into requests (two committed steps)."""
    if waiting_to_classify(runtime):
        _classify(runtime)
    return route_classified(runtime.sessions, writer=runtime.reply_writer(), batch_size=ROUTE_BATCH)


def waiting_to_classify(runtime: Runtime) -> bool:
    """Whether any message waits for the model: without one, the model is not even loaded."""
    with reading(runtime.sessions) as session:
        return session.scalar(select(Message.id).where(Message.classified_at.is_(None)).limit(1)) is not None


def _classify(runtime: Runtime) -> None:
    classifier_config = runtime.config.classifier
    classifier = runtime.classifier
    band = classifier_config.review_band or getattr(classifier, "review_band", None)
    classify_pending(
        runtime.sessions,
        classifier,
        threshold=classifier_config.threshold,
        batch_size=classifier_config.batch_size,
        review_band=tuple(band) if band else None,
        spot_check_share=classifier_config.spot_check_share,
    )


def suggest(runtime: Runtime) -> int:
    """Duplicate, catalogue and scope suggestions for the requests opened since the last pass, for at most
    `[scheduler] suggest_seconds_per_pass` (or until a stop): the next pass goes on from there."""
    budget = runtime.config.scheduler.suggest_seconds_per_pass
    deadline = time.monotonic() + budget
    return suggest_new(
        runtime.sessions,
        rules=rules_from_config(runtime.config.scope),
        default_language=runtime.config.campaigns.default_language,
        stop=lambda: runtime.stopping.is_set() or (budget > 0 and time.monotonic() > deadline),
    )


def run_job(job: Job) -> tuple[int | None, Exception | None]:
    """Run one job; a failure is logged and returned, never raised, so the others go on."""
    try:
        return job.run(), None
    except Exception as exc:  # noqa: BLE001 - any failure of one job must not stop the loop
        log.exception("job %s failed", job.name)
        return None, exc


def run_once(runtime: Runtime) -> dict[str, tuple[int | None, Exception | None]]:
    """One pass of every job, in pipeline order."""
    return {job.name: run_job(job) for job in build_jobs(runtime)}
