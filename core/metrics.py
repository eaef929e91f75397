"""The product's metrics in the Prometheus model: instruments kept in each process (Slack
requests, deliveries, the intake's outcomes), and a registry that adds the gauges read from
the database when scraped (`core.gauges`). Serving them over HTTP is the adapters' part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from core.gauges import DatabaseCollector
from core.uow import UowFactory

# Slack gives up on an answer after 3 s: a bucket there tells how many came too late.
SLACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
# A message leaves within a second of its commit; retries after an outage take minutes to
# hours (back-off up to 1 h), and a webhook is retried for a day.
DELIVERY_BUCKETS = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0
)  # fmt: skip

SLACK_REQUEST_SECONDS = Histogram(
    "dealreg_slack_request_seconds",
    "Time from a Slack request's arrival to its HTTP answer, by request kind.",
    ["kind"],
    buckets=SLACK_BUCKETS,
    registry=None,
)
SLACK_WORK_SECONDS = Histogram(
    "dealreg_slack_work_seconds",
    "Time the listener of a command or click answered at once took after the answer.",
    ["kind"],
    buckets=SLACK_BUCKETS,
    registry=None,
)
DELIVERY_SECONDS = Histogram(
    "dealreg_outbox_delivery_seconds",
    "Time from an outbox row's commit (its created_at) to its delivery, by kind.",
    ["kind"],
    buckets=DELIVERY_BUCKETS,
    registry=None,
)
DELIVERIES = Counter(
    "dealreg_outbox_deliveries",
    "Delivery attempts by kind and outcome: sent, retrying (failed, tried again later) or "
    "failed (for good).",
    ["kind", "outcome"],
    registry=None,
)
INTAKE_MESSAGES = Counter(
    "dealreg_intake_messages",
    "Inbound messages handled by the intake, by outcome (the row's status, or failed).",
    ["outcome"],
    registry=None,
)
IN_PROCESS: tuple[Collector, ...] = (
    SLACK_REQUEST_SECONDS,
    SLACK_WORK_SECONDS,
    DELIVERY_SECONDS,
    DELIVERIES,
    INTAKE_MESSAGES,
)
# Slack's request kinds worth a series of their own; any other is "other".
SLACK_KINDS = frozenset(
    {"command", "block_actions", "view_submission", "view_closed", "block_suggestion",
     "event_callback", "url_verification", "ssl_check", "shortcut", "message_action"}
)  # fmt: skip


def slack_kind(kind: str) -> str:
    """The label for a Slack request kind: one of Slack's, else "other"."""
    return kind if kind in SLACK_KINDS else "other"


def record_delivery(kind: str, outcome: str, since_commit: timedelta) -> None:
    """Count one delivery attempt's outcome; a message sent also times its commit-to-send."""
    DELIVERIES.labels(kind, outcome).inc()
    if outcome == "sent":
        DELIVERY_SECONDS.labels(kind).observe(max(since_commit.total_seconds(), 0.0))


def record_intake(handled: Mapping[str, int], failed: int) -> None:
    """Count an intake run's messages by outcome, and those that failed."""
    for outcome, count in handled.items():
        INTAKE_MESSAGES.labels(outcome).inc(count)
    if failed:
        INTAKE_MESSAGES.labels("failed").inc(failed)


def registry(read: UowFactory, now: Callable[[], datetime]) -> CollectorRegistry:
    """A registry of everything a process shows: its own instruments, the database's
    gauges, and the Python process's (CPU, memory, file descriptors, collections)."""
    found = CollectorRegistry()
    for collector in (*IN_PROCESS, DatabaseCollector(read, now)):
        found.register(collector)
    ProcessCollector(registry=found)
    PlatformCollector(registry=found)
    GCCollector(registry=found)
    return found
