"""`dealreg` imports only what the subcommand asked for needs, so it starts at once.

Each command runs in a fresh interpreter (what `sys.modules` holds at its end is what it
imported); the goals in time are the `cli` benchmark's, not a test's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from dealreg.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(tmp_path: Path, *args: str) -> set[str]:
    """The top-level packages `dealreg ARGS` has imported by the time it returns."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0, done.stderr
    return {m for m in result["modules"]}


def test_help_imports_neither_sqlalchemy_nor_alembic_nor_the_product(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--help")
    assert "argparse" in modules  # the probe saw the command run
    heavy = {"sqlalchemy", "alembic", "pydantic", "pydantic_settings", "jinja2", "slack_bolt"}
    assert not {m.split(".")[0] for m in modules} & (heavy | {"core", "bot", "intake"})


def test_a_listing_imports_no_migrations_intake_slack_scheduler_templates_or_pdf(
    tmp_path: Path,
) -> None:
    assert "alembic" in {m.split(".")[0] for m in loaded(tmp_path, "init")}
    tops = {m.split(".")[0] for m in loaded(tmp_path, "deals", "list")}
    assert "sqlalchemy" in tops  # it did read the database
    assert not tops & {"alembic", "intake", "bot", "slack_bolt", "slack_sdk", "imapclient"}
    assert not tops & {"reportlab", "apscheduler", "jinja2"}


def test_only_init_loads_the_migrations(tmp_path: Path) -> None:
    assert "alembic" in {m.split(".")[0] for m in loaded(tmp_path, "init")}
    for args in (("status",), ("catalog", "load", str(ROOT / "catalog" / "demo.toml"))):
        tops = {m.split(".")[0] for m in loaded(tmp_path, *args)}
        assert "sqlalchemy" in tops and "alembic" not in tops, args
