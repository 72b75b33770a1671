"""The built wheel, installed into a clean venv, runs: CLI, shipped config, schemas and the web view.

The wheel is built from a copy of what the Dockerfile copies before `pip install .` (so the test
builds what the image builds, and no build/ or egg-info in the checkout can add files to it), then
installed with its dependencies into a venv in a temporary directory. Every command runs from a
working directory outside the checkout with no RISKWATCH_* or PYTHON* variables, so only the
installed package can answer. A failed build or install fails the tests; nothing here skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from riskwatch.contracts.schemas import BOUNDARY_MODELS
from riskwatch.contracts.topics import ALL_TOPICS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600.0
INSTALL_TIMEOUT = 1200.0
COMMAND_TIMEOUT = 120.0
API_READY_DEADLINE = 120.0
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")

# Files the installed code reads at run time, relative to the built source; each must match.
RUNTIME_RESOURCES = (
    "alerts/feed/static/index.html",
    "alerts/feed/static/app.css",
    "alerts/feed/static/js/*.js",
    "config/*.yaml",
    "config/regions.geojson",
    "alerts/store/migrations/env.py",
    "alerts/store/migrations/script.py.mako",
    "alerts/store/migrations/versions/*.py",
    "alerts/feed/cap_schema/CAP-v1.2.xsd",
)


@dataclass(frozen=True)
class Installed:
    """A clean venv with the wheel installed, and the source snapshot the wheel was built from."""

    venv: Path
    python: Path
    riskwatch: Path
    site_packages: Path
    source: Path
    workdir: Path
    env: dict[str, str]
    package_dir: dict[str, str]

    def installed_path(self, source_file: Path) -> Path:
        """Where a file of the built source lands in site-packages (via pyproject's package-dir)."""
        relative = source_file.relative_to(self.source)
        for name, folder in self.package_dir.items():
            if relative.parts[: len(Path(folder).parts)] == Path(folder).parts:
                return self.site_packages.joinpath(*name.split("."), *relative.parts[len(Path(folder).parts) :])
        raise AssertionError(f"{relative} is not under a mapped folder")


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that points Python or riskwatch at the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "RISKWATCH_", "__PYVENV")) and key != "VIRTUAL_ENV"
    }
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONUNBUFFERED": "1"}


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def _must(completed: subprocess.CompletedProcess[str], what: str) -> str:
    """The command's stdout; a non-zero exit fails the test with the command's output."""
    if completed.returncode != 0:
        pytest.fail(f"{what} failed (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}", pytrace=False)
    return completed.stdout


