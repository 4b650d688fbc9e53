"""Differential privacy of secure federations: the noise the server adds has the standard
deviation z x C and comes from the CSPRNG; round 1 publishes the head of directions of the
class sums (plus noise of z, client level; nothing added by the server, example level); later
rounds publish the members' mean plus noise over their number; the ledger gives
dp-accounting's epsilon and survives a restart; rounds stop when the next one would exceed the
target, and the example level has exactly one."""
import numpy as np
import pytest

from fl import client_privacy, create_app, ledger, privacy
from fl.database import Database
from fl.first_round import direction_head
from tests.support.fl_client import Clock
from tests.support.secure_member import SecureMember, random_inputs, run_secure_round
from tinybert_core import codec
from tinybert_core.private_prototype import direction_head as core_direction_head

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
    with pytest.raises(ValueError, match="PRIVACY must be one of .* or auto"):
        create_app({"TESTING": True, "PRIVACY": "sometimes",
                    "DATABASE_PATH": str(tmp_path / "fl.sqlite3")})


def _angles(head, inputs):
    """Per label: the angle between the published row and the row of the inputs' sum."""
    total = sum(np.array(w) for w, _, _ in inputs).reshape(ROWS, COLS)
    rows = head[:ROWS * COLS].reshape(ROWS, COLS)
    return [float(np.arccos(np.clip(rows[k] @ total[k] / np.linalg.norm(rows[k])
                                    / np.linalg.norm(total[k]), -1, 1))) for k in range(ROWS)], \
        total


def _class_sum_inputs(rng):
    """Five members' class sums scaled to norm 1, weight 1 (what member_sums sends)."""
    out = []
    for _ in range(MEMBERS):
        x = rng.normal(size=(ROWS, COLS)) + 3.0 * np.eye(ROWS, COLS)
        x /= np.linalg.norm(x)
        out.append((x.ravel().tolist(), [0.0] * ROWS, 1))
    return out


def test_round_1_publishes_the_directions_of_the_noisy_class_sums(database):
    z = 0.02
    http = make_app(database, DP_NOISE_MULTIPLIER=z, CLIP_BOUND=30.0,
                    TARGET_EPSILON=5000.0).test_client()
    state = http.get("/api/federation").get_json()
    members = [SecureMember(http) for _ in range(MEMBERS)]
    assert members[0].secure_state()["clip"] == 1.0     # the class sums' bound, not CLIP_BOUND
    assert members[0].secure_state()["input"] == "class_sums"
    inputs = _class_sum_inputs(np.random.default_rng(4))
    assert run_secure_round(members, inputs)["result_version"] == 1
    version, head = head_of(http)
    rows = head[:ROWS * COLS].reshape(ROWS, COLS)
    assert np.allclose(np.linalg.norm(rows, axis=1), 40.0, rtol=1e-5)
    assert np.all(head[ROWS * COLS:] == 0.0)
    # The angle to the true sum is what noise of std z x 1 on each coordinate gives:
    # tan(angle) ~ z sqrt(COLS - 1) / |sum row|.
    angles, total = _angles(head, inputs)
    for k in range(ROWS):
        expected = z * np.sqrt(COLS - 1) / np.linalg.norm(total[k])
        assert 0.7 * expected < np.tan(angles[k]) < 1.3 * expected, (angles, expected)
    shown = http.get("/api/federation").get_json()["privacy"]
    assert shown["rounds"] == 1 and state["privacy"]["mode"] == "client"
    assert shown["epsilon"] == pytest.approx(privacy.epsilon_after_rounds([(z, 1.0)], 1e-5))


def test_the_example_mode_adds_no_server_noise_and_allows_one_release(database):
    http = make_app(database, PRIVACY="example", DP_NOISE_MULTIPLIER=None,
                    DP_PLANNED_ROUNDS=10).test_client()
    shown = http.get("/api/federation").get_json()["privacy"]
    # One release (the planned rounds do not apply), z calibrated to epsilon 8 for it.
    assert shown["mode"] == "example" and not shown["exhausted"]
    assert shown["noise_multiplier"] == pytest.approx(
        privacy.noise_for_epsilon(8.0, 1e-5, 1.0, 1), rel=1e-9)
    members = [SecureMember(http) for _ in range(MEMBERS)]
    assert members[0].secure_state()["clip"] == client_privacy.EXAMPLE_SUMS_BOUND
    rng = np.random.default_rng(6)
    inputs = [(w, b, 1) for w, b, _ in _class_sum_inputs(rng)]
    for w, _, _ in inputs:                      # browsers' sums are not unit length
        w[:] = (np.array(w) * rng.uniform(5, 50)).tolist()
    assert run_secure_round(members, inputs)["result_version"] == 1
    _, head = head_of(http)
    angles, _ = _angles(head, inputs)
    assert max(angles) < 1e-5                   # the sum's directions, nothing added
    shown = http.get("/api/federation").get_json()["privacy"]
    assert shown["rounds"] == 1 and shown["exhausted"]
    assert shown["epsilon"] == pytest.approx(8.0, abs=1e-3)
    round_id = members[0].secure_state()["round"]
    answer = members[0].join(round_id)
    assert answer.status_code == 403 and answer.get_json()["error"] == "budget_spent"
    assert "covers that one release" in answer.get_json()["detail"]


