"""docker-compose.yml and Dockerfile agree with Settings, with each other and with Kafka."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from riskwatch.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def _interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` with an empty environment: the default."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: _interpolate(str(v)) for k, v in env.items()}


@pytest.fixture(scope="module")
def riskwatch_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if _command(s)[:1] == ["riskwatch"]}


def test_expected_services_and_commands(services: dict[str, dict[str, Any]]) -> None:
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"] == "postgres:16"
    assert _command(services["topics"]) == ["riskwatch", "topics", "create"]
    assert _command(services["worker"]) == ["riskwatch", "worker"]
    assert _command(services["migrate"]) == ["riskwatch", "db", "upgrade"]
    assert _command(services["api"])[:2] == ["riskwatch", "api"]
    for name in ("topics", "migrate", "worker", "api"):
        assert services[name]["build"] == "." and services[name]["image"] == services["worker"]["image"]
    assert services["topics"]["restart"] == "no" and services["migrate"]["restart"] == "no"
    # Nothing writes to the store before its schema is migrated.
    for name in ("worker", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_riskwatch_services_use_only_settings_fields(riskwatch_services: dict[str, dict[str, Any]]) -> None:
    fields = {f"RISKWATCH_{name.upper()}" for name in Settings.model_fields}
    assert set(riskwatch_services) >= {"topics", "migrate", "worker", "api"}
    for name, service in riskwatch_services.items():
        env = _env(service)
        unknown = {k for k in env if k.startswith("RISKWATCH_")} - fields
        assert not unknown, f"{name}: {unknown} are not Settings fields"
        assert {"RISKWATCH_BROKER", "RISKWATCH_DATABASE_URL"} <= set(env)


def test_riskwatch_env_is_valid_settings(
    riskwatch_services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in riskwatch_services.values():
        for key, value in _env(service).items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.partitions >= 1 and settings.replication_factor >= 1


def test_database_url_is_postgres_on_the_postgres_service(
    services: dict[str, dict[str, Any]], riskwatch_services: dict[str, dict[str, Any]]
) -> None:
    pg = _env(services["postgres"])
    for service in riskwatch_services.values():
        url = make_url(_env(service)["RISKWATCH_DATABASE_URL"])
        assert url.get_backend_name() == "postgresql"
        assert url.get_driver_name() == "psycopg"
        assert url.host == "postgres" and (url.port or 5432) == 5432
        assert url.database == pg["POSTGRES_DB"]
        assert url.username == pg["POSTGRES_USER"]
        assert url.password == pg["POSTGRES_PASSWORD"]


def _listeners(value: str) -> dict[str, str]:
    """`NAME://host:port,…` → {NAME: "host:port"}."""
    return dict(part.strip().split("://", 1) for part in value.split(","))


def test_broker_points_at_kafka_and_matches_its_advertised_listener(
    services: dict[str, dict[str, Any]], riskwatch_services: dict[str, dict[str, Any]]
) -> None:
    kafka = _env(services["kafka"])
    advertised = _listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    listeners = _listeners(kafka["KAFKA_LISTENERS"])
    protocols = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for name, service in riskwatch_services.items():
        env = _env(service)
        settings = Settings(broker=env["RISKWATCH_BROKER"])
        for address in settings.bootstrap_servers.split(","):
            host, port = address.rsplit(":", 1)
            assert host in ("kafka", services["kafka"].get("hostname")), f"{name}: {address}"
            match = [listener for listener, addr in advertised.items() if addr == address]
            assert match, f"{name}: {address} is not advertised by kafka ({advertised})"
            assert listeners[match[0]].rsplit(":", 1)[1] == port
            assert protocols[match[0]] == env.get("RISKWATCH_SECURITY_PROTOCOL", "PLAINTEXT")


def test_kafka_is_kraft_single_node(services: dict[str, dict[str, Any]]) -> None:
    kafka = _env(services["kafka"])
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = kafka["KAFKA_NODE_ID"]
    controller = kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]
    voter_id, voter_addr = kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert voter_id == node_id
    assert _listeners(kafka["KAFKA_LISTENERS"])[controller].rsplit(":", 1)[1] == voter_addr.rsplit(":", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka["CLUSTER_ID"])
    assert kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_depends_on_conditions_are_satisfiable(services: dict[str, dict[str, Any]]) -> None:
    seen = 0
    for name, service in services.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
                assert services[target]["healthcheck"].get("test")
            elif condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", f"{target} must be one-shot"
            else:
                assert condition == "service_started"
            seen += 1
    assert seen >= 4


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes") or {})
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared


def test_dockerfile_installs_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    copied = {word for line in text.splitlines() if line.startswith("COPY") for word in line.split()[1:-1]}
    package_dirs = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"].values())
    assert package_dirs, "pyproject.toml maps no package folders"
    missing = ({"pyproject.toml", "README.md"} | package_dirs) - copied
    assert not missing, f"the Dockerfile does not copy {sorted(missing)}, so `pip install .` in the image would lack them"


def test_every_riskwatch_command_exists(riskwatch_services: dict[str, dict[str, Any]]) -> None:
    """A service must not run a command the CLI does not have."""
    from typer.testing import CliRunner

    from riskwatch.tools.cli import app

    for name, service in riskwatch_services.items():
        words = [w for w in _command(service)[1:] if not w.startswith("-")][:2]
        result = CliRunner().invoke(app, [*words, "--help"])
        assert result.exit_code == 0, f"{name}: riskwatch {' '.join(words)} is not a command: {result.output}"
