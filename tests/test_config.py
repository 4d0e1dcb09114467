"""Config: defaults, and one clear line (file and key, exit code 2) for every mistake."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.config import Config, ConfigError, load_config
from bot.networks.installed import connector_class, installed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"


def run_cli(*argv: str):
    return CliRunner().invoke(app, list(argv), catch_exceptions=False)


def test_defaults_are_the_example_values():
    example, defaults = Config.model_validate(tomllib.loads(EXAMPLE.read_text())), Config()
    assert example.model_copy(update={"networks": defaults.networks}) == defaults
    # The example has a table for every network datacall ships, each with that network's defaults.
    assert set(example.networks.root) == set(installed())
    for name, table in example.networks.root.items():
        assert table == defaults.networks.table(name), name


def test_every_key_of_the_schema_is_in_the_example_with_a_comment_or_obvious_name():
    example = tomllib.loads(EXAMPLE.read_text())

    def walk(model: type, data: dict, prefix: str):
        for name, field in model.model_fields.items():
            if name == "source" or prefix + name == "networks":
                continue  # networks: each one's own model, below
            assert name in data, f"config.example.toml lacks {prefix}{name}"
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation, data[name], f"{prefix}{name}.")

    walk(Config, example, "")
    for name in installed():
        walk(connector_class(name).config_model, example["networks"][name], f"networks.{name}.")


def test_design_card_keys_are_present():
    config = Config()
    assert config.database.url == "sqlite:///datacall.db"
    assert config.networks.telegram.base_url == "https://api.telegram.org/bot"
    assert config.networks.telegram.token_env == "DATACALL_TELEGRAM_TOKEN"
    assert config.networks.mastodon.access_token_env == "DATACALL_MASTODON_ACCESS_TOKEN"
    assert config.networks.twitter.api_base_url == "https://api.twitter.com"
    assert config.networks.twitter.access_token_secret_env == "DATACALL_TWITTER_ACCESS_TOKEN_SECRET"
    assert set(config.networks.enabled()) == {"sandbox"}


def test_missing_default_file_falls_back_to_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None) == Config()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[database]\nurll = 'x'\n", "database.urll", "unknown key"),
        ("[networks.sandbox]\nenabld = true\n", "networks.sandbox.enabld", "unknown key"),
        ("[classifier]\nthreshold = 'high'\n", "classifier.threshold", "valid number"),
        ("[classifier]\nthreshold = 1.5\n", "classifier.threshold", "less than or equal"),
        ("[web]\nport = 'eighty'\n", "web.port", "valid integer"),
        ("[networks.mastodon]\nenabled = 'yes please'\n", "networks.mastodon.enabled", "boolean"),
        ("[surprise]\nx = 1\n", "surprise", "unknown key"),
        ("[web]\ntrusted_proxies = ['everyone']\n", "web.trusted_proxies", "not an ip address"),
        ("[web]\ntrusted_proxies = ['*']\n", "web.trusted_proxies", "not an ip address"),
        ("[web]\nsession_hours = 0\n", "web.session_hours", "greater than"),
        ("[scheduler]\nworker_name = 'worker one'\n", "scheduler.worker_name", "should match pattern"),
        ("[scheduler]\nclaim_lease_seconds = 1\n", "scheduler.claim_lease_seconds", "greater than or equal"),
    ],
)
def test_bad_key_gives_one_line_naming_file_and_key(write_config, text, key, problem):
    path = write_config(text)
    result = run_cli("status", "--config", str(path))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert str(path) in lines[0] and f" {key}:" in lines[0] and problem in lines[0]
    assert "Traceback" not in result.output


def test_missing_secret_variable_names_the_key_and_variable(write_config, monkeypatch):
    monkeypatch.delenv("DATACALL_MASTODON_ACCESS_TOKEN", raising=False)
    path = write_config("[networks.mastodon]\nenabled = true\n")
    result = run_cli("status", "--config", str(path))
    assert result.exit_code == 2
    assert re.fullmatch(
        rf"datacall: {re.escape(str(path))}: networks\.mastodon\.access_token_env: "
        r"environment variable DATACALL_MASTODON_ACCESS_TOKEN is not set\n",
        result.output,
    )


def test_secret_env_name_can_be_changed(write_config, monkeypatch):
    monkeypatch.delenv("MY_TG", raising=False)
    path = write_config("[networks.telegram]\nenabled = true\ntoken_env = 'MY_TG'\n")
    with pytest.raises(ConfigError, match="networks.telegram.token_env: environment variable MY_TG is not set"):
        load_config(path)


def test_twitter_needs_either_bearer_or_user_context(write_config, monkeypatch):
    for name in ("BEARER_TOKEN", "CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET"):
        monkeypatch.delenv(f"DATACALL_TWITTER_{name}", raising=False)
    path = write_config("[networks.twitter]\nenabled = true\n")
    with pytest.raises(ConfigError, match="networks.twitter.bearer_token_env"):
        load_config(path)
    monkeypatch.setenv("DATACALL_TWITTER_BEARER_TOKEN", "x")
    assert load_config(path).networks.twitter.enabled


def test_secrets_are_never_read_from_the_file(write_config):
    path = write_config("[networks.telegram]\ntoken = '123:abc'\n")
    with pytest.raises(ConfigError, match="networks.telegram.token: unknown key"):
        load_config(path)


def test_invalid_toml_names_the_file(write_config):
    path = write_config("[database\nurl = 1\n")
    result = run_cli("init", "--config", str(path))
    assert result.exit_code == 2
    assert str(path) in result.output and "not valid TOML" in result.output


def test_explicit_missing_file_is_an_error(tmp_path):
    result = run_cli("init", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "no such config file" in result.output


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    from bot.runtime import database_url

    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "datacall.toml").write_text("[database]\nurl = 'sqlite:///data/dc.db'\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(folder / "datacall.toml")
    assert database_url(config) == f"sqlite:///{folder / 'data' / 'dc.db'}"


def test_broken_templates_file_names_the_entry(write_config, tmp_path):
    templates = tmp_path / "mine.toml"
    templates.write_text("[call]\nfr = 'x'\nen = 'y'\n")
    path = write_config(f"[replies]\ntemplates = '{templates}'\n[database]\nurl = 'sqlite:///{tmp_path}/x.db'\n")
    result = run_cli("init", "--config", str(path))
    assert result.exit_code == 2
    assert "[start] fr: missing reply text" in result.output


def test_the_worker_name_comes_from_the_environment_then_the_file_then_the_host(write_config, monkeypatch):
    import socket

    from bot.worker import NAME_VARIABLE, worker_name

    monkeypatch.delenv(NAME_VARIABLE, raising=False)
    assert worker_name(load_config(write_config("[scheduler]\nclaim_lease_seconds = 10\n"))) == socket.gethostname()
    named = load_config(write_config("[scheduler]\nworker_name = 'datacall-worker-2'\n", "named.toml"))
    assert worker_name(named) == "datacall-worker-2"
    monkeypatch.setenv(NAME_VARIABLE, "worker-b")
    assert worker_name(named) == "worker-b"
