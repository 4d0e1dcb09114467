"""Shared fixtures: both databases, a config file per test, the CLI in-process."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from bot.cli.app import app

# Fixtures shared across files: both databases, the web app on each, and the recording network.
pytest_plugins = ["tests.databases", "tests.web_support", "tests.fakes.recording"]


# Fuzz tests (tests/test_fuzz.py and other @given tests): a quick run by default, and
# DATACALL_FUZZ=full for the long one (at least 10,000 examples per property).
settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("full", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("full" if os.environ.get("DATACALL_FUZZ") == "full" else "ci")


def pytest_configure(config):
    # One classifier cache per test session: the packaged model is trained once, then reused.
    if not os.environ.get("DATACALL_CACHE_DIR"):
        cache = Path(config.rootpath) / ".pytest_cache" / "datacall-models"
        os.environ["DATACALL_CACHE_DIR"] = str(cache)


# The review band of test deployments. The packaged band promises 97 % precision on kinds of
# message the model never saw, so it sends most messages to officers, and where its edges fall
# moves with every retraining. Tests of delivery, recovery and networks need their sample
# messages decided the same way whatever the model: clear requests and clear chatter
# automatically, the rest to officers. Tests of the packaged band itself (test_classifiers,
# test_classify_cli, test_demo) do not go through `write_config`, or set their own [classifier].
# Likewise no message is drawn for a spot check unless a test sets `spot_check_share` itself.
TEST_REVIEW_BAND = (0.1, 0.9)


@pytest.fixture
def write_config(tmp_path):
    """Write a datacall.toml; returns its path. Without a [classifier] table it gets the test band."""

    def write(text: str, name: str = "datacall.toml") -> Path:
        if "[classifier]" not in text and "classifier." not in text:
            text += f"\n[classifier]\nreview_band = {list(TEST_REVIEW_BAND)}\n"
        if "spot_check_share" not in text:  # no message drawn for a spot check unless a test asks
            text = text.replace("[classifier]\n", "[classifier]\nspot_check_share = 0.0\n", 1)
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def config_file(write_config, db_url) -> Path:
    """The default deployment on a test database: sandbox only, fast retries."""
    return write_config(
        f"""
[database]
url = "{db_url}"

[replies]
retry_base_seconds = 0.01
"""
    )


@pytest.fixture
def cli(config_file):
    """Run `datacall ARGS --config <test config>` in-process; returns the result."""
    runner = CliRunner()

    def invoke(args: str | list[str], *, input: str | None = None, expect: int | None = 0, config=config_file):
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        if config is not None:
            argv += ["--config", str(config)]
        result = runner.invoke(app, argv, input=input, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, f"datacall {args} -> {result.exit_code}\n{result.output}"
        return result

    return invoke


@pytest.fixture
def x_network():
    """The fake X API and the real X connector (tweepy) pointed at it: (fake, connector)."""
    from bot.networks.twitter import TwitterConnector, make_client
    from tests.fakes.twitter import FakeX

    with FakeX() as fake:
        connector = TwitterConnector(make_client(
            fake.url, consumer_key=fake.consumer_key, consumer_secret=fake.consumer_secret,
            access_token=fake.access_token, access_token_secret=fake.access_token_secret,
        ))
        yield fake, connector
        connector.close()
