"""The match-term index: which requests and catalogue datasets hold a term.

Suggestions score a new request only against the texts that share a term with
it, found here by index lookups, so their cost does not grow with the number of
open requests. Terms are computed by the caller (`classifiers.matching.index_terms`);
these functions never commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import MatchTerm

TERM_LENGTH = 64  # the column's size; longer words are cut, alike when stored and looked up
# A term held by more texts than this is common ("_bus"): it alone does not make a
# candidate, and only its most recent holders are read.
RARE_LIMIT = 100
# Candidates scored per text at most: a duplicate shares most of its terms, so it ranks first.
CANDIDATE_LIMIT = 100


_TERMS = MatchTerm.metadata.tables[MatchTerm.__tablename__]
# The most recent holders of one term: one index range. Core statements built once and run with
# parameters, since a suggestion pass runs one for every term of every new request.
_HOLDERS = (
    select(_TERMS.c.ref_id)
    .where(_TERMS.c.term == bindparam("term"), _TERMS.c.kind == bindparam("kind"))
    .order_by(_TERMS.c.ref_id.desc())
    .limit(bindparam("rows"))
)
_HOLDERS_BELOW = _HOLDERS.where(_TERMS.c.ref_id < bindparam("below"))


def _key(term: str) -> str:
    return term[:TERM_LENGTH]


def replace_terms(session: Session, *, kind: str, terms_by_ref: Mapping[int, Iterable[str]]) -> None:
    """Index each text under its terms, dropping the terms it was indexed under before."""
    if not terms_by_ref:
        return
    refs = list(terms_by_ref)
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        session.execute(delete(MatchTerm).where(MatchTerm.kind == kind, MatchTerm.ref_id.in_(chunk)))
    rows = [
        {"term": term, "kind": kind, "ref_id": ref_id}
        for ref_id, terms in terms_by_ref.items()
        for term in sorted({_key(t) for t in terms})
    ]
    # Two workers rebuilding the index at once insert the same rows: the second is skipped.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(MatchTerm).on_conflict_do_nothing()
    for start in range(0, len(rows), 5000):
        session.execute(statement, rows[start : start + 5000])


def remove_terms(session: Session, *, kind: str, ref_ids: Iterable[int]) -> None:
    ids = list(ref_ids)
    for start in range(0, len(ids), 500):
        session.execute(delete(MatchTerm).where(MatchTerm.kind == kind, MatchTerm.ref_id.in_(ids[start : start + 500])))


def candidates(
    session: Session,
    *,
    kind: str,
    terms: Iterable[str],
    below: int | None = None,
    rare_limit: int = RARE_LIMIT,
    limit: int = CANDIDATE_LIMIT,
) -> set[int]:
    """The texts of `kind` (ids below `below`, if given) worth scoring against a text with `terms`.

    Holders of a rare term are candidates; holders of common terms only when they
    share two of them, or when the text has no rare term at all. Each term costs one
    index range of at most `rare_limit + 1` rows, and at most `limit` candidates are
    kept, those sharing the most terms (then the most recent), whatever the table's size.
    """
    shared: Counter[int] = Counter()
    common: Counter[int] = Counter()
    connection = session.connection()
    for term in sorted({_key(t) for t in terms}):
        if below is None:
            found = connection.execute(_HOLDERS, {"term": term, "kind": kind, "rows": rare_limit + 1})
        else:
            found = connection.execute(_HOLDERS_BELOW, {"term": term, "kind": kind, "rows": rare_limit + 1,
                                                        "below": below})
        holders = list(found.scalars())
        (shared if len(holders) <= rare_limit else common).update(holders[:rare_limit])
    if shared:
        shared.update({ref: n for ref, n in common.items() if n >= 2 or ref in shared})
    else:  # only common terms ("bus timetables"): their most recent holders
        shared = common
    ranked = sorted(shared.items(), key=lambda item: (-item[1], -item[0]))
    return {ref for ref, _ in ranked[:limit]}
