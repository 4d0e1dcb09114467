"""How many people support each request: the queue's "support" column.

Support is supporters (merged duplicates included) plus survey votes, as
`storage.support.support_count` counts it; the "most supported" sort reads the
same count stored on each request (`Request.support`), so the order and the
column agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from storage.support import support_count


def support_counts(session: Session, request_ids: Iterable[int]) -> dict[int, int]:
    """Support of the requests on one page."""
    return support_count(session, {request_id for request_id in request_ids if request_id is not None})
