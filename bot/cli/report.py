"""`datacall report CAMPAIGN --out DIR`: the publication note, as HTML, Markdown and SVG charts."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import ConfigOption, console, fail, runtime
from bot.report import ReportError, write_report


def report(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN", help="The campaign's slug, e.g. 2027-q1."),
    out: Path = typer.Option(..., "--out", help="Folder to write index.html, note.md and the charts into."),
    lang: str = typer.Option(None, "--lang", help="fr or en (default: [campaigns] default_language)."),
    config: ConfigOption = None,
) -> None:
    """Write a campaign's publication note: what was asked, answered and published, with charts."""
    if lang is not None and lang not in ("fr", "en"):
        fail(f"--lang {lang!r}: one of fr, en", 2)
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: not a folder", 2)
    with runtime(config) as rt:
        try:
            written = write_report(rt.sessions, campaign, out, lang=lang or rt.config.campaigns.default_language)
        except ReportError as exc:
            fail(str(exc), 2)
        except OSError as exc:
            fail(f"cannot write the note into {out}: {exc}")
    console.print(f"publication note of {campaign}: {len(written)} files in {out}", highlight=False)
    for path in written:
        console.print(f"  {path}", highlight=False, markup=False)
