"""The schema of analyst rules (`rules` detectors in `detectors.yaml`): hard rules written in config, no code.

A rule set is a YAML list (or a mapping with a `rules:` list) of rules, each with a `kind`:

```yaml
rules:
  - kind: limit                 # a metric beyond a value
    name: gas_high_school_zone
    metric: gas_concentration
    above: 10
    regions: ["410105002"]      # optional region-code prefixes the rule applies to
    score: 0.7
    level: III                  # optional: the least level a warning raised by it gets
  - kind: rate_of_change        # a sensor metric changing fast, per device, in event time
    name: pressure_drop_fast
    metric: water_pressure
    direction: drop             # drop | rise | either
    change: 0.08                # in the metric's unit; or change_percent: 30
    within: PT15M
  - kind: count                 # ≥ N reports of a category (from a source) in one street within T
    name: gas_reports_street
    category: gas_supply
    source: hotline
    at_least: 5
    within: PT1H
  - kind: combination           # every condition holds within the window in the same street
    name: main_break
    window: PT1H
    conditions:
      - {kind: rate_of_change, metric: water_pressure, change: 0.08, within: PT15M}
      - {kind: count, category: water_supply, source: hotline, at_least: 3}
```

Every rule raises a `threshold` signal with `hard_rule` set to its name (see
`riskwatch.detectors.rules` for when rules fire). Metric and category names are checked against
the taxonomy passed as validation context (`{"taxonomy": TaxonomyConfig}`); errors name the rule
(index and name) and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from riskwatch.config.models import HardRule, TaxonomyConfig
from riskwatch.contracts import Level, Source

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _taxonomy(info: ValidationInfo) -> TaxonomyConfig | None:
    context = info.context
    return context.get("taxonomy") if isinstance(context, dict) else None


def _check_metric(value: str, info: ValidationInfo) -> str:
    taxonomy = _taxonomy(info)
    if taxonomy is not None and taxonomy.metric(value) is None:
        known = ", ".join(m.metric for m in taxonomy.sensor_metrics)
        raise ValueError(f"unknown sensor metric {value!r}; taxonomy.yaml has: {known}")
    return value


def _check_category(value: str | None, info: ValidationInfo) -> str | None:
    taxonomy = _taxonomy(info)
    if value is not None and taxonomy is not None and value not in {c.code for c in taxonomy.categories}:
        raise ValueError(f"unknown category {value!r}; see the category codes in taxonomy.yaml")
    return value


def _positive(value: timedelta | None) -> timedelta | None:
    if value is not None and value <= timedelta(0):
        raise ValueError("must be a positive duration")
    return value


# --------------------------------------------------------------------------- conditions


class LimitCondition(_RuleModel):
    """A sensor metric at or beyond a value."""

    kind: Literal["limit"]
    metric: str = Field(description="Sensor metric from taxonomy.yaml")
    above: float | None = Field(default=None, description="Holds when the reading is ≥ this")
    below: float | None = Field(default=None, description="Holds when the reading is ≤ this")

    _metric = field_validator("metric")(_check_metric)

    @model_validator(mode="after")
    def _one_side(self) -> LimitCondition:
        if self.above is None and self.below is None:
            raise ValueError("a limit needs `above` or `below` (or both)")
        if self.above is not None and self.below is not None and self.below >= self.above:
            raise ValueError("`below` must be less than `above` when both are set")
        return self


class RateOfChangeCondition(_RuleModel):
    """A sensor metric changing by more than `change` units (or `change_percent` %) within `within`, per device."""

    kind: Literal["rate_of_change"]
    metric: str = Field(description="Sensor metric from taxonomy.yaml")
    direction: Literal["drop", "rise", "either"] = "drop"
    change: Annotated[float | None, Field(gt=0, description="Change in the metric's unit")] = None
    change_percent: Annotated[float | None, Field(gt=0, description="Change as a percentage of the earlier reading")] = None
    within: timedelta = Field(description="Event-time span the change happens in")

    _metric = field_validator("metric")(_check_metric)
    _within = field_validator("within")(_positive)

    @model_validator(mode="after")
    def _one_measure(self) -> RateOfChangeCondition:
        if (self.change is None) == (self.change_percent is None):
            raise ValueError("set exactly one of `change` and `change_percent`")
        return self


class CountCondition(_RuleModel):
    """At least `at_least` reports of a category (from one source, or any) in one street within `within`."""

    kind: Literal["count"]
    category: str = Field(description="Category code from taxonomy.yaml")
    source: Source | None = Field(default=None, description="Only reports from this source; empty means any")
    at_least: Annotated[int, Field(ge=1)]
    within: timedelta | None = Field(default=None, description="Defaults to the combination's window")

    _category = field_validator("category")(_check_category)
    _within = field_validator("within")(_positive)


Condition = Annotated[LimitCondition | RateOfChangeCondition | CountCondition, Field(discriminator="kind")]


# --------------------------------------------------------------------------- rules


class _RuleFields(_RuleModel):
    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=64, description="Becomes the signal's hard_rule")]
    description: str = ""
    enabled: bool = True
    score: Annotated[float, Field(gt=0, le=1, description="Score of the signals the rule raises")] = 0.7
    level: Level | None = Field(default=None, description="Least warning level a signal of this rule gives (for grading)")
    regions: list[Annotated[str, Field(pattern=r"^\d{1,15}$")]] = Field(
        default_factory=list, description="Region-code prefixes the rule applies to; empty means everywhere"
    )


class LimitRule(LimitCondition, _RuleFields):
    """`limit`: a metric beyond a value, with the rule's own name, score and level."""


