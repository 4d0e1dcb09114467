"""The publication note of a campaign: numbers (compute), charts (charts), HTML and Markdown (render)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.report.charts import draw_all
from bot.report.compute import NoteData, ReportError, compute_note
from bot.report.render import note_markdown, note_page_html, status_label

__all__ = [
    "NoteData", "ReportError", "compute_note", "write_report",
]


def write_report(
    session_factory_or_session: sessionmaker[Session] | Session, slug: str, out_dir: str | Path, *, lang: str = "fr"
) -> list[Path]:
    """Write campaign `slug`'s publication note into `out_dir`; returns the files written.

    `index.html` and `note.md` (the same note as HTML and Markdown) and one SVG
    per chart next to them, which both link by relative name. Takes a session
    factory (a short read-only session is opened) or an open session (read
    only, never committed). Raises ReportError if there is no such campaign.
    Only public titles, counts and officers' answers are written.
    """
    if isinstance(session_factory_or_session, Session):
        note = compute_note(session_factory_or_session, slug, lang=lang)
    else:
        with session_factory_or_session() as session:
            note = compute_note(session, slug, lang=lang)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in draw_all(note, status_label(lang)).items():
        path = out / f"{name}.svg"
        path.write_text(svg, encoding="utf-8")
        written.append(path)
    chart_file = lambda name: f"{name}.svg"  # noqa: E731 - relative: the folder can move
    pages = (("index.html", note_page_html(note, chart_file)), ("note.md", note_markdown(note, chart_file)))
    for filename, text in pages:
        path = out / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
