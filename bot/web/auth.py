"""Log in and out. One vague error for every failure, so the page never tells which names exist."""

from __future__ import annotations

from starlette.routing import Route

from bot.web import accounts
from bot.web.views import Ctx, local_next, view

DEFAULT_NEXT = "/queue"


@view()
def login_page(ctx: Ctx):
    if ctx.user is not None:
        return ctx.redirect(local_next(ctx.request.query_params.get("next"), DEFAULT_NEXT))
    return ctx.render("login.html", next=ctx.request.query_params.get("next", ""), name="")


@view()
def login(ctx: Ctx):
    client = ctx.request.client.host if ctx.request.client else "unknown"
    limiter: accounts.LoginLimiter = ctx.request.app.state.login_limiter
    name, target = ctx.field("name"), ctx.field("next")
    if limiter.blocked(client):
        return ctx.render("login.html", status_code=429, next=target, name=name, error=ctx.t("login.too_many"))
    user = accounts.authenticate(ctx.db, name, ctx.field("password", strip=False))
    ctx.db.commit()  # the failure count, or the login time
    if user is None:
        limiter.failed(client)
        return ctx.render("login.html", status_code=400, next=target, name=name, error=ctx.t("login.failed"))
    accounts.log_in(ctx.request, user)
    return ctx.redirect(local_next(target, DEFAULT_NEXT))


@view()
def logout(ctx: Ctx):
    if ctx.user is not None:
        accounts.end_sessions(ctx.db, ctx.user)  # a copy of the cookie kept elsewhere stops working too
        ctx.db.commit()
    ctx.request.session.clear()
    return ctx.redirect("/")


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
