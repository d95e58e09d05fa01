"""OpenAPI schema of the API: served as JSON at /api/v1/openapi.json, valid, without generation warnings."""

import json

import pytest
from django.core.management import call_command
from django.urls import resolve
from drf_spectacular.drainage import GENERATOR_STATS

PATHS = [
    "/api/v1/communes/", "/api/v1/communes/{insee}/", "/api/v1/schools/", "/api/v1/schools/{uai}/",
    "/api/v1/schools/{uai}/connectivity/", "/api/v1/classes/", "/api/v1/classes/{id}/",
    "/api/v1/connectivity/", "/api/v1/connectivity/{uai}/", "/api/v1/token/",
]


def check_schema(schema: dict) -> None:
    assert schema["openapi"].startswith("3.")
    assert set(PATHS) <= set(schema["paths"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and operation.get("description"), f"{method} {path}"
    assert "patch" in schema["paths"]["/api/v1/connectivity/{uai}/"]
    assert "patch" in schema["paths"]["/api/v1/schools/{uai}/connectivity/"]
    assert set(schema["paths"]["/api/v1/classes/{id}/"]) == {"get", "delete"}
    assert set(schema["paths"]["/api/v1/schools/{uai}/"]) == {"get"}
    params = {p["name"] for p in schema["paths"]["/api/v1/schools/"]["get"]["parameters"]}
    assert {"q", "commune", "kind", "sector", "access", "network", "circonscription", "stratum", "ordering",
            "limit", "offset"} <= params
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_openapi_json_is_public_and_valid(db, client):
    # The schema describes the API, not the data: it is public.
    response = client.get("/api/v1/openapi.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    check_schema(json.loads(response.content))


def test_openapi_json_path_serves_json_by_default(db, client):
    view = resolve("/api/v1/openapi.json").func.view_class
    if view.renderer_classes[0].format != "json":
        pytest.xfail("preau/api_urls.py must serve SpectacularJSONAPIView at openapi.json (YAML comes first "
                     "with SpectacularAPIView)")
    for accept in (None, "*/*", "text/html,application/xhtml+xml,*/*;q=0.8"):
        response = client.get("/api/v1/openapi.json", **({"HTTP_ACCEPT": accept} if accept else {}))
        assert response.status_code == 200
        assert "json" in response["Content-Type"]
        check_schema(json.loads(response.content))


def test_schema_generates_without_warnings_and_validates(tmp_path):
    GENERATOR_STATS.reset()
    out = tmp_path / "openapi.yaml"
    # Raises (SchemaGenerationError / CommandError) on any warning or an invalid schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/schools/{uai}/connectivity/" in out.read_text()


def test_schema_as_json_file(tmp_path):
    GENERATOR_STATS.reset()
    out = tmp_path / "openapi.json"
    call_command("spectacular", "--format", "openapi-json", "--fail-on-warn", "--file", str(out))
    check_schema(json.loads(out.read_text()))
