"""Client-level differential privacy of secure federations: the noise the server adds has the
standard deviation z x C and comes from the CSPRNG; the published head is the members' mean
plus that noise over their number; the ledger gives dp-accounting's epsilon and survives a
restart; rounds stop when the next one would exceed the target."""
import numpy as np
import pytest

from fl import client_privacy, create_app, ledger, privacy
from fl.database import Database
from tests.support.fl_client import Clock
from tests.support.secure_member import SecureMember, random_inputs, run_secure_round
from tinybert_core import codec

ROWS, COLS, CLIP, MEMBERS = 3, 384, 1.0, 5


def make_app(database, **config):
    return create_app({"TESTING": True, "MIN_UPDATES": MEMBERS, "ROUND_SECONDS": 40.0,
                       "CLIP_BOUND": CLIP, "CLOCK": Clock(), "FEDERATION_MODE": "secure",
                       "PRIVACY": "client", "DP_NOISE_MULTIPLIER": 2.0, **database, **config})


def head_of(http):
    head = codec.decode_head(http.get("/api/head").data)
    return head.version, np.array(list(head.weights) + list(head.bias), dtype=np.float64)


def test_the_noise_has_standard_deviation_z_times_c_from_the_csprng():
    draws = np.array([client_privacy.noised(np.zeros(1), 2.0, 3.0)[0] for _ in range(500)])
    assert abs(draws.std(ddof=1) - 6.0) < 0.15 * 6.0
    assert abs(draws.mean()) < 4 * 6.0 / np.sqrt(500)
    # Seeded from secrets each time: two draws never repeat; a given seed repeats exactly.
    assert not np.array_equal(client_privacy.noised(np.zeros(8), 1, 1),
                              client_privacy.noised(np.zeros(8), 1, 1))
    assert np.array_equal(client_privacy.noised(np.zeros(8), 1, 1, random_bits=7),
                          client_privacy.noised(np.zeros(8), 1, 1, random_bits=7))


def test_the_noise_multiplier_is_calibrated_to_the_target_with_dp_accounting():
    settings = client_privacy.resolve("client", {"target_epsilon": 8, "delta": 1e-5,
                                                 "planned_rounds": 11})
    assert settings["noise_multiplier"] == pytest.approx(2.11, abs=0.01)
    assert client_privacy.spent([settings["noise_multiplier"]] * 11, 1e-5) <= 8 + 1e-6
    assert client_privacy.resolve("none", {}) is None
    with pytest.raises(ValueError, match="privacy must be one of"):
        client_privacy.resolve("example-ish", {})


def test_a_round_publishes_the_mean_plus_noise_and_the_ledger_counts_it(database):
    app = make_app(database)
    http = app.test_client()
    state = http.get("/api/federation").get_json()
    assert state["privacy"]["mode"] == "client" and state["privacy"]["rounds"] == 0
    assert state["secure"]["weight_cap"] == 1   # each member counts once
    members = [SecureMember(http) for _ in range(MEMBERS)]
    rng = np.random.default_rng(5)
    assert run_secure_round(members, random_inputs(MEMBERS, ROWS, COLS, CLIP, rng, weight_cap=1))[
        "result_version"] == 1
    _, before = head_of(http)
    deltas = random_inputs(MEMBERS, ROWS, COLS, CLIP, rng, weight_cap=1)
    assert run_secure_round(members, deltas)["result_version"] == 2
    _, after = head_of(http)
    # What the server added to the sum: N(0, (zC)^2) on each of the 1,155 coordinates.
    summed = sum(np.array(w + b) for w, b, _ in deltas)   # every weight counts as 1
    noise = (after - before) * MEMBERS - summed
    assert abs(noise.std() - 2.0 * CLIP) < 0.15 * 2.0 * CLIP, noise.std()

    shown = http.get("/api/federation").get_json()["privacy"]
    expected = privacy.epsilon_after_rounds([(2.0, 1.0)] * 2, 1e-5)
    assert shown["rounds"] == 2 and shown["epsilon"] == pytest.approx(expected)
    assert (shown["noise_multiplier"], shown["clip"], shown["delta"]) == (2.0, CLIP, 1e-5)
    db = Database(database.get("DATABASE_URL") or database["DATABASE_PATH"])
    with db.connect() as conn:
        rows = ledger.releases(conn, 1)
    db.dispose()
    assert [(r["mechanism"], r["noise_multiplier"], r["clip"], r["members"]) for r in rows] \
        == [("gaussian", 2.0, CLIP, MEMBERS)] * 2

    # A new server process on the same database reads the same ledger.
    again = make_app(database).test_client().get("/api/federation").get_json()["privacy"]
    assert again["epsilon"] == pytest.approx(expected) and again["rounds"] == 2


def test_rounds_stop_once_the_next_would_exceed_the_target(database):
    # z = 2: epsilon 2.17 after one round, more after two; a target of 2.5 allows one.
    app = make_app(database, TARGET_EPSILON=2.5)
    http = app.test_client()
    members = [SecureMember(http) for _ in range(MEMBERS)]
    inputs = random_inputs(MEMBERS, ROWS, COLS, CLIP, np.random.default_rng(2),
                           weight_cap=1)
    assert run_secure_round(members, inputs)["result_version"] == 1
    shown = http.get("/api/federation").get_json()["privacy"]
    assert shown["exhausted"] and shown["epsilon"] == pytest.approx(2.17, abs=0.01)
    round_id = members[0].secure_state()["round"]
    answer = members[0].join(round_id)
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "budget_spent"
    assert "privacy budget is spent" in answer.get_json()["detail"]
    assert head_of(http)[0] == 1


def test_client_privacy_needs_the_secure_mode(tmp_path):
    with pytest.raises(ValueError, match="needs the secure mode"):
        create_app({"TESTING": True, "FEDERATION_MODE": "plain", "PRIVACY": "client",
                    "DATABASE_PATH": str(tmp_path / "fl.sqlite3")})
    with pytest.raises(ValueError, match="PRIVACY must be one of"):
        create_app({"TESTING": True, "PRIVACY": "sometimes",
                    "DATABASE_PATH": str(tmp_path / "fl.sqlite3")})
