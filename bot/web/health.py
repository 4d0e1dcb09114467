"""`/healthz`: is the database answering, and when did each network last poll? For load balancers and monitors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storage.database import one_line
from storage.models import NetworkCursor, utcnow


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def check(runtime) -> tuple[int, dict]:
    """200 and each enabled network's last poll when the database answers; 503 and why when it does not."""
    networks: dict[str, dict[str, object]] = {
        name: {"last_poll_at": None, "last_success_at": None, "consecutive_failures": 0, "paused": False}
        for name in runtime.connectors
    }
    try:
        with runtime.sessions() as session:
            session.execute(text("SELECT 1"))
            now = utcnow()
            for row in session.scalars(select(NetworkCursor).where(NetworkCursor.network.in_(list(networks)))):
                networks[row.network] = {
                    "last_poll_at": _iso(row.last_poll_at),
                    "last_success_at": _iso(row.last_success_at),
                    "consecutive_failures": row.consecutive_failures,
                    "paused": bool(row.paused_until and row.paused_until > now),
                }
    except Exception as exc:  # noqa: BLE001 - any failure to read is "the database does not answer"
        return 503, {"status": "unavailable", "database": {"ok": False, "error": one_line(exc)}, "networks": networks}
    return 200, {"status": "ok", "database": {"ok": True}, "networks": networks}


async def healthz(request: Request) -> JSONResponse:
    status, body = await run_in_threadpool(check, request.app.state.runtime)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
