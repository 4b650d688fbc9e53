"""Secure rounds through the API, with Python members (the browsers' steps from the same core
code): the head that comes out is the weighted mean of the inputs (FedAvg; the prototype head
in the first round), dropouts at every phase are survived up to the threshold and abort the
round beyond it, the server refuses messages out of turn, and what the server stores never
shows an input."""
import numpy as np
import pytest

from fl import create_app, first_round
from fl.database import Database
from fl.tables import secure_inputs, secure_members, secure_reveals, secure_shares
from tests.support.fl_client import Clock
from tests.support.secure_member import SecureMember, random_inputs, run_secure_round
from tinybert_core import codec

ROWS, COLS, CLIP = 3, 384, 30.0


def make_app(database, **config):
    return create_app({"TESTING": True, "MIN_UPDATES": 5, "ROUND_SECONDS": 40.0,
                       "CLIP_BOUND": CLIP, "SECURE_WEIGHT_CAP": 100, "CLOCK": Clock(),
                       **database, **config})


def head_of(http):
    head = codec.decode_head(http.get("/api/head").data)
    return head.version, np.array(list(head.weights) + list(head.bias))


def weighted_mean(inputs, which):
    total = sum(inputs[i][2] for i in which)
    return sum(np.array(inputs[i][0] + inputs[i][1]) * inputs[i][2] for i in which) / total


@pytest.mark.parametrize("n", [5, 7])
def test_a_round_gives_the_prototype_head_then_the_weighted_mean(database, n):
    app = make_app(database, MIN_UPDATES=n)
    http = app.test_client()
    members = [SecureMember(http) for _ in range(n)]
    rng = np.random.default_rng(n)
    # Round 1: class statistics (norm <= sqrt(2)) -> the prototype head of their mean.
    stats = random_inputs(n, ROWS, COLS, 1.4, rng)
    final = run_secure_round(members, stats)
    assert final["phase"] == "aggregated" and final["result_version"] == 1
    version, got = head_of(http)
    expected = first_round.prototype_head(weighted_mean(stats, range(n)), ROWS, COLS)
    assert version == 1 and np.allclose(got, expected, atol=1e-3)
    # Round 2: deltas added to the head.
    deltas = random_inputs(n, ROWS, COLS, CLIP, rng)
    final = run_secure_round(members, deltas)
    assert final["result_version"] == 2
    _, after = head_of(http)
    assert np.allclose(after - got, weighted_mean(deltas, range(n)), atol=1e-3)
    report = http.get("/api/rounds/%d" % final["round"]).get_json()
    assert report["status"] == "aggregated" and report["kind"] == "secure"
    assert (report["cohort"], report["shared"], report["survivors"]) == (n, n, n)


@pytest.mark.parametrize("phase", ["share", "mask", "reveal"])
def test_a_third_may_leave_at_any_phase(database, phase):
    app = make_app(database, MIN_UPDATES=7)
    clock = app.config["CLOCK"]
    http = app.test_client()
    members = [SecureMember(http) for _ in range(7)]
    inputs = random_inputs(7, ROWS, COLS, 1.4, np.random.default_rng(1))

    following = {"share": "mask", "mask": "reveal", "reveal": "end"}

    def wait_out(name, state):   # the deadline of the phase they left in passes
        if name == following[phase]:
            clock.now += 11
    final = run_secure_round(members, inputs, leave={phase: [1, 4]}, before_phase=wait_out)
    assert final["phase"] == "aggregated", final
    stayed = [i for i in range(7) if phase == "reveal" or i not in (1, 4)]
    _, got = head_of(http)
    expected = first_round.prototype_head(weighted_mean(inputs, stayed), ROWS, COLS)
    assert np.allclose(got, expected, atol=1e-3)


def test_more_than_a_third_leaving_aborts_and_publishes_nothing(database):
    app = make_app(database, MIN_UPDATES=7)
    clock = app.config["CLOCK"]
    http = app.test_client()
    members = [SecureMember(http) for _ in range(7)]
    inputs = random_inputs(7, ROWS, COLS, 1.4, np.random.default_rng(2))

    def wait_out(name, state):
        if name == "reveal":
            clock.now += 11
    final = run_secure_round(members, inputs, leave={"mask": [0, 1, 2]},
                             before_phase=wait_out)
    assert final["phase"] == "aborted" and "too few" in final["detail"]
    assert head_of(http)[0] == 0
    state = SecureMember(http).state()
    assert state["round"]["phase"] == "advertise" and state["round"]["id"] > final["round"]


