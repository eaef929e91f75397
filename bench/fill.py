"""Many deals stored at once, for the benchmarks that need a large database.

Prospects with their domains and confusable skeletons, deals spread over every partner
contact, product and stage. With `as_of`, the deals also carry what years of email
registrations leave behind by then: approved deals still protected, each deal's source
message and thread, its inbound message (handled and moved) and its confirmation email
(sent). Without it, the rows are the plain ones the search benchmark measures.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from core.domains import skeleton
from core.models import Contact, Product
from tests.factories import REVIEWER, World

COMMON = ["global", "tech", "north", "group", "data", "cloud", "blue", "green", "smart", "prime"]
SYLLABLES = ["zor", "vex", "qui", "llon", "tra", "mek", "ba", "rix", "nu", "dor", "pel", "kas"]
TLDS = ["com", "co.uk", "de", "io", "net", "com.au", "fr", "org"]
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BATCH = 50_000  # rows per INSERT statement when loading SQLite
# How long the stored approvals protect their deals: well past the runs that meet them.
PROTECTION = timedelta(days=180)


def vocabulary(size: int = 240) -> list[str]:
    """Real words first (drawn often), then made-up ones (drawn rarely)."""
    rng = random.Random(3)
    words = list(COMMON)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(3))
        if word not in words:
            words.append(word)
    return words


def prospect_rows(count: int, words: list[str]) -> Iterator[tuple[Any, ...]]:
    """(id, domain, company_name, created_at): a skewed vocabulary, some words very common."""
    rng = random.Random(5)
    for pid in range(1, count + 1):
        first = words[int(rng.random() ** 3 * len(words))]
        second = words[int(rng.random() ** 3 * len(words))]
        kind = rng.choice(("Ltd", "GmbH", "Inc", "Group", "Holdings", "Partners"))
        domain = f"{first}{second}{pid}.{rng.choice(TLDS)}"
        yield pid, domain, f"{first.title()} {second.title()} {kind}", NOW


PROSPECT_COLUMNS = ("id", "domain", "skeleton", "company_name", "created_at")

DEAL_COLUMNS = (
    "id", "number", "stage", "channel", "partner_id", "contact_id", "prospect_id", "product_id",
    "company_name", "contact_name", "contact_phone", "end_user_first_name",
    "end_user_last_name", "end_user_position", "end_user_email", "end_user_phone",
    "end_user_role", "address_line1", "country", "postcode", "number_of_users",
    "projected_value", "currency", "close_date", "budget_approved", "project_priority",
    "problems_to_solve", "migrating_to", "created_at", "updated_at", "extensions_granted",
    "approved_at", "protection_expires_at", "reviewed_by", "thread_message_id", "source_key",
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    """A partner contact as the stored rows name them."""

    partner_id: int
    contact_id: int
    email: str


def deal_rows(
    count: int,
    prospects: int,
    people: list[Person],
    products: list[int],
    as_of: datetime | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Deals spread over the prospects; one in ten of the first pass is still active (with
    `as_of`, a third of those approved and protected past it)."""
    at = NOW if as_of is None else as_of - timedelta(days=30)
    for did in range(1, count + 1):
        person = people[did % len(people)]
        stage = "expired"
        if did <= prospects and did % 10 == 0:
            approved = as_of is not None and (did // 10) % 3 == 0
            stage = "approved" if approved else "opportunity"
        history = _history(did, stage, at) if as_of is not None else (None,) * 5
        yield (
            did, f"DR-{did:06d}", stage, "email",
            person.partner_id, person.contact_id, (did - 1) % prospects + 1,
            products[did % len(products)],
            "Prospect", "Sam Carter", "+442079460958", "Jo", "Bloggs", "Head of IT",
            "jo@example.com", "+442079460123", "decision_maker", "1 High Street", "GB",
            "CT1 1AA", 250, "85000.5", "GBP", date(2027, 3, 31), True, "high",
            "Too much spam.", "microsoft_365", at, at, 0, *history,
        )  # fmt: skip


def _history(did: int, stage: str, at: datetime) -> tuple[Any, ...]:
    """approved_at, protection_expires_at, reviewed_by, thread_message_id, source_key."""
    approved = stage == "approved"
    return (
        at if approved else None,
        at + PROTECTION if approved else None,
        REVIEWER if approved else None,
        _message_id(did),
        _message_key(did),
    )


def _message_id(did: int) -> str:
    return f"<reg-{did}@partner.example>"


def _message_key(did: int) -> str:
    return "sha256:" + hashlib.sha256(_message_id(did).encode()).hexdigest()


INBOUND_COLUMNS = (
    "id", "message_key", "message_id", "mailbox", "uidvalidity", "uid", "sender", "subject",
    "size", "raw", "status", "deal_id", "attempts", "received_at", "handled_at", "moved_to",
    "proof",
)  # fmt: skip
# The stored message itself is never read by the intake's lookups: a stand-in keeps the
# table small enough to load quickly.
RAW = b"Subject: Deal registration\r\n\r\n(stored form)\r\n"


def inbound_rows(count: int, people: list[Person], as_of: datetime) -> Iterator[tuple[Any, ...]]:
    """Each deal's registration email, handled and moved to Processed."""
    at = as_of - timedelta(days=30)
    for did in range(1, count + 1):
        person = people[did % len(people)]
        yield (
            did, _message_key(did), _message_id(did), "imap", 1, did, person.email,
            f"Deal registration {did}", 3_000, RAW, "registered", did, 0, at, at,
            "Processed", "authserv",
        )  # fmt: skip


OUTBOX_COLUMNS = (
    "id", "kind", "priority", "template", "deal_id", "to_addr", "subject", "body_text",
    "headers", "message_id", "created_at", "next_attempt_at", "attempts", "sent_at",
)  # fmt: skip


def outbox_rows(count: int, people: list[Person], as_of: datetime) -> Iterator[tuple[Any, ...]]:
    """Each deal's confirmation email to its contact, sent."""
    at = as_of - timedelta(days=30)
    for did in range(1, count + 1):
        person = people[did % len(people)]
        yield (
            did, "email", 1, "registration_received", did, person.email,
            f"Registration received: DR-{did:06d}", "We received your registration.", "{}",
            f"<{did}.confirmation@dealreg.localhost>", at, at, 1, at,
        )  # fmt: skip


def _catalogue(world: World) -> tuple[list[Person], list[int]]:
    with world.uow() as uow:
        contacts = uow.session.scalars(select(Contact).order_by(Contact.id))
        people = [Person(c.partner_id, c.id, c.email) for c in contacts]
        products = list(uow.session.scalars(select(Product.id).order_by(Product.id)))
    return people, products


Table = tuple[str, tuple[str, ...], Iterator[tuple[Any, ...]]]


def tables(world: World, deals: int, as_of: datetime | None) -> list[Table]:
    """(table, columns, rows) of every table to fill, in the order they must be written."""
    prospects = max(1, deals // 2)
    people, products = _catalogue(world)
    out: list[Table] = [
        ("prospects", PROSPECT_COLUMNS, _with_skeletons(prospect_rows(prospects, vocabulary()))),
        ("deals", DEAL_COLUMNS, deal_rows(deals, prospects, people, products, as_of)),
    ]
    if as_of is not None:
        out.append(("inbound_emails", INBOUND_COLUMNS, inbound_rows(deals, people, as_of)))
        out.append(("outbox", OUTBOX_COLUMNS, outbox_rows(deals, people, as_of)))
    return out


def load_postgres(world: World, deals: int, as_of: datetime | None = None) -> None:
    """COPY the rows in, with the tables' plain indexes dropped meanwhile and rebuilt after."""
    filled = tables(world, deals, as_of)
    names = [name for name, _, _ in filled]
    raw = world.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "SELECT indexdef, indexname FROM pg_indexes WHERE tablename = ANY(%s)"
            " AND indexname NOT LIKE '%%pkey' AND indexdef NOT LIKE 'CREATE UNIQUE%%'",
            (names,),
        )
        indexes = cur.fetchall()
        for _def, name in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for name, columns, rows in filled:
            with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cur.execute("SET maintenance_work_mem = '256MB'")
        for definition, _name in indexes:
            cur.execute(definition)
        for name in names:
            cur.execute(f"SELECT setval('{name}_id_seq', (SELECT max(id) FROM {name}))")
            cur.execute(f"ANALYZE {name}")
        raw.commit()
    finally:
        raw.close()


def load_sqlite(world: World, deals: int, as_of: datetime | None = None) -> None:
    """Insert the rows in one transaction, `BATCH` rows a statement; the triggers fill the
    search index as they would for rows written one at a time."""
    filled = tables(world, deals, as_of)  # read the catalogue before taking the write lock
    with world.engine.begin() as conn:
        for name, columns, rows in filled:
            marks = ", ".join("?" for _ in columns)
            insert = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})"
            while batch := [_as_stored(row) for row in itertools.islice(rows, BATCH)]:
                conn.exec_driver_sql(insert, batch)
        conn.exec_driver_sql("ANALYZE")


def _as_stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row as the product's SQLite columns hold it: dates as ISO text, datetimes in UTC
    as SQLAlchemy's DateTime writes them."""
    return tuple(_stored(v) for v in row)


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _with_skeletons(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The prospect rows with the confusable skeleton of each domain, in PROSPECT_COLUMNS."""
    for pid, domain, name, created_at in rows:
        yield pid, domain, skeleton(domain), name, created_at
