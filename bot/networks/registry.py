"""Build the enabled connectors from the config: one entry per network.

Each network's class is found by its `datacall.networks` entry point (`bot.networks.installed`),
which the config's validation already loaded, and builds itself from its table with `from_config`.
"""

from __future__ import annotations

import os

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config, ConfigError
from bot.networks.base import Connector
from bot.networks.installed import NetworkUnavailable, connector_class, installed


def build_connectors(config: Config, sessions: sessionmaker[Session]) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    networks = installed()
    for name, settings in config.networks.enabled().items():
        try:
            connector = connector_class(name, networks)
        except NetworkUnavailable as exc:  # a config built in code, never checked against the installed networks
            raise ConfigError(f"{config.source or 'config'}: networks.{name}: {exc}") from None
        connectors[name] = connector.from_config(settings, os.environ, sessions=sessions)
    return connectors
