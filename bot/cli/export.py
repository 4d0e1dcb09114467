"""`datacall export`: the requests and their history as open data."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from bot.cli.common import ConfigOption, console, fail, runtime
from storage.exports import DEFAULT_LICENCE, LICENCES, ExportError, write_export


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    datapackage = "datapackage"


def export(
    format: ExportFormat = typer.Option(
        ..., "--format", help="csv (a folder), json (a file) or datapackage (a folder)."
    ),
    out: Path = typer.Option(..., "--out", help="Folder (csv, datapackage) or file (json) to write."),
    licence: str = typer.Option(
        DEFAULT_LICENCE, "--licence", help=f"Licence named in datapackage.json: {', '.join(LICENCES)}."
    ),
    config: ConfigOption = None,
) -> None:
    """Every request and status event, pseudonymised: no handle, user id, officer name or message text."""
    if licence not in LICENCES:
        fail(f"unknown licence {licence!r}; one of: {', '.join(LICENCES)}", 2)
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        try:
            written = write_export(session, format.value, out, licence=licence)
        except (ExportError, OSError) as exc:
            fail(str(exc), 2)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
