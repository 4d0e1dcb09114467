"""Officer accounts for admins: add, change role, reset password, unlock, remove.

The rules live in `accounts` (shared with `datacall user`); this file is the HTTP around them.
"""

from __future__ import annotations

from starlette.routing import Route

from bot.web import accounts
from bot.web.views import Ctx, view
from storage.models import USER_ROLES, User

HERE = "/queue/users"


def _admin_only(handler):
    """Admins only: everyone else gets the read-only refusal, as for any write."""
    def wrapped(ctx: Ctx):
        if ctx.signed_in.role != "admin":
            return ctx.error(403, "error.admin_only")
        return handler(ctx)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


@view(login=True)
@_admin_only
def users_page(ctx: Ctx):
    return ctx.render("users.html", users=accounts.list_users(ctx.db), roles=USER_ROLES,
                      locked=accounts.is_locked)


def _change(ctx: Ctx, work) -> object:
    """Run one account change; AccountError messages are the same ones the CLI prints."""
    try:
        done = work()
        ctx.db.commit()
        ctx.flash(done)
    except accounts.AccountError as exc:
        ctx.db.rollback()
        ctx.flash(str(exc), "error")
    return ctx.redirect(HERE)


def _target(ctx: Ctx) -> User:
    user = ctx.db.get(User, ctx.request.path_params["user_id"])
    if user is None:
        raise accounts.AccountError(f"no user #{ctx.request.path_params['user_id']}")
    return user


@view(write=True)
@_admin_only
def add(ctx: Ctx):
    def work():
        user = accounts.create_user(ctx.db, ctx.field("name"), ctx.field("password", strip=False), ctx.field("role"))
        return ctx.t("done.user_added", name=user.name, role=user.role)

    return _change(ctx, work)


@view(write=True)
@_admin_only
def change_role(ctx: Ctx):
    def work():
        user = _target(ctx)
        accounts.set_role(ctx.db, user, ctx.field("role"))
        return ctx.t("done.user_role", name=user.name, role=user.role)

    return _change(ctx, work)


@view(write=True)
@_admin_only
def reset_password(ctx: Ctx):
    def work():
        user = _target(ctx)
        accounts.reset_password(ctx.db, user, ctx.field("password", strip=False))
        return ctx.t("done.user_password", name=user.name)

    return _change(ctx, work)


@view(write=True)
@_admin_only
def unlock(ctx: Ctx):
    def work():
        user = _target(ctx)
        accounts.unlock(user)
        return ctx.t("done.user_unlocked", name=user.name)

    return _change(ctx, work)


@view(write=True)
@_admin_only
def remove(ctx: Ctx):
    def work():
        user = _target(ctx)
        if ctx.field("sure") != "yes":
            raise accounts.AccountError(ctx.t("error.remove_unconfirmed", name=user.name))
        if user.id == ctx.user.id:
            raise accounts.AccountError(ctx.t("error.remove_self"))
        name = user.name
        accounts.remove_user(ctx.db, user)
        return ctx.t("done.user_removed", name=name)

    return _change(ctx, work)


routes = [
    Route(HERE, users_page, methods=["GET"]),
    Route(HERE, add, methods=["POST"]),
    Route(HERE + "/{user_id:int}/role", change_role, methods=["POST"]),
    Route(HERE + "/{user_id:int}/password", reset_password, methods=["POST"]),
    Route(HERE + "/{user_id:int}/unlock", unlock, methods=["POST"]),
    Route(HERE + "/{user_id:int}/remove", remove, methods=["POST"]),
]
