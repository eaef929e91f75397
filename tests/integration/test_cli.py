"""The `dealreg` command as an operator runs it: its arguments, output and exit status, on a
real database. Commands run in this process (`dealreg.cli.main`, with the command's own
environment, directory and standard streams); `Cli.process` runs one as its own process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dealreg.cli import main
from tests.factories import ANN, BOB, DEMO_CATALOG, JANA, REVIEWER, World, form


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Run with exactly `env` as the process's environment, then put the old one back."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Cli:
    def __init__(self, url: str, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "OUTBOX_DIR": str(tmp / "outbox"),
            "MAILDIR": str(tmp / "maildir"),
        }
        self.env.pop("SMTP_URL", None)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        with (
            environment(self.env),
            contextlib.chdir(self.tmp),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
        return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

    def process(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `python -m dealreg ARGS` as its own process."""
        return subprocess.run(
            [sys.executable, "-m", "dealreg", *args],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def write(self, name: str, data: dict[str, Any]) -> str:
        path = self.tmp / name
        path.write_text(json.dumps(data))
        return str(path)


def prepared(db_url: str, tmp_path: Path, catalogue: Path = DEMO_CATALOG) -> Cli:
    """A CLI on a database as `init` and `catalog load` leave it: copied from the test
    process's migrated template (a migration per test would cost seconds), then the
    catalogue loaded (with its rules, which the template leaves out)."""
    World(db_url, tmp_path).close()
    c = Cli(db_url, tmp_path)
    c.ok("catalog", "load", str(catalogue))
    return c


def test_register_dedupe_conflict_and_refused_rival_approval(cli: Cli) -> None:
    reg = cli.write("reg.json", form())
    first = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)
    assert first["prospect"]["domain"] == "example.co.uk"
    assert first["domain"] == "example.co.uk"
    again = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)
    assert (again["number"], again["created"]) == (first["number"], False)

    bob = cli.write("bob.json", form(contact_phone="+1 415 555 0100"))
    second = cli.json(
        "deals", "register", "--partner", "Contoso Partners", "--by", BOB, "--file", bob
    )
    assert second["number"] != first["number"]
    assert "conflict_with" not in second  # registered as Bob: conflicts are for reviewers
    assert first["number"] not in json.dumps(second)
    assert cli.json("deals", "show", second["number"])["conflict_with"] == first["number"]

    approved = cli.json("deals", "approve", first["number"], "--reviewer", REVIEWER)
    assert approved["stage"] == "approved"
    assert approved["protection_expires_at"]
    assert approved["quotes"][0]["total"] == "6300.00"
    refused = cli("deals", "approve", second["number"], "--reviewer", REVIEWER)
    assert refused.returncode == 1
    assert first["number"] in refused.stderr
    assert "Traceback" not in refused.stderr
    shown = cli.json("deals", "show", second["number"])
    assert shown["stage"] == "opportunity"


def test_show_json_has_the_spec_keys(cli: Cli) -> None:
    reg = cli.write("reg.json", form())
    number = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)["number"]
    cli.ok("deals", "approve", number, "--reviewer", REVIEWER)
    view = cli.json("deals", "show", number)
    for key in ("number", "stage", "partner", "prospect", "protection_expires_at", "quotes"):
        assert key in view
    assert set(view["prospect"]) >= {"company_name", "domain"}
    assert set(view["quotes"][0]) >= {"number", "currency", "lines", "reward_margin_pct", "total"}
    # The demo catalogue has rules: what they said of the registration is on its record too.
    assert [h["action"] for h in view["history"]] == ["register", "rules", "approve"]
    assert view["close_date"] == "2027-03-31"
    assert view["number_of_users"] == 250
    assert view["budget_approved"] is True
    assert (view["projected_value"], view["currency"]) == ("85000.50", "GBP")
    assert view["migrating_to"] == "microsoft_365"