def test_the_direction_head_is_the_cores():
    rng = np.random.default_rng(8)
    sums = rng.normal(size=ROWS * COLS + ROWS)
    sums[2 * COLS:3 * COLS] = 0.0                # a label with neither examples nor noise
    server = direction_head(sums, ROWS, COLS)
    core = core_direction_head(sums[:ROWS * COLS].tolist(), ROWS, COLS)
    np.testing.assert_allclose(server, np.concatenate([core["weights"], core["bias"]]),
                               rtol=1e-12, atol=1e-12)
    assert list(server[ROWS * COLS:]) == [0.0, 0.0, -80.0]


@pytest.mark.parametrize("cohort, mode", [(5, "example"), (99, "example"), (100, "client"),
                                          (500, "client")])
def test_auto_picks_the_mode_measured_best_for_the_cohort(tmp_path, cohort, mode):
    app = create_app({"TESTING": True, "FEDERATION_MODE": "secure", "PRIVACY": "auto",
                      "MIN_UPDATES": cohort, "DATABASE_PATH": str(tmp_path / "fl.sqlite3")})
    shown = app.test_client().get("/api/federation").get_json()["privacy"]
    assert shown["mode"] == mode and shown["target_epsilon"] == 8.0


def test_example_privacy_turned_on_later_replaces_the_head_with_a_private_one(database):
    http = make_app(database, PRIVACY="none").test_client()
    members = [SecureMember(http) for _ in range(MEMBERS)]
    assert members[0].secure_state()["input"] == "delta"   # statistics, sent as a delta
    rng = np.random.default_rng(9)
    assert run_secure_round(members, random_inputs(MEMBERS, ROWS, COLS, CLIP, rng))[
        "result_version"] == 1
    # The operator turns example-level privacy on: the next round takes class sums again
    # (not deltas trained from the head made without privacy) and its head replaces it.
    http = make_app(database, PRIVACY="example", DP_NOISE_MULTIPLIER=None).test_client()
    for m in members:
        m.http = http
    assert members[0].secure_state()["clip"] == client_privacy.EXAMPLE_SUMS_BOUND
    assert members[0].secure_state()["input"] == "class_sums"
    inputs = [(w, b, 1) for w, b, _ in _class_sum_inputs(rng)]
    assert run_secure_round(members, inputs)["result_version"] == 2
    _, head = head_of(http)
    angles, _ = _angles(head, inputs)
    # The sums are short next to the example bound (1,000), so fixed point rounds them more.
    assert max(angles) < 1e-3 and np.all(head[ROWS * COLS:] == 0.0)


@pytest.mark.parametrize("spec, noise, member", [
    ({"mode": "example"}, "distributed", 0.5),          # z / sqrt(threshold(5) = 4)
    ({"mode": "example", "noise": "local"}, "local", 1.0),
    ({"mode": "client"}, "server", None)])
def test_what_one_members_input_carries_on_its_own(spec, noise, member):
    settings = client_privacy.resolve(dict(spec, noise_multiplier=1.0),
                                      {"target_epsilon": 8, "delta": 1e-5, "planned_rounds": 1})
    shown = client_privacy.describe(settings, [], 1.0, 5)
    assert shown["noise"] == noise and shown["member_noise_multiplier"] == member
    if member is None:
        assert shown["member_epsilon"] is None
    else:
        assert shown["member_epsilon"] == pytest.approx(
            privacy.epsilon_after_rounds([(member, 1.0)], 1e-5))
    with pytest.raises(ValueError, match="noise must be one of distributed, local"):
        client_privacy.resolve({"mode": "example", "noise": "server"},
                               {"target_epsilon": 8, "delta": 1e-5, "planned_rounds": 1})
