"""What every command shares: the --config option, one-line errors, the runtime."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from bot.config import Config, ConfigError, load_config
from bot.logs import json_logs_enabled

if TYPE_CHECKING:
    from bot.runtime import Runtime

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML config file (default ./datacall.toml; missing keys take config.example.toml values).",
        show_default=False,
    ),
]

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    # Plain echo, not rich: one line, never wrapped, easy to grep in cron mail.
    typer.echo(f"datacall: {message}", err=True)
    raise typer.Exit(code)


def config_or_exit(path: Path | None, *, sections: Collection[str] | None = None) -> Config:
    try:
        return load_config(path, sections=sections)
    except ConfigError as exc:
        fail(str(exc), 2)


@contextlib.contextmanager
def runtime(path: Path | None, *, migrated: bool = True) -> Iterator[Runtime]:
    """A runtime for one command; bad config, templates or database end in one line."""
    # Imported here, not at the top: `datacall classify` needs none of it and starts faster.
    from sqlalchemy.exc import SQLAlchemyError

    from bot.replies.render import TemplateError
    from bot.runtime import Runtime
    from classifiers import CorpusError
    from storage.database import DatabaseError, one_line
    from storage.migrate import require_current

    config = config_or_exit(path)
    try:
        rt = Runtime.from_config(config, say=_say())
    except (ConfigError, TemplateError) as exc:
        fail(str(exc), 2)
    except DatabaseError as exc:
        fail(f"[database] url: {exc}", 2)
    try:
        if migrated:
            require_current(rt.engine)
        yield rt
    except DatabaseError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:  # the database refused or went away: one line, not a traceback
        fail(f"database error: {one_line(exc)}")
    except CorpusError as exc:
        fail(str(exc), 2)
    finally:
        rt.close()


# Ids are SQL BIGINT/INTEGER: anything larger cannot name a row, and drivers overflow on it.
MAX_ID = 2**63 - 1


def checked_id(value: int | None) -> int | None:
    """A typer callback: an id argument out of range is one line and exit code 2."""
    if value is not None and not 1 <= value <= MAX_ID:
        fail(f"{value} is out of range: ids and counts run from 1 to {MAX_ID}", 2)
    return value


def _say():
    """Progress lines for the operator: on stderr, or as log records under --log-format json."""
    if json_logs_enabled():
        return logging.getLogger("datacall").info
    return lambda text: errors.print(text, markup=False)


def stdin_lines() -> Iterator[str]:
    for line in sys.stdin:
        yield line.rstrip("\n")


def spot_check_summary(results: dict[str, tuple[int, int]]) -> str:
    """"data_request 46 of 47 right (95 % interval 0.89-1.00), off_topic …" from (checked, right) per
    automatic side (storage.queries.spot_check_results): a small sample says how sure it is."""
    from classifiers.metrics import wilson_interval

    if not any(n for n, _ in results.values()):
        return "none decided yet"
    parts = []
    for label, (n, right) in results.items():
        interval = wilson_interval(right, n)
        shown = f" (95 % interval {interval[0]:.2f}-{interval[1]:.2f})" if interval else ""
        parts.append(f"{label} {right} of {n} right{shown}")
    return ", ".join(parts)
