"""Scale: the intake rate and the `/deal search` answer in Slack with many deals stored
(bench/fill.py, with the history they leave), against the same runs on an empty database,
on PostgreSQL and on SQLite. A figure that grows with the table shows a lookup that does.

The intake (as bench/intake.py measures it) runs in rounds, each on fresh mailboxes holding
the same emails for both databases, the two taking turns to go first: new prospects,
stored prospects another partner has an active deal on (rivals: the new deal is a
conflict), lookalikes of stored domains, and resends (duplicates). On the empty database
every prospect is new. Its rate is the best of the rounds on each side.

Search (bench/scale_search.py): signed `/deal search` commands to `dealreg bot` on each
database in turn, each timed from its POST to its answer at the response URL. The terms
name the last round's registrations, so both databases find them (numbers, names,
domains, common words capped by the limit).
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bench import fill
from bench.common import Scale, Servers, log, stopwatch
from bench.intake import KINDS, LOCAL, PRODUCTS, WORDS, pipeline_rate, seed, vouched
from bench.scale_search import measure_search, search_terms
from core.db import make_engine
from core.domains import normalise_domain, skeleton
from core.models import ACTIVE_STAGES, Contact, Deal, OutboxMessage, Product, Prospect
from tests.factories import ANN, BOB, JANA, RAJ, World, registration_email
from tests.servers import ImapAccount

SENDERS = (ANN, ANN, RAJ, BOB, JANA)
RIVALS = 0.2  # of the emails, naming a stored prospect another partner holds
LOOKALIKES = 0.05  # naming a lookalike of such a prospect's domain
RESENDS = 0.1
# Latin letters and the Cyrillic ones that look the same (the same skeleton).
CONFUSABLE = {"a": "\u0430", "o": "\u043e", "e": "\u0435", "p": "\u0440", "c": "\u0441"}


@dataclass(frozen=True)
class Claim:
    """A stored prospect and the partner whose active deal on it a new one would meet."""

    domain: str
    skeleton: str
    company_name: str
    partner_id: int
    product: str


def stored_claims(world: World, count: int, stored: int) -> list[Claim]:
    """`count` stored active deals spread over the table, each on its own prospect."""
    prospects = max(1, stored // 2)
    step = max(10, prospects // max(1, count) // 10 * 10)  # active deals are every tenth
    stmt = (
        select(Prospect.domain, Prospect.skeleton, Prospect.company_name, Deal.partner_id,
               Product.name)
        .join(Deal.prospect).join(Deal.product)
        .where(Deal.id.in_(range(step, prospects + 1, step)), Deal.stage.in_(ACTIVE_STAGES))
        .order_by(Deal.id)
    )  # fmt: skip
    with world.uow() as uow:
        return [Claim(*row) for row in uow.session.execute(stmt).tuples()]


def partners_of(world: World) -> dict[str, int]:
    with world.uow() as uow:
        return dict(uow.session.execute(select(Contact.email, Contact.partner_id)).tuples().all())


def build_specs(
    count: int, round_: int, claims: Iterator[Claim], partner_of: dict[str, int]
) -> list[dict[str, Any]]:
    """One round's registrations (as `registration_email` keywords), in the order sent."""
    rng = random.Random(100 + round_)
    sent: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for index in range(1, count + 1):
        roll = rng.random()
        if sent and roll < RESENDS:
            out.append(dict(rng.choice(sent)))  # the partner sends the same one again
            continue
        if roll < RESENDS + RIVALS:
            spec = _rival(rng, next(claims), partner_of, lookalike=False)
        elif roll < RESENDS + RIVALS + LOOKALIKES:
            spec = _rival(rng, next(claims), partner_of, lookalike=True)
        else:
            spec = _new(rng, index, round_)
        sent.append(spec)
        out.append(spec)
    return out