def test_the_round_starts_at_its_deadline_with_the_minimum_cohort(database):
    app = make_app(database, MIN_UPDATES=8)
    clock = app.config["CLOCK"]
    http = app.test_client()
    members = [SecureMember(http) for _ in range(5)]
    round_id = members[0].secure_state()["round"]
    for m in members[:4]:
        assert m.join(round_id).status_code == 200
    clock.now += 41
    assert members[0].secure_state()["phase"] == "advertise"   # 4 < 5: it waits
    assert members[4].join(round_id).status_code == 200
    clock.now += 41
    state = members[0].secure_state()
    assert state["phase"] == "share" and len(state["members"]) == 5


def test_messages_out_of_turn_are_refused_and_counted(database):
    app = make_app(database)
    http = app.test_client()
    members = [SecureMember(http) for _ in range(5)]
    round_id = members[0].secure_state()["round"]
    assert members[0].join(round_id).status_code == 200
    again = members[0].join(round_id)
    assert again.status_code == 409 and again.get_json()["error"] == "already_sent"
    early = members[1].post("reveal", {"round": round_id, "seed": {}, "key": {}})
    assert early.status_code == 409 and early.get_json()["error"] == "wrong_phase"
    bad = members[2].post("join", {"round": round_id, "encryption_key": "AAAA",
                                   "mask_key": "AAAA"})
    assert bad.status_code == 422 and bad.get_json()["error"] == "bad_keys"
    plain = members[3].send_update()
    assert plain.status_code == 409 and plain.get_json()["error"] == "secure_only"
    stranger = http.get("/api/secure/state")
    assert stranger.status_code == 401
    refused = http.get("/api/rounds/%d" % round_id).get_json()["refusals"]
    assert refused == {"already_sent": 1, "bad_keys": 1, "secure_only": 1, "wrong_phase": 1}


def test_what_the_server_stores_never_shows_an_input(database):
    app = make_app(database, MIN_UPDATES=6)
    clock = app.config["CLOCK"]
    http = app.test_client()
    members = [SecureMember(http) for _ in range(6)]
    inputs = random_inputs(6, ROWS, COLS, CLIP, np.random.default_rng(3))
    updates = [np.array(w + b) for w, b, _ in inputs]
    db = Database(app.config.get("DATABASE_URL") or app.config["DATABASE_PATH"])
    seen = {"rows": 0}

    def inspect(phase, state):
        if phase == "reveal":
            clock.now += 11   # member 5 left before sending its input: its keys are revealed
        with db.engine.connect() as conn:
            for row in conn.execute(secure_inputs.select()):
                words = np.frombuffer(bytes(row.words), "<i4").astype(np.float64)[:-1]
                for x in updates:
                    assert abs(words @ x / np.linalg.norm(words) / np.linalg.norm(x)) < 0.1
                counts = np.bincount(np.frombuffer(bytes(row.words), "<u4") >> 28,
                                     minlength=16)
                expected = len(updates[0]) / 16
                assert np.sum((counts - expected) ** 2 / expected) < 57.4   # p = 1e-6
                seen["rows"] += 1
            reveals = list(conn.execute(secure_reveals.select()))
            for owner in {r.owner for r in reveals}:
                kinds = {r.kind for r in reveals if r.owner == owner}
                assert len(kinds) == 1   # never a seed share and a key share of one member
            if phase == "end":
                for table in (secure_members, secure_shares, secure_inputs, secure_reveals):
                    assert list(conn.execute(table.select())) == []
    inputs_sent = [(w, b, n) for w, b, n in inputs]
    final = run_secure_round(members, inputs_sent, leave={"mask": [5]}, before_phase=inspect)
    assert final["phase"] == "aggregated" and seen["rows"] >= 5
    db.dispose()
