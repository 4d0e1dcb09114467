"""`datacall run`: every job on its own interval, until SIGTERM or Ctrl-C.

On SIGTERM (or Ctrl-C) no job starts any more, the running ones finish their
work (at most `[scheduler] stop_timeout_seconds`), and only then does the caller
close the connectors. A job still running after that is left alone, connectors
open, and the process ends: its claimed rows are what a crash leaves, and the
outbox recovers them at the next start without sending anything twice.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.jobs import Job, build_jobs, run_job
from bot.runtime import Runtime

log = logging.getLogger(__name__)


class RunningJobs:
    """Counts the jobs at work, refuses new ones once stopping, and waits for the count to reach zero."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._stopping = False
        self._give_up = threading.Event()

    def run(self, job: Job) -> None:
        with self._lock:
            if self._stopping:  # queued before the stop: not started, it runs at the next start
                return
            self._running += 1
        try:
            run_job(job)
        finally:
            with self._lock:
                self._running -= 1

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    def stop(self) -> None:
        with self._lock:
            self._stopping = True

    @property
    def stopping(self) -> bool:
        with self._lock:
            return self._stopping

    def give_up(self) -> None:
        """A second signal: stop waiting."""
        self._give_up.set()

    def wait(self, timeout: float) -> bool:
        """True once no job runs; False if `timeout` seconds passed first (or a second signal came)."""
        deadline = time.monotonic() + timeout
        # Polling, not a condition variable: the signal handler runs on this same thread.
        while self.running and time.monotonic() < deadline and not self._give_up.is_set():
            time.sleep(0.05)
        return not self.running


def run_forever(runtime: Runtime) -> bool:
    """Run the jobs until a signal; True if every running job finished before the stop timeout."""
    scheduler = BlockingScheduler(timezone=UTC)
    jobs = RunningJobs()
    start = datetime.now(UTC)
    for index, job in enumerate(build_jobs(runtime)):
        scheduler.add_job(
            jobs.run,
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
    timeout = runtime.config.scheduler.stop_timeout_seconds

    def stop(signum, _frame):
        name = signal.Signals(signum).name
        if jobs.stopping:
            log.warning("received %s again: stopping without waiting", name)
            jobs.give_up()
            return
        log.info("received %s: finishing running jobs (at most %.0f s), then stopping", name, timeout)
        jobs.stop()
        runtime.stopping.set()  # a send job ends its batch after the reply on its way
        # No new run; the running ones go on in their threads. From another thread: this handler may
        # run in the middle of the scheduler's own loop (same thread, its locks already held), where
        # a shutdown would empty the job list under it and end `start()` with an error.
        threading.Thread(target=_shut_down, args=(scheduler,), name="stop", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runtime.say(f"datacall is running {len(scheduler.get_jobs())} jobs; stop with Ctrl-C or SIGTERM")
    if not jobs.stopping:
        scheduler.start()  # blocks until shutdown
    if not jobs.wait(timeout):
        runtime.say(f"{jobs.running} job(s) still running after {timeout:.0f} s: stopping without them; "
                    "what they had claimed is recovered at the next start")
        return False
    runtime.say("datacall stopped")
    return True


def _shut_down(scheduler: BlockingScheduler) -> None:
    """Stop the scheduler's loop once it is between two passes (it holds its job store lock during one).

    A signal that came while it was starting finds it not running yet: try again until it runs (a
    scheduler never started leaves this daemon thread waiting, which ends with the process).
    """
    while True:
        try:
            scheduler.shutdown(wait=False)
            return
        except SchedulerNotRunningError:
            time.sleep(0.05)
