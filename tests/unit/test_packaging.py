"""pyproject.toml ships the whole source tree: every package folder and every file the code reads.

The repository's top-level folders are mapped to ``riskwatch.*`` by ``package-dir``; a folder
missing from ``packages`` or a resource missing from ``package-data`` installs fine in editable
mode and is only missed by a wheel (as ``alerts/feed/static/js/*.js`` once was). What setuptools
would put in a wheel is asked of setuptools itself (its ``build_py`` command), with
``include-package-data`` off so that a stale ``*.egg-info/SOURCES.txt`` cannot hide a gap.
"""

from __future__ import annotations

import contextlib
import tomllib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from setuptools.command.build_py import build_py
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "riskwatch"
SKIPPED_DIRS = {"__pycache__"}
COMPILED = {".pyc", ".pyo"}

# Files the code reads at run time (config, scenarios, web view, CAP schema, Alembic,
# report templates, the Kafka jar list): each pattern must match files, and all of them ship.
RUNTIME_RESOURCES = (
    "config/*.yaml",
    "config/*.geojson",
    "simulator/scenarios/*.yaml",
    "alerts/feed/static/index.html",
    "alerts/feed/static/app.css",
    "alerts/feed/static/js/*.js",
    "alerts/feed/cap_schema/*.xsd",
    "alerts/store/migrations/env.py",
    "alerts/store/migrations/script.py.mako",
    "alerts/store/migrations/versions/*.py",
    "alerts/reports/templates/*",
    "tools/devservices/*.xml",
)


@dataclass(frozen=True)
class Shipped:
    """What setuptools builds from pyproject.toml: package name → folder, and every file it ships."""

    package_dirs: dict[str, Path]
    files: frozenset[Path]


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mapped(pyproject: dict[str, Any]) -> dict[str, Path]:
    """Top-level import name → repository folder, from `[tool.setuptools.package-dir]`."""
    package_dir: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    assert package_dir, "pyproject.toml maps no folders"
    return {name: ROOT / folder for name, folder in package_dir.items()}


@pytest.fixture(scope="module")
def shipped() -> Shipped:
    """Ask setuptools' build_py which package folders and data files a wheel gets."""
    dist = Distribution()
    with warnings.catch_warnings(), contextlib.chdir(ROOT):
        warnings.simplefilter("ignore")  # older setuptools call [tool.setuptools] "beta"
        apply_configuration(dist, ROOT / "pyproject.toml")
        dist.include_package_data = False
        command = build_py(dist)
        command.ensure_finalized()
        package_dirs = {package: ROOT / command.get_package_dir(package) for package in dist.packages}
        data = {ROOT / src_dir / name for _, src_dir, _, names in command.data_files for name in names}
    modules = {path for folder in package_dirs.values() for path in folder.glob("*.py")}
    return Shipped(package_dirs, frozenset(data | modules))


def _tree_files(folder: Path) -> Iterator[Path]:
    """Every file under `folder` except byte-code caches."""
    for path in folder.rglob("*"):
        if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(folder).parts) and path.suffix not in COMPILED:
            yield path


def test_no_riskwatch_folder_at_the_root() -> None:
    """`riskwatch` is only a namespace; a real folder would shadow the mapped packages."""
    assert not (ROOT / NAMESPACE).exists()


def test_package_dir_maps_top_level_folders_under_the_namespace(mapped: dict[str, Path]) -> None:
    for name, folder in mapped.items():
        assert name.startswith(f"{NAMESPACE}.") and name.count(".") == 1, name
        assert folder.parent == ROOT and (folder / "__init__.py").is_file(), f"{name} → {folder} is not a package folder"


def test_every_package_folder_is_listed(pyproject: dict[str, Any], mapped: dict[str, Path]) -> None:
    """Each folder with an __init__.py under a mapped folder is in `packages`, and nothing else is."""
    found = {
        ".".join((name, *init.parent.relative_to(folder).parts))
        for name, folder in mapped.items()
        for init in folder.rglob("__init__.py")
        if not SKIPPED_DIRS & set(init.parts)
    }
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    assert found - listed == set(), "package folders missing from [tool.setuptools] packages"
    assert listed - found == set(), "[tool.setuptools] packages names folders without an __init__.py"


def test_setuptools_finds_each_listed_package_in_its_folder(shipped: Shipped) -> None:
    for package, folder in shipped.package_dirs.items():
        assert (folder / "__init__.py").is_file(), f"{package} → {folder}"


def test_package_data_keys_are_listed_packages(pyproject: dict[str, Any]) -> None:
    """A `package-data` key that is not a listed package ships nothing, silently."""
    settings = pyproject["tool"]["setuptools"]
    keys = set(settings.get("package-data", {})) - {"", "*"}
    assert keys <= set(settings["packages"])


def test_every_file_under_a_mapped_folder_ships(mapped: dict[str, Path], shipped: Shipped) -> None:
    """Modules of listed packages plus `package-data` cover the whole tree: no resource is left behind."""
    tree = {path for folder in mapped.values() for path in _tree_files(folder)}
    missing = sorted(str(path.relative_to(ROOT)) for path in tree - shipped.files)
    assert not missing, f"not in a wheel (add to packages or package-data): {missing}"


@pytest.mark.parametrize("pattern", RUNTIME_RESOURCES)
def test_runtime_resources_exist_and_ship(pattern: str, shipped: Shipped) -> None:
    files = [path for path in ROOT.glob(pattern) if path.is_file()]
    assert files, f"nothing in the tree matches {pattern}"
    missing = [str(path.relative_to(ROOT)) for path in files if path not in shipped.files]
    assert not missing, f"read at run time but not shipped: {missing}"
