"""What the grader knows about each incident, as pydantic models so it survives a restart.

An incident is one real-world event (a burst main, a gas leak) seen through any number of
signals. It lives on the street where it was first seen, in one category group, and moves
through phases: `open` (publishes Alerts and Updates), `resolved` (feedback says it is being
or has been dealt with: no more Updates), `closed` (false alarm, cancelled, silenced or
inhibited: nothing more is ever published). Signals that reach a resolved or closed incident
within its window are absorbed silently, so they neither raise a duplicate warning nor a
fresh one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer

from riskwatch.contracts import Level, Signal, Source

MAX_RECENT_SIGNALS = 12
MAX_NOTES = 12


class Phase(str, Enum):
    """Whether an incident may still publish messages."""

    open = "open"
    resolved = "resolved"
    closed = "closed"


class Evidence(str, Enum):
    """How a signal bears on the incident it is routed to.

    `own`: a signal of the incident's group on its street (or a neighbour) — it sets the score,
    fires hard rules and counts as a source. `related`: a signal of an effect group
    (related_groups). `coarser`: a signal placed at a coarser level than a street (a district
    trend) that joined a street incident. Related and coarser signals only add their source
    as corroboration: they neither set the top score nor fire hard rules.
    """

    own = "own"
    related = "related"
    coarser = "coarser"


class Incident(BaseModel):
    """One incident: its evidence, what was last published for it, and its phase."""

    model_config = ConfigDict(extra="forbid")

    warning_id: str
    street: str = Field(description="Where the warning is placed: the street it was first seen in")
    group: str = Field(description="Category group (grading.yaml category_groups)")
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    best_by_source: dict[Source, Signal] = Field(
        default_factory=dict, description="Strongest signal of the incident's own group per source"
    )
    related_by_source: dict[Source, Signal] = Field(
        default_factory=dict, description="Strongest signal of a related (effect) group per source"
    )
    coarser_by_source: dict[Source, Signal] = Field(
        default_factory=dict, description="Strongest coarser-level (district) signal that joined this street incident, per source"
    )
    trusted_by_source: dict[Source, Signal] = Field(
        default_factory=dict,
        description="Strongest own-group signal per source that is not marked warming (what a lone source is graded on)",
    )
    best_by_detector: dict[str, Signal] = Field(
        default_factory=dict,
        description=(
            "Strongest own-group signal per detector, for the evidence list: every detector that counted towards "
            "the score is named in each message, whichever source's strongest it was and however long ago"
        ),
    )
    hard_rules: dict[str, Signal] = Field(default_factory=dict, description="Hard rule → strongest signal that fired it")
    recent: list[Signal] = Field(default_factory=list, description="Latest signals of any kind, for the evidence list")
    signal_ids: set[str] = Field(default_factory=set, description="Every signal absorbed, to drop repeats")
    notes: list[str] = Field(default_factory=list, description="Neighbour, related and silence evidence lines")
    phase: Phase = Phase.open
    closed_reason: str | None = None
    covered_by: str | None = Field(default=None, description="Warning id of the higher warning that inhibits this one")
    covers: list[str] = Field(default_factory=list, description="Warning ids this one inhibits")
    published_level: Level | None = None
    published_sources: set[Source] = Field(default_factory=set)
    published_score: float | None = None
    published_rules: set[str] = Field(default_factory=set, description="Hard rules the last message already showed")
    version: int = 0
    cancel_published: bool = False

    @field_serializer("signal_ids", "published_sources", "published_rules")
    def _sorted(self, values: set[str] | set[Source]) -> list[str]:
        """Sets are written sorted, so equal states give identical snapshots."""
        return sorted(v.value if isinstance(v, Source) else v for v in values)

    @property
    def published(self) -> bool:
        return self.published_level is not None

    @property
    def sources(self) -> set[Source]:
        """Independent sources behind the incident: its own, related and coarser signals'."""
        return set(self.best_by_source) | set(self.related_by_source) | set(self.coarser_by_source)

    def fits(self, at: datetime, window: timedelta) -> bool:
        """Whether a signal at `at` is within the correlation window of this incident."""
        return self.first_seen - window <= at <= self.last_seen + window

    def overlaps(self, other: Incident, window: timedelta) -> bool:
        """Whether the two incidents' spans come within `window` of each other."""
        return self.first_seen - window <= other.last_seen and other.first_seen - window <= self.last_seen

    def note(self, line: str) -> None:
        """Keep an evidence line once, dropping the oldest beyond MAX_NOTES."""
        if line not in self.notes:
            self.notes = [*self.notes, line][-MAX_NOTES:]

    def add_evidence(self, signal: Signal) -> None:
        """Keep a signal as evidence: its id, its time in the incident's span, the recent list.

        The fuse stage does this for every signal an incident receives; only `take_score` lets a
        signal raise the score, so a muted signal stays evidence and no more.
        """
        self.signal_ids.add(signal.signal_id)
        self.last_seen = max(self.last_seen, signal.at)
        self.first_seen = min(self.first_seen, signal.at)
        self.recent = [*self.recent, signal][-MAX_RECENT_SIGNALS:]

    def take_score(self, signal: Signal, evidence: Evidence) -> None:
        """Count a signal towards the score: the strongest per source, and any hard rule it fires.

        Related and coarser signals only count as a source: their hard rules fire nothing.
        """
        by_source = {
            Evidence.own: self.best_by_source,
            Evidence.related: self.related_by_source,
            Evidence.coarser: self.coarser_by_source,
        }[evidence]
        best = by_source.get(signal.source)
        if best is None or signal.score > best.score:
            by_source[signal.source] = signal
        if evidence is Evidence.own and not signal.warming:
            trusted = self.trusted_by_source.get(signal.source)
            if trusted is None or signal.score > trusted.score:
                self.trusted_by_source[signal.source] = signal
        if evidence is Evidence.own:
            strongest = self.best_by_detector.get(signal.detector)
            if strongest is None or signal.score > strongest.score:
                self.best_by_detector[signal.detector] = signal
        if signal.hard_rule and evidence is Evidence.own:
            held = self.hard_rules.get(signal.hard_rule)
            if held is None or signal.score > held.score:
                self.hard_rules[signal.hard_rule] = signal

    def close(self, reason: str) -> None:
        self.phase = Phase.closed
        self.closed_reason = reason


