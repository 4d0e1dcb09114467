"""Build the enabled connectors from the config: one entry per network.

Each real network lives in `bot/networks/<name>.py` and offers
`from_config(network_config, environ)`; it is imported only when enabled.
"""

from __future__ import annotations

import importlib
import os

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config, ConfigError, SandboxConfig
from bot.networks.base import Connector
from bot.networks.sandbox import SandboxConnector

CONNECTOR_CLASSES = {
    "twitter": "bot.networks.twitter:TwitterConnector",
    "mastodon": "bot.networks.mastodon:MastodonConnector",
    "telegram": "bot.networks.telegram:TelegramConnector",
}


def build_connectors(config: Config, sessions: sessionmaker[Session]) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    for name, network in config.networks.enabled().items():
        if isinstance(network, SandboxConfig):
            connectors[name] = SandboxConnector(sessions, max_length=network.max_length, polls=network.polls)
            continue
        connector_class = _connector_class(config, name)
        connectors[name] = connector_class.from_config(network, os.environ)
    return connectors


def _connector_class(config: Config, name: str) -> type[Connector]:
    module_name, _, class_name = CONNECTOR_CLASSES[name].partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"{config.source or 'config'}: networks.{name}.enabled: "
            f"the {name} connector is not available in this version yet"
        ) from None
