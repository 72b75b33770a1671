"""Station anomalies: the channels of one site (`stations.yaml`) scored jointly by a station model.

Sensor readings of a station's channels are assembled into rows, one per sample period
(`station.rows.RowAssembler`: closed as soon as every channel has reported, or when a reading of
a later period arrives). Each row goes to the station's model (`station.registry`, by name), which
scores it against the rows before it and flags it with its own threshold. As in
`series_anomaly`, a signal is raised once per episode: when `persistence` rows in a row are
flagged; the station signals again only after `rearm` unflagged rows. While a station's model
warms up it raises nothing and `warming_up()` says so.

The signal is placed on the station's street with the station's category, so the grader fuses it
with whatever else is seen there (a surge of "水压低" calls, a pressure rule), and its reason names
the station and the channels that contributed most, with their values.
"""

from __future__ import annotations

import json
import math
from typing import Any

from riskwatch.config.detector_params import StationAnomalyParams
from riskwatch.config.models import TaxonomyConfig
from riskwatch.config.stations import Station, StationsConfig
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import make_signal
from riskwatch.detectors.station.base import StationDetector, StationScore
from riskwatch.detectors.station.registry import known_station_detectors, make_station_detector
from riskwatch.detectors.station.rows import Row, RowAssembler


class StationModelError(ValueError):
    """A station names a model that is not registered, or gives it parameters it rejects."""


def build_station_model(station: Station) -> StationDetector:
    """A fresh model for `station`; fails with the station, the model name and what is known."""
    try:
        return make_station_detector(station.model, station.channel_keys, **station.model_params)
    except KeyError:
        raise StationModelError(
            f"stations.yaml: station {station.id} ({station.name}) names station model {station.model!r}, "
            f"which is not registered; registered station models: {sorted(known_station_detectors()) or 'none'}"
        ) from None
    except (TypeError, ValueError) as exc:
        raise StationModelError(
            f"stations.yaml: station {station.id} ({station.name}): model {station.model!r} rejects "
            f"model_params {station.model_params}: {exc}"
        ) from exc


