"""`datacall doctor`: one line per check, non-zero exit when something fails."""

from __future__ import annotations


def test_all_good(cli):
    cli("init")
    output = cli("doctor").output
    assert "ok   database:" in output and "up to date" in output
    assert "ok   model:" in output
    assert "ok   network sandbox: signed in as @datacall" in output


def test_uninitialised_database_fails(cli):
    output = cli("doctor", expect=1).output
    assert "FAIL database:" in output and "datacall init" in output


def test_missing_configured_model_fails(cli, write_config, db_url, tmp_path):
    config = write_config(f'[database]\nurl = "{db_url}"\n[classifier]\nmodel_path = "{tmp_path}/nope"\n', "m.toml")
    cli("init", config=config)
    output = cli("doctor", config=config, expect=1).output
    assert "FAIL model: no model at" in output and "datacall train --out" in output
