"""The match-term index: which requests and catalogue datasets hold a term.

Suggestions score a new request only against the texts that share a term with
it, found here by index lookups, so their cost does not grow with the number of
open requests. Terms are computed by the caller (`classifiers.matching.index_terms`);
these functions never commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

from sqlalchemy import CompoundSelect, bindparam, delete, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import MatchTerm

TERM_LENGTH = 64  # the column's size; longer words are cut, alike when stored and looked up
# A term held by more texts than this is common ("_bus"): it alone does not make a
# candidate, and only its most recent holders are read.
RARE_LIMIT = 100
# Candidates scored per text at most: a duplicate shares most of its terms, so it ranks first.
CANDIDATE_LIMIT = 100
# Terms looked up per statement (SQLite takes at most 500 members in one UNION), in statements of these sizes.
TERMS_PER_STATEMENT = 100
STATEMENT_SIZES = (8, 16, 32, 64, TERMS_PER_STATEMENT)


_TERMS = MatchTerm.metadata.tables[MatchTerm.__tablename__]


@lru_cache(maxsize=256)
def _holders(terms: int, below: bool) -> CompoundSelect:
    """The most recent holders of each of `terms` terms: one index range per term, all in one statement.

    Built once per number of terms (Core, run with parameters), since a suggestion pass runs one for
    every new request.
    """
    parts = []
    for index in range(terms):
        part = select(_TERMS.c.term, _TERMS.c.ref_id).where(
            _TERMS.c.term == bindparam(f"term{index}"), _TERMS.c.kind == bindparam("kind")
        )
        if below:
            part = part.where(_TERMS.c.ref_id < bindparam("below"))
        # Each part in its own subquery: SQLite takes no ORDER BY or LIMIT on a member of a UNION.
        parts.append(select(part.order_by(_TERMS.c.ref_id.desc()).limit(bindparam("rows")).subquery()))
    return union_all(*parts)


_NO_TERM = "~" * (TERM_LENGTH + 1)  # longer than any stored key


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
    keys = sorted({_key(t) for t in terms})
    holders: dict[str, list[int]] = {key: [] for key in keys}
    for start in range(0, len(keys), TERMS_PER_STATEMENT):
        chunk = keys[start : start + TERMS_PER_STATEMENT]
        # A few statement sizes, so that a process compiles a few statements, not one per number of terms;
        # the slots left over look up a term no text holds.
        size = next(size for size in STATEMENT_SIZES if size >= len(chunk))
        chunk += [_NO_TERM] * (size - len(chunk))
        parameters: dict[str, object] = {f"term{index}": key for index, key in enumerate(chunk)}
        parameters.update(kind=kind, rows=rare_limit + 1)
        if below is not None:
            parameters["below"] = below
        for term, ref_id in session.connection().execute(_holders(size, below is not None), parameters):
            holders[term].append(ref_id)
    for held in holders.values():
        held.sort(reverse=True)  # the most recent first
        (shared if len(held) <= rare_limit else common).update(held[:rare_limit])
    if shared:
        shared.update({ref: n for ref, n in common.items() if n >= 2 or ref in shared})
    else:  # only common terms ("bus timetables"): their most recent holders
        shared = common
    ranked = sorted(shared.items(), key=lambda item: (-item[1], -item[0]))
    return {ref for ref, _ in ranked[:limit]}
