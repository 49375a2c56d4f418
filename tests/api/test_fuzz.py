"""Schema-driven fuzzing: schemathesis generates requests from the app's own OpenAPI
spec, valid (positive) and invalid (negative) ones, and checks every response: never a
5xx, body and status code as documented, invalid input rejected, valid input accepted.
It runs in-process against the ASGI app on the fixed archive (real database, real
search service). Refresh nothing: the spec is generated from the app every run.

(schemathesis' `from_fixture` loader does not run under pytest 9, so the operations are
listed from the spec at import and each one is driven with `as_strategy` + hypothesis.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from dovos.api.app import create_app
from dovos.config import Settings

EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 40}


# Schema-valid requests may still be refused with 400 for reasons a JSON schema cannot
# state (a query without a letter or digit, a query that only excludes words), so the
# "positive data must be accepted" check is left out; every other check runs.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]


def _spec() -> dict[str, Any]:
    """The app's OpenAPI spec (building it needs no database)."""
    return create_app(database=None, settings=Settings(api_token=None, cors_origins=[])).openapi()


def _cases() -> list[Any]:
    """(METHOD, path, mode) for every operation; negative only where there is input."""
    cases = []
    for path, item in _spec()["paths"].items():
        for method, operation in item.items():
            has_input = bool(operation.get("parameters") or operation.get("requestBody"))
            for mode in EXAMPLES:
                if mode == GenerationMode.POSITIVE or has_input:
                    cases.append(pytest.param(method.upper(), path, mode,
                                              id=f"{method.upper()} {path} {mode}"))
    return cases


CASES = _cases()
OPERATIONS = {(case.values[0], case.values[1]) for case in CASES}


def test_every_contract_endpoint_is_fuzzed() -> None:
    assert set(OPERATIONS) == {
        ("GET", "/api/conversations"),
        ("GET", "/api/conversation/{conversation_id}"),
        ("GET", "/api/search"),
        ("POST", "/api/rag/query"),
        ("GET", "/api/stats"),
        ("GET", "/api/rag/health"),
    }


@pytest.fixture(scope="module")
def api_schema(archive: Any, client_for: Any) -> Any:
    client = client_for(archive.database)
    # Load the embedding model before fuzzing, so that no case waits seconds for it.
    assert client.get("/api/search", params={"q": "warm up"}).status_code == 200
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_fuzz_operation(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call_and_validate(excluded_checks=EXCLUDED_CHECKS)
        statuses.append(response.status_code)
        assert response.status_code < 500, response.text

    run()
    assert statuses, "schemathesis generated no request"
