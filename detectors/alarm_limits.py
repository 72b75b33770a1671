"""Hard rules: a sensor reading beyond its metric's alarm or critical limit."""

from __future__ import annotations

from riskwatch.config.models import SensorMetric, TaxonomyConfig
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import make_signal

ALARM_SCORE = 0.6
CRITICAL_SCORE = 0.9

#: How a reason names each limit: 临界值 (critical), 报警值 (alarm).
_LIMIT_ZH = {"critical_limit": "临界值", "alarm_limit": "报警值"}


class AlarmLimitDetector:
    """Raises a `threshold` signal carrying the hard rule `alarm_limit` or `critical_limit`."""

    name = "alarm_limits"

    def __init__(self, taxonomy: TaxonomyConfig) -> None:
        self._metrics = {m.metric: m for m in taxonomy.sensor_metrics}

    def warming_up(self) -> bool:
        """Never: limits apply from the first reading."""
        return False

    def accepts(self, event: Event) -> bool:
        return event.source is Source.sensor and event.metric in self._metrics and event.value is not None

    def observe(self, event: Event) -> list[Signal]:
        metric = self._metrics[event.metric]  # type: ignore[index]
        value = float(event.value)  # type: ignore[arg-type]
        breach = _breach(metric, value)
        if breach is None:
            return []
        rule, limit, direction = breach
        return [
            make_signal(
                self.name,
                SignalKind.threshold,
                event,
                (event.event_id,),
                score=CRITICAL_SCORE if rule == "critical_limit" else ALARM_SCORE,
                observed=value,
                expected=limit,
                reason=f"{event.device_id} {metric.name} {value:g} {metric.unit}，{direction}{_LIMIT_ZH[rule]} {limit:g} {metric.unit}",
                hard_rule=rule,
                evidence=(event.event_id,),
            )
        ]


def _breach(metric: SensorMetric, value: float) -> tuple[str, float, str] | None:
    """The most serious limit the value is beyond, as (rule, limit, '低于'|'高于')."""
    if metric.critical_low is not None and value <= metric.critical_low:
        return "critical_limit", metric.critical_low, "低于"
    if metric.critical_high is not None and value >= metric.critical_high:
        return "critical_limit", metric.critical_high, "高于"
    if metric.alarm_low is not None and value <= metric.alarm_low:
        return "alarm_limit", metric.alarm_low, "低于"
    if metric.alarm_high is not None and value >= metric.alarm_high:
        return "alarm_limit", metric.alarm_high, "高于"
    return None
