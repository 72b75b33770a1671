"""The report's figures, as base64 PNG: an incident's street with signals and warnings; a labelled series with alarms."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from riskwatch.alerts.reports.figures import png_base64, pyplot
from riskwatch.tools.backtest.runner import ScenarioRun
from riskwatch.tools.backtest.scoring import CsvResult, ScenarioReport, runs
from riskwatch.tools.backtest.truth import TruthIncident, street_of, warning_detections

__all__ = ["plot_csv", "plot_incident"]

#: Plots are drawn smaller than the reports' trend charts: a scenario report has one per incident.
DPI = 80


def _png(fig: Any) -> str:
    """The figure as base64 PNG; the figure is closed."""
    try:
        return png_base64(fig, dpi=DPI)
    finally:
        pyplot().close(fig)


def plot_csv(result: CsvResult) -> str:
    """Series with labelled windows and alarms above; scores and the threshold below."""
    plt = pyplot()
    ts, s = result.series.timestamps, result.series
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 4.8), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.plot(ts, s.values, lw=0.8, color="#333", label="value")
    for k, (lo, hi) in enumerate(runs(s.labels.astype(bool))):
        for ax in (top, bottom):
            label = "labelled anomaly" if k == 0 and ax is top else None
            ax.axvspan(ts[lo], ts[hi], color="#f4a261", alpha=0.3, lw=0, label=label)
    alarm_idx = np.flatnonzero(result.alarms)
    if alarm_idx.size:
        top.scatter([ts[i] for i in alarm_idx], s.values[alarm_idx], color="#d62828", s=14, zorder=3, label="alarm")
    top.set_title(f"{s.name}: {len(ts)} points, threshold {result.threshold:g}")
    top.legend(loc="upper left", fontsize=8)
    bottom.plot(ts, result.scores, lw=0.8, color="#1d3557", label="score")
    bottom.axhline(result.threshold, color="#d62828", ls="--", lw=1, label="threshold")
    bottom.set_ylim(-0.02, 1.02)
    bottom.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return _png(fig)


def plot_incident(run: ScenarioRun, report: ScenarioReport, inc: TruthIncident,
                  bucket: timedelta = timedelta(minutes=30)) -> str:
    """The street's report counts, the incident devices' readings, signals and warnings around an incident."""
    plt = pyplot()
    lo = max(run.start, inc.start - timedelta(hours=6))
    hi = min(run.end, inc.end + timedelta(hours=3))
    panels = 2 if inc.devices else 1
    fig, axes = plt.subplots(panels, 1, figsize=(12, 2.6 * panels + 0.6), sharex=True, squeeze=False)
    axes = [a[0] for a in axes]
    # --- counts
    ax = axes[0]
    n = max(1, math.ceil((hi - lo) / bucket))
    edges = [lo + bucket * k for k in range(n + 1)]
    group_of = report.group_of

    def counts(items: list[tuple[datetime, str]], mine: bool | None) -> list[int]:
        out = [0] * n
        for at, category in items:
            if lo <= at < hi and (mine is None or (group_of(category) in inc.groups) == mine):
                out[min(n - 1, int((at - lo) / bucket))] += 1
        return out

    hot = run.traces.hotline.get(inc.street, [])
    pol = run.traces.police.get(inc.street, [])
    width = bucket / timedelta(days=1) * 0.9
    mine, other = counts(hot, True), counts(hot, False)
    ax.bar(edges[:-1], other, width=width, align="edge", color="#bbb", label="12345, other categories")
    ax.bar(edges[:-1], mine, width=width, align="edge", bottom=other, color="#457b9d",
           label=f"12345, {'/'.join(inc.categories)}")
    ax.step(edges[:-1], counts(pol, None), where="post", color="#e76f51", lw=1.2, label="110, all")
    ax.set_ylabel(f"reports / {int(bucket.total_seconds() // 60)} min")
    ax.set_title(f"{inc.id} ({inc.kind}) in {inc.street}, expected level {inc.expected_level or 'none (health)'}")
    # --- sensors
    signals = [s for s in run.signals if lo <= s.at <= hi and street_of(report.regions, s.region_code) == inc.street]
    colours = plt.get_cmap("tab10")
    names = sorted({s.detector for s in signals})
    colour = {name: colours(i % 10) for i, name in enumerate(names)}
    if inc.devices:
        ax2 = axes[1]
        for dev in inc.devices:
            pts = [(t, v) for t, v in run.traces.sensor.get(dev, []) if lo <= t <= hi]
            if pts:
                ax2.plot([p[0] for p in pts], [p[1] for p in pts], lw=0.9, label=dev)
        readings = {dev: dict(run.traces.sensor.get(dev, [])) for dev in inc.devices}
        for sig in signals:
            for dev in inc.devices:
                value = readings[dev].get(sig.at)
                if value is not None and any(e.startswith(f"sensor:{dev}:") for e in sig.evidence):
                    ax2.scatter([sig.at], [value], s=24, marker="o", facecolors="none",
                                edgecolors=[colour[sig.detector]], zorder=3)
                    break
        ax2.set_ylabel("reading")
    # --- signal ticks and warnings on every panel
    for name in names:
        times = [s.at for s in signals if s.detector == name]
        axes[0].scatter(times, [0] * len(times), marker="|", s=120, color=colour[name], label=f"signal: {name}", zorder=4)
    warned = [d for d in warning_detections(run.warnings, group_of)
              if d.region in (inc.street, inc.district) and lo <= d.at <= hi]
    false_refs = {d.ref for d in report.pipeline.false}
    for det in warned:
        ok = det.ref not in false_refs
        for ax in axes:
            ax.axvline(det.at, color="#2a9d8f" if ok else "#9d0208", ls="--", lw=1.2,
                       label=(f"warning {det.level} ({det.group})" if ax is axes[0] else None))
    for ax in axes:
        ax.axvspan(inc.start, inc.end, color="#ffd166", alpha=0.3, lw=0, zorder=0)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))  # one entry per label
        ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.autofmt_xdate()
    return _png(fig)
