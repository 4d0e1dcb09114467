"""Networks are found through the `datacall.networks` entry points, as another package would add one.

The toy network (tests/data/toy_network) is installed here the way pip installs a
package: its module and a `*.dist-info` folder with `entry_points.txt`, on the path.
Nothing under bot/ knows its name.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.config import ConfigError, load_config
from bot.networks.installed import GROUP, NetworkUnavailable, connector_class, installed

TOY_SOURCE = Path(__file__).parent / "data" / "toy_network" / "datacall_toy_network.py"
BIKES = "Could you publish the bike counter data per hour as CSV, please?"


def install(site: Path, distribution: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Write what `pip install` leaves in site-packages: the modules and the distribution's metadata."""
    info = site / f"{distribution.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder of installed packages on the path, forgotten after the test."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in ("datacall_toy_network", "datacall_toy_broken"):
        sys.modules.pop(name, None)


@pytest.fixture
def toy(site):
    install(site, "datacall-toy-network", {"toy": "datacall_toy_network:ToyConnector"},
            {"datacall_toy_network": TOY_SOURCE.read_text()})
    return site


def run(*argv: str):
    return CliRunner().invoke(app, list(argv), catch_exceptions=False)


def test_datacalls_own_networks_are_entry_points_too():
    assert {"sandbox", "telegram", "mastodon", "twitter"} <= set(installed())
    for name in ("sandbox", "telegram", "mastodon", "twitter"):
        assert connector_class(name).name == name


def test_a_network_from_another_package_runs_the_whole_loop(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("DATACALL_TOY_TOKEN", "not-a-real-secret")
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "inbox.jsonl").write_text(json.dumps({"author": "camille", "text": BIKES, "lang": "en"}) + "\n")
    config = tmp_path / "toy.toml"
    config.write_text(f"""
[database]
url = "sqlite:///{tmp_path / 'toy.db'}"

[networks.sandbox]
enabled = false

[networks.toy]
enabled = true
folder = "{folder}"
max_length = 90
""")
    assert load_config(config).networks.toy.max_length == 90  # checked by the toy's own model
    assert run("init", "--config", str(config)).exit_code == 0
    result = run("run", "--once", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "poll:toy: 1" in result.output

    [reply] = [json.loads(line) for line in (folder / "outbox.jsonl").read_text().splitlines()]
    assert reply["in_reply_to"] == "in-0"
    # Fitted once by the reply writer with the toy's limit and mention: sent as written.
    assert reply["text"].startswith("@camille Thank you!") and len(reply["text"]) <= 90
    status = run("status", "--config", str(config))
    assert status.exit_code == 0 and "toy" in status.output


def test_a_table_is_checked_by_the_networks_own_model(toy, write_config, monkeypatch):
    monkeypatch.setenv("DATACALL_TOY_TOKEN", "x")
    path = write_config("[networks.toy]\nenabled = true\nfolder = 'x'\ncolour = 'blue'\n")
    with pytest.raises(ConfigError, match=r"networks\.toy\.colour: unknown key"):
        load_config(path)
    path = write_config("[networks.toy]\nenabled = true\nmax_length = 'long'\n")
    with pytest.raises(ConfigError, match=r"networks\.toy\.max_length: input should be a valid integer"):
        load_config(path)


def test_its_secrets_are_checked_like_any_network(toy, write_config, monkeypatch):
    monkeypatch.delenv("DATACALL_TOY_TOKEN", raising=False)
    path = write_config("[networks.toy]\nenabled = true\n")
    expected = r"networks\.toy\.token_env: environment variable DATACALL_TOY_TOKEN is not set"
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_an_unknown_network_lists_the_installed_ones(toy, write_config):
    path = write_config("[networks.bluesky]\nenabled = true\n")
    result = run("status", "--config", str(path))
    assert result.exit_code == 2
    assert result.output == (
        f"datacall: {path}: networks.bluesky: unknown network 'bluesky'; "
        "installed networks: mastodon, sandbox, telegram, toy, twitter\n"
    )


def test_without_any_installed_network_the_error_says_to_reinstall(monkeypatch):
    monkeypatch.setattr("bot.networks.installed.entry_points", lambda group: ())
    with pytest.raises(NetworkUnavailable, match=r"no network is installed; reinstall datacall"):
        connector_class("sandbox")


def test_a_missing_dependency_fails_loudly_with_its_name(site, write_config):
    install(site, "datacall-toy-broken", {"broken": "datacall_toy_broken:BrokenConnector"},
            {"datacall_toy_broken": "import datacall_missing_library  # noqa: F401\n"})
    path = write_config("[networks.broken]\nenabled = true\n")
    result = run("status", "--config", str(path))
    assert result.exit_code == 2
    assert result.output == (
        f"datacall: {path}: networks.broken: the broken network (package datacall-toy-broken) "
        "needs the module 'datacall_missing_library', which is not installed\n"
    )
    with pytest.raises(NetworkUnavailable, match="datacall_missing_library"):
        connector_class("broken")


def test_an_entry_point_that_is_not_a_connector_is_refused(site):
    install(site, "datacall-toy-broken", {"broken": "datacall_toy_broken:NOT_A_CONNECTOR"},
            {"datacall_toy_broken": "NOT_A_CONNECTOR = 42\n"})
    with pytest.raises(NetworkUnavailable, match="is not a connector class"):
        connector_class("broken")


def test_the_installed_metadata_is_the_one_pyproject_declares():
    declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    networks = declared["project"]["entry-points"][GROUP]
    assert set(networks) == {"sandbox", "telegram", "mastodon", "twitter"}
    assert {name: entry.value for name, entry in installed().items() if name in networks} == networks
