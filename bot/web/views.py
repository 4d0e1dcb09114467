"""The plumbing every page shares: one wrapper that checks CSRF and access, a context to render with.

Handlers are plain functions run in a worker thread: the database calls are
blocking (SQLAlchemy, like the rest of datacall), so they never run on the
event loop. Reading the form is async, so the wrapper does it first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.links import is_web_link
from bot.web import accounts, csrf, i18n
from storage.models import User

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

WRITERS = ("admin", "officer")
MAX_PAGE = 100_000  # an absurd ?page= must not overflow the database's OFFSET
# The largest id a row can have (ids are INTEGER columns, 32-bit on PostgreSQL). A larger number
# matches no row, yet makes the query fail (PostgreSQL past 32 bits, SQLite past 64): it stops here.
MAX_ID = 2**31 - 1


def parse_id(value: object) -> int | None:
    """An id from a form or a query string: ASCII digits within range, else None.

    ASCII only: `str.isdigit()` also accepts "²", which `int()` refuses.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)):
        number = int(value)
        return number if number <= MAX_ID else None
    return None


def safe_href(url: str | None) -> str | None:
    """Only http(s) links become clickable: a `javascript:` URL would run despite escaping."""
    return url if is_web_link(url) else None


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


TEMPLATES.filters["safe_href"] = safe_href
TEMPLATES.filters["when"] = when
TEMPLATES.globals["zip"] = zip


@dataclass
class Ctx:
    """One request being handled: who asks, in which language, with which database session."""

    request: Request
    db: Session
    user: User | None
    form: FormData | None
    # The links to the next and previous pages: their numbers and cursors (`after`, `before`),
    # when a paged view sets them.
    next_page: dict[str, object] | None = None
    prev_page: dict[str, object] | None = None

    @property
    def runtime(self):
        return self.request.app.state.runtime

    @property
    def writer(self):
        return self.request.app.state.writer

    @property
    def cache(self):
        return self.request.app.state.cache

    @property
    def lang(self) -> str:
        return self.request.state.lang

    @property
    def signed_in(self) -> User:
        """The user of a view behind `view(login=True)`, which never runs without one."""
        if self.user is None:
            raise RuntimeError("this view needs view(login=True)")
        return self.user

    @property
    def can_write(self) -> bool:
        return self.user is not None and self.user.role in WRITERS

    def t(self, key: str, **values: object) -> str:
        return i18n.translate(self.lang, key, **values)

    def field(self, name: str, default: str = "", *, strip: bool = True) -> str:
        value = self.form.get(name) if self.form is not None else None
        if not isinstance(value, str):
            return default
        return value.strip() if strip else value

    def fields(self, name: str) -> list[str]:
        """Every value of a repeated form field (a column of checkboxes)."""
        values = self.form.getlist(name) if self.form is not None else []
        return [value for value in values if isinstance(value, str)]

    def form_items(self) -> list[tuple[str, str]]:
        """The posted fields, in order, repeated ones included (files are never accepted)."""
        items = self.form.multi_items() if self.form is not None else []
        return [(name, value) for name, value in items if isinstance(value, str)]

    def flash(self, text: str, kind: str = "ok") -> None:
        self.request.session.setdefault("flash", []).append([kind, text])

    def redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    def url_with(self, **changes: object) -> str:
        """This page's URL with some query parameters changed (None removes one)."""
        params = dict(self.request.query_params)
        params.pop("lang", None)
        if "page" in changes:
            params.pop("after", None)  # a cursor belongs to the page it leads to
            params.pop("before", None)
            for link in (self.next_page, self.prev_page):
                if link and changes["page"] == link["page"]:
                    changes = {**link, **changes}
        for key, value in changes.items():
            if value in (None, ""):
                params.pop(key, None)
            else:
                params[key] = str(value)
        query = urlencode(params)
        return self.request.url.path + (f"?{query}" if query else "")

    def render(self, template: str, status_code: int = 200, **context: object) -> HTMLResponse:
        session = self.request.session
        html = TEMPLATES.get_template(template).render(
            t=self.t,
            lang=self.lang,
            user=self.user,
            can_write=self.can_write,
            csrf_token=lambda: csrf.token(self.request),
            path=self.request.url.path,
            url_with=self.url_with,
            flashes=session.pop("flash", []) if "flash" in session else [],
            status_label=lambda status: self.t(f"status.{status}") if status else "",
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def error(self, status_code: int, key: str) -> HTMLResponse:
        return self.render("error.html", status_code=status_code, message=self.t(key))


def local_next(value: str | None, default: str) -> str:
    """Where to go after a form: a path on this site only, never another host."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def view(*, login: bool = False, write: bool = False) -> Callable:
    """Route decorator: CSRF on every POST, then the login and role checks, then the handler."""
    login = login or write

    def decorate(handler: Callable[[Ctx], Response]) -> Callable:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            if any(isinstance(value, int) and value > MAX_ID for value in request.path_params.values()):
                return await run_in_threadpool(_refuse, request, "error.not_found", 404)
            form = None
            if request.method == "POST":
                form = await request.form(max_files=0)  # no form here takes a file
                if not csrf.valid(request, form):
                    return await run_in_threadpool(_refuse, request, "error.csrf")
            return await run_in_threadpool(_run, handler, request, form, login, write)

        return endpoint

    return decorate


def _run(handler, request: Request, form: FormData | None, login: bool, write: bool) -> Response:
    with request.app.state.runtime.sessions() as db:
        user = accounts.current_user(request, db)
        ctx = Ctx(request, db, user, form)
        if login and user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return ctx.redirect("/login?" + urlencode({"next": target}))
        if write and not ctx.can_write:
            return ctx.error(403, "error.read_only")
        return handler(ctx)


def _refuse(request: Request, key: str, status_code: int = 403) -> Response:
    with request.app.state.runtime.sessions() as db:
        ctx = Ctx(request, db, accounts.current_user(request, db), None)
        return ctx.error(status_code, key)


def page_number(ctx: Ctx) -> int:
    try:
        return min(max(int(ctx.request.query_params.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        return 1