def test_illegal_moves_print_one_line_and_exit_nonzero(cli: Cli) -> None:
    reg = cli.write("reg.json", form())
    number = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)["number"]
    early = cli("deals", "advance", number, "--by", ANN)
    assert early.returncode == 1
    assert "stage Opportunity" in early.stderr
    assert early.stderr.count("\n") == 1
    nonreviewer = cli("deals", "approve", number, "--reviewer", ANN)
    assert nonreviewer.returncode == 1 and "only reviewers" in nonreviewer.stderr
    other = cli("deals", "advance", number, "--by", BOB)
    assert other.returncode == 1 and f"no deal {number}" in other.stderr
    stranger = cli("deals", "approve", number, "--reviewer", "mallory@evil.example")
    assert stranger.returncode == 1 and "not a registered" in stranger.stderr


def test_bad_registration_file_lists_every_field(cli: Cli) -> None:
    reg = cli.write("bad.json", form(end_user_email="nope", number_of_users="lots"))
    result = cli("deals", "register", "--partner", "Northwind IT", "--file", reg)
    assert result.returncode == 1
    assert "end_user_email:" in result.stderr and "number_of_users:" in result.stderr
    assert "Traceback" not in result.stderr
    (cli.tmp / "broken.json").write_text("{not json")
    broken = cli("deals", "register", "--partner", "Northwind IT", "--file", "broken.json")
    assert broken.returncode == 1 and "not valid JSON" in broken.stderr
    missing = cli("deals", "register", "--partner", "Nobody Ltd", "--file", reg)
    assert missing.returncode == 1 and "no partner named" in missing.stderr