def _new(rng: random.Random, index: int, round_: int) -> dict[str, Any]:
    """A prospect no database holds: stored domains end in digits, these in `r` and the round."""
    first, second = rng.choice(WORDS), rng.choice(WORDS)
    sender = rng.choice(SENDERS)
    return {
        "sender": sender,
        "domain": f"{first.lower()}{second.lower()}{index}r{round_}.com",
        "company_name": f"{first} {second} {rng.choice(KINDS)}",
        "product": rng.choice(PRODUCTS),
        "number_of_users": str(rng.randint(25, 20_000)),
        "kind": "new",
        **LOCAL[sender],
    }


def _rival(
    rng: random.Random, claim: Claim, partner_of: dict[str, int], *, lookalike: bool
) -> dict[str, Any]:
    """Another partner's registration of a stored prospect (or of a domain that looks like
    it) for the product the stored deal is on."""
    sender = rng.choice([s for s in SENDERS if partner_of[s] != claim.partner_id])
    domain = _lookalike(claim) if lookalike else claim.domain
    return {
        "sender": sender,
        "domain": domain or claim.domain,
        "company_name": claim.company_name,
        "product": claim.product,
        "number_of_users": str(rng.randint(25, 20_000)),
        "kind": "lookalike" if lookalike and domain else "rival",
        **LOCAL[sender],
    }


def _lookalike(claim: Claim) -> str | None:
    """The claim's domain with its first confusable letter in Cyrillic, if it has one."""
    for index, letter in enumerate(claim.domain):
        if letter in CONFUSABLE:
            typed = claim.domain[:index] + CONFUSABLE[letter] + claim.domain[index + 1 :]
            if skeleton(normalise_domain(typed)) == claim.skeleton:
                return typed
    return None


def render(specs: list[dict[str, Any]], round_: int) -> list[bytes]:
    """The round's emails as the receiving server hands them on."""
    out = []
    for index, spec in enumerate(specs, start=1):
        fields = {k: v for k, v in spec.items() if k != "kind"}
        message_id = f"<scale-{round_}-{index}@partner.example>"
        raw = registration_email(index, message_id=message_id, **fields)
        out.append(vouched(raw, spec["sender"]))
    return out


def intake_run(url: str, account: ImapAccount) -> dict[str, Any]:
    """One intake run over the account's INBOX, with the conflicts it registered."""
    before, started = _last_deal(url), datetime.now(UTC)
    found = pipeline_rate(url, account)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            stmt = select(func.count()).where(Deal.id > before, Deal.conflict_with_id.is_not(None))
            conflicts = conn.execute(stmt).scalar_one()
            # As if the next round came hours later: the loop guard counts the replies of
            # the last hour, and the next round must not find this one's.
            earlier = update(OutboxMessage).where(OutboxMessage.created_at >= started)
            conn.execute(earlier.values(created_at=started - timedelta(hours=2)))
    finally:
        engine.dispose()
    if found["failed"] or found["left_in_inbox"]:
        log(f"scale: {found['failed']} failed, {found['left_in_inbox']} left in the inbox")
    return {**found, "conflicts": conflicts}


def _last_deal(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.max(Deal.id))).scalar() or 0)
    finally:
        engine.dispose()


# -- one database engine ----------------------------------------------------------------------


def backend(servers: Servers, scale: Scale, name: str, tmp: Path) -> dict[str, Any]:
    """Fill one database, run the intake rounds on it and on empty ones, then search both."""
    full_url = _database(servers, name, tmp, "full")
    claims, partner_of, load_s = _fill(full_url, scale, tmp)
    runs: dict[str, list[dict[str, Any]]] = {"empty": [], "full": []}
    urls, made = {"full": full_url}, [full_url]
    for round_ in range(scale.rounds):
        specs = build_specs(scale.round_emails, round_, claims, partner_of)
        urls["empty"] = _database(servers, name, tmp, f"empty{round_}")
        made.append(urls["empty"])
        emails = render(specs, round_)
        for side, found in intake_round(servers, name, urls, emails, round_, tmp).items():
            runs[side].append(found)
    new = next(s for s in specs if s["kind"] == "new")
    rival = next(s for s in specs if s["kind"] == "rival")
    terms = {side: search_terms(url, new, rival) for side, url in urls.items()}
    search = measure_search(urls, terms, scale.commands)
    for url in made if name == "postgresql" else ():
        servers.postgres.drop_database(url)
    log(
        f"scale: {name} search p95 {search['empty']['p95_ms']} ms empty,"
        f" {search['full']['p95_ms']} ms with {scale.stored:,} deals"
    )
    return _figures(scale, runs, search, load_s)


