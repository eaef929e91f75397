"""Real mail from public mail projects, read the way the intake reads it.

Every bounce, report, auto-reply and bulk message is ignored; no message from a person,
malformed MIME or spam is taken for a registration or answered with fields it never
filled; nothing raises, and each message is read within 2 s.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest

from intake import readahead
from intake.decide import Facts, decide
from tests.factories import ROOT
from tests.servers import unavailable

REALMAIL = (ROOT / ".." / "shared" / "realmail").resolve()
OWN = frozenset({"deals@dealreg.localhost"})
MAX_SECONDS = 2.0


def _manifest() -> dict[str, dict[str, Any]]:
    path = REALMAIL / "manifest.json"
    if not path.is_file():
        return {}
    entries: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


MANIFEST = _manifest()
MISSING = "(realmail corpus missing)"


@pytest.mark.parametrize("name", sorted(MANIFEST) or [MISSING])
def test_real_message_is_ignored_or_never_misread(name: str) -> None:
    if name == MISSING:
        unavailable(f"the realmail corpus is not at {REALMAIL} (shared/realmail)")
    entry = MANIFEST[name]
    raw = (REALMAIL / name).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"], "the corpus file changed"
    started = time.perf_counter()
    read = readahead.read(raw, headers_only=False, own_addresses=OWN)
    elapsed = time.perf_counter() - started
    parsed = read.parsed
    assert parsed is not None
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f} s"
    assert read.command is None, read.command  # no real mail is taken for a command
    if entry["must_ignore"]:
        assert parsed.status == "ignored", (entry["note"], parsed.classification)
        assert read.automatic
        return
    assert not readahead.is_registration(parsed), parsed.fields
    assert parsed.status != "ok", (parsed.fields, parsed.classification)
    if parsed.status == "invalid":
        # No form: the blank form goes back, never a list of fields it did not fill.
        assert parsed.classification.kind == "form_request", parsed.classification
    # Even from a partner contact, proven: never registered, never a list of errors.
    decision = decide(read, Facts(partner_contact=True, proven=True))
    assert decision.action != "register" and decision.template != "intake_errors", decision


def test_every_category_of_the_corpus_is_covered() -> None:
    if not MANIFEST:
        unavailable(f"the realmail corpus is not at {REALMAIL} (shared/realmail)")
    categories = {e["category"] for e in MANIFEST.values()}
    assert categories >= {"bounce", "report", "auto_reply", "bulk", "human", "odd_mime", "spam"}
    assert all((REALMAIL / name).is_file() for name in MANIFEST)
