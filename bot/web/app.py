"""`create_app(runtime)`: the Starlette app behind `datacall serve`."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.runtime import Runtime
from bot.web import (
    accounts,
    admin,
    auth,
    bulk,
    classifier_page,
    downloads,
    health,
    notes,
    public,
    queue,
    request_pages,
    suggestions,
)
from bot.web.cache import ShortCache
from bot.web.i18n import LanguageMiddleware
from bot.web.middleware import HeadersMiddleware
from bot.web.views import Ctx
from storage.models import AppSetting

SECRET_ENV = "DATACALL_WEB_SECRET"
SECRET_SETTING = "web_secret"
STATIC = Path(__file__).resolve().parent / "static"


def create_app(runtime: Runtime, *, login_limiter: accounts.LoginLimiter | None = None) -> Starlette:
    """The officers' queue at /queue, the public dashboard at /, on the runtime's database."""
    secret = web_secret(runtime.sessions)
    web = runtime.config.web
    session_seconds = round(web.session_hours * 3600)
    app = DatacallApp(
        routes=[
            *health.routes,
            *public.routes,
            *notes.routes,
            *auth.routes,
            *queue.routes,
            *request_pages.routes,
            *admin.routes,
            *classifier_page.routes,
            *bulk.routes,
            *suggestions.routes,
            *downloads.routes,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(
                SessionMiddleware, secret_key=secret, session_cookie="datacall_session",
                max_age=session_seconds, same_site="lax", https_only=False,  # Secure added per request
            ),
            Middleware(LanguageMiddleware, default=runtime.config.campaigns.default_language),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        trusted_proxies=web.trusted_proxies,
    )
    app.state.runtime = runtime
    app.state.writer = runtime.reply_writer()
    app.state.secret = secret
    app.state.session_seconds = session_seconds  # absolute: counted from the login, not the last request
    app.state.login_limiter = login_limiter or accounts.LoginLimiter()
    app.state.cache = ShortCache()  # counts that read every row, for a few seconds
    app.state.charts = ShortCache()  # the dashboard's charts: not emptied by each decision, they move slowly
    app.state.exports = downloads.ExportCache()  # the open-data files, made on demand, with their date
    return app


class DatacallApp(Starlette):
    """Starlette, with the security headers on every response, even the crash page.

    Starlette answers a crash from its outermost layer, outside the middleware
    list, so the headers and the proxy headers wrap the whole stack instead.
    """

    def __init__(self, *args, trusted_proxies: Sequence[str] = (), **kwargs) -> None:
        self.trusted_proxies = list(trusted_proxies)
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self):
        stack = HeadersMiddleware(super().build_middleware_stack())
        # The client's address and scheme from X-Forwarded-*, only when a listed proxy sends them.
        return ProxyHeadersMiddleware(stack, trusted_hosts=self.trusted_proxies)


def web_secret(sessions: sessionmaker[Session]) -> str:
    """The key that signs session cookies: from DATACALL_WEB_SECRET, else made once and kept in the database.

    Keeping it in the database lets several `datacall serve` processes share it
    and keeps officers logged in across restarts, with nothing to configure.
    """
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    with sessions() as session:
        stored = session.get(AppSetting, SECRET_SETTING)
        if stored is not None:
            return stored.value
        session.add(AppSetting(key=SECRET_SETTING, value=secrets.token_urlsafe(48)))
        try:
            session.commit()
        except IntegrityError:  # another process made it first: use theirs
            session.rollback()
        stored = session.get(AppSetting, SECRET_SETTING, populate_existing=True)
        if stored is None:  # the insert lost to another process's, which is committed
            raise RuntimeError("the session secret could not be stored")
        return stored.value


async def _http_error(request: Request, exc: HTTPException):
    """Not found and friends, as a page in the visitor's language."""
    def render():
        with request.app.state.runtime.sessions() as db:
            ctx = Ctx(request, db, accounts.current_user(request, db), None)
            key = "error.not_found" if exc.status_code == 404 else "error.generic"
            return ctx.render("error.html", status_code=exc.status_code, message=ctx.t(key))

    return await run_in_threadpool(render)


async def _server_error(request: Request, exc: Exception):
    """A crash: a page in the visitor's language, built without the database (it may be the cause)."""
    try:
        ctx = Ctx(request, None, None, None)  # type: ignore[arg-type]  # no database: it may be the cause
        return ctx.render("error.html", status_code=500, message=ctx.t("error.generic"))
    except Exception:  # noqa: BLE001 - the error page itself must not fail
        return PlainTextResponse("Internal Server Error", status_code=500)
