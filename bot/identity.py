"""Slack user -> Actor: by Slack id, else by the email Slack knows if unbound; cached briefly."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.errors import NotFound
from core.services.actors import Actor, identify
from core.uow import UowFactory

log = logging.getLogger(__name__)

NOT_REGISTERED = (
    "Sorry, you are not registered for deal registration yet. Ask your partner manager to add "
    "you as a partner contact (or the deal desk to add you as a reviewer), then try again."
)


class NotRegistered(Exception):
    """The Slack user is neither a partner contact nor a reviewer."""


class Identities:
    """Resolve Slack users to actors, remembering answers for `ttl` seconds."""

    def __init__(
        self,
        uow_factory: UowFactory,
        client: WebClient,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow_factory
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Actor | None]] = {}
        self._lock = threading.Lock()

    def actor(self, slack_user_id: str) -> Actor:
        """Return the actor for a Slack user, or raise NotRegistered."""
        with self._lock:
            hit = self._cache.get(slack_user_id)
        if hit is not None and hit[0] > self._clock():
            found = hit[1]
        else:
            found = self._lookup(slack_user_id)
            # Unknown people are remembered for a shorter time: they may be added soon.
            ttl = self._ttl if found is not None else min(self._ttl, 10.0)
            with self._lock:
                self._cache[slack_user_id] = (self._clock() + ttl, found)
        if found is None:
            raise NotRegistered(slack_user_id)
        return found

    def _lookup(self, slack_user_id: str) -> Actor | None:
        with self._uow() as uow:
            try:
                return identify(uow.session, channel="slack", slack_user_id=slack_user_id)
            except NotFound:
                pass
        email = self._email(slack_user_id)
        if not email:
            return None
        # Passing the Slack id too limits the email to people bound to no Slack user.
        with self._uow() as uow:
            try:
                actor = identify(
                    uow.session, channel="slack", email=email, slack_user_id=slack_user_id
                )
            except NotFound:
                return None
        return replace(actor, slack_user_id=slack_user_id)

    def _email(self, slack_user_id: str) -> str | None:
        try:
            info = self._client.users_info(user=slack_user_id)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", slack_user_id, exc.response.get("error"))
            return None
        profile = (info.get("user") or {}).get("profile") or {}
        email = profile.get("email")
        return str(email) if email else None
