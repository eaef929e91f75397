"""Finding deals: search by number, name or domain, and the prospect page; partners see only
their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    SQLColumnExpression,
    String,
    and_,
    column,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.orm import Session

from core.domains import normalise_domain
from core.errors import DealError
from core.models import Deal, Prospect
from core.services.actors import Actor


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with `%`, `_` and `\\` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _scope(actor: Actor, stage: str | None) -> list[ColumnElement[bool]]:
    """The conditions every result meets: the partner's own deals, the stage asked for."""
    where: list[ColumnElement[bool]] = []
    if actor.kind == "partner":
        where.append(Deal.partner_id == actor.partner_id)
    if stage:
        where.append(Deal.stage == stage)
    return where


def _newest(stmt: Select[Any], key: SQLColumnExpression[int], limit: int) -> Select[Any]:
    """The ids of the newest `limit` deals a branch finds, as one part of a UNION."""
    branch = stmt.order_by(key.desc()).limit(limit).subquery()
    return select(branch.c.id)


def search(
    session: Session,
    actor: Actor,
    text: str | None = None,
    *,
    stage: str | None = None,
    limit: int = 50,
) -> list[Deal]:
    """Deals matching part of the number, prospect name or domain, newest first."""
    where = _scope(actor, stage)
    stmt = select(Deal).where(*where)
    term = (text or "").strip()
    if term:
        # At the dialect's edge: SQLite finds a term of 3+ characters through its FTS5
        # trigram table, PostgreSQL (and SQLite for shorter terms) by ILIKE on the tables.
        # Either way one branch per index, each with its own newest `limit`: the newest
        # `limit` of the union are the answer.
        if session.get_bind().dialect.name == "sqlite" and _indexable(term):
            branches = _indexed_branches(actor, term, where, limit)
        else:
            branches = _like_branches(actor, term, where, limit)
        ids = union(*branches).subquery()
        # Joined first, the few ids drive the query: PostgreSQL keeps the written join
        # order past eight joins (the eager loads), and would otherwise read every deal.
        stmt = stmt.join(ids, Deal.id == ids.c.id)
    found = session.scalars(stmt.order_by(Deal.id.desc()).limit(limit)).unique()
    return list(found)


def _matches(
    actor: Actor,
    term: str,
    number: SQLColumnExpression[str],
    own_name: SQLColumnExpression[str],
    prospect_name: SQLColumnExpression[str],
    domain: SQLColumnExpression[str],
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """What a deal matches, (by its number, by its prospect), on the columns given.

    ILIKE folds case as the database does: PostgreSQL's for every letter, SQLite's for ASCII
    only (there "öl" does not find "Öl"), whichever path finds the candidates.
    """
    pattern = like_pattern(term.lower())
    name: ColumnElement[bool] = prospect_name.ilike(pattern, escape="\\")
    if actor.kind == "partner":
        # The prospect's name is its first registration's, maybe another partner's: it
        # narrows by its index, but a partner's deal matches by the name it typed itself,
        # so a search cannot spell out a rival's name.
        name = and_(name, own_name.ilike(pattern, escape="\\"))
    by_number = number.ilike(like_pattern(term.upper()), escape="\\")
    return by_number, or_(name, domain.ilike(pattern, escape="\\"))


def _same_domain(term: str) -> ColumnElement[bool] | None:
    """The prospect whose domain the term names (a URL, an email address), if it names one."""
    try:
        return Prospect.domain == normalise_domain(term)
    except DealError:  # not every search term is a domain
        return None


def _like_branches(
    actor: Actor, term: str, where: list[ColumnElement[bool]], limit: int
) -> list[Select[Any]]:
    """By number and by prospect: each can use its pg_trgm index on PostgreSQL, which one
    OR across the join cannot."""
    by_number, by_prospect = _matches(
        actor, term, Deal.number, Deal.company_name, Prospect.company_name, Prospect.domain
    )
    if (same := _same_domain(term)) is not None:
        by_prospect = or_(by_prospect, same)
    numbers = select(Deal.id).where(by_number, *where)
    prospects = select(Deal.id).join(Deal.prospect).where(by_prospect, *where)
    return [_newest(numbers, Deal.id, limit), _newest(prospects, Deal.id, limit)]


# SQLite's FTS5 trigram index of the texts `_matches` reads, one row per deal (rowid is the
# deal's id), kept in step by triggers (migrations/versions/0006_deal_search.py).
_FTS = table(
    "deal_search",
    column("rowid", Integer),
    *(column(name, String) for name in ("number", "company_name", "prospect_name", "domain")),
)


def _indexable(term: str) -> bool:
    """Whether the trigram index can find the term: three characters or more, as typed and
    in either case (shorter has no trigram), and no NUL (which ends a MATCH query)."""
    return min(len(term), len(term.lower()), len(term.upper())) >= 3 and "\0" not in term


def _fts_query(term: str) -> str:
    """The MATCH query for (a superset of) what `_matches` matches, as quoted phrases.

    A trigram phrase matches where its text appears, case-folded (for every letter, where
    LIKE folds ASCII only); inside the quotes every character but a doubled quote is
    literal. The partner's name rule also needs the prospect's name: `_matches` checks it.
    """
    if term.isascii():  # its upper and lower case fold alike: one phrase for every column
        return f"{{number prospect_name domain}} : {_phrase(term.lower())}"
    return f"number : {_phrase(term.upper())} OR {{prospect_name domain}} : {_phrase(term.lower())}"


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _indexed_branches(
    actor: Actor, term: str, where: list[ColumnElement[bool]], limit: int
) -> list[Select[Any]]:
    """SQLite: the trigram index's candidates checked by `_matches`, and the named domain."""
    by_number, by_prospect = _matches(
        actor, term, _FTS.c.number, _FTS.c.company_name, _FTS.c.prospect_name, _FTS.c.domain
    )
    found = select(_FTS.c.rowid.label("id")).where(
        literal_column(_FTS.name).op("MATCH")(_fts_query(term)), or_(by_number, by_prospect)
    )
    if where:
        found = found.join(Deal, Deal.id == _FTS.c.rowid).where(*where)
    branches = [_newest(found, _FTS.c.rowid, limit)]
    if (same := _same_domain(term)) is not None:
        named = select(Deal.id).join(Deal.prospect).where(same, *where)
        branches.append(_newest(named, Deal.id, limit))
    return branches
