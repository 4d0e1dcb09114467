"""Which links datacall accepts from officers and shows as clickable: http(s) with a host, nothing else.

One rule for the web form, the pages and `request set-status --url`, since the
link goes out to citizens in replies whichever way it was entered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

WEB_SCHEMES = ("http", "https")


def is_web_link(url: str | None) -> bool:
    """True for http(s)://host...; False for `javascript:`, `data:`, relative or host-less links."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced [ in the host
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.hostname)
