"""`riskwatch schema export` writes a valid JSON Schema per boundary model, and an index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from riskwatch.contracts.schemas import BOUNDARY_MODELS
from riskwatch.contracts.topics import ALL_TOPICS
from riskwatch.tools.topics_cli import register

JSON_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas") / "nested"
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["schema", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_one_file_per_model_and_an_index(exported: Path) -> None:
    files = {p.name for p in exported.iterdir()}
    assert files == {f"{name}.schema.json" for name in BOUNDARY_MODELS} | {"index.json"}
    index = json.loads((exported / "index.json").read_text(encoding="utf-8"))["schemas"]
    assert [e["name"] for e in index] == list(BOUNDARY_MODELS)
    by_name = {e["name"]: e for e in index}
    assert by_name["warning"]["topics"] == ["riskwatch.warnings"]
    assert by_name["event"]["topics"] == ["riskwatch.events"]
    documented = {t for e in index for t in e["topics"]}
    assert documented == {t.name for t in ALL_TOPICS}, "every topic's records have a schema"
    assert by_name["feedback"]["topics"] == ["riskwatch.feedback"]


@pytest.mark.parametrize("name", list(BOUNDARY_MODELS))
def test_schema_is_well_formed_and_matches_the_model(exported: Path, name: str) -> None:
    schema = json.loads((exported / f"{name}.schema.json").read_text(encoding="utf-8"))
    model = BOUNDARY_MODELS[name]
    assert schema["$schema"].endswith("/draft/2020-12/schema")
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(model.model_fields)
    assert set(schema.get("required", [])) == {k for k, f in model.model_fields.items() if f.is_required()}
    defs = schema.get("$defs", {})
    for node in _walk(schema):
        if "$ref" in node:
            assert node["$ref"].startswith("#/$defs/") and node["$ref"].split("/")[-1] in defs
        if isinstance(node.get("type"), str) and node is not schema.get("properties"):
            assert node["type"] in JSON_TYPES


@pytest.mark.parametrize("name", list(BOUNDARY_MODELS))
def test_schema_passes_the_metaschema(exported: Path, name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((exported / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
