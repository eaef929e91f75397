"""Builders shared by the tests: a migrated database with the demo catalogue, valid forms."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, make_url, text

from core import catalog, schema
from core.config import Settings
from core.db import make_engine, make_session_factory
from core.models import Rule
from core.rules import RuleSpec, rules_version
from core.services.actors import Actor, identify
from core.services.register import Registered
from core.uow import UnitOfWork
from tests import services

ROOT = Path(__file__).resolve().parent.parent
DEMO_CATALOG = ROOT / "catalog" / "demo.toml"
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


class World:
    """A migrated database holding the demo catalogue, and ways to act on it.

    The first World of a test process on each database server migrates and loads its
    database, which is then kept as a template; each later World's (empty) database starts as
    a copy of it: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL. The
    rows are the same either way; `tests/integration/test_schema.py` migrates from empty.
    """

    def __init__(self, url: str, tmp: Path, **overrides: Any) -> None:
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            outbox_dir=tmp / "outbox",
            maildir=tmp / "maildir",
            **overrides,
        )
        copied = _copy_template(url)
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        if not copied:
            schema.upgrade(self.engine)
            with self.uow() as uow:
                catalog.load(uow.session, DEMO_CATALOG.read_text())
                # The demo's rules would route and approve the tests' deals: a test that
                # wants rules stores its own (`with_rules`).
                uow.session.execute(delete(Rule))
                uow.commit()
            if _server(url) not in _TEMPLATES:
                self.engine.dispose()
                _keep_template(url)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def actor(self, email: str, channel: str = "cli") -> Actor:
        with self.uow() as uow:
            return identify(uow.session, channel=channel, email=email)

    def close(self) -> None:
        self.engine.dispose()


# A migrated database with the demo catalogue, per server: an SQLite file, or the name of a
# PostgreSQL template database (keyed by host and port).
_TEMPLATES: dict[str, str] = {}


def _server(url: str) -> str:
    parsed = make_url(url)
    return "sqlite" if parsed.get_backend_name() == "sqlite" else f"{parsed.host}:{parsed.port}"


def _is_empty_postgres(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        return found == 0
    finally:
        engine.dispose()


def _admin(url: str, *statements: str) -> None:
    engine = make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _copy_template(url: str) -> bool:
    """Make the empty database at `url` a copy of its server's template; False when there is
    none yet, or the database is not empty."""
    template = _TEMPLATES.get(_server(url))
    if template is None:
        return False
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if path.exists() and path.stat().st_size > 0:
            return False
        shutil.copyfile(template, path)
        return True
    if not _is_empty_postgres(url):
        return False
    name = parsed.database
    _admin(
        url,
        f'DROP DATABASE "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
    )
    return True


def _keep_template(url: str) -> None:
    """Keep the freshly migrated and loaded database at `url` as its server's template."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="dealreg-template-"))
        shutil.copyfile(parsed.database or "", folder / "template.db")
        _TEMPLATES["sqlite"] = str(folder / "template.db")
        return
    name = f"template_{os.getpid()}"
    _admin(url, f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
    _TEMPLATES[_server(url)] = name


ANN = "ann@northwind.example"  # Northwind IT, gold, GB, GBP
RAJ = "raj@northwind.example"  # Northwind IT
BOB = "bob@contoso-partners.example"  # Contoso Partners, silver, US, USD
JANA = "jana@fabrikam.example"  # Fabrikam Systemhaus, registered, DE, EUR
REVIEWER = "deals@vendor.example"


def form(**changes: Any) -> dict[str, Any]:
    """A complete, valid registration as a partner would type it."""
    data: dict[str, Any] = {
        "company_name": "Example Holdings Ltd",
        "domain": "https://www.Example.co.uk/x",
        "contact_name": "Sam Carter",
        "contact_phone": "+44 20 7946 0958",
        "partner_sales_lead_name": "Ann Lee",
        "partner_sales_lead_email": "ann@northwind.example",
        "end_user_first_name": "Jo",
        "end_user_last_name": "Bloggs",
        "end_user_position": "Head of IT",
        "end_user_email": "jo.bloggs@example.co.uk",
        "end_user_phone": "020 7946 0123",
        "end_user_role": "Decision Maker",
        "address_line1": "1 High Street",
        "country": "GB",
        "state": "Kent",
        "postcode": "CT1 1AA",
        "product": "Email Security Cloud Gateway",
        "number_of_users": "250",
        "projected_value": "GBP 85,000.50",
        "close_date": "2027-03-31",
        "budget_approved": "Yes",
        "project_priority": "High",
        "problems_to_solve": "Too much spam; the current supplier is too expensive.",
        "migrating_to": "Office 365",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def registration_email(
    index: int,
    *,
    sender: str = ANN,
    domain: str | None = None,
    message_id: str | None = None,
    **changes: Any,
) -> bytes:
    """A plain-text registration email as a partner sends it to the intake mailbox."""
    from email.message import EmailMessage

    from core.fields import FIELDS, SECTIONS

    values = form(domain=domain or f"prospect{index}.com", **changes)
    values["company_name"] = changes.get("company_name", f"Prospect {index} Ltd")
    lines: list[str] = []
    for key, title in SECTIONS.items():
        lines.append(f"== {title} ==")
        lines += [
            f"{f.label}: {values[f.name]}" for f in FIELDS if f.section == key and f.name in values
        ]
        lines.append("")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "deals@dealreg.localhost"
    msg["Subject"] = f"Deal registration {index}"
    msg["Message-ID"] = message_id or f"<reg-{index}@partner.example>"
    msg["Date"] = "Wed, 25 Nov 2026 09:00:00 +0000"
    msg.set_content("\n".join(lines))
    return bytes(msg)


def register(
    uow: UnitOfWork,
    actor: Actor,
    raw: dict[str, Any],
    *,
    now: datetime,
    settings: Settings,
    thread_message_id: str | None = None,
    source_key: str | None = None,
) -> Registered:
    """Validate and make one registration as a partner's channel does (raises Invalid)."""
    values = services.validate(uow.session, actor, raw, now)
    request = services.Request(actor, values, thread_message_id, source_key)
    [done] = services.register(uow, [request], now=now, settings=settings)
    return done


def with_rules(world: World, *rules: dict[str, Any]) -> None:
    """Store `rules` (as the catalogue's `[[rules]]` entries) in place of any."""
    with world.uow() as uow:
        uow.session.execute(delete(Rule))
        specs = [RuleSpec(r["name"]) for r in rules]
        version = rules_version(specs)
        for position, r in enumerate(rules):
            uow.session.add(
                Rule(
                    position=position,
                    name=r["name"],
                    route=r.get("route"),
                    reviewers=r.get("reviewers"),
                    approve=r.get("approve", False),
                    shadow=r.get("shadow", False),
                    second_approval=r.get("second_approval", False),
                    conditions=r.get("when", {}),
                    version=version,
                )
            )
        uow.commit()
