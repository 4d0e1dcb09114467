"""The installed networks: each `datacall.networks` entry point names one connector class.

datacall's own networks register in its pyproject.toml exactly as a separate package would
in its own, so adding a network touches no file of datacall:

    [project.entry-points."datacall.networks"]
    mastodon = "bot.networks.mastodon:MastodonConnector"

The entry point's name is the `[networks.NAME]` table of the config file. Its class carries
the table's model (`config_model`) and `from_config`. A connector's module is imported only
when the config names its network, so a network nobody uses costs nothing, and one whose
library is missing says so by name when it is named.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from bot.networks.base import Connector

GROUP = "datacall.networks"


class NetworkUnavailable(Exception):
    """The config names a network that is not installed, or whose module cannot be imported."""


def installed() -> dict[str, EntryPoint]:
    """Network name -> entry point, read from the installed distributions' metadata each time."""
    return {entry.name: entry for entry in entry_points(group=GROUP)}


def connector_class(name: str, networks: dict[str, EntryPoint] | None = None) -> type[Connector]:
    """The connector class registered as `name`; `networks` saves re-reading the metadata."""
    networks = installed() if networks is None else networks
    entry = networks.get(name)
    if entry is None:
        if not networks:  # not even datacall's own: its package metadata is missing or stale
            raise NetworkUnavailable(
                f"unknown network {name!r}: no network is installed; reinstall datacall (pip install .)"
            )
        raise NetworkUnavailable(f"unknown network {name!r}; installed networks: {', '.join(sorted(networks))}")
    package = f" (package {entry.dist.name})" if entry.dist else ""
    try:
        loaded = entry.load()
    except ModuleNotFoundError as exc:
        raise NetworkUnavailable(
            f"the {name} network{package} needs the module {exc.name!r}, which is not installed"
        ) from exc
    except (ImportError, AttributeError) as exc:
        raise NetworkUnavailable(f"the {name} network{package} cannot be loaded from {entry.value}: {exc}") from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Connector) and hasattr(loaded, "config_model")):
        raise NetworkUnavailable(
            f"the {name} network{package}: {entry.value} is not a connector class with a config_model"
        )
    return loaded
