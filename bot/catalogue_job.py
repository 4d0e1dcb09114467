"""The scheduled catalogue import of `datacall run`, when `[catalogue] sources` is set.

The job runs at every pass of `datacall run` (and `run --once` from cron), but
imports only when `import_interval_hours` have passed since the last import,
which is kept in `app_settings` and claimed in one transaction, so two
processes never import at once. Each source is read and stored like
`datacall catalogue import` does; new datasets that match an accepted or
in-progress request become `publish` suggestions.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.catalogue import CatalogueError, default_source_name, import_records, is_url, read_catalogue
from bot.config import CatalogueConfig
from bot.pipeline.publish import last_dataset_id, suggest_publish
from bot.schedule_marks import claim_interval
from storage.models import utcnow

log = logging.getLogger(__name__)

MARK_KEY = "catalogue_last_import_at"


def import_sources(
    sessions: sessionmaker[Session], settings: CatalogueConfig, *, base_dir: Path | None = None,
    now: datetime | None = None,
) -> int:
    """Re-import every configured catalogue if it is time; returns how many datasets were added.

    A relative file path is relative to `base_dir` (the config file's folder), like every path in the config.
    """
    now = now or utcnow()
    if not settings.sources:
        return 0
    if not claim_interval(sessions, MARK_KEY, now=now, every=timedelta(hours=settings.import_interval_hours)):
        return 0
    added = 0
    for source in settings.sources:
        try:
            catalogue = read_catalogue(_located(source.source, base_dir), source.format,
                                       base_url=source.base_url or None)
        except CatalogueError as exc:
            # One catalogue down must not stop the others; the next slot tries again.
            log.warning("catalogue %s not imported: %s", source.source, exc)
            continue
        name = source.name or default_source_name(source.source, catalogue)
        with sessions() as session, session.begin():
            before = last_dataset_id(session)
            result = import_records(session, source=name, records=catalogue.records)
            suggested = suggest_publish(session, after_dataset_id=before)
        log.info(
            "catalogue %s: %d new, %d updated, %d publish suggestion(s)", name, result.added, result.updated, suggested
        )
        added += result.added
    return added


def _located(source: str, base_dir: Path | None) -> str:
    if is_url(source) or base_dir is None or Path(source).expanduser().is_absolute():
        return source
    return str(base_dir / source)
