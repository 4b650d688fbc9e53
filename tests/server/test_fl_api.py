"""The FL API through Flask's test client, on SQLite and on a real PostgreSQL: registration,
rounds, aggregation, and every refusal (counted in the round, never breaking it)."""
import struct
import zlib

import numpy as np
import pytest

from fl import create_app
from fl.aggregators import fedavg
from tests.support.fl_client import Clock, D, K, Participant
from tinybert_core import codec


@pytest.fixture()
def make_app(database):
    def make(**config):
        settings = {"TESTING": True, "CLOCK": Clock(), "MIN_UPDATES": 3,
                    "FEDERATION_MODE": "plain", **database}
        settings.update(config)
        return create_app(settings)
    return make


@pytest.fixture()
def app(make_app):
    return make_app()


def _crc(data):
    data = bytearray(data)
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])))
    return bytes(data)


def _round(http, round_id):
    return http.get("/api/rounds/%d" % round_id).get_json()


def test_federation_describes_the_default_head(app):
    http = app.test_client()
    state = http.get("/api/federation").get_json()
    assert state["labels"] == ["Dev", "Meeting", "Email"] and state["dim"] == 384
    assert state["encoder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert state["hidden_size"] == 384 and state["head_version"] == 0
    assert state["round"]["status"] == "open" and state["min_updates"] == 3
    assert state["round"]["deadline"] == pytest.approx(1_000_000.0 + 300)
    head = http.get("/api/head")
    assert head.mimetype == "application/octet-stream" and head.headers["X-Head-Version"] == "0"
    decoded = codec.decode_head(head.data)
    assert (decoded.version, decoded.rows, decoded.cols) == (0, 3, 384)
    assert not any(decoded.weights) and not any(decoded.bias)
    assert http.get("/api/federation?federation=nope").status_code == 404


def test_registration(app):
    http = app.test_client()
    a, b = Participant(http), Participant(http)
    assert a.id != b.id and a.token != b.token
    assert http.post("/api/register", json={"federation": "nope"}).status_code == 404
    bad = http.post("/api/register", json=["x"])
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_request"
    assert bad.get_json()["detail"] and set(bad.get_json()["invalid"]) == {"json"}
    wrong_type = http.post("/api/register", json={"federation": 5}).get_json()
    assert wrong_type["error"] == "bad_request" and "federation" in wrong_type["detail"]


def _close_first_round(http, people):
    """Round 1 (head version 0, whose updates are class statistics: fl.first_round); returns
    the head it built, as float64."""
    for person in people:
        assert person.send(person.encode()).status_code == 202
    head = codec.decode_head(http.get("/api/head").data)
    assert head.version == 1
    return np.concatenate([head.weights, head.bias])


def test_a_round_aggregates_by_fedavg_and_the_next_opens(app):
    http = app.test_client()
    people = [Participant(http) for _ in range(3)]
    base = _close_first_round(http, people)
    first = people[0].state()["round"]["id"]
    sent, counts = [], [10, 30, 60]
    for person, n in zip(people, counts):
        data = person.encode(examples=n)
        sent.append(codec.decode_update(data))
        answer = person.send(data)
        assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["round_closed"] and answer.get_json()["head_version"] == 2
    deltas = np.stack([np.concatenate([u.weights, u.bias]) for u in sent])
    expected = (base + fedavg(deltas, np.array(counts, float))).astype(np.float32)
    head = codec.decode_head(http.get("/api/head").data)
    assert head.version == 2
    assert np.array_equal(np.float32(np.concatenate([head.weights, head.bias])), expected)
    report = _round(http, first)
    assert report["status"] == "aggregated" and report["accepted"] == 3
    assert report["result_version"] == 2 and report["refused"] == 0
    state = http.get("/api/federation").get_json()
    assert state["round"]["id"] != first and state["round"]["base_version"] == 2
    assert state["round"]["status"] == "open"


REFUSALS = {
    # name: (how to send, status, reason)
    "no_token": (lambda p: p.send(p.encode(), token=""), 401, "unauthorized"),
    "bad_token": (lambda p: p.send(p.encode(), token="forged"), 401, "unauthorized"),
    "json_body": (lambda p: p.send(p.encode(), content_type="application/json"), 415,
                  "wrong_content_type"),
    "too_large": (lambda p: p.send(b"\0" * 70_000), 413, "too_large"),
    "truncated": (lambda p: p.send(p.encode()[:-9]), 400, "truncated"),
    "corrupted": (lambda p: p.send(p.encode()[:-5] + b"\x01" + p.encode()[-4:]), 400,
                  "bad_checksum"),
    "bad_version": (lambda p: p.send(_crc(p.encode()[:4] + b"\x09" + p.encode()[5:])), 400,
                    "bad_version"),
    "bad_dtype": (lambda p: p.send(_crc(p.encode()[:5] + b"\x02" + p.encode()[6:])), 422,
                  "bad_scheme"),
    "wrong_client": (lambda p: p.send(p.encode(client_id=p.id + 100)), 403, "wrong_client"),
    "stale_round": (lambda p: p.send(p.encode(round_id=999)), 409, "stale_round"),
    "stale_base": (lambda p: p.send(p.encode(base=7)), 409, "stale_base"),
    "wrong_shape": (lambda p: p.send(p.encode(rows=2, cols=384)), 422, "bad_shape"),
    "wrong_dim": (lambda p: p.send(p.encode(rows=3, cols=383)), 422, "bad_shape"),
    "non_finite": (lambda p: p.send(_crc(p.encode()[:32] + struct.pack("<f", float("inf"))
                                         + p.encode()[36:])), 422, "non_finite"),
    "norm_exceeded": (lambda p: p.send(p.encode(weights=np.full(K * D, 1.0), bound=1e6)),
                      422, "norm_exceeded"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_refusal_is_counted_and_the_round_goes_on(app, case):
    send, status, reason = REFUSALS[case]
    http = app.test_client()
    person, other = Participant(http), Participant(http)
    live = person.state()["round"]["id"]
    answer = send(person)
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["error"] == reason and answer.get_json()["detail"]
    report = _round(http, live)
    assert report["refused"] == 1 and report["refusals"] == {reason: 1}
    assert report["accepted"] == 0 and report["status"] == "open"
    assert other.send(other.encode()).status_code == 202
    assert person.send(person.encode()).status_code == 202   # the refused client may retry
    assert _round(http, live)["accepted"] == 2


def test_replay_is_refused_with_409(app):
    http = app.test_client()
    person = Participant(http)
    data = person.encode()
    assert person.send(data).status_code == 202
    again = person.send(data)
    assert again.status_code == 409 and again.get_json()["error"] == "replay"
    assert person.send(person.encode()).status_code == 409   # one update a round, even new
    report = _round(http, person.state()["round"]["id"])
    assert report["accepted"] == 1 and report["refusals"] == {"replay": 2}


def test_a_stale_update_is_counted_in_the_round_it_names(make_app):
    http = make_app(MIN_UPDATES=1).test_client()
    person, late = Participant(http), Participant(http)
    old = late.encode()
    assert person.send(person.encode()).status_code == 202   # closes round 1
    answer = late.send(old)
    assert answer.status_code == 409 and answer.get_json()["error"] == "stale_round"
    first = codec.decode_update(old).round_id
    assert _round(http, first)["refusals"] == {"stale_round": 1}


def test_deadline_closes_a_round_with_what_arrived(make_app):
    clock = Clock()
    http = make_app(CLOCK=clock, ROUND_SECONDS=60).test_client()
    person = Participant(http)
    first = person.state()["round"]["id"]
    clock.now += 61   # nothing arrived: the round gets a new deadline
    state = person.state()
    assert state["round"]["id"] == first and state["round"]["deadline"] == clock.now + 60
    assert person.send(person.encode()).status_code == 202
    clock.now += 61
    assert _round(http, first)["status"] == "aggregated"
    state = person.state()
    assert state["head_version"] == 1 and state["round"]["id"] != first


def test_aggregator_is_chosen_by_name(make_app):
    http = make_app(AGGREGATOR="median").test_client()
    people = [Participant(http) for _ in range(3)]
    base = _close_first_round(http, people)
    sent = []
    for person in people:
        data = person.encode()
        sent.append(codec.decode_update(data))
        assert person.send(data).status_code == 202
    deltas = np.stack([np.concatenate([u.weights, u.bias]) for u in sent])
    head = codec.decode_head(http.get("/api/head").data)
    assert np.array_equal(np.float32(np.concatenate([head.weights, head.bias])),
                          (base + np.median(deltas, axis=0)).astype(np.float32))
    with pytest.raises(ValueError, match="allowed: fedavg, krum, median, trimmed_mean"):
        make_app(AGGREGATOR="mean")


def test_an_aggregator_that_cannot_decide_fails_the_round_only(make_app):
    clock = Clock()
    http = make_app(CLOCK=clock, AGGREGATOR="krum", MIN_UPDATES=10).test_client()
    person = Participant(http)
    first = person.state()["round"]["id"]
    assert person.send(person.encode()).status_code == 202
    clock.now += 301
    report = _round(http, first)
    assert report["status"] == "failed" and "Krum" in report["detail"]
    state = person.state()
    assert state["head_version"] == 0 and state["round"]["id"] != first
    assert person.send(person.encode()).status_code == 202


def test_a_federation_config_must_match_the_stored_one(make_app, database):
    make_app().test_client().get("/api/federation")
    other = {"name": "default", "labels": ["A", "B"], "dim": 384,
             "encoder": "sentence-transformers/all-MiniLM-L6-v2", "hidden_size": 384}
    app = make_app(FEDERATIONS=[other])
    with pytest.raises(ValueError, match="labels"):
        app.test_client().get("/api/federation")


def test_several_federations(make_app):
    extra = {"name": "tiny", "labels": ["yes", "no"], "dim": 8, "encoder": "e", "hidden_size": 8}
    app = make_app(FEDERATIONS=[{"name": "default", "labels": ["Dev", "Meeting", "Email"],
                                 "dim": 384, "encoder": "sentence-transformers/all-MiniLM-L6-v2",
                                 "hidden_size": 384}, extra])
    http = app.test_client()
    tiny = http.get("/api/federation?federation=tiny").get_json()
    assert tiny["labels"] == ["yes", "no"] and tiny["dim"] == 8
    answer = http.post("/api/register", json={"federation": "tiny"}).get_json()
    assert answer["federation"] == "tiny"
    head = codec.decode_head(http.get("/api/head?federation=tiny").data)
    assert (head.rows, head.cols) == (2, 8)


def test_openapi_describes_exactly_the_routes(app):
    import re
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and spec["servers"] == [{"url": "/api"}]
    described = {(path, method.upper()) for path, ops in spec["paths"].items()
                 for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        # the API blueprints' routes
        if not rule.endpoint.startswith(("api.", "secure.", "peers.")):
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule[len("/api"):])
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == routed
    for path, ops in spec["paths"].items():
        for op in ops.values():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path))


def test_wrong_method_and_unknown_round_are_json(app):
    http = app.test_client()
    answer = http.delete("/api/update")
    assert answer.status_code == 405 and set(answer.get_json()) == {"error", "detail"}
    answer = http.get("/api/rounds/12345")
    assert answer.status_code == 404 and answer.get_json()["error"] == "unknown_round"


def test_config_from_the_environment():
    from fl.config import config_from_env
    config = config_from_env({"MIN_UPDATES": "5", "AGGREGATOR": "krum", "CLIP_BOUND": "2.5",
                              "FEDERATIONS": '[{"name": "x"}]', "UNRELATED": "1"})
    assert config == {"MIN_UPDATES": 5, "AGGREGATOR": "krum", "CLIP_BOUND": 2.5,
                      "FEDERATIONS": [{"name": "x"}]}
    with pytest.raises(ValueError, match="ROUND_SECONDS"):
        config_from_env({"ROUND_SECONDS": "soon"})
    with pytest.raises(ValueError, match="MIN_UPDATES"):
        create_app({"MIN_UPDATES": 0})


def test_a_409_names_the_current_round_and_head(make_app):
    http = make_app(MIN_UPDATES=1).test_client()
    person, late = Participant(http), Participant(http)
    old = late.encode()
    first = person.send(person.encode()).get_json()   # closes round 1
    answer = late.send(old)
    assert answer.status_code == 409 and answer.get_json() == {
        "error": "stale_round", "detail": answer.get_json()["detail"],
        "current_round": first["current_round"], "head_version": 1}
    stale_base = late.send(late.encode(base=0)).get_json()
    assert stale_base["error"] == "stale_base"
    assert (stale_base["current_round"], stale_base["head_version"]) == (first["current_round"], 1)
    data = late.encode()
    assert late.send(data).status_code == 202   # closes round 2
    again = late.send(data).get_json()
    assert again["error"] == "stale_round" and again["head_version"] == 2


def test_the_federation_names_a_round_and_head_that_go_together(make_app):
    import threading
    app = make_app(MIN_UPDATES=1)
    people = [Participant(app.test_client()) for _ in range(2)]
    stop, seen = threading.Event(), []

    def close_rounds(person):
        while not stop.is_set():
            person.send(person.encode())   # each accepted update closes a round

    def read():
        http = app.test_client()
        while not stop.is_set():
            state = http.get("/api/federation").get_json()
            seen.append((state["round"]["base_version"], state["head_version"]))

    threads = [threading.Thread(target=close_rounds, args=(p,)) for p in people]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    while len(seen) < 150 and threads[-1].is_alive():
        threading.Event().wait(0.02)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(seen) >= 150 and seen[-1][1] > 0
    assert all(base == head for base, head in seen)   # the live round's base is the head