class StationAnomalyDetector:
    """One row assembler and one station model per configured station."""

    name = "station_anomaly"

    def __init__(self, params: StationAnomalyParams, taxonomy: TaxonomyConfig, stations: StationsConfig) -> None:
        self.params = params
        self.stations: dict[str, Station] = {s.id: s for s in stations.stations}
        # Every model is built now: an unknown model name or a bad parameter stops the worker at start.
        self._models: dict[str, StationDetector] = {s.id: build_station_model(s) for s in stations.stations}
        self._rows = {s.id: RowAssembler(s.channel_keys, s.sample_period) for s in stations.stations}
        self._channel_of: dict[tuple[str, str], tuple[str, str]] = {
            (c.device, c.metric): (s.id, c.key) for s in stations.stations for c in s.channels
        }
        self._labels: dict[str, tuple[str, str]] = {}  # channel key → (label, unit)
        for station in stations.stations:
            for channel in station.channels:
                metric = taxonomy.metric(channel.metric)
                label = channel.label or (metric.name if metric else channel.metric)
                self._labels[channel.key] = (label, metric.unit if metric else "")
        #: Per station: [flagged rows in a row, unflagged rows in a row, armed (1/0)].
        self._episode: dict[str, list[int]] = {}
        self._reported: set[str] = set()  # stations that have closed a row

    def warming_stations(self) -> list[str]:
        """Stations that have sent rows but whose model is not warmed up yet, sorted."""
        return sorted(sid for sid in self._reported if not self._models[sid].warmed_up)

    def warming_up(self) -> bool:
        """While a station that has sent rows is still warming up.

        A station that has sent nothing is silent, not warming: a city whose stations do not
        report (yet) must not show this detector as warming for ever.
        """
        return bool(self.warming_stations())

    def accepts(self, event: Event) -> bool:
        return (
            event.source is Source.sensor
            and event.value is not None
            and (event.device_id or "", event.metric or "") in self._channel_of
        )

    def observe(self, event: Event) -> list[Signal]:
        station_id, channel = self._channel_of[(event.device_id or "", event.metric or "")]
        rows = self._rows[station_id].add(event.occurred_at, channel, float(event.value), event.event_id)  # type: ignore[arg-type]
        signals: list[Signal] = []
        for row in rows:
            signal = self._score(station_id, row, event)
            if signal is not None:
                signals.append(signal)
        return signals

    def _score(self, station_id: str, row: Row, event: Event) -> Signal | None:
        self._reported.add(station_id)
        model = self._models[station_id]
        result = model.update(row.start, row.values)
        if not model.warmed_up:
            return None
        if not self._episode_starts(station_id, result.is_anomaly):
            return None
        station = self.stations[station_id]
        named = result.top_channels(self.params.top_channels, self.params.min_share) or result.top_channels(1, 0.0)
        values = dict(zip(station.channel_keys, row.values, strict=True))
        top_value = values[named[0]] if named else math.nan
        return make_signal(
            self.name,
            SignalKind.anomaly,
            event,
            (station_id, row.start.isoformat()),
            score=round(min(max(result.score, 0.0), 1.0), 4),
            observed=0.0 if math.isnan(top_value) else float(top_value),
            expected=None,
            reason=self._reason(station, result, named, values),
            evidence=row.evidence,
            region_code=station.street,
            district_code=station.district,
            category=station.category,
        )

    def _reason(self, station: Station, result: StationScore, named: list[str], values: dict[str, float]) -> str:
        labels = "、".join(self._labels[key][0] for key in named)
        details = "、".join(self._value_text(key, values[key], result.contributions.get(key, 0.0)) for key in named)
        minutes = station.sample_period.total_seconds() / 60
        rows = self.params.persistence
        return (
            f"{station.name}（{station.id}）：{labels} 联合异常（得分 {result.score:.2f}）；{details}；"
            f"站点模型 {station.model} 连续 {rows} 个周期（每 {minutes:g} 分钟一行）超过其阈值"
        )

    def _value_text(self, key: str, value: float, share: float) -> str:
        label, unit = self._labels[key]
        reading = "无读数" if math.isnan(value) else f"{value:.4g} {unit}".rstrip()
        return f"{label} {reading}（占 {share:.0%}）"

    def _episode_starts(self, station_id: str, flagged: bool) -> bool:
        """Count a row into its station's episode; True on the row that makes a signal."""
        run, calm, armed = self._episode.setdefault(station_id, [0, 0, 1])
        if flagged:
            run, calm = run + 1, 0
        else:
            run, calm = 0, calm + 1
            armed = 1 if calm >= self.params.rearm else armed
        fire = bool(armed) and run >= self.params.persistence
        self._episode[station_id] = [run, calm, 0 if fire else armed]
        return fire

    def get_state(self) -> dict[str, Any]:
        return {
            "stations": {sid: _fingerprint(station) for sid, station in self.stations.items()},
            "models": {sid: model.get_state() for sid, model in self._models.items()},
            "rows": {sid: rows.get_state() for sid, rows in self._rows.items()},
            "episode": {sid: list(values) for sid, values in self._episode.items()},
            "reported": sorted(self._reported),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume every station saved with the same config; one added or changed in stations.yaml since starts fresh."""
        same = {
            sid
            for sid, digest in state["stations"].items()
            if sid in self.stations and digest == _fingerprint(self.stations[sid])
        }
        for sid in same:
            self._models[sid].set_state(state["models"][sid])
            self._rows[sid].set_state(state["rows"][sid])
        self._episode = {sid: [int(v) for v in values] for sid, values in state["episode"].items() if sid in same}
        self._reported = {sid for sid in state["reported"] if sid in same}


def _fingerprint(station: Station) -> str:
    """Everything configured for a station, as text: saved state fits only the same config."""
    return json.dumps(station.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
