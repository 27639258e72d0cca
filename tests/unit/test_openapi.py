"""openapi.yaml, the routes the API resolver serves, the template's API events and the sample events agree."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from acmevault_cli.local.invoke import load_template

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _document() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "openapi.yaml").read_text()))


def _documented() -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in _document()["paths"].items() for m in item if m in METHODS}


def _resolver() -> Any:
    """The resolver exactly as functions/api/app.py builds it."""
    spec = importlib.util.spec_from_file_location("acmevault_api_app_under_test", ROOT / "functions/api/app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _api_events() -> dict[str, dict[str, Any]]:
    function = load_template((ROOT / "template.yaml").read_text())["Resources"]["ApiFunction"]
    return dict(function["Properties"]["Events"])


def test_the_document_lists_exactly_the_routes_the_resolver_serves():
    schema = _resolver().get_openapi_schema()
    served = {
        (m.upper(), path) for path, item in schema.paths.items() for m in METHODS if getattr(item, m, None) is not None
    }
    assert served == _documented()


def test_the_template_routes_exactly_the_documented_paths_to_the_function():
    routed = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in _api_events().values()}
    assert routed == _documented()
    assert {e["Type"] for e in _api_events().values()} == {"Api"}


def test_no_route_is_public():
    template = load_template((ROOT / "template.yaml").read_text())
    api = template["Resources"]["AcmeVaultApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    for name, api_event in _api_events().items():
        assert "Auth" not in api_event["Properties"], f"{name} overrides the API's AWS_IAM authorizer"
        assert api_event["Properties"]["RestApiId"] == {"Fn::Ref": "AcmeVaultApi"}
    document = _document()
    assert document["security"] == [{"sigv4": []}]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    for path, item in document["paths"].items():
        for method in (m for m in item if m in METHODS):
            assert item[method]["x-amazon-apigateway-auth"] == {"type": "AWS_IAM"}, (method, path)
            assert "security" not in item[method], f"{method} {path} overrides the SigV4 requirement"


def test_every_documented_route_has_a_sample_event_and_every_api_event_a_route():
    samples = {}
    for path in (ROOT / "events").glob("api-*.json"):
        event = json.loads(path.read_text())
        samples[path.name] = (event["httpMethod"], event["resource"])
        assert event["requestContext"]["identity"]["userArn"], f"{path.name}: no IAM caller"
        assert event["requestContext"]["path"] == "/prod" + event["path"]
    assert set(samples.values()) == _documented()
    # api-<verb>-<resource>.json: the collection's name for the collection, the singular for one of it
    singular = {"directories": "directory", "certificates": "certificate"}
    for name, (method, resource) in samples.items():
        collection, *rest = [p for p in resource.split("/") if p]
        noun = singular[collection] if rest else collection
        actions = [p for p in rest if not p.startswith("{")]
        assert name == f"api-{method.lower()}-{'-'.join([noun, *actions])}.json"


def test_the_put_directory_sample_holds_a_placeholder_not_a_key():
    body = json.loads(json.loads((ROOT / "events/api-put-directory.json").read_text())["body"])
    assert body["eab_hmac_key"] == "<base64url HMAC from your CA>"


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "$ref"] + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_every_reference_in_the_document_resolves():
    document = _document()
    assert document["openapi"].startswith("3.")
    for ref in _refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert node, ref


@pytest.mark.parametrize("status", ["400", "403", "500", "503"])
def test_every_operation_documents_its_errors(status):
    for path, item in _document()["paths"].items():
        for method in (m for m in item if m in METHODS):
            assert status in item[method]["responses"], (method, path, status)
