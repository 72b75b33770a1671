"""The built-in series detectors, by name. Import this module to fill the registry.

Keep this file a plain list of `register(...)` calls.
"""

from riskwatch.detectors.series.registry import register

# Robust multi-feature novelty detector (riskwatch.detectors.series.robust)
register("default", "riskwatch.detectors.series.robust:DefaultDetector")
register("robust", "riskwatch.detectors.series.robust:RobustNoveltyDetector")

# PyOD models over windowed features (riskwatch.detectors.series.pyod_models)
register("ecod", "riskwatch.detectors.series.pyod_models:ECODDetector")
register("iforest", "riskwatch.detectors.series.pyod_models:IForestDetector")
register("copod", "riskwatch.detectors.series.pyod_models:COPODDetector")
register("hbos", "riskwatch.detectors.series.pyod_models:HBOSDetector")
register("knn", "riskwatch.detectors.series.pyod_models:KNNDetector")
register("lof", "riskwatch.detectors.series.pyod_models:LOFDetector")
register("ensemble", "riskwatch.detectors.series.pyod_models:EnsembleDetector")