def test_full_order_flow_and_search(cli: Cli) -> None:
    reg = cli.write("reg.json", form())
    number = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)["number"]
    cli.ok("deals", "approve", number, "--reviewer", REVIEWER)
    assert cli.json("deals", "advance", number, "--by", ANN)["stage"] == "order_started"
    no_po = cli("deals", "advance", number, "--by", ANN)
    assert no_po.returncode == 1 and "po_number" in no_po.stderr
    done = cli.json("deals", "advance", number, "--by", ANN, "--po", "PO-1")
    assert done["stage"] == "order_submitted"
    rows = cli.json("deals", "list", "--search", "holdings")
    assert [r["number"] for r in rows] == [number]
    assert cli.json("deals", "list", "--search", "holdings", "--as", BOB) == []
    assert cli.json("deals", "list", "--stage", "approved") == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_catalogue_load_is_idempotent_and_reports_changes(cli: Cli) -> None:
    again = cli.json("catalog", "load", str(DEMO_CATALOG))
    assert again["added"] == [] and again["changed"] == []
    changed = DEMO_CATALOG.read_text().replace('discount_pct = "15"', 'discount_pct = "17.5"')
    path = cli.tmp / "changed.toml"
    path.write_text(changed)
    report = cli.json("catalog", "load", str(path))
    assert report["changed"] == ["tier gold: discount_pct 15.0000 -> 17.5"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bad_catalogue_is_refused_whole_with_line_and_field(cli: Cli) -> None:
    text = DEMO_CATALOG.read_text()
    text = text.replace('code = "archive"', 'code = "archive2"')
    text = text.replace('unit_price = "1.10"', 'unit_price = "cheap"')
    text = text.replace('country = "US"', 'country = "XX"')
    path = cli.tmp / "bad.toml"
    path.write_text(text)
    result = cli("catalog", "load", str(path))
    assert result.returncode == 1
    lines = text.splitlines()
    price_line = next(i for i, s in enumerate(lines, 1) if "cheap" in s)
    country_line = next(i for i, s in enumerate(lines, 1) if '"XX"' in s)
    assert f"line {price_line}: products[3].unit_price" in result.stderr
    assert f"line {country_line}: partners[2].country" in result.stderr
    assert "archive2" not in cli.ok("deals", "list")
    codes = [r for r in cli.json("catalog", "load", str(DEMO_CATALOG))["added"]]
    assert codes == []  # nothing from the bad file was stored


def test_catalogue_syntax_error_names_the_line(cli: Cli) -> None:
    path = cli.tmp / "syntax.toml"
    path.write_text('[[products]]\ncode = "x"\nname = \n')
    result = cli("catalog", "load", str(path))
    assert result.returncode == 1 and "line 3" in result.stderr


@pytest.mark.parametrize("run", ["in_process", "process"])
def test_uninitialised_database_says_to_run_init(tmp_path: Path, run: str) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    result = (cli.process if run == "process" else cli)("deals", "list")
    assert result.returncode == 1
    assert "run `dealreg init` first" in result.stderr and "Traceback" not in result.stderr


def test_a_partner_view_shows_no_rival_name_number_or_conflict(cli: Cli) -> None:
    domain, secret = "nightingale-secret.com", "Project Nightingale Holdings"
    ann = cli.write("ann.json", form(domain=domain, company_name=secret))
    first = cli.json("deals", "register", "--partner", "Northwind IT", "--file", ann)["number"]
    cli.ok("deals", "approve", first, "--reviewer", REVIEWER)
    bob_form = form(
        domain=domain, company_name="NS Corp", contact_phone="+1 415 555 0100",
        partner_sales_lead_name="Bob Smith", partner_sales_lead_email=BOB,
    )  # fmt: skip
    bob = cli.write("bob.json", bob_form)
    second = cli.json(
        "deals", "register", "--partner", "Contoso Partners", "--by", BOB, "--file", bob
    )["number"]

    view = cli.json("deals", "show", second, "--as", BOB)
    assert "conflict_with" not in view
    assert view["prospect"] == {"company_name": "NS Corp", "domain": domain}
    check = cli.ok("deals", "check", domain, "--by", JANA)
    assert check.startswith(f"{domain}: protected by another partner until ")
    prospect = cli.ok("deals", "prospect", domain, "--by", BOB)
    assert prospect.startswith(f"NS Corp ({domain})") and "already yours" in prospect
    shown = [
        json.dumps(view),
        cli.ok("deals", "show", second, "--as", BOB),
        check,
        json.dumps(cli.json("deals", "check", domain, "--by", JANA)),
        prospect,
    ]
    for text in shown:
        assert first not in text and "Nightingale Holdings" not in text
        assert "Northwind" not in text and "ann@" not in text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the service: both, elsewhere
def test_quote_pdf_is_written_for_its_partner_and_matches_the_emailed_one(cli: Cli) -> None:
    from email import message_from_bytes, policy
    from io import BytesIO

    from pypdf import PdfReader

    reg = cli.write("reg.json", form())
    number = cli.json("deals", "register", "--partner", "Northwind IT", "--file", reg)["number"]
    cli.ok("deals", "approve", number, "--reviewer", REVIEWER)
    [quote] = cli.json("deals", "show", number)["quotes"]
    q = quote["number"]

    written = cli.json("deals", "quote-pdf", q, "--by", ANN)
    pdf = (cli.tmp / f"{q}.pdf").read_bytes()
    assert written == {"quote": q, "file": f"{q}.pdf", "bytes": len(pdf)}
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    assert q in text and number in text and "Example Holdings" in text
    cli.ok("deals", "quote-pdf", q, "-o", str(cli.tmp / "copy.pdf"))  # the operator
    assert (cli.tmp / "copy.pdf").read_bytes() == pdf

    rival = cli("deals", "quote-pdf", q, "--by", BOB)  # another partner's contact
    assert rival.returncode == 1 and f"no quote {q}" in rival.stderr
    assert not (cli.tmp / "rival.pdf").exists()

    # `make run` writes mail to files: the approval's .eml carries the same PDF.
    cli.ok("jobs", "run", "outbox")
    attached = []
    for path in (cli.tmp / "outbox").glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        attached += [p.get_content() for p in message.iter_attachments()]
    assert attached == [pdf]