def _copy_build_context(dest: Path) -> None:
    """Copy what the Dockerfile COPYs into its WORKDIR before `RUN pip install .`."""
    copies: list[tuple[list[str], str]] = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if re.match(r"RUN pip install \.(\s|$)", line):
            break
        if line.startswith("COPY "):
            *sources, target = [word for word in line.split()[1:] if not word.startswith("--")]
            copies.append((sources, target))
    else:
        pytest.fail("the Dockerfile has no `RUN pip install .` line", pytrace=False)
    assert copies, "the Dockerfile copies nothing before `pip install .`"
    for sources, target in copies:
        assert not target.startswith("/"), f"COPY target {target} is not relative to the WORKDIR"
        for source in sources:
            origin = ROOT / source
            into = dest / target / origin.name if len(sources) > 1 or target.endswith("/") else dest / target
            if origin.is_dir():
                shutil.copytree(origin, into, ignore=IGNORED, dirs_exist_ok=True)
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel once per session and install it, with its dependencies, into a new venv."""
    base = tmp_path_factory.mktemp("wheel").resolve()
    assert not base.is_relative_to(ROOT), f"{base} is inside the checkout"
    env = _clean_env()
    source, dist, venv, workdir = base / "source", base / "dist", base / "venv", base / "work"
    workdir.mkdir()
    _copy_build_context(source)
    _must(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, source], base, env, BUILD_TIMEOUT), "pip wheel")
    wheels = sorted(dist.glob("riskwatch-*.whl"))
    assert len(wheels) == 1, f"expected one riskwatch wheel, got {wheels}"
    _must(_run([sys.executable, "-m", "venv", venv], base, env), "python -m venv")
    python = venv / "bin" / "python"
    _must(_run([python, "-m", "pip", "install", "-q", wheels[0]], workdir, env, INSTALL_TIMEOUT), "pip install <wheel>")
    site_packages = Path(_must(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], workdir, env), "purelib").strip())
    package_dir = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    return Installed(venv, python, venv / "bin" / "riskwatch", site_packages.resolve(), source, workdir, env, package_dir)


def test_installed_package_is_imported_from_the_venv_not_the_checkout(installed: Installed) -> None:
    probe = (
        "import json, sys, riskwatch, riskwatch.alerts.feed as feed;"
        "print(json.dumps({'feed': feed.__file__, 'namespace': list(riskwatch.__path__), 'path': sys.path, 'prefix': sys.prefix}))"
    )
    found = json.loads(_must(_run([installed.python, "-c", probe], installed.workdir, installed.env), "import probe"))
    assert Path(found["prefix"]).resolve() == installed.venv.resolve()
    assert installed.site_packages.is_relative_to(installed.venv.resolve())
    assert Path(found["feed"]).resolve().is_relative_to(installed.site_packages), found["feed"]
    assert [Path(p).resolve() for p in found["namespace"]] == [installed.site_packages / "riskwatch"]
    leaks = [p for p in found["path"] if p and Path(p).resolve().is_relative_to(ROOT)]
    assert not leaks, f"the checkout is on the installed venv's sys.path: {leaks}"


def test_every_built_file_is_installed_unchanged(installed: Installed) -> None:
    """Each module and data file of the mapped folders reaches site-packages byte for byte."""
    built = [path for folder in installed.package_dir.values() for path in (installed.source / folder).rglob("*") if path.is_file()]
    assert built
    missing = [str(p.relative_to(installed.source)) for p in built if not installed.installed_path(p).is_file()]
    assert not missing, f"not installed from the wheel: {missing}"
    changed = [str(p.relative_to(installed.source)) for p in built if installed.installed_path(p).read_bytes() != p.read_bytes()]
    assert not changed, f"installed content differs from the source: {changed}"


@pytest.mark.parametrize("pattern", RUNTIME_RESOURCES)
def test_runtime_resources_are_installed(installed: Installed, pattern: str) -> None:
    files = sorted(installed.source.glob(pattern))
    assert files, f"nothing in the source matches {pattern}"
    for path in files:
        target = installed.installed_path(path)
        assert target.is_file() and target.read_bytes() == path.read_bytes(), f"{target} is missing or differs"


def test_cli_help(installed: Installed) -> None:
    output = _must(_run([installed.riskwatch, "--help"], installed.workdir, installed.env), "riskwatch --help")
    for command in ("api", "config", "schema", "db"):
        assert re.search(rf"^\W*{command}\b", output, re.MULTILINE), f"`{command}` is not in riskwatch --help:\n{output}"


def test_config_validate_accepts_the_installed_config(installed: Installed) -> None:
    config_dir = installed.site_packages / "riskwatch" / "config"
    assert sorted(config_dir.glob("*.yaml")), f"no YAML config installed in {config_dir}"
    output = _must(_run([installed.riskwatch, "config", "validate", config_dir], installed.workdir, installed.env), "riskwatch config validate")
    assert f"ok   {config_dir}" in output


def test_schema_export_writes_every_topic_record(installed: Installed, tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    _must(_run([installed.riskwatch, "schema", "export", "--out", out], installed.workdir, installed.env), "riskwatch schema export")
    written = {path.name.removesuffix(".schema.json") for path in out.glob("*.schema.json")}
    assert written == set(BOUNDARY_MODELS)
    assert "feedback" in written
    records_on_topics = {topic.value.split()[0] for topic in ALL_TOPICS}
    assert records_on_topics <= written, f"topics whose record has no schema: {records_on_topics - written}"
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))["schemas"]
    indexed_topics = {topic for entry in index for topic in entry["topics"]}
    assert indexed_topics == {topic.name for topic in ALL_TOPICS}
    for name in written:
        schema = json.loads((out / f"{name}.schema.json").read_text(encoding="utf-8"))
        assert schema["type"] == "object" and set(schema["properties"]) == set(BOUNDARY_MODELS[name].model_fields)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Api:
    """A running `riskwatch api` of the installed venv."""

    url: str
    database: Path


@pytest.fixture(scope="module")
def api(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """`riskwatch api` from the installed venv on a free port over a new SQLite store; stopped afterwards."""
    base = tmp_path_factory.mktemp("api")
    port = _free_port()
    log_path, database = base / "api.log", base / "x.db"
    env = installed.env | {"RISKWATCH_DATABASE_URL": f"sqlite:///{database}"}
    args = [str(installed.riskwatch), "api", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=installed.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        _await_healthy(process, url, log_path)
        yield Api(url, database)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def _await_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Poll /healthz until it answers 200; fail if the server exits or the deadline passes."""
    deadline = time.monotonic() + API_READY_DEADLINE
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{url}healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:
                code = process.wait(timeout=0.25)  # the pause between polls, and a crash check
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"riskwatch api exited with {code} before it was healthy:\n{log_path.read_text(errors='replace')}", pytrace=False)
    pytest.fail(f"riskwatch api was not healthy within {API_READY_DEADLINE} s:\n{log_path.read_text(errors='replace')}", pytrace=False)


