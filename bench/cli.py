"""The `dealreg` command's start-up, as an operator runs it (the installed console script):
`dealreg --help` against `python -c "import argparse"`, and `dealreg deals list` on SQLite
against a bare script that imports SQLAlchemy, connects to the same file and runs one query.

Each figure is the median of several runs, each command's runs interleaved with its floor's
(in alternating order) so a busy neighbour slows both alike; the least and greatest of each,
and of the per-run ratios, show the noise.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, Scale, log
from bench.load import describe, watched
from tests.factories import form

PARTNER = "Northwind IT"
DEALS = 5  # registered before the list is timed
LIST_FLOOR = """
import sys
from sqlalchemy import create_engine, text

with create_engine(sys.argv[1]).connect() as conn:
    rows = conn.execute(text("SELECT number FROM deals LIMIT 50")).all()
print("\\n".join(number for (number,) in rows))
"""

# What any listing pays on this stack, before a line of dealreg's own: the typed settings
# (pydantic-settings), the ORM and the mapped models, and the same query through a Session.
LIST_STACK = """
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.models import Deal

with Session(create_engine(Settings().database_url)) as session:
    numbers = session.scalars(select(Deal.number).limit(50)).all()
print("\\n".join(numbers))
"""


def dealreg_script() -> Path:
    """The installed console script, beside this interpreter."""
    script = Path(sys.executable).with_name("dealreg")
    if not script.exists():
        raise RuntimeError(f"no {script}: install the project (pip install -e .) first")
    return script


class Shell:
    """Runs commands as an operator would, in `tmp` (so no .env is read) on its database."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.url = f"sqlite:///{tmp}/dealreg.db"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "OUTBOX_DIR": str(tmp / "outbox"),
            "MAILDIR": str(tmp / "maildir"),
        }
        self.env.pop("SMTP_URL", None)

    def run(self, *argv: str) -> str:
        """Run `argv`, fail on a non-zero exit; its output."""
        done = subprocess.run(
            argv, cwd=self.tmp, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    def timed(self, *argv: str) -> float:
        """Seconds from start to exit of `argv`."""
        started = time.perf_counter()
        self.run(*argv)
        return time.perf_counter() - started


def prepare(shell: Shell, dealreg: str) -> list[str]:
    """Create the database, load the demo catalogue, register `DEALS` deals; their numbers."""
    shell.run(dealreg, "init")
    shell.run(dealreg, "catalog", "load", str(ROOT / "catalog" / "demo.toml"))
    numbers = []
    for index in range(1, DEALS + 1):
        fields = form(
            company_name=f"Bench {index} Holdings Ltd",
            domain=f"bench{index}-holdings.co.uk",
            end_user_email=f"jo.bloggs@bench{index}-holdings.co.uk",
        )
        path = shell.tmp / f"deal-{index}.json"
        path.write_text(json.dumps(fields))
        argv = ["deals", "register", "--partner", PARTNER, "--file", str(path), "--json"]
        numbers.append(json.loads(shell.run(dealreg, *argv))["number"])
    return numbers


def interleaved(shell: Shell, command: list[str], floor: list[str], runs: int) -> dict[str, Any]:
    """Time `command` and `floor` `runs` times each, alternating which goes first."""
    shell.run(*command)  # warm the page cache for both, untimed
    shell.run(*floor)
    ours, bare = [], []
    for index in range(runs):
        pair = (command, floor) if index % 2 == 0 else (floor, command)
        first, second = shell.timed(*pair[0]), shell.timed(*pair[1])
        ours.append(first if pair[0] is command else second)
        bare.append(second if pair[0] is command else first)
    return {"ours": ours, "floor": bare}


def figures(name: str, found: dict[str, Any]) -> dict[str, Any]:
    """Medians, least and greatest, and the ratio of the medians with the per-run ratios' span."""
    ours, bare = found["ours"], found["floor"]
    pairs = [mine / floor for mine, floor in zip(ours, bare, strict=True)]
    return {
        f"{name}_s": round(statistics.median(ours), 4),
        f"{name}_floor_s": round(statistics.median(bare), 4),
        f"{name}_ratio": round(statistics.median(ours) / statistics.median(bare), 2),
        f"{name}_min_s": round(min(ours), 4),
        f"{name}_max_s": round(max(ours), 4),
        f"{name}_floor_min_s": round(min(bare), 4),
        f"{name}_floor_max_s": round(max(bare), 4),
        f"{name}_ratio_min": round(min(pairs), 2),
        f"{name}_ratio_max": round(max(pairs), 2),
    }


def run(scale: Scale) -> dict[str, Any]:
    """`dealreg --help` and `dealreg deals list` against their floors, on this machine."""
    dealreg, python = str(dealreg_script()), sys.executable
    runs = scale.cli_samples
    with tempfile.TemporaryDirectory(prefix="dealreg-bench-") as name:
        shell = Shell(Path(name))
        numbers = prepare(shell, dealreg)
        help_cmd, help_floor = [dealreg, "--help"], [python, "-c", "import argparse"]
        list_cmd, list_floor = [dealreg, "deals", "list"], [python, "-c", LIST_FLOOR, shell.url]
        listed, bare = shell.run(*list_cmd), shell.run(*list_floor)
        if not all(n in listed for n in numbers) or sorted(bare.split()) != numbers:
            raise RuntimeError(f"expected deals {numbers} in both lists; got\n{listed}\n{bare}")
        stack_cmd = [python, "-c", LIST_STACK]
        if sorted(shell.run(*stack_cmd).split()) != numbers:
            raise RuntimeError("the stack's own listing found other deals")
        log(f"cli: {len(numbers)} deals registered; {runs} runs of each command and floor")
        with watched() as load:
            helped = interleaved(shell, help_cmd, help_floor, runs)
            found = interleaved(shell, list_cmd, list_floor, runs)
            stacked = interleaved(shell, stack_cmd, list_floor, runs)
    out = {**figures("help", helped), **figures("list", found), "runs": runs, "deals": DEALS}
    # The stack alone against the same floor, and the command against the stack: how much
    # of the listing's time is dealreg's own.
    out["list_stack_s"] = round(statistics.median(stacked["ours"]), 4)
    out["list_stack_ratio"] = round(out["list_stack_s"] / statistics.median(stacked["floor"]), 2)
    out["list_over_stack"] = round(out["list_s"] / out["list_stack_s"], 2)
    out["load"] = load
    out["samples"] = {
        key: [round(v, 4) for v in values]
        for key, values in {
            "help_s": helped["ours"], "help_floor_s": helped["floor"],
            "list_s": found["ours"], "list_floor_s": found["floor"],
            "list_stack_s": stacked["ours"],
        }.items()
    }  # fmt: skip
    log(
        f"cli: --help {out['help_s']:.3f} s / {out['help_floor_s']:.3f} s = "
        f"{out['help_ratio']}x; deals list {out['list_s']:.3f} s / {out['list_floor_s']:.3f} s "
        f"= {out['list_ratio']}x (the stack alone {out['list_stack_ratio']}x); {describe(load)}"
    )
    return {"cli": out}
