"""`datacall doctor`: one line per thing that must work, and a non-zero exit if one does not."""

from __future__ import annotations

from pathlib import Path

import typer

import classifiers
from bot.cli.common import ConfigOption, config_or_exit, console
from bot.config import ConfigError
from bot.runtime import Runtime, configured_model_path
from storage.database import describe
from storage.migrate import require_current


def doctor(config: ConfigOption = None) -> None:
    """Check the config, the database, the model and every enabled network."""
    settings = config_or_exit(config)
    checks: list[tuple[str, bool, str]] = [("config", True, str(settings.source or "built-in defaults"))]
    try:
        rt = Runtime.from_config(settings, say=lambda _text: None)
    except ConfigError as exc:
        checks.append(("networks", False, str(exc)))
        _report(checks)
        return
    try:
        checks.append(_check_database(rt))
        checks.append(_check_model(rt))
        for name, connector in rt.connectors.items():
            try:
                checks.append((f"network {name}", True, f"signed in as {connector.whoami()}{_waiting(connector)}"))
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line
                checks.append((f"network {name}", False, f"{type(exc).__name__}: {exc}"))
    finally:
        rt.close()
    _report(checks)


def _waiting(connector) -> str:
    """Mastodon 4.3+: private mentions filed as notification requests, which `datacall run` accepts on start."""
    count = getattr(connector, "waiting_requests", None)
    if count is None:
        return ""
    try:
        waiting = count()
    except Exception as exc:  # noqa: BLE001 - an older server has no notification requests
        return f"; notification requests not readable ({exc})"
    return f"; {waiting} notification requests waiting (accepted and read when `datacall run` starts)"


def _check_database(rt: Runtime) -> tuple[str, bool, str]:
    try:
        require_current(rt.engine)
    except Exception as exc:  # noqa: BLE001 - doctor reports any failure as a failed check
        return "database", False, f"{describe(rt.engine)}: {exc}"
    return "database", True, f"{describe(rt.engine)} is up to date"


def _check_model(rt: Runtime) -> tuple[str, bool, str]:
    configured = configured_model_path(rt.config)
    path = configured or classifiers.default_model_path()
    if not (Path(path) / "meta.json").is_file():
        if configured:
            return "model", False, f"no model at {path}: run `datacall train --out {path}`"
        return "model", True, f"not trained yet; the first command that needs it trains it into {path}"
    try:
        model = classifiers.load(path)
        model.predict(["Could you publish the list of playgrounds?"])
    except Exception as exc:  # noqa: BLE001 - doctor reports any failure as a failed check
        return "model", False, f"{path}: {type(exc).__name__}: {exc}"
    return "model", True, f"{path} (version {model.version})"


def _report(checks: list[tuple[str, bool, str]]) -> None:
    for name, ok, detail in checks:
        mark = "[green]ok  [/green]" if ok else "[red]FAIL[/red]"
        console.print(f"{mark} {name}: {detail}", highlight=False)
    if not all(ok for _, ok, _ in checks):
        raise typer.Exit(1)