def _module_imports(script: str) -> set[str]:
    """Relative ES-module imports of a script (`from "./x.js"`, `import "./x.js"`)."""
    return set(re.findall(r"""(?:from|import)\s*["'](\.{1,2}/[^"']+)["']""", script))


def test_api_serves_app_js(installed: Installed, api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10.0) as client:
        assert client.get("healthz").json() == {"status": "ok", "database": "ok"}
        response = client.get("static/js/app.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.content == (installed.source / "alerts/feed/static/js/app.js").read_bytes()


def test_api_serves_the_whole_web_view(installed: Installed, api: Api) -> None:
    """The page's assets and every static file are served, and each script's imports exist."""
    static = installed.source / "alerts" / "feed" / "static"
    files = sorted(path for path in static.rglob("*") if path.is_file())
    assert any(path.suffix == ".js" for path in files)
    with httpx.Client(base_url=api.url, timeout=10.0) as client:
        page = client.get("")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assets = set(re.findall(r"""(?:src|href)=["'](static/[^"']+)["']""", page.text))
        assert {"static/js/app.js", "static/app.css"} <= assets
        assert assets <= {f"static/{path.relative_to(static).as_posix()}" for path in files}
        for path in files:
            response = client.get(f"static/{path.relative_to(static).as_posix()}")
            assert response.status_code == 200 and response.content == path.read_bytes(), path.name
            if path.suffix == ".js":
                assert "javascript" in response.headers["content-type"], path.name
                for imported in _module_imports(response.text):
                    assert (path.parent / imported).resolve().is_file(), f"{path.name} imports missing {imported}"


def test_api_migrated_its_store_with_the_installed_migrations(installed: Installed, api: Api) -> None:
    """`riskwatch api` migrates first: the new SQLite store is at the head revision the wheel ships."""
    with sqlite3.connect(api.database) as db:
        revisions = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
    versions = installed.site_packages / "riskwatch" / "alerts" / "store" / "migrations" / "versions"
    shipped = "\n".join(path.read_text(encoding="utf-8") for path in versions.glob("*.py"))
    ids = set(re.findall(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", shipped, re.MULTILINE))
    parents = set(re.findall(r"""^down_revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", shipped, re.MULTILINE))
    assert ids, f"no migrations installed in {versions}"
    assert revisions == sorted(ids - parents)
