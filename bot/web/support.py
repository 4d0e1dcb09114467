"""How many people support each request: the queue's "support" column.

Support is supporters (merged duplicates included) plus survey votes, as
`storage.support.support_count` counts it, read from the count stored on each
request (`Request.support`, kept equal to it by `storage.support.keep_counts`):
the column and the "most supported" sort agree, and a page counts nobody.
"""

from __future__ import annotations

from collections.abc import Iterable

from storage.models import Request


def support_counts(requests: Iterable[Request]) -> dict[int, int]:
    """Support of the requests on one page."""
    return {request.id: request.support for request in requests}
