"""The open-data exports, downloadable from the dashboard: made on demand, kept with their date for an hour.

The same files as `datacall export` (storage/exports.py): pseudonymised, no
handle, user id, officer name, message text or internal note.
"""

from __future__ import annotations

import io
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.responses import Response
from starlette.routing import Route

from bot.web.views import Ctx, view
from storage.exports import Format, write_export

MAX_AGE = timedelta(hours=1)
FILES: dict[str, tuple[Format, str | None, str]] = {
    # name: (format, file inside the written export or None for the whole folder zipped, media type)
    "requests.csv": ("csv", "requests.csv", "text/csv; charset=utf-8"),
    "status_events.csv": ("csv", "status_events.csv", "text/csv; charset=utf-8"),
    "requests.json": ("json", None, "application/json"),
    "datapackage.zip": ("datapackage", None, "application/zip"),
}


@dataclass(frozen=True)
class Made:
    body: bytes
    made_at: datetime


class ExportCache:
    """The last file of each kind with its date, per process."""

    def __init__(self) -> None:
        self._files: dict[str, Made] = {}
        self._lock = threading.Lock()

    def fresh(self, name: str, now: datetime) -> Made | None:
        with self._lock:
            made = self._files.get(name)
        return made if made is not None and now - made.made_at < MAX_AGE else None

    def dates(self) -> dict[str, datetime]:
        with self._lock:
            return {name: made.made_at for name, made in self._files.items()}

    def keep(self, name: str, made: Made) -> None:
        with self._lock:
            self._files[name] = made


def make(db, name: str, now: datetime) -> bytes:
    fmt, member, _ = FILES[name]
    with tempfile.TemporaryDirectory(prefix="datacall-export-") as folder:
        target = Path(folder) / ("requests.json" if fmt == "json" else "export")
        written = write_export(db, fmt, target, now=now)
        db.commit()  # the export salt, if this was the first export
        if fmt == "json":
            return written[0].read_bytes()
        if member:
            return (target / member).read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, f"datacall-requests/{path.name}")
        return buffer.getvalue()


@view()
def download(ctx: Ctx):
    name = ctx.request.path_params["name"]
    if name not in FILES:
        return ctx.error(404, "error.not_found")
    cache: ExportCache = ctx.request.app.state.exports
    now = datetime.now(UTC)
    made = cache.fresh(name, now)
    if made is None:
        made = Made(make(ctx.db, name, now), now)
        cache.keep(name, made)
    return Response(made.body, media_type=FILES[name][2], headers={
        "content-disposition": f'attachment; filename="{name}"',
        "last-modified": made.made_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    })


routes = [Route("/exports/{name}", download, methods=["GET"])]
