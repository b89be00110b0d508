"""openapi.json is the API's contract: schemathesis generates requests from it for every
``/api/v1`` operation, valid ones and invalid ones, and runs all its default checks on the
answers (no server error; documented status codes, content types, headers and bodies; valid
input accepted and invalid input refused; authentication not ignored), as an administrator
and as an employee, against the app and the demo portal in-process.

One allowance, in the check that schema-valid input is accepted: a 422 ``validation`` naming
a field is the refusal of a rule the document cannot state (an unknown user, an end before
the start, a successor who is dismissed), and is accepted as an answer to valid input. A 422
``invalid_parameter`` (a value the document allows but the route cannot read) is not."""

from __future__ import annotations

from typing import Any, cast

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select

from portal_ext.extensions import db
from portal_ext.moves.models import MoveBatch
from tests.ext.test_api import ADMIN, EMPLOYEE, bearer, create_token, json_of

EXAMPLES = 12


def valid_input_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """positive_data_acceptance, allowing a domain rule's refusal (see above)."""
    if response.status_code == 422:
        error = response.json().get("error") or {}
        if error.get("code") == "validation" and error.get("field"):
            return None
    return positive_data_acceptance(ctx, response, case)


def described(exc: BaseException) -> str:
    """The failure with what it groups (Hypothesis's "unreliable results" hides its cause)."""
    parts = [str(exc)]
    for inner in getattr(exc, "exceptions", ()) or ([exc.__cause__] if exc.__cause__ else []):
        parts.append(f"  {type(inner).__name__}: {described(inner)}")
    return "\n".join(parts)


def contract_failures(app: Flask, headers: dict[str, str], shard: int = 0,
                      shards: int = 1) -> list[str]:
    """Every ``shards``-th operation from the ``shard``-th on (all of them by default), positive
    then negative cases; the failures found, one line each."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = sorted((cast(Any, result).ok() for result in schema.get_all_operations()),
                        key=lambda operation: operation.label)
    for operation in operations[shard::shards]:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers,
                                       excluded_checks=[positive_data_acceptance],
                                       additional_checks=[valid_input_accepted])

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # names the operation and case
                failures.append(f"{operation.label} ({mode}): {described(exc)}")
    return failures


# The operations in a few shards, so that two test processes share the work evenly.
SHARDS = 4


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS), ids=[f"{n + 1}of{SHARDS}" for n in range(SHARDS)])
@pytest.mark.parametrize("email", [ADMIN, EMPLOYEE], ids=["admin", "employee"])
def test_the_api_keeps_its_contract(app: Flask, email: str, shard: int) -> None:
    failures = contract_failures(app, bearer(create_token(app, email)), shard, SHARDS)
    assert not failures, "\n\n".join(failures)


# -- what schemathesis found, each pinned ----------------------------------------------------
@pytest.fixture
def admin(app: Flask) -> dict[str, str]:
    return bearer(create_token(app, ADMIN))


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    error: dict[str, Any] = json_of(answer)["error"]
    return error


def standing_deputy(client: FlaskClient, admin: dict[str, str], user_id: int) -> Any:
    items = json_of(client.get("/api/v1/deputies", headers=admin,
                               query_string={"user": user_id}))["items"]
    return items[0]["deputy_id"] if items else None


def test_an_empty_deputy_body_is_422_and_clears_nothing(client: FlaskClient,
                                                        admin: dict[str, str]) -> None:
    assert client.put("/api/v1/deputies/5", headers=admin, json={"deputy_id": 6}).status_code \
        == 200
    assert error_of(client.put("/api/v1/deputies/5", headers=admin, json={}),
                    422)["field"] == "deputy_id"
    assert standing_deputy(client, admin, 5) == 6


def test_an_unknown_body_field_is_named_as_sent(client: FlaskClient,
                                                admin: dict[str, str]) -> None:
    answer = client.put("/api/v1/deputies/5", headers=admin,
                        json={"deputy_id": 7, "colour": "red"})
    assert error_of(answer, 400) == {"code": "unknown_parameter", "field": "colour",
                                     "message": "Unknown field 'colour'. Known: deputy_id."}
    assert standing_deputy(client, admin, 5) is None


def test_a_deputy_of_an_unknown_user_is_404(client: FlaskClient,
                                            admin: dict[str, str]) -> None:
    assert error_of(client.put("/api/v1/deputies/9999", headers=admin, json={"deputy_id": 5}),
                    404)["code"] == "not_found"
    assert error_of(client.delete("/api/v1/deputies/9999", headers=admin),
                    404)["code"] == "not_found"


@pytest.mark.parametrize(("path", "name"), [("/api/v1/events", "since"),
                                            ("/api/v1/deliveries", "since"),
                                            ("/api/v1/deliveries", "until"),
                                            ("/api/v1/users", "page"),
                                            ("/api/v1/absences", "from")])
def test_an_empty_parameter_is_422_naming_it(client: FlaskClient, admin: dict[str, str],
                                             path: str, name: str) -> None:
    answer = client.get(f"{path}?{name}=", headers=admin)
    assert error_of(answer, 422)["field"] == name


def transfer_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(MoveBatch.id))) or 0)


@pytest.mark.parametrize("body", [
    {"user_id": 6, "strategy": "person", "successors": [5], "department_id": 4},
    {"user_id": 6, "strategy": "spread", "department_id": 987654},
    {"user_id": 6, "strategy": "spread", "department_id": "sales"},
], ids=["not-spread", "unknown", "not-an-id"])
def test_a_bogus_department_on_a_transfer_is_422_naming_it(
        app: Flask, client: FlaskClient, admin: dict[str, str], body: dict[str, Any]) -> None:
    answer = client.post("/api/v1/transfers", headers=admin, json=body)
    assert error_of(answer, 422)["field"] == "department_id"
    assert transfer_count(app) == 0


def test_the_document_declares_required_fields_and_every_refusal(client: FlaskClient) -> None:
    document = json_of(client.get("/api/v1/openapi.json"))
    schemas = document["components"]["schemas"]
    required = {"createAbsence": {"start", "end"}, "createTeam": {"name", "kinds", "members"},
                "setStandingDeputy": {"deputy_id"}, "createHandover": {"absence_id"},
                "createTransfer": {"user_id", "strategy"}}
    seen = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label, statuses = f"{method.upper()} {path}", set(operation["responses"])
            has_path_id = any(p["in"] == "path" for p in operation.get("parameters", []))
            if has_path_id:
                assert "404" in statuses, label
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in statuses, label
            if "requestBody" in operation:
                assert {"400", "413"} <= statuses, label
                name = operation["requestBody"]["content"]["application/json"]["schema"][
                    "$ref"].rsplit("/", 1)[1]
                if operation["operationId"] in required:
                    seen.add(operation["operationId"])
                    assert set(schemas[name].get("required", [])) == \
                        required[operation["operationId"]], label
            if operation.get("security", document["security"]):
                assert {"401", "403"} <= statuses, label
    assert seen == set(required)
