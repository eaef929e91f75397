"""`dealreg intake parse|list|retry` as an operator runs them."""

from __future__ import annotations

import json
import sysconfig
from email.message import EmailMessage
from pathlib import Path

import pytest

from dealreg.cli import main
from tests.factories import ROOT, World, registration_email
from tests.servers import unavailable

CORPUS = ROOT / "tests" / "fixtures" / "email"


def _cpython_corpus() -> list[Path]:
    for base in (Path(sysconfig.get_paths()["stdlib"]), Path("/usr/lib/python3.11")):
        found = sorted((base / "test" / "test_email" / "data").glob("msg_*.txt"))
        if found:
            return found
    return []


def test_parse_prints_spec_json_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    assert main(["intake", "parse", str(CORPUS / "21_bounce_multipart_report.eml")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ignored" and out["registration"] == {} and out["reason"]
    assert main(["intake", "parse", str(CORPUS / "01_thunderbird_plain_sections.eml")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"status", "registration", "errors", "reason", "command"}
    assert out["command"] is None
    assert out["registration"]["domain"] == "fabrikam-retail.com"
    assert list(tmp_path.iterdir()) == []  # no database file, nothing written


@pytest.mark.parametrize(
    ("text", "command"),
    [
        (
            "Hi,\nPlease process the order - PO is 4500012345\nThanks, Ann",
            {"verb": "submit_order", "deal": "DR-000007", "po_number": "4500012345"},
        ),
        ("quote 300 users DR-8", {"verb": "quote", "deal": "DR-000008", "users": 300}),
        ("Lost - no budget", {"verb": "withdraw", "deal": "DR-000007", "reason": "no_budget"}),
        ("Should we start the order?", None),
    ],
)
def test_parse_prints_the_command_a_message_holds(
    text: str,
    command: dict[str, object] | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    msg = EmailMessage()
    msg["From"], msg["To"] = "ann@northwind.example", "deals@dealreg.localhost"
    msg["Subject"] = "Re: Mimecast: deal DR-000007 approved"
    msg.set_content(f"{text}\n\nOn Mon, the deal desk wrote:\n> start order DR-000007\n")
    path = tmp_path / "reply.eml"
    path.write_bytes(bytes(msg))
    assert main(["intake", "parse", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    empty = {"verb": None, "deal": None, "po_number": None, "users": None, "reason": None}
    assert out["command"] == ({**empty, **command} if command else None)


def test_parse_validates_with_the_senders_partner_when_the_database_knows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    World(url, tmp_path).close()
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["intake", "parse", str(CORPUS / "01_thunderbird_plain_sections.eml")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok", out["errors"]
    assert out["registration"]["product"] == "email_security"
    assert isinstance(out["registration"]["number_of_users"], int)
    assert main(["intake", "parse", str(CORPUS / "17_malformed_values.eml")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "invalid"
    assert {e["field"] for e in out["errors"]} >= {"end_user_email", "number_of_users"}


def test_every_cpython_test_message_goes_through_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _cpython_corpus()
    if not files:
        unavailable("CPython's email test corpus is not installed (libpython3.11-testsuite)")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    assert len(files) > 40
    for path in files:
        assert main(["intake", "parse", str(path)]) == 0, path
        out = json.loads(capsys.readouterr().out)
        assert out["status"] in ("ok", "invalid", "ignored"), path


def test_list_and_retry_after_a_catalogue_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    world = World(url, tmp_path)
    maildir = tmp_path / "maildir"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MAILDIR", str(maildir))
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("IMAP_URL", raising=False)
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.eml").write_bytes(registration_email(3, product="Quantum Firewall"))
    assert main(["intake", "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["intake", "list", "--status", "invalid", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and "product" in rows[0]["reason"]
    catalog = tmp_path / "more.toml"
    catalog.write_text(
        '[[products]]\ncode = "quantum_firewall"\nname = "Quantum Firewall"\n'
        'unit_price = "4.00"\ncurrency = "USD"\n'
    )
    assert main(["catalog", "load", str(catalog)]) == 0
    assert main(["intake", "retry", str(rows[0]["id"])]) == 0
    assert "registered" in capsys.readouterr().out
    assert main(["deals", "list", "--json"]) == 0
    deals = json.loads(capsys.readouterr().out)
    assert [d["product"] for d in deals] == ["quantum_firewall"]
    world.close()
