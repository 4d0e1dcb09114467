"""`datacall catalogue import`: the datasets already published, to answer requests with a link."""

from __future__ import annotations

from enum import StrEnum

import typer

from bot.catalogue import CatalogueError, default_source_name, import_records, read_catalogue
from bot.cli.common import ConfigOption, console, fail, runtime
from bot.pipeline.publish import last_dataset_id, suggest_publish

app = typer.Typer(help="Published datasets that requests are matched against.", no_args_is_help=True)


class CatalogueFormat(StrEnum):
    auto = "auto"
    ckan = "ckan"
    udata = "udata"
    opendatasoft = "opendatasoft"


@app.command("import")
def import_(
    source: str = typer.Argument(
        ..., metavar="SOURCE",
        help="A JSON file, or an API URL: CKAN .../api/3/action/package_search, udata .../api/1/datasets/, "
        "Opendatasoft .../api/explore/v2.1/catalog/datasets (following pages are fetched too).",
    ),
    format: CatalogueFormat = typer.Option(CatalogueFormat.auto, "--format", help="Default: told by the JSON's shape."),
    name: str = typer.Option(
        None, "--name", help="Name of this catalogue (default: the portal's address, or the file's name)."
    ),
    base_url: str = typer.Option(
        None, "--base-url",
        help="The portal's address, for dataset links "
        "(default: taken from the URL; needed for CKAN and Opendatasoft files).",
    ),
    config: ConfigOption = None,
) -> None:
    """Add or update a catalogue's datasets; new requests that match one get an "already available" suggestion."""
    with runtime(config) as rt:
        try:
            catalogue = read_catalogue(source, format.value, base_url=base_url)
        except CatalogueError as exc:
            fail(str(exc), 2)
        source_name = name or default_source_name(source, catalogue)
        with rt.sessions() as session, session.begin():
            before = last_dataset_id(session)
            result = import_records(session, source=source_name, records=catalogue.records)
            suggested = suggest_publish(session, after_dataset_id=before)
    skipped = f", {catalogue.skipped} skipped (no id or title)" if catalogue.skipped else ""
    console.print(
        f"{source_name} ({catalogue.format}): {len(catalogue.records)} datasets — {result.added} new, "
        f"{result.updated} updated, {result.unchanged} unchanged{skipped}",
        highlight=False,
    )
    if suggested:
        console.print(
            f"{suggested} publish suggestion(s) for accepted or in-progress requests (see `datacall request show ID`)",
            highlight=False,
        )
