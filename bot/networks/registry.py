"""Build the enabled connectors from the config: one entry per network."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config, ConfigError
from bot.networks.base import Connector
from bot.networks.sandbox import SandboxConnector


def build_connectors(config: Config, sessions: sessionmaker[Session]) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    for name, network in config.networks.enabled().items():
        if name == "sandbox":
            connectors[name] = SandboxConnector(sessions, max_length=network.max_length)
        else:
            # The real networks land with the "Real networks" issue; refuse rather than pretend.
            raise ConfigError(
                f"{config.source or 'config'}: networks.{name}.enabled: "
                f"the {name} connector is not available in this version yet"
            )
    return connectors
