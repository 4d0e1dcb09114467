"""`datacall catalogue import`: CKAN, udata and Opendatasoft catalogues from a file or a local HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.catalogue import (
    CatalogueError,
    detect_format,
    next_page,
    parse,
    plain_text,
    portal_base,
    read_catalogue,
)
from storage.models import CatalogueDataset

SAMPLES = Path(__file__).resolve().parent / "data" / "catalogues"
CKAN = SAMPLES / "ckan_package_search.json"
UDATA = SAMPLES / "udata_datasets.json"
ODS = SAMPLES / "opendatasoft_catalog_datasets.json"
API_PATHS = {
    "ckan": "/api/3/action/package_search",
    "udata": "/api/1/datasets/",
    "opendatasoft": "/api/explore/v2.1/catalog/datasets",
}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# --- parsing, no database -------------------------------------------------------------------


def test_ckan_package_search():
    fmt, records = parse(load(CKAN), base_url="https://data.example.org/")
    assert fmt == "ckan" and len(records) == 3
    menus = records[0]
    assert menus.external_id == "8f3a2c1e-5b7d-4c39-9a41-2d6f0b1c9e01"
    assert menus.title == "Menus des cantines scolaires"
    assert menus.url == "https://data.example.org/dataset/menus-des-cantines-scolaires"
    assert menus.keywords == ("cantine", "restauration scolaire", "école")
    assert "restaurants scolaires" in menus.description and "**" not in menus.description


def test_udata_datasets():
    fmt, records = parse(load(UDATA))
    assert fmt == "udata"
    assert [r.external_id for r in records] == ["5f2bc22ff6bf657d74f48375", "5f8fe1290de5138270132602"]
    assert records[0].url == "https://www.data.gouv.fr/fr/datasets/sanisettes-toilettes-publiques/"
    assert records[0].keywords == ("toilettes", "sanisettes", "proprete")
    # Without a page link, the link is built from the slug on the portal.
    payload = {"data": [{"id": "x1", "title": "Arbres", "slug": "les-arbres", "tags": []}], "next_page": None}
    assert parse(payload, base_url="https://udata.example")[1][0].url == "https://udata.example/datasets/les-arbres/"


def test_opendatasoft_explore_v2_1_and_v2_0():
    fmt, records = parse(load(ODS), base_url="https://opendata.example.org")
    assert fmt == "opendatasoft"
    irve, jeux = records
    assert irve.external_id == "bornes-de-recharge-pour-vehicules-electriques"
    assert irve.url == "https://opendata.example.org/explore/dataset/bornes-de-recharge-pour-vehicules-electriques/"
    assert irve.description.startswith("Points de recharge pour véhicules électriques") and "<" not in irve.description
    assert irve.keywords == ("IRVE", "recharge", "véhicule électrique", "Transports, Déplacements")
    assert jeux.keywords == ("Sports, Loisirs",)  # keyword null, theme kept
    v2_0 = {"total_count": 1, "links": [], "datasets": [{"links": [], "dataset": {
        "dataset_id": "arbres", "metas": {"default": {"title": "Les arbres", "keyword": ["arbres"]}}}}]}
    assert parse(v2_0, base_url="https://o.example")[1][0].url == "https://o.example/explore/dataset/arbres/"


def test_format_detection_and_refusals():
    assert [detect_format(load(p)) for p in (CKAN, UDATA, ODS)] == ["ckan", "udata", "opendatasoft"]
    assert detect_format({"results": []}) is None and detect_format([1, 2]) is None
    with pytest.raises(CatalogueError, match="not a catalogue this version reads"):
        parse({"hello": "world"})
    with pytest.raises(CatalogueError, match="not a CKAN package_search answer"):
        parse(load(UDATA), "ckan", base_url="https://x")
    with pytest.raises(CatalogueError, match="give --base-url"):
        parse(load(CKAN))


def test_unusable_entries_are_skipped_not_fatal(tmp_path):
    payload = {"data": [{"id": "", "title": "No id", "page": "https://x/1"}, {"id": "a", "title": "", "page": "https://x/2"},
                        "junk", {"id": "ok", "title": "Fine", "page": "https://x/3"}], "total": 4}
    path = tmp_path / "udata.json"
    path.write_text(json.dumps(payload))
    catalogue = read_catalogue(str(path))
    assert [r.external_id for r in catalogue.records] == ["ok"] and catalogue.skipped == 3


def test_helpers():
    assert plain_text("<p>Points &amp; <b>bornes</b></p>") == "Points & bornes"
    assert portal_base("https://data.example.org/api/3/action/package_search?q=x") == "https://data.example.org"
    assert portal_base("https://host/sub/api/explore/v2.1/catalog/datasets") == "https://host/sub"
    ckan_page = {"result": {"count": 5, "results": [{}, {}]}}
    assert next_page("https://h/api/3/action/package_search?rows=2", "ckan", ckan_page, 2).endswith("rows=2&start=2")
    assert next_page("https://h/api/3/action/package_search?rows=2&start=4", "ckan", ckan_page, 1) is None
    assert next_page("https://h/c?limit=2", "opendatasoft", {"total_count": 3}, 2).endswith("limit=2&offset=2")
    assert next_page("https://h/c?limit=2&offset=2", "opendatasoft", {"total_count": 3}, 1) is None
    assert next_page("https://h/d", "udata", {"next_page": "https://h/d?page=2"}, 20) == "https://h/d?page=2"
    assert next_page("https://h/d", "udata", {"next_page": None}, 20) is None


# --- the command, on both databases ----------------------------------------------------------


def count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(CatalogueDataset))


@pytest.mark.parametrize(
    ("path", "extra", "source", "titles"),
    [
        (CKAN, "--base-url https://data.example.org", "https://data.example.org",
         {"Menus des cantines scolaires", "Comptage vélo - Données compteurs", "Arrêts du réseau de bus"}),
        (UDATA, "", "udata_datasets.json", {"Sanisettes (toilettes publiques)", "Qualité de l'air - mesures horaires"}),
        (ODS, "--base-url https://opendata.example.org --name lyon", "lyon",
         {"Bornes de recharge pour véhicules électriques (IRVE)", "Aires de jeux"}),
    ],
)
def test_import_each_format_from_a_file(cli, sessions, path, extra, source, titles):
    cli("init")
    output = cli(f"catalogue import {path} {extra}").output
    assert f"{len(titles)} new, 0 updated" in output
    with sessions() as session:
        rows = session.scalars(select(CatalogueDataset)).all()
    assert {r.title for r in rows} == titles
    assert {r.source for r in rows} == {source}
    assert all(r.url.startswith("https://") and r.external_id for r in rows)


def test_reimport_updates_instead_of_duplicating(cli, sessions, tmp_path):
    cli("init")
    cli(f"catalogue import {CKAN} --base-url https://data.example.org")
    payload = load(CKAN)
    payload["result"]["results"][0]["title"] = "Menus des restaurants scolaires"
    payload["result"]["results"].append(
        {"id": "new-one", "name": "aires-de-jeux", "title": "Aires de jeux", "tags": []}
    )
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(payload), encoding="utf-8")
    output = cli(f"catalogue import {changed} --base-url https://data.example.org").output
    assert "4 datasets — 1 new, 1 updated, 2 unchanged" in output
    assert "0 new, 0 updated, 4 unchanged" in cli(f"catalogue import {changed} --base-url https://data.example.org").output
    assert count(sessions) == 4
    with sessions() as session:
        titles = set(session.scalars(select(CatalogueDataset.title)))
    assert "Menus des restaurants scolaires" in titles and "Menus des cantines scolaires" not in titles
    # Another source name is another catalogue: same ids, separate rows.
    cli(f"catalogue import {changed} --base-url https://data.example.org --name mirror")
    assert count(sessions) == 8


def serve_in_pages(httpserver, fmt: str, payload: dict) -> str:
    """Serve `payload` in pages of one dataset, the way each API pages; returns the first page's URL."""
    path = API_PATHS[fmt]
    if fmt == "ckan":
        results = payload["result"]["results"]
        for start in range(len(results) - 1, 0, -1):
            page = {**payload, "result": {**payload["result"], "results": results[start:start + 1]}}
            httpserver.expect_request(path, query_string={"rows": "1", "start": str(start)}).respond_with_json(page)
        first = {**payload, "result": {**payload["result"], "results": results[:1]}}
        httpserver.expect_request(path, query_string={"rows": "1"}).respond_with_json(first)
        return httpserver.url_for(path) + "?rows=1"
    if fmt == "udata":
        data = payload["data"]
        for number in range(len(data), 0, -1):
            following = httpserver.url_for(path) + f"?page={number + 1}" if number < len(data) else None
            page = {**payload, "data": data[number - 1:number], "page": number, "page_size": 1, "next_page": following}
            httpserver.expect_request(path, query_string={"page": str(number)}).respond_with_json(page)
        return httpserver.url_for(path) + "?page=1"
    results = payload["results"]
    for offset in range(len(results) - 1, 0, -1):
        page = {**payload, "results": results[offset:offset + 1]}
        httpserver.expect_request(path, query_string={"limit": "1", "offset": str(offset)}).respond_with_json(page)
    httpserver.expect_request(path, query_string={"limit": "1"}).respond_with_json({**payload, "results": results[:1]})
    return httpserver.url_for(path) + "?limit=1"


