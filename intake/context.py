"""What the intake is handed once, and where and when it acts on one message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.config import Settings
from core.services.actors import Actor
from core.uow import UnitOfWork
from core.validation import ProductRef, ValidationContext


@dataclass
class IntakeContext:
    """What the intake needs from the composition root, and what one run looked up."""

    uow: Callable[[], UnitOfWork]
    settings: Settings
    now: Callable[[], datetime]
    own_addresses: frozenset[str] = field(default_factory=frozenset)
    # Looked up once per run of the mailbox, not once per message.
    actors: dict[str, Actor | None] = field(default_factory=dict)
    # Each partner contact's validation context, for reading their forms ahead.
    contexts: dict[str, ValidationContext] = field(default_factory=dict)
    products: tuple[ProductRef, ...] | None = None

    def new_run(self) -> None:
        """Forget what was looked up: the catalogue or the contacts may have changed."""
        self.actors.clear()
        self.contexts.clear()
        self.products = None


@dataclass(frozen=True)
class Acting:
    """Where and when messages are acted on: the intake's context, the unit of work whose
    transaction holds what they do, and the time, read once."""

    ctx: IntakeContext
    uow: UnitOfWork
    now: datetime
