"""Paths named in a config file, resolved from that file's folder.

Kept apart from bot.runtime so `datacall classify` finds its model without
importing the database and network layers.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import Config


def resolve(config: Config, value: str) -> Path:
    """Relative paths in a config file are relative to that file's folder."""
    path = Path(value).expanduser()
    if not path.is_absolute() and config.source is not None:
        path = config.source.parent / path
    return path


def configured_model_path(config: Config) -> Path | None:
    """`[classifier] model_path` resolved from the config's folder; None means the user cache."""
    configured = config.classifier.model_path
    return resolve(config, configured) if configured else None
