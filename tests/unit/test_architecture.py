"""The flow the design card draws holds in the code: contracts ← config ← detectors ← alerts ← streams, simulator ← tools.

The rules live in `.importlinter` at the repository root (`lint-imports` runs the same check
by hand). One test checks the code as it is; the other plants a wrong import in the graph and
expects the contracts to catch it, so the check itself is known to bite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from importlinter import configuration
from importlinter.application import use_cases
from importlinter.application.app_config import settings

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"


def _report() -> Any:
    options = use_cases.read_user_options(str(CONFIG))
    return use_cases.create_report(options, cache_dir=None)


def _broken(report: Any) -> list[str]:
    return [contract.name for contract in report.contracts if not report._check_map[contract].kept]


@pytest.fixture
def graph_builder() -> Iterator[Any]:
    configuration.configure()
    use_cases._register_built_in_contract_types()  # what `lint-imports` does before reading contracts
    real = settings.GRAPH_BUILDER
    yield real
    settings.configure(GRAPH_BUILDER=real)


def test_every_import_follows_the_flow(graph_builder: Any) -> None:
    report = _report()
    assert not report.could_not_run
    assert report.contracts, "no contracts read from .importlinter"
    assert not report.contains_failures, f"broken: {_broken(report)}; run `lint-imports` for the offending imports"


class _WithExtraImport:
    """A graph builder that adds one import to the real graph."""

    def __init__(self, real: Any, importer: str, imported: str) -> None:
        self.real, self.importer, self.imported = real, importer, imported

    def build(self, **kwargs: Any) -> Any:
        graph = self.real.build(**kwargs)
        graph.add_import(importer=self.importer, imported=self.imported, line_number=1, line_contents="planted")
        return graph


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        ("riskwatch.detectors.base", "riskwatch.streams.pipeline", "Data flows one way"),
        ("riskwatch.contracts.event", "riskwatch.config.models", "Data flows one way"),
        ("riskwatch.alerts.feed.cap", "riskwatch.streams.normalize", "Data flows one way"),
        ("riskwatch.simulator.sinks", "riskwatch.streams.pipeline", "Data flows one way"),
        ("riskwatch.alerts.grading.fusion", "riskwatch.alerts.grading.grader", "No import cycles"),
    ],
)
def test_a_wrong_import_breaks_a_contract(graph_builder: Any, importer: str, imported: str, contract: str) -> None:
    settings.configure(GRAPH_BUILDER=_WithExtraImport(graph_builder, importer, imported))
    report = _report()
    assert report.contains_failures
    assert any(name.startswith(contract) for name in _broken(report)), _broken(report)
