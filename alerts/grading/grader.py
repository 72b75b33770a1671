"""Fuse signals into graded warnings and publish their Alerts, Updates and Cancels.

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

Publishing: an Alert when an incident first reaches a level; an Update when its level rises
(by a hard rule or its fused score entering a higher band) or a new source corroborates it; a
Cancel when feedback marks it a false alarm or cancelled, a silence for planned work covers
it, a related higher warning covers it (inhibition), or — `absorb_coarser_signals` — a street
warning of its group (or of a cause group) is published in its district within the window,
which then covers it. Feedback `resolved`/`closed` stops
Updates without a Cancel. A repeated signal id changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from riskwatch.alerts.grading.fusion import Grade, grade_incident
from riskwatch.alerts.grading.incidents import Evidence, GraderState, Incident, Phase
from riskwatch.alerts.grading.messages import WarningWriter
from riskwatch.alerts.grading.muting import SilenceLike, SilenceProvider, matching_silence, no_silences
from riskwatch.alerts.grading.neighbours import Neighbourhood
from riskwatch.alerts.grading.wording import STATUS_ZH, level_zh, sources_zh
from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.detectors.registry import rule_levels
from riskwatch.contracts import MsgType, Signal, SignalKind, Warning, WarningStatus, stable_id

__all__ = ["Grader"]

log = logging.getLogger(__name__)

_CANCELLING = frozenset({WarningStatus.false_alarm, WarningStatus.cancelled})
_SETTLING = frozenset({WarningStatus.resolved, WarningStatus.closed})


class Grader:
    """Keeps incidents and turns each signal into the warning messages it causes.

    `silences` is called on every signal for the silences in force (planned work); it must be
    cheap (e.g. a cached list refreshed by the caller).
    """

    def __init__(self, config: CityConfig, regions: RegionIndex | None = None, *, silences: SilenceProvider | None = None) -> None:
        self.grading = config.grading
        self.regions = regions or RegionIndex(config.regions)
        self._group_of = {c: g for g, cats in self.grading.category_groups.items() for c in cats}
        # Hard rules of grading.yaml plus the least levels analysts gave their own rules.
        self.hard_rules = [*self.grading.hard_rules, *rule_levels(config.detectors, config.taxonomy)]
        self.neighbourhood = Neighbourhood(self.regions, self.grading.neighbour_radius_km)
        self.writer = WarningWriter(config, self.regions, self.hard_rules)
        self._silences = silences or no_silences
        self._by_id: dict[str, Incident] = {}
        self._current: dict[tuple[str, str], str] = {}  # (street, group) → latest incident there
        self._owner: dict[str, str] = {}  # signal id → warning id, to drop repeats

    def group_of(self, category: str) -> str:
        return self._group_of.get(category, category)

    # ------------------------------------------------------------------ public API

    def process(self, signal: Signal) -> list[Warning]:
        """Add a signal to its incident; return every message to publish, in order.

        Sensor-health signals (stuck, flat, silent sensors) are for maintenance: they stay on the
        signals topic and never become a command-center warning.
        """
        if signal.kind is SignalKind.health or signal.signal_id in self._owner:
            return []
        street = self._street_of(signal.region_code)
        incident, evidence, note = self._route(signal, street, self.group_of(signal.category))
        silence = None
        if incident.phase is Phase.open:
            targets = [(signal.region_code, signal.category), (incident.street, self.writer.category_of(incident))]
            silence = matching_silence(self._silences(), targets, signal.at)
        incident.absorb(signal, evidence=evidence, scored=silence is None)
        self._owner[signal.signal_id] = incident.warning_id
        if note:
            incident.note(note)
        if incident.phase is not Phase.open:
            return []  # resolved or closed: absorbed silently
        if silence is not None:
            return self._silence(incident, silence, signal.at)
        if not incident.best_by_source:
            return []  # every own-group signal so far was silenced
        grade = self._grade(incident)
        if grade.level is None:
            return []
        return self._publish(incident, grade, signal.at)

    def grade(self, signal: Signal) -> Warning | None:
        """The first message `process` gives (the signal's own incident), for single-message callers.

        Prefer `process`: it also returns Cancels of warnings the signal's incident inhibits.
        """
        messages = self.process(signal)
        return messages[0] if messages else None

    def apply_feedback(self, warning_id: str, to_status: WarningStatus, *, at: datetime | None = None, reason: str = "") -> list[Warning]:
        """Follow a command-center transition of a warning.

        false_alarm / cancelled close the incident and publish a Cancel (unless one was already
        published); resolved / closed stop further Updates without a Cancel; in_progress after
        resolved re-opens Updates. Later signals within the window are absorbed silently.
        Unknown (e.g. long expired) warnings are ignored.
        """
        incident = self._by_id.get(warning_id)
        if incident is None:
            log.debug("feedback for %s ignored: no such incident in memory", warning_id)
            return []
        at = at or incident.last_seen
        why = f"指挥中心标记为{STATUS_ZH[to_status]}（{to_status.value}）" + (f"，说明：{reason}" if reason else "")
        if to_status in _CANCELLING:
            message = self._cancel(incident, why, at)
            return [message] if message else []
        if to_status in _SETTLING and incident.phase is Phase.open:
            incident.phase, incident.closed_reason = Phase.resolved, why
        elif to_status is WarningStatus.in_progress and incident.phase is Phase.resolved:
            incident.phase, incident.closed_reason = Phase.open, None
        return []

    def expire(self, now: datetime) -> list[str]:
        """Forget incidents whose last signal is older than `incident_idle_close` before `now`.

        No Cancel is published: this only bounds memory. Returns the forgotten warning ids.
        """
        if now.tzinfo is None:
            raise ValueError(f"expire needs a timezone-aware time, got the naive {now.isoformat()}")
        cutoff = now - self.grading.incident_idle_close
        gone = sorted(wid for wid, incident in self._by_id.items() if incident.last_seen < cutoff)
        for wid in gone:
            incident = self._by_id.pop(wid)
            if self._current.get((incident.street, incident.group)) == wid:
                del self._current[(incident.street, incident.group)]
            for signal_id in incident.signal_ids:
                if self._owner.get(signal_id) == wid:
                    del self._owner[signal_id]
        return gone

    def incident(self, warning_id: str) -> Incident | None:
        """A copy of what the grader knows about one warning's incident."""
        incident = self._by_id.get(warning_id)
        return incident.model_copy(deep=True) if incident else None

    def get_state(self) -> dict[str, Any]:
        """A JSON-safe snapshot of every remembered incident, for `set_state` after a restart."""
        incidents = sorted(self._by_id.values(), key=lambda i: (i.first_seen, i.warning_id))
        return GraderState(incidents=incidents).model_dump(mode="json")

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace what the grader remembers with a `get_state` snapshot (validated)."""
        snapshot = GraderState.model_validate(state)
        self._by_id = {i.warning_id: i for i in snapshot.incidents}
        self._current = {}
        self._owner = {}
        for incident in sorted(snapshot.incidents, key=lambda i: (i.first_seen, i.warning_id)):
            self._current[(incident.street, incident.group)] = incident.warning_id
            self._owner.update(dict.fromkeys(incident.signal_ids, incident.warning_id))

    # ------------------------------------------------------------------ routing

    def _street_of(self, region_code: str) -> str:
        return self.regions.at_level(region_code, "street") if region_code in self.regions else region_code

    def _route(self, signal: Signal, street: str, group: str) -> tuple[Incident, Evidence, str | None]:
        """(incident, how the signal bears on it, an evidence note) for a signal."""
        window = self.grading.correlation_window
        if self._is_coarser(street):
            below = self._street_incident_below(street, group, signal.at)
            if below is not None:
                return below, Evidence.coarser, None
        own = self._find(street, group, signal.at)
        if own is not None:
            incident, km = own
            cover = self._by_id.get(incident.covered_by) if incident.covered_by else None
            if cover is not None and cover.phase is Phase.open and cover.fits(signal.at, window):
                if self._is_coarser(street) and self._is_street(cover.street):
                    return cover, Evidence.coarser, None
                return cover, Evidence.related, self._related_note(street, group, cover)
            return incident, Evidence.own, self._neighbour_note(street, km) if km else None
        for cause in self.grading.causes_of(group):
            found = self._find(street, cause, signal.at, live_only=True)
            if found is not None:
                return found[0], Evidence.related, self._related_note(street, group, found[0])
        return self._new_incident(street, group, signal.at), Evidence.own, None

    def _is_coarser(self, code: str) -> bool:
        """Whether hierarchical fusion applies to a signal placed at `code`: a known district."""
        region = self.regions.get(code)
        return self.grading.absorb_coarser_signals and region is not None and region.level == "district"

    def _is_street(self, code: str) -> bool:
        region = self.regions.get(code)
        return region is not None and region.level == "street"

    def _street_incident_below(self, district: str, group: str, at: datetime) -> Incident | None:
        """The strongest published street incident of `group` or a cause group in `district` that `at` fits.

        Open incidents come first, then the higher published level, the higher published score,
        and the signal's own group; ties go to the earliest incident, so the choice is stable.
        A closed incident covered by a still-open one hands the signal on to its cover.
        """
        window = self.grading.correlation_window
        candidates = [
            incident
            for candidate_group in [group, *self.grading.causes_of(group)]
            for code in self.neighbourhood.streets_in(district)
            if (incident := self._current_incident(code, candidate_group)) is not None
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
        cover = self._by_id.get(best.covered_by) if best.covered_by else None
        if best.phase is not Phase.open and cover is not None and cover.phase is Phase.open and cover.fits(at, window):
            return cover
        return best

    def _find(self, street: str, group: str, at: datetime, *, live_only: bool = False) -> tuple[Incident, float] | None:
        """The incident of `group` on `street` or its nearest neighbour that `at` falls in."""
        for code, km in self.neighbourhood.reach(street):
            wid = self._current.get((code, group))
            incident = self._by_id.get(wid) if wid else None
            if incident is None or not incident.fits(at, self.grading.correlation_window):
                continue
            if live_only and incident.phase is not Phase.open:
                continue
            return incident, km
        return None

    def _new_incident(self, street: str, group: str, at: datetime) -> Incident:
        window_s = int(self.grading.correlation_window.total_seconds())
        epoch = int(at.timestamp()) // window_s * window_s
        warning_id = stable_id("warning", street, group, epoch)
        existing = self._by_id.get(warning_id)
        if existing is not None:
            return existing  # a late signal of an earlier incident here, in its own window
        incident = Incident(warning_id=warning_id, street=street, group=group, first_seen=at, last_seen=at)
        self._by_id[warning_id] = incident
        self._current[(street, group)] = warning_id
        return incident

    def _neighbour_note(self, street: str, km: float) -> str:
        return f"相邻街道 {self._name(street)}（{street}，相距 {km:.1f} km）的信号已并入本事件"

    def _related_note(self, street: str, group: str, cause: Incident) -> str:
        where = "同一街道" if street == cause.street else f"相邻街道 {self._name(street)}（{street}）"
        effect_name, cause_name = self.writer.group_label(group), self.writer.group_label(cause.group)
        return (
            f"{where}的{effect_name}类信号印证本起{cause_name}事件，不单独预警"
            f"（related_groups: {cause.group} → {group}）"
        )

    def _name(self, code: str) -> str:
        return self.regions.full_name(code) if code in self.regions else code

    # ------------------------------------------------------------------ publishing

    def _grade(self, incident: Incident) -> Grade:
        region = self.regions.get(incident.street)
        return grade_incident(incident, self.grading, self.hard_rules, region.population if region else 0)

    def _publish(self, incident: Incident, grade: Grade, at: datetime) -> list[Warning]:
        assert grade.level is not None
        cover = self._covering(incident, grade)
        if cover is not None:
            message = self._inhibit(incident, cover, at)
            return [message] if message else []
        previous = incident.published_level
        level = grade.level if previous is None or grade.level.rank > previous.rank else previous
        new_sources = incident.sources - incident.published_sources
        # A hard rule firing is evidence the command center must see even at the same level
        # (e.g. the street's own pressure alarm arriving after hotline calls already raised it).
        new_rules = set(incident.hard_rules) - incident.published_rules
        if previous is not None and level is previous and not new_sources and not new_rules:
            return []
        lead: list[str] = []
        if previous is not None and level is not previous:
            lead.append(f"等级由{level_zh(previous)}升至{level_zh(level)}")
        if previous is not None and new_sources:
            lead.append(f"新增来源印证：{sources_zh(new_sources)}")
        if previous is not None and new_rules:
            lead.append(f"新增硬性规则触发：{'、'.join(sorted(new_rules))}")
        incident.version += 1
        msg_type = MsgType.alert if previous is None else MsgType.update
        incident.published_level, incident.published_sources, incident.published_score = level, incident.sources, grade.score
        incident.published_rules = set(incident.hard_rules)
        coarser_cancels = self._cover_coarser(incident, at)  # first, so this message notes them
        messages = [self.writer.write(incident, grade, level, msg_type, at, lead)]
        messages += self._inhibit_covered(incident, at)
        return [*messages, *coarser_cancels]

    def _covering(self, incident: Incident, grade: Grade) -> Incident | None:
        """An open, published cause incident nearby whose level is above this incident's."""
        assert grade.level is not None
        level_rank = max(grade.level.rank, incident.published_level.rank if incident.published_level else 0)
        for cause in self.grading.causes_of(incident.group):
            for code, _km in self.neighbourhood.reach(incident.street):
                other = self._current_incident(code, cause)
                if (
                    other is not None
                    and other.phase is Phase.open
                    and other.published_level is not None
                    and other.published_level.rank > level_rank
                    and other.overlaps(incident, self.grading.correlation_window)
                ):
                    return other
        return None

    def _inhibit_covered(self, cause: Incident, at: datetime) -> list[Warning]:
        """Cancel lower effect-group warnings nearby that this (just published) one now covers."""
        assert cause.published_level is not None
        messages: list[Warning] = []
        for effect_group in self.grading.related_groups.get(cause.group, []):
            for code, _km in self.neighbourhood.reach(cause.street):
                effect = self._current_incident(code, effect_group)
                if (
                    effect is not None
                    and effect.phase is Phase.open
                    and effect.overlaps(cause, self.grading.correlation_window)
                    and (effect.published_level is None or effect.published_level.rank < cause.published_level.rank)
                ):
                    message = self._inhibit(effect, cause, at)
                    if message is not None:
                        messages.append(message)
        return messages

    def _cover_coarser(self, street_incident: Incident, at: datetime) -> list[Warning]:
        """Cancel open district-level warnings this (just published) street warning now covers.

        Those of its own group and of the groups it causes (related_groups), in its district,
        whose spans come within the correlation window of it and whose level it has reached;
        their later signals join it. The
        street incident keeps an evidence line naming each warning it cancelled.
        """
        if not self.grading.absorb_coarser_signals or not self._is_street(street_incident.street):
            return []
        region = self.regions.get(street_incident.street)
        assert region is not None and street_incident.published_level is not None
        title = self.writer.title(street_incident, street_incident.published_level)
        messages: list[Warning] = []
        for group in [street_incident.group, *self.grading.related_groups.get(street_incident.group, [])]:
            coarse = self._current_incident(region.district_code, group)
            if (
                coarse is None
                or coarse.phase is not Phase.open
                or not coarse.overlaps(street_incident, self.grading.correlation_window)
            ):
                continue
            if coarse.published_level is not None and coarse.published_level.rank > street_incident.published_level.rank:
                # Never show less than was shown: the district warning stays until the street
                # warning reaches its level (this runs again on each of the street's Updates).
                continue
            reason = (
                f"区级预警已由街道预警 {street_incident.warning_id}（{title}）覆盖："
                f"事件已定位到{self._name(street_incident.street)}，后续区级信号并入该预警"
            )
            if coarse.published_level is not None:
                coarse_title = self.writer.title(coarse, coarse.published_level)
                street_incident.note(
                    f"撤销区级预警 {coarse.warning_id}（{coarse_title}）：同一事件已定位到本街道，其后续信号并入本预警"
                )
            message = self._inhibit(coarse, street_incident, at, reason, listed=False)
            if message is not None:
                messages.append(message)
        return messages

    def _inhibit(
        self, lower: Incident, cover: Incident, at: datetime, reason: str | None = None, *, listed: bool = True
    ) -> Warning | None:
        """Mark `lower` covered by `cover`; a Cancel if `lower` was published.

        `reason` defaults to the related-group wording (a higher warning covers a lower one);
        `listed` adds `lower` to `cover.covers`, which the cover's explanation calls inhibited.
        """
        assert cover.published_level is not None
        lower.covered_by = cover.warning_id
        if listed and lower.published and lower.warning_id not in cover.covers:
            cover.covers.append(lower.warning_id)
        if reason is None:
            title = self.writer.title(cover, cover.published_level)
            reason = f"被更高等级预警 {cover.warning_id}（{title}，{level_zh(cover.published_level)}）覆盖，予以抑制"
        return self._cancel(lower, reason, at)

    def _silence(self, incident: Incident, silence: SilenceLike, at: datetime) -> list[Warning]:
        incident.note(f"静默规则 {silence.silence_id} 生效期间的信号已吸收，未发预警：{silence.reason}")
        if not incident.published:
            return []
        message = self._cancel(incident, f"处于计划作业静默期（静默规则 {silence.silence_id}：{silence.reason}）", at)
        return [message] if message else []

    def _cancel(self, incident: Incident, reason: str, at: datetime) -> Warning | None:
        """Close the incident; a Cancel message if it was published and not cancelled yet."""
        if incident.phase is not Phase.closed:
            incident.close(reason)
        if incident.published_level is None or incident.cancel_published:
            return None
        incident.version += 1
        incident.cancel_published = True
        return self.writer.write(incident, self._grade(incident), incident.published_level, MsgType.cancel, at, [f"预警解除：{reason}"])

    def _current_incident(self, street: str, group: str) -> Incident | None:
        wid = self._current.get((street, group))
        return self._by_id.get(wid) if wid else None
