"""Fuse stage: each signal joins the incident it belongs to (grouping), as evidence.

Routing a signal to an incident, in order:
0. with `absorb_coarser_signals`, a signal placed at a district (a coarser level than a street,
   e.g. the per-district count_trend) joins the strongest published incident of its group, or of
   a cause group, in one of that district's streets within the correlation window, as evidence
   (`Evidence.coarser`: a new source corroborates, its score and hard rules set no level);
   with none, it is graded as a district-level incident by the steps below;
1. an incident of the signal's own category group on its street, or on a neighbouring street
   (`neighbour_radius_km`), within the correlation window: the signal joins it, and the warning
   stays placed on the street the incident was first seen in. If that incident was inhibited
   by a higher warning that is still open, the signal corroborates the covering one instead;
2. an open incident of a cause group (`related_groups`: water → flooding) on the street or a
   neighbour, within the window: the signal corroborates it — evidence, and a new source
   counts as corroboration — instead of raising a warning of its own;
3. otherwise a new incident, whose id depends only on the street, the group and the
   correlation window it began in, so a replay of the same input yields the same ids.

Sensor-health signals (stuck, flat, silent sensors) are for maintenance and never join an
incident; a signal id seen before changes nothing. The signal is kept as evidence only: the
level stage counts its score, once the silences have had their say.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from riskwatch.alerts.grading.batch import Batch, Case
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.incidents import Evidence, Incident, Phase
from riskwatch.contracts import Signal, SignalKind, stable_id


class FuseStage:
    """Signals in, one case per signal out: the incident it joined and how it bears on it."""

    def process(self, batch: Batch, context: GradingContext) -> Batch:
        cases = list(batch.cases)
        for signal in batch.signals:
            if signal.kind is SignalKind.health or context.incidents.has_seen(signal.signal_id):
                continue
            incident, evidence, note = route(signal, context)
            incident.add_evidence(signal)
            context.incidents.claim(signal.signal_id, incident)
            if note:
                incident.note(note)
            cases.append(Case(incident, signal.at, signal, evidence))
        return replace(batch, signals=(), cases=tuple(cases))


def route(signal: Signal, context: GradingContext) -> tuple[Incident, Evidence, str | None]:
    """(incident, how the signal bears on it, an evidence note) for a signal."""
    window = context.grading.correlation_window
    street, group = context.street_of(signal.region_code), context.group_of(signal.category)
    if context.is_coarser(street):
        below = _street_incident_below(street, group, signal.at, context)
        if below is not None:
            return below, Evidence.coarser, None
    own = _find(street, group, signal.at, context)
    if own is not None:
        incident, km = own
        cover = context.incidents.get(incident.covered_by)
        if cover is not None and cover.phase is Phase.open and cover.fits(signal.at, window):
            if context.is_coarser(street) and context.is_street(cover.street):
                return cover, Evidence.coarser, None
            return cover, Evidence.related, _related_note(street, group, cover, context)
        return incident, Evidence.own, _neighbour_note(street, km, context) if km else None
    for cause in context.grading.causes_of(group):
        found = _find(street, cause, signal.at, context, live_only=True)
        if found is not None:
            return found[0], Evidence.related, _related_note(street, group, found[0], context)
    return _new_incident(street, group, signal.at, context), Evidence.own, None


def _street_incident_below(district: str, group: str, at: datetime, context: GradingContext) -> Incident | None:
    """The strongest published street incident of `group` or a cause group in `district` that `at` fits.

    Open incidents come first, then the higher published level, the higher published score,
    and the signal's own group; ties go to the earliest incident, so the choice is stable.
    A closed incident covered by a still-open one hands the signal on to its cover.
    """
    window = context.grading.correlation_window
    candidates = [
        incident
        for candidate_group in [group, *context.grading.causes_of(group)]
        for code in context.neighbourhood.streets_in(district)
        if (incident := context.incidents.current(code, candidate_group)) is not None
        and incident.published_level is not None
        and incident.fits(at, window)
    ]
    if not candidates:
        return None
    candidates.sort(key=lambda i: (i.first_seen, i.warning_id))
    best = max(
        candidates,
        key=lambda i: (
            i.phase is Phase.open,
            i.published_level.rank if i.published_level else 0,
            i.published_score or 0.0,
            i.group == group,
        ),
    )
    cover = context.incidents.get(best.covered_by)
    if best.phase is not Phase.open and cover is not None and cover.phase is Phase.open and cover.fits(at, window):
        return cover
    return best


def _find(street: str, group: str, at: datetime, context: GradingContext, *, live_only: bool = False) -> tuple[Incident, float] | None:
    """The incident of `group` on `street` or its nearest neighbour that `at` falls in, and the distance."""
    for code, km in context.neighbourhood.reach(street):
        incident = context.incidents.current(code, group)
        if incident is None or not incident.fits(at, context.grading.correlation_window):
            continue
        if live_only and incident.phase is not Phase.open:
            continue
        return incident, km
    return None


def _new_incident(street: str, group: str, at: datetime, context: GradingContext) -> Incident:
    """The incident of `group` on `street` for the correlation window `at` falls in."""
    window_s = int(context.grading.correlation_window.total_seconds())
    epoch = int(at.timestamp()) // window_s * window_s
    warning_id = stable_id("warning", street, group, epoch)
    existing = context.incidents.get(warning_id)
    if existing is not None:
        return existing  # a late signal of an earlier incident here, in its own window
    incident = Incident(warning_id=warning_id, street=street, group=group, first_seen=at, last_seen=at)
    context.incidents.add(incident)
    return incident


def _neighbour_note(street: str, km: float, context: GradingContext) -> str:
    return f"相邻街道 {context.name(street)}（{street}，相距 {km:.1f} km）的信号已并入本事件"


def _related_note(street: str, group: str, cause: Incident, context: GradingContext) -> str:
    where = "同一街道" if street == cause.street else f"相邻街道 {context.name(street)}（{street}）"
    effect_name, cause_name = context.writer.group_label(group), context.writer.group_label(cause.group)
    return (
        f"{where}的{effect_name}类信号印证本起{cause_name}事件，不单独预警"
        f"（related_groups: {cause.group} → {group}）"
    )
