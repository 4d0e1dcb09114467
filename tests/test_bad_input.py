"""Bad input: one clear line, a non-zero exit, nothing written, the valid lines around it still processed."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot import catalogue
from bot.cli.app import app
from storage.models import CatalogueDataset


def run(args: list[str], *, input: bytes | str | None = None):
    return CliRunner().invoke(app, args, input=input, catch_exceptions=False)


def error_lines(result) -> list[str]:
    """What went wrong, without the note that the model is being trained on first use."""
    return [line for line in result.stderr.splitlines()
            if line.strip() and not line.startswith("training the classifier")]


def test_classify_reports_only_the_line_that_is_not_utf8(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stdin = b"Please publish the bike counters\n" + b"\xff\xfe caf\xe9\n" + "Où sont les arbres ?\n".encode()
    result = run(["classify"], input=stdin)
    assert result.exit_code == 2
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 2  # the lines around it
    assert error_lines(result) == ["datacall: stdin:2: not UTF-8 text (byte 0xff at position 1)"]


def test_classify_jsonl_goes_on_after_a_bad_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = ['{"text": "Publish the bus timetables"}', '{"txt": "oops"}', "[" * 100_000,
             '{"text": "lone \\ud800 surrogate"}', '{"text": "Where is the tree list?"}']
    result = run(["classify", "--jsonl"], input="\n".join(lines) + "\n")
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 2
    errors = error_lines(result)
    assert [e.split(":")[2] for e in errors] == ["2", "3", "4"]
    assert "nested too deep" in errors[1] and "lone surrogate" in errors[2]


@pytest.mark.parametrize("url, says", [
    ("mysql://user@db.example/datacall", "mysql is not supported"),
    ("postgresql+asyncpg://user@db/datacall", "driver postgresql+asyncpg is not available"),
    ("::not a url::", "not a database url"),
])
def test_an_unusable_database_url_is_one_line(write_config, url, says):
    config = write_config(f'[database]\nurl = "{url}"\n')
    result = run(["status", "--config", str(config)])
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert says in line.lower() and "database.url" in line


def test_a_sqlite_path_under_a_file_is_one_line_and_creates_nothing(write_config, tmp_path):
    (tmp_path / "afile").write_text("x")
    config = write_config(f'[database]\nurl = "sqlite:///{tmp_path}/afile/sub/datacall.db"\n')
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run(["init", "--config", str(config)])
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "afile/sub" in line and "is part of the path a file?" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_file_that_is_not_a_database_is_one_line(write_config, tmp_path):
    (tmp_path / "text.db").write_text("not a database\n" * 200)
    config = write_config(f'[database]\nurl = "sqlite:///{tmp_path}/text.db"\n')
    result = run(["status", "--config", str(config)])
    assert result.exit_code == 1
    assert error_lines(result) == ["datacall: cannot open the database: DatabaseError: file is not a database"]


def test_an_unreachable_postgresql_is_one_line(write_config):
    config = write_config('[database]\nurl = "postgresql://nobody@127.0.0.1:1/datacall"\n')
    result = run(["status", "--config", str(config)])
    assert result.exit_code == 1
    [line] = error_lines(result)
    assert "OperationalError" in line and "Connection refused" in line


@pytest.mark.parametrize("command", [
    ["request", "show", str(2**63)],
    ["request", "set-status", str(2**64), "declined", "--answer", "no"],
    ["request", "set-status", "1", "duplicate", "--of", str(2**63)],
    ["request", "list", "--limit", str(2**70)],
])
def test_ids_beyond_sql_integers_are_one_line(cli, command):
    cli("init")
    result = cli(command, expect=2)
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert "is out of range: ids and counts run from 1 to 9223372036854775807" in line


@pytest.mark.parametrize("payload, says", [
    ('{"result": {"results": ' + "[" * 100_000 + "]" * 100_000 + "}}", "nested too deep"),
    ('{"result": {"count": 1, "results": [{"id": "a", "name": "a", "title": "Caf\\udce9"}]}}', "lone surrogate"),
])
def test_an_unreadable_catalogue_is_one_line_and_writes_nothing(cli, sessions, tmp_path, payload, says):
    cli("init")
    source = tmp_path / "catalogue.json"
    source.write_text(payload, encoding="utf-8")
    result = cli(["catalogue", "import", str(source), "--base-url", "https://data.example.org"], expect=2)
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert says in line and str(source) in line
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CatalogueDataset)) == 0


def test_a_catalogue_url_that_trickles_stops_at_the_deadline(monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():
            try:
                connection.sendall(b" ")
            except OSError:
                break
            time.sleep(0.3)
        connection.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    monkeypatch.setattr(catalogue, "READ_DEADLINE_SECONDS", 1.5)
    started = time.monotonic()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/3/action/package_search"
    with pytest.raises(catalogue.CatalogueError, match="too slow: not read within 1.5 s"):
        catalogue.read_catalogue(url)
    assert time.monotonic() - started < 5
    stop.set()
    listener.close()