@pytest.mark.parametrize(("fmt", "path"), [("ckan", CKAN), ("udata", UDATA), ("opendatasoft", ODS)])
def test_import_from_a_local_http_url_follows_every_page(cli, sessions, httpserver, fmt, path):
    cli("init")
    url = serve_in_pages(httpserver, fmt, load(path))
    output = cli(["catalogue", "import", url]).output
    data = load(path)
    expected = len(data["result"]["results"]) if fmt == "ckan" else len(data.get("data") or data["results"])
    assert f"({fmt}): {expected} datasets — {expected} new" in output
    base = httpserver.url_for("/").rstrip("/")
    with sessions() as session:
        rows = session.scalars(select(CatalogueDataset).order_by(CatalogueDataset.id)).all()
    assert len(rows) == expected
    if fmt == "ckan":
        assert rows[0].url == f"{base}/dataset/menus-des-cantines-scolaires"
        assert {r.source for r in rows} == {base}
    if fmt == "opendatasoft":
        assert rows[0].url == f"{base}/explore/dataset/bornes-de-recharge-pour-vehicules-electriques/"
    # Importing again from the same address updates nothing and adds nothing.
    assert f"0 new, 0 updated, {expected} unchanged" in cli(["catalogue", "import", url]).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("catalogue import /no/such/file.json", "/no/such/file.json: cannot be read"),
        (f"catalogue import {CKAN}", "give --base-url"),
        (f"catalogue import {UDATA} --format ckan --base-url https://x", "not a CKAN package_search answer"),
        ("catalogue import {bad_json}", "not valid JSON"),
        ("catalogue import {other_json}", "not a catalogue this version reads"),
        (f"catalogue import {CKAN} --format dcat", "Invalid value for '--format'"),
    ],
)
def test_unreadable_or_unknown_catalogues_are_one_line_and_exit_2(cli, sessions, tmp_path, args, message):
    cli("init")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    other_json = tmp_path / "other.json"
    other_json.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    result = cli(args.format(bad_json=bad_json, other_json=other_json), expect=2)
    assert message in result.output
    if "Invalid value" not in message:
        assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("datacall: ")
    assert "Traceback" not in result.output
    assert count(sessions) == 0


def test_http_errors_are_one_line_and_exit_2(cli, sessions, httpserver):
    cli("init")
    httpserver.expect_request("/api/1/datasets/").respond_with_data("gone", status=404)
    result = cli(["catalogue", "import", httpserver.url_for("/api/1/datasets/")], expect=2)
    assert result.output.strip() == f"datacall: {httpserver.url_for('/api/1/datasets/')}: HTTP 404 NOT FOUND"
    httpserver.expect_request("/html").respond_with_data("<html>portal</html>", content_type="text/html")
    assert "not valid JSON" in cli(["catalogue", "import", httpserver.url_for("/html")], expect=2).output
    assert count(sessions) == 0


def test_unreachable_server_is_one_line(cli):
    cli("init")
    result = cli("catalogue import http://127.0.0.1:9/api/1/datasets/", expect=2)
    assert result.output.startswith("datacall: http://127.0.0.1:9/api/1/datasets/: cannot be read")
    assert len(result.output.strip().splitlines()) == 1
