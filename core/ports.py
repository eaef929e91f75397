"""What an adapter is handed by the composition root: settings, units of work, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.config import Settings
from core.uow import UowFactory


@dataclass(frozen=True)
class Runtime:
    """The product as an adapter sees it; `dealreg.wiring.App` builds the one in use."""

    settings: Settings
    uow: UowFactory
    now: Callable[[], datetime]
    read: UowFactory  # for work that only reads: a search, a page, a suggestion
