"""A job run by two `dealreg` processes at the same moment, as two workers would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.test_cli import Cli

SCRIPT = """
import sys
from dealreg.cli import main
for at in sys.argv[2:]:
    assert main(['jobs', 'run', sys.argv[1], '--at', at]) == 0
"""


def run_twice_at_once(cli: Cli, cwd: Path, job: str, *moments: str) -> None:
    """Run `dealreg jobs run JOB --at MOMENT` for each moment in two processes at once."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, job, *moments],
            env={**cli.env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
