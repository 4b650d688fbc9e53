"""The round life-cycle apart from HTTP: refusals carry a reason and no status (the API's
table gives one to every reason), and the round strategy alone decides what an update must
hold and how a round's updates become the next head."""
import dataclasses

import numpy as np
import pytest

from fl import create_app, enrollment, refusals, secure_rounds
from fl.aggregators import fedavg
from fl.http_errors import REFUSAL_STATUS, refusal_status
from fl.refusals import Refusal
from fl.strategies import GlobalHead, PrototypeThenDeltas
from tests.support.fl_client import Participant
from tinybert_core import codec

SENDER = {"id": 7, "labels": ["a", "b"], "dim": 3}


def _payload(client_id=7, rows=2, cols=3, scale=0.1, seed=0, round_id=4):
    rng = np.random.default_rng(seed)
    return codec.encode_update(codec.Update(client_id, round_id, 1, 5, rows, cols,
                                            rng.normal(scale=scale, size=rows * cols).tolist(),
                                            rng.normal(scale=scale, size=rows).tolist()), 10.0)


def test_every_reason_has_an_http_status_and_refusals_have_none():
    reasons = set(codec.REASONS) | {refusals.UNAUTHORIZED, refusals.WRONG_CONTENT_TYPE,
                                    refusals.TOO_LARGE, refusals.WRONG_CLIENT,
                                    refusals.NORM_EXCEEDED, refusals.RATE_LIMITED,
                                    *refusals.CONFLICTS,
                                    *secure_rounds.REASONS, *enrollment.REASONS}
    assert reasons == set(REFUSAL_STATUS)
    assert {refusal_status(r) for r in refusals.CONFLICTS} == {409}
    assert refusal_status("bad_shape") == 422 and refusal_status("truncated") == 400
    refusal = Refusal("stale_round", "late", round_id=3, extra={"current_round": 4})
    assert not any("status" in name for name in vars(refusal))


def test_the_strategy_checks_updates_and_names_the_round_of_each_refusal():
    strategy = PrototypeThenDeltas(fedavg, clip_bound=1.0)
    checked = strategy.check(_payload(), SENDER)
    assert (checked.round_id, checked.base_version, checked.num_examples) == (4, 1, 5)
    cases = {"wrong_client": _payload(client_id=8), "bad_shape": _payload(rows=3),
             "norm_exceeded": _payload(scale=5.0), "truncated": _payload()[:20]}
    for reason, payload in cases.items():
        with pytest.raises(Refusal) as refused:
            strategy.check(payload, SENDER)
        assert refused.value.reason == reason
        assert refused.value.round_id == (None if reason == "truncated" else 4)


def test_the_first_head_is_built_from_statistics_and_later_ones_add_the_step():
    strategy = PrototypeThenDeltas(fedavg, clip_bound=10.0)
    stored = [{"payload": _payload(seed=s), "num_examples": 5} for s in (1, 2)]
    deltas = np.stack([np.concatenate([u.weights, u.bias]) for u in
                       (codec.decode_update(row["payload"]) for row in stored)])
    zero = GlobalHead(0, np.zeros(6, np.float32), np.zeros(2, np.float32))
    first = strategy.next_head(zero, stored)
    assert first.dtype == np.float32 and first.shape == (8,)
    head = GlobalHead(3, np.ones(6, np.float32), np.ones(2, np.float32))
    assert np.array_equal(strategy.next_head(head, stored),
                          (1.0 + fedavg(deltas, np.array([5.0, 5.0]))).astype(np.float32))


class HalfSteps:
    """A wrapper strategy, as a privacy or robustness wrapper would be: checks as the one it
    wraps, moves the head half as far."""

    def __init__(self, inner):
        self.inner = inner

    def check(self, payload, sender):
        return self.inner.check(payload, sender)

    def next_head(self, head, stored):
        new = self.inner.next_head(head, stored)
        return head.flat.astype(np.float32) + (new - head.flat) / 2 if head.version else new


def test_the_round_life_cycle_runs_whatever_strategy_it_is_given(tmp_path):
    app = create_app({"TESTING": True, "MIN_UPDATES": 1, "FEDERATION_MODE": "plain",
                      "DATABASE_PATH": str(tmp_path / "fl.sqlite3")})
    svc = app.extensions["fl"]
    svc.settings = dataclasses.replace(svc.settings,
                                       strategy=HalfSteps(svc.settings.strategy))
    http = app.test_client()
    person = Participant(http)
    assert person.send_update().status_code == 202   # round 1: the prototype head
    first = codec.decode_head(http.get("/api/head").data)
    delta = np.full(3 * 384 + 3, 0.01)
    assert person.send_update(weights=delta[:-3], bias=delta[-3:]).status_code == 202
    second = codec.decode_head(http.get("/api/head").data)
    moved = np.concatenate([second.weights, second.bias]) - np.concatenate(
        [first.weights, first.bias])
    assert second.version == 2 and np.allclose(moved, 0.005, atol=1e-4)
