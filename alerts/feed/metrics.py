"""Prometheus metrics of one API instance, in its own registry (several apps can share a process).

Request counts and SSE clients are tracked as they happen; warnings by level/status and the
pipeline's lag and dead-letter rate are read from the store at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from riskwatch.alerts.feed.views import PipelineStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StoreCollector(Collector):
    """Gauges computed from the store on every scrape."""

    def __init__(
        self,
        warning_counts: Callable[[], dict[tuple[str, str], int]],
        pipeline: Callable[[], PipelineStatus],
    ) -> None:
        self._warning_counts = warning_counts
        self._pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        warnings = GaugeMetricFamily(
            "riskwatch_warnings", "Current warnings by level and status", labels=["level", "status"]
        )
        for (level, status), count in sorted(self._warning_counts().items()):
            warnings.add_metric([level, status], count)
        yield warnings
        status = self._pipeline()
        lag = GaugeMetricFamily("riskwatch_pipeline_lag", "Consumer lag per topic (messages)", labels=["topic"])
        for topic, value in sorted(status.lag.items()):
            lag.add_metric([topic], value)
        yield lag
        yield GaugeMetricFamily(
            "riskwatch_pipeline_dead_letters_per_minute", "Dead letters per minute", value=status.dead_letters_per_min
        )
        yield GaugeMetricFamily(
            "riskwatch_pipeline_warming_up", "Detectors still warming up", value=len(status.warming_up)
        )
        yield GaugeMetricFamily(
            "riskwatch_pipeline_stale", "1 if the pipeline's health snapshots are missing or old", value=int(status.stale)
        )


class ApiMetrics:
    """Every metric the API exposes on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "riskwatch_api_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.sse_clients = Gauge("riskwatch_api_sse_clients", "Connected SSE clients", registry=self.registry)
        self.feedback_published = Counter(
            "riskwatch_feedback_published", "Feedback messages sent to Kafka", registry=self.registry
        )
        self.feedback_failures = Counter(
            "riskwatch_feedback_publish_failures",
            "Feedback messages that could not be sent to Kafka (kept in the store)",
            registry=self.registry,
        )
        self.escalations = Counter(
            "riskwatch_escalations", "Escalations announced on the feed (the workers' deadline rounds record them)", registry=self.registry
        )
        self.feed_dropped = Counter(
            "riskwatch_api_sse_dropped_clients", "SSE clients dropped because they fell too far behind", registry=self.registry
        )

    def watch_store(
        self,
        warning_counts: Callable[[], dict[tuple[str, str], int]],
        pipeline: Callable[[], PipelineStatus],
    ) -> None:
        """Add the scrape-time gauges read through these callables."""
        self.registry.register(_StoreCollector(warning_counts, pipeline))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
