"""schemathesis against /openapi.json of a real server on the example models:
no 5xx, and every response matches the status codes, content types and
schemas the document declares."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@schemathesis.serializer("text/csv")
def _csv(ctx, value):
    # The document types a CSV body as a string; send it as it is.
    return value.encode("utf-8") if isinstance(value, str) else str(value).encode("utf-8")


@pytest.fixture(scope="module")
def server(examples_server):
    return examples_server


def test_api_conforms_to_its_document(server, subtests):
    # Operation by operation by hand: schemathesis' pytest loader
    # (from_fixture) does not run on pytest 9.2.
    api = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 10
    for operation in operations:
        with subtests.test(operation=operation.label):
            fuzz(operation, server)


def fuzz(operation, server):
    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(base_url=server.url)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}\n"
            f"server log tail:\n{server.output()[-2000:]}")
        case.validate_response(response, checks=CHECKS)

    run()


# Found by the fuzzer: predict() arguments R cannot match are the caller's error.
@pytest.mark.parametrize("args", [{"": None}, {"": 1}, {"s": 1}])
def test_unmatchable_arguments_are_input_errors(client, args):
    row = {"wt": 2.62, "cyl": "6", "power": "mid", "gear": 4}
    r = client.simulate_post("/models/lm_factor/predict", json={"data": [row], "args": args})
    assert r.status_code == 422, r.text
