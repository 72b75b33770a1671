"""Params of the station detectors (several channels of one site scored jointly), one model each.

The detectors in `riskwatch.detectors.station` take these as their keyword parameters, so a
parameter is declared once, with its default, bounds and description; an unknown or
out-of-range one fails with the field and what was expected. Lengths are in rows (readings of
the station), so the same numbers mean "about 50 minutes / 5 hours" on a station reporting
every 5 minutes and "about 10 s / 1 min" on a test rig sampled every second.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The detector's own threshold on its calibrated score (`riskwatch.detectors.station.calibration`).
Threshold = Annotated[
    float,
    Field(
        gt=0,
        lt=1,
        description="Calibrated score at or above which a row starts an anomaly; 0.99 is the training scores' 99th "
        "percentile, 0.99 + 0.01·z/(1+z) a raw score z times as far beyond it as it is beyond their median",
    ),
]


class StationParams(BaseModel):
    """What every station model shares: features, warm-up and refits, the threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    windows: Annotated[
        tuple[Annotated[int, Field(ge=1, le=100_000)], ...],
        Field(min_length=1, max_length=4, description="Rolling-mean windows (rows, current row included) of each channel"),
    ] = (10, 20)
    warmup: Annotated[int, Field(ge=16, le=1_000_000, description="Rows seen before the first fit, which trains on them")] = 400
    train_window: Annotated[
        int, Field(ge=16, le=1_000_000, description="Most recent rows a refit trains on (rows flagged anomalous left out)")
    ] = 2016
    refit_every: Annotated[
        int, Field(ge=0, le=10_000_000, description="Rows between refits after the first fit; 0 never refits")
    ] = 2016
    threshold: Threshold = 0.999
    release: Annotated[
        float | None,
        Field(gt=0, lt=1, description="An anomaly lasts while the score stays at or above this (default: threshold)"),
    ] = None
    onset_rows: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            description="Consecutive rows at or above `threshold` that start an anomaly (the last of them is the "
            "first flagged): a lone noisy row starts nothing",
        ),
    ] = 3
    settle_drop: Annotated[
        float,
        Field(
            ge=0,
            lt=1,
            description="An ongoing anomaly also ends once the score's excess beyond the training 99th percentile "
            "falls below this share of the episode's peak excess: the station has settled after the episode "
            "(0: only `release` ends it)",
        ),
    ] = 0.1
    settle_rise: Annotated[
        float,
        Field(
            ge=1,
            description="After an anomaly ended by settling, and while the score stays at or above `threshold`, a "
            "new anomaly needs an excess this many times the lowest excess since (the settled level)",
        ),
    ] = 4.0
    seed: Annotated[int, Field(ge=0, description="Seed of randomised models, so a run is reproducible")] = 0

    @model_validator(mode="after")
    def _consistent(self) -> StationParams:
        if self.train_window < self.warmup:
            raise ValueError(f"train_window ({self.train_window}) must be at least warmup ({self.warmup})")
        if self.release is not None and self.release > self.threshold:
            raise ValueError(f"release ({self.release}) cannot exceed threshold ({self.threshold})")
        return self

    @property
    def release_level(self) -> float:
        """The score an ongoing anomaly must stay at or above."""
        return self.threshold if self.release is None else self.release


class PCAStationParams(StationParams):
    """Params of `station_pca` (and the default `station`): Hotelling's T² plus the residual Q.

    The defaults of `StationParams` (windows, threshold, onset) were chosen on SKAB valve1+valve2
    for the best NAB score in SKAB's convention with F1 at least 0.80 and a false-alarm rate under
    15%, then confirmed on the held-out other/ files (docs/detectors.md).
    """

    variance: Annotated[
        float, Field(gt=0, lt=1, description="Share of the training variance the principal subspace keeps (T²); the rest is Q")
    ] = 0.9


class ECODStationParams(StationParams):
    """Params of `station_ecod` and `station_copod` (empirical tail probabilities; nothing to tune).

    Their raw scores are bounded (a value beyond every training value scores as one at the edge),
    so the tail past the 99th percentile is short and the default threshold lower (chosen on SKAB
    valve1+valve2 for a false-alarm rate under 15%, as for every station model).
    """

    threshold: Threshold = 0.995


class IForestStationParams(StationParams):
    """Params of `station_iforest`."""

    threshold: Threshold = 0.993  # bounded scores, as ECOD's
    n_estimators: Annotated[int, Field(ge=10, le=1000, description="Trees in the forest")] = 100


class HBOSStationParams(StationParams):
    """Params of `station_hbos`."""

    threshold: Threshold = 0.993  # bounded scores, as ECOD's
    n_bins: Annotated[int, Field(ge=2, le=200, description="Histogram bins per feature")] = 10