class GraderState(BaseModel):
    """Everything a restarted grader needs to resume: the incidents it still remembers."""

    model_config = ConfigDict(extra="forbid")

    format: int = Field(default=2, description="Bumped when the snapshot's shape changes (2: coarser_by_source)")
    incidents: list[Incident] = Field(default_factory=list)


class IncidentBook:
    """Every incident the grader remembers, with the two lookups the stages need.

    `current` finds the latest incident of a group on a street (or district), which is where
    routing, inhibition and hierarchical covering look; `owner` maps each absorbed signal id to
    its warning, so a repeated signal changes nothing. Both are rebuilt from the incidents on
    `restore`, so a snapshot holds the incidents alone.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, Incident] = {}
        self._current: dict[tuple[str, str], str] = {}  # (street, group) → latest incident there
        self._owner: dict[str, str] = {}  # signal id → warning id

    def get(self, warning_id: str | None) -> Incident | None:
        """The incident of a warning id; None for None or an unknown (e.g. expired) id."""
        return self._by_id.get(warning_id) if warning_id else None

    def current(self, street: str, group: str) -> Incident | None:
        """The latest incident of `group` placed on `street` (a street or district code)."""
        return self.get(self._current.get((street, group)))

    def add(self, incident: Incident) -> None:
        """Remember a new incident; it becomes the current one of its street and group."""
        self._by_id[incident.warning_id] = incident
        self._current[(incident.street, incident.group)] = incident.warning_id

    def has_seen(self, signal_id: str) -> bool:
        return signal_id in self._owner

    def claim(self, signal_id: str, incident: Incident) -> None:
        """Record that `incident` absorbed the signal, so a repeat of it is dropped."""
        self._owner[signal_id] = incident.warning_id

    def forget_idle(self, cutoff: datetime) -> list[str]:
        """Forget incidents whose last signal is before `cutoff`; their warning ids, sorted."""
        gone = sorted(wid for wid, incident in self._by_id.items() if incident.last_seen < cutoff)
        for wid in gone:
            incident = self._by_id.pop(wid)
            if self._current.get((incident.street, incident.group)) == wid:
                del self._current[(incident.street, incident.group)]
            for signal_id in incident.signal_ids:
                if self._owner.get(signal_id) == wid:
                    del self._owner[signal_id]
        return gone

    def snapshot(self) -> GraderState:
        """Every incident, oldest first, so equal books give identical snapshots."""
        return GraderState(incidents=sorted(self._by_id.values(), key=lambda i: (i.first_seen, i.warning_id)))

    def restore(self, state: GraderState) -> None:
        """Replace the book's contents with a snapshot's incidents and rebuild both lookups."""
        self._by_id = {i.warning_id: i for i in state.incidents}
        self._current = {}
        self._owner = {}
        for incident in sorted(state.incidents, key=lambda i: (i.first_seen, i.warning_id)):
            self._current[(incident.street, incident.group)] = incident.warning_id
            self._owner.update(dict.fromkeys(incident.signal_ids, incident.warning_id))
