"""Schemathesis against the running API: the app on a real socket (live_server),
every operation of /api/schema/ fuzzed as an authenticated shifter (token auth).
Checks: never a 5xx, and every response conforms to the schema."""

import pytest
import schemathesis
from django.contrib.auth.models import Group
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from accounts.roles import SHIFTERS
from recommender.services import feedback_record
from tests.factories import (
    DeclaredReferenceFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
    UserFactory,
)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def shifter_token(transactional_db) -> str:
    # A transactional test starts from an empty database: the roles' data migration is gone.
    Group.objects.get_or_create(name=SHIFTERS)
    sam = UserFactory(username="sam", groups=[SHIFTERS])
    # Something to list on every endpoint: runs, a Certhelper label, a decision, a declared reference.
    for number in (380100, 380090, 380050):
        RunFactory(run_number=number)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run__run_number=380090, reconstruction="express"),
        reference=RunReconstructionFactory(run__run_number=380050, reconstruction="express"),
    )
    DeclaredReferenceFactory(
        run_reconstruction=RunReconstructionFactory(run__run_number=380050, reconstruction="express")
    )
    feedback_record(
        user=sam, run_number=380100, reconstruction="express", decision="accepted", recommended_run_number=380050
    )
    return Token.objects.create(user=sam).key


@pytest.fixture
def api_schema(live_server, shifter_token):
    return schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", headers={"Authorization": f"Token {shifter_token}"}, timeout=10
    )


# Every operation of the schema; a test below fails when the API grows one not listed here.
OPERATIONS = [
    ("GET", "/api/feedback/"),
    ("POST", "/api/feedback/"),
    ("GET", "/api/feedback/{id}/"),
    ("GET", "/api/references/"),
    ("POST", "/api/references/"),
    ("POST", "/api/references/{id}/end/"),
    ("GET", "/api/runs/"),
    ("GET", "/api/runs/{run_number}/{reconstruction}/recommendations/"),
    ("POST", "/api/runs/{run_number}/{reconstruction}/recommendations/"),
]  # GET /api/schema/ itself schemathesis leaves out; loading it above exercises it.
FUZZ_API = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _operations(api_schema) -> dict[tuple[str, str], object]:
    found = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()  # raises on an operation schemathesis cannot read
        found[(operation.method.upper(), operation.path)] = operation
    return found


def test_it_fuzzes_every_operation_of_the_schema(api_schema):
    assert sorted(_operations(api_schema)) == sorted(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_never_fails_and_answers_as_documented(api_schema, shifter_token, method, path, mode):
    operation = _operations(api_schema)[(method, path)]
    headers = {"Authorization": f"Token {shifter_token}"}

    @FUZZ_API
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case):
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)

    call()


@pytest.mark.parametrize("reconstruction", ["express", "prompt"])
def test_recommendations_for_a_known_run_answer_as_documented(api_schema, shifter_token, reconstruction):
    # Random run numbers almost never exist; this reaches the ranking and its 200 answer.
    operation = _operations(api_schema)[("GET", "/api/runs/{run_number}/{reconstruction}/recommendations/")]
    headers = {"Authorization": f"Token {shifter_token}"}
    fixed = {"run_number": 380100, "reconstruction": reconstruction}

    @settings(FUZZ_API, max_examples=3)
    @given(case=operation.as_strategy(path_parameters=fixed))
    def call(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
        assert response.status_code == 200

    call()
