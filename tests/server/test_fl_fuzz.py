"""Fuzz the API from its own OpenAPI description (schemathesis): over 1,000 generated
requests, valid and invalid, with and without a real token; no answer may be a 5xx or break
the description, and the federation must still work afterwards."""
import pytest
from hypothesis import HealthCheck, given, settings

from fl import create_app
from tests.support.fl_client import Clock, Participant
from tinybert_core import codec

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Operations without inputs give one example; the others share the budget.
EXAMPLES = {"POST /update": 600, "POST /register": 150, "GET /federation": 100,
            "GET /head": 100, "GET /rounds/{round_id}": 150, "GET /health": 5,
            "GET /openapi.json": 5, "GET /secure/state": 40, "POST /secure/join": 40,
            "POST /secure/shares": 40, "GET /secure/shares": 40, "POST /secure/masked": 40,
            "POST /secure/reveal": 40,
            "GET /peers/stats": 30}


def _fuzz(operation, token, sent):
    """Send the operation's budget of generated requests (half the updates with a real
    token), checking each answer against the document; ``sent`` gets (label, status)."""
    label = "%s %s" % (operation.method.upper(), operation.path)

    @settings(max_examples=EXAMPLES[label], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        if operation.path == "/update" and len(sent) % 2 == 0:
            case.headers = dict(case.headers or {}, Authorization="Bearer " + token)
        response = case.call()
        sent.append((label, response.status_code))
        case.validate_response(response, checks=CHECKS)

    run()


# Tight rate limits: many answers are 429, which the document must describe too.
LIMITED = {"RATE_LIMIT_TOKEN": 40, "RATE_LIMIT_ADDRESS": 500, "RATE_LIMIT_REGISTER": 60}


@pytest.mark.parametrize("limits", [{}, LIMITED], ids=["default_limits", "tight_limits"])
def test_fuzzed_requests_never_fail_the_server(tmp_path, limits):
    clock = Clock()
    app = create_app({"TESTING": True, "FEDERATION_MODE": "plain",
                      "DATABASE_PATH": str(tmp_path / "fl.sqlite3"),
                      "MIN_UPDATES": 2, "CLOCK": clock, **limits})
    http = app.test_client()
    token = http.post("/api/register", json={}).get_json()["token"]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    sent = []

    for operation in schema.get_all_operations():
        _fuzz(operation.ok(), token, sent)

    counts = {label: sum(1 for s in sent if s[0] == label) for label in EXAMPLES}
    assert len(sent) >= 1000, counts
    assert not [s for s in sent if s[1] >= 500]
    if limits:
        assert {s[1] for s in sent if s[0] == "POST /update"} >= {400, 429}
        clock.now += 3600   # the next windows: the limits start again
    else:
        assert {s[1] for s in sent if s[0] == "POST /update"} >= {400, 401}

    # State intact: the federation answers and a well-formed round still completes.
    state = http.get("/api/federation").get_json()
    assert state["round"]["status"] in ("open", "collecting")
    assert codec.decode_head(http.get("/api/head").data).version == state["head_version"]
    for _ in range(2):
        answer = Participant(http).send_update(examples=3, bound=1.0)
        assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["round_closed"]