def _fill(url: str, scale: Scale, tmp: Path) -> tuple[Iterator[Claim], dict[str, int], float]:
    """Store the deals; the claims the rounds' rival emails name, the contacts' partners,
    and the seconds the load took."""
    world = World(url, tmp)
    with stopwatch() as took:
        load = fill.load_postgres if world.engine.dialect.name == "postgresql" else fill.load_sqlite
        load(world, scale.stored, datetime.now(UTC))
    log(f"scale: {scale.stored:,} deals and their history loaded in {took['s']:.0f}s")
    needed = round(scale.round_emails * (RIVALS + LOOKALIKES) * 1.5) + 50
    claims = stored_claims(world, needed * scale.rounds, scale.stored)
    partner_of = partners_of(world)
    world.close()
    return iter(claims), partner_of, took["s"]


def intake_round(
    servers: Servers, name: str, urls: dict[str, str], emails: list[bytes], round_: int, tmp: Path
) -> dict[str, dict[str, Any]]:
    """The same emails through the intake on each database, the two taking turns first."""
    World(urls["empty"], tmp).close()  # migrated, with the catalogue
    boxes = {side: servers.dovecot.add_user() for side in urls}
    for box in boxes.values():
        seed(box, emails)
    out = {}
    for side in ("empty", "full") if round_ % 2 == 0 else ("full", "empty"):
        out[side] = found = intake_run(urls[side], boxes[side])
        log(
            f"scale: {name} {side} round {round_ + 1}: {found['rate_per_s']:,.0f} msg/s"
            f" {found['outcomes']}, {found['conflicts']} conflicts"
        )
    return out


def _figures(
    scale: Scale,
    runs: dict[str, list[dict[str, Any]]],
    search: dict[str, Any],
    load_s: float,
) -> dict[str, Any]:
    best = {side: max(r["rate_per_s"] for r in found) for side, found in runs.items()}
    cpu = {side: min(r["cpu_s"] / r["messages"] for r in found) for side, found in runs.items()}
    return {
        "deals": scale.stored,
        "intake_ratio": round(best["empty"] / best["full"], 3),
        "search_ratio": round(search["full"]["p95_ms"] / search["empty"]["p95_ms"], 3),
        "intake_empty_per_s": best["empty"],
        "intake_full_per_s": best["full"],
        "search_empty_p95_ms": search["empty"]["p95_ms"],
        "search_full_p95_ms": search["full"]["p95_ms"],
        # The middle of the same samples: steadier than their tail from one run to the next.
        "search_p50_ratio": round(search["full"]["p50_ms"] / search["empty"]["p50_ms"], 3),
        # The pipeline process's own CPU per message (SQLite's work is all in it).
        "intake_cpu_ratio": round(cpu["full"] / cpu["empty"], 3),
        "load_s": round(load_s, 1),
        "intake": runs,
        "search": search,
    }


def _database(servers: Servers, name: str, tmp: Path, label: str) -> str:
    if name == "postgresql":
        return servers.postgres.create_database()
    return f"sqlite:///{tmp}/scale-{label}.db"


def run(servers: Servers, scale: Scale) -> dict[str, Any]:
    """Both database engines, each with `scale.stored` deals against empty."""
    if scale.quick:
        log(
            f"scale: QUICK run: {scale.stored:,} deals stored (the full run: 1,000,000),"
            f" {scale.round_emails} emails a round, {scale.rounds} rounds"
        )
    out: dict[str, Any] = {"quick": scale.quick, "rounds": scale.rounds}
    out["emails_per_round"] = scale.round_emails
    for name in ("postgresql", "sqlite"):
        with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as tmp, stopwatch() as took:
            out[name] = backend(servers, scale, name, Path(tmp))
        out[name]["seconds"] = round(took["s"], 1)
        log(f"scale: {name} done in {took['s']:.0f}s")
    return {"scale": out}