class RateOfChangeRule(RateOfChangeCondition, _RuleFields):
    """`rate_of_change`: a sensor metric changing fast on one device."""


class CountRule(CountCondition, _RuleFields):
    """`count`: many reports of a category in one street within a time span."""

    @model_validator(mode="after")
    def _needs_within(self) -> CountRule:
        if self.within is None:
            raise ValueError("a standalone count rule needs `within`")
        return self


class CombinationRule(_RuleFields):
    """`combination`: every condition holds within `window` of each other in the same street."""

    kind: Literal["combination"]
    window: timedelta
    conditions: list[Condition] = Field(min_length=2)
    category: str | None = Field(default=None, description="Category of the signal; default: the first condition's")
    region_level: Literal["street", "district"] = "street"

    _window = field_validator("window")(_positive)
    _category = field_validator("category")(_check_category)


Rule = Annotated[LimitRule | RateOfChangeRule | CountRule | CombinationRule, Field(discriminator="kind")]
RULE_KINDS = frozenset({"limit", "rate_of_change", "count", "combination"})


class RuleConfigError(ValueError):
    """A rule file that does not validate; every line names the rule (index and name) and the field."""

    def __init__(self, problems: list[str], where: str = "rules") -> None:
        self.problems = problems
        super().__init__(f"{where}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


class RuleSet(_RuleModel):
    """A list of analyst rules with unique names."""

    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        first: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            if rule.name in first:
                raise ValueError(f"rule {i} ({rule.name}): name: repeats the name of rule {first[rule.name]}")
            first[rule.name] = i
        return self

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_data(cls, data: Any, taxonomy: TaxonomyConfig | None = None, where: str = "rules") -> RuleSet:
        """Validate parsed YAML (a list of rules, or a mapping with `rules`); metrics and categories are
        checked against `taxonomy` when given."""
        if isinstance(data, list):
            data = {"rules": data}
        elif data is None:
            data = {"rules": []}
        if not isinstance(data, dict):
            raise RuleConfigError([f"expected a list of rules, got {type(data).__name__}"], where)
        try:
            return cls.model_validate(data, context={"taxonomy": taxonomy})
        except ValidationError as exc:
            raise RuleConfigError(_describe(exc, data), where) from exc

    @classmethod
    def from_yaml(cls, text: str, taxonomy: TaxonomyConfig | None = None, where: str = "rules") -> RuleSet:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RuleConfigError([f"not valid YAML: {exc}"], where) from exc
        return cls.from_data(data, taxonomy, where)

    @classmethod
    def load(cls, path: Path, taxonomy: TaxonomyConfig | None = None) -> RuleSet:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleConfigError([f"cannot read: {exc.strerror}"], str(path)) from exc
        return cls.from_yaml(text, taxonomy, where=str(path))

    def hard_rules(self) -> list[HardRule]:
        """Grading entries for the rules that name a level, to merge into grading.yaml's hard_rules."""
        return [HardRule(rule=r.name, level=r.level) for r in self.rules if r.level is not None]


def _describe(error: ValidationError, data: dict[str, Any]) -> list[str]:
    """One line per error: `rule 2 (name): conditions[0].within: message`."""
    raw_rules = data.get("rules")
    lines = []
    for item in error.errors():
        loc = list(item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        if msg.startswith("rule ") or not loc or loc[0] != "rules" or len(loc) < 2 or not isinstance(loc[1], int):
            field_text = _field_path(loc) or "(top level)"
            lines.append(msg if msg.startswith("rule ") else f"{field_text}: {msg}")
            continue
        index = loc[1]
        name = None
        if isinstance(raw_rules, list) and index < len(raw_rules) and isinstance(raw_rules[index], dict):
            name = raw_rules[index].get("name")
        label = f"rule {index}" + (f" ({name})" if isinstance(name, str) and name else "")
        field_text = _field_path(loc[2:])
        if item["type"].startswith("union_tag"):
            field_text = f"{field_text}.kind" if field_text else "kind"
        got = item.get("input")
        got_text = "" if isinstance(got, dict | list) or item["type"] == "missing" else f" (got {got!r})"
        lines.append(f"{label}: {field_text or '(rule)'}: {msg}{got_text}")
    return lines


def _field_path(loc: Iterable[Any]) -> str:
    """`conditions[0].within` from a pydantic location, leaving out the union tags."""
    text = ""
    previous_index = True  # the rule's own tag follows the rule index
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            previous_index = True
            continue
        if previous_index and part in RULE_KINDS:
            previous_index = False
            continue
        text += f".{part}" if text else str(part)
        previous_index = False
    return text
