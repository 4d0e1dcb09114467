"""`datacall run`: every job on its own interval, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.blocking import BlockingScheduler

from bot.jobs import build_jobs, run_job
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def run_forever(runtime: Runtime) -> None:
    scheduler = BlockingScheduler(timezone=timezone.utc)
    start = datetime.now(timezone.utc)
    for index, job in enumerate(build_jobs(runtime)):
        scheduler.add_job(
            run_job,
            "interval",
            args=[job],
            seconds=job.interval_seconds,
            id=job.name,
            name=job.name,
            # Start at once, staggered so the first pass runs in pipeline order.
            next_run_time=start + timedelta(milliseconds=200 * index),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def stop(signum, _frame):
        log.info("received %s: finishing running jobs, then stopping", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runtime.say(f"datacall is running {len(scheduler.get_jobs())} jobs; stop with Ctrl-C or SIGTERM")
    scheduler.start()  # blocks until shutdown
    runtime.say("datacall stopped")
