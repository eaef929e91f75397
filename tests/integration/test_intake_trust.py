"""Only mail our own receiving server vouches for is trusted, when that is configured."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.models import Deal, InboundEmail
from core.services import inbound
from dealreg.intake_command import intake_context
from dealreg.wiring import App
from intake import messages
from intake.handler import handle
from tests.factories import World, registration_email


def _handle(world: World, raw: bytes) -> str:
    app = App(world.settings.model_copy(update={"intake_trusted_authserv_id": "mx.vendor.example"}))
    app.__dict__["engine"] = world.engine
    msg = messages.load(raw)
    with world.uow() as uow:
        stored = inbound.store(
            uow, key=messages.message_key(msg, raw), raw=raw, message_id=None,
            sender=messages.sender_address(msg), subject="", mailbox=None, uidvalidity=None,
            uid=None, size=len(raw), now=app.now(),
        )  # fmt: skip
    return handle(intake_context(app), stored.id)


def _with_results(raw: bytes, header: str) -> bytes:
    return f"Authentication-Results: {header}\r\n".encode() + raw


def test_mail_without_our_servers_pass_is_refused(world: World, tmp_path: Path) -> None:
    forged = _with_results(
        registration_email(1, message_id="<f@x>"), "evil.example; dmarc=pass header.from=x"
    )
    assert _handle(world, forged) == "refused"
    assert _handle(world, registration_email(2, message_id="<n@x>")) == "refused"
    with world.uow() as uow:
        assert uow.session.scalars(select(Deal)).all() == []
        reasons = {r.reason for r in uow.session.scalars(select(InboundEmail))}
    assert reasons == {"not authenticated by the receiving server"}


def test_mail_our_server_vouches_for_is_registered(world: World) -> None:
    good = _with_results(
        registration_email(3, message_id="<g@x>"),
        "mx.vendor.example; dkim=pass header.d=northwind.example; dmarc=pass "
        "header.from=northwind.example",
    )
    assert _handle(world, good) == "registered"
