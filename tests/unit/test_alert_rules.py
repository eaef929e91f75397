"""The alerting rules (ops/prometheus): valid for Prometheus, each alert firing on the series of
its failure and quiet on healthy ones (promtool's own rule tests), and explained in the
operations guide. Without promtool (Debian's `prometheus` package) they are skipped, or fail
under REQUIRE_SERVICES=1."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "dealreg.rules.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "dealreg.rules.test.yml"
GUIDE = ROOT / "docs" / "operations.md"
PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool", "/usr/lib/prometheus/promtool"]


@pytest.fixture
def promtool() -> str:
    return require_binary(PROMTOOL, "promtool (Debian's prometheus package)")


def alerts() -> list[str]:
    return re.findall(r"^\s*- alert: (\w+)$", RULES.read_text(), flags=re.MULTILINE)


def test_the_rules_file_passes_promtools_check(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in done.stdout


def test_each_alert_fires_on_its_failure_and_not_before(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=RULE_TESTS.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == set(alerts())


def test_every_alert_is_explained_in_the_operations_guide() -> None:
    guide = GUIDE.read_text()
    missing = [name for name in alerts() if f"`{name}`" not in guide]
    assert not missing, f"not in docs/operations.md: {missing}"
