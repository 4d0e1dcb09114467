"""The web app: officers' queue behind a login at /queue, the public dashboard at /.

Server-rendered HTML forms only (no JavaScript), so it works with a keyboard,
a screen reader and a slow phone.
"""

from bot.web.app import create_app

__all__ = ["create_app"]
