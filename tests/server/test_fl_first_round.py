"""The first round builds the class-prototype head of everyone's examples: browsers send class
statistics (tinybert_core.fl_local), FedAvg averages them, the server turns them into the head
(fl.first_round) that tinybert_core.train's prototype initialisation gives on the union."""
import numpy as np
import pytest

from fl import create_app
from fl.aggregators import fedavg
from fl.first_round import PROTOTYPE_SCALE, prototype_head
from tests.support.fl_client import Participant
from tinybert_core import codec
from tinybert_core.fl_local import class_statistics, local_update
from tinybert_core.head import LinearHead
from tinybert_core.train import DEFAULTS, prototype_init

RNG = np.random.default_rng(21)


def _flat(stats):
    return np.concatenate([np.asarray(stats["weights"]), np.asarray(stats["bias"])])


def _unit_rows(n, d):
    x = RNG.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_a_hand_computed_first_round():
    # Browser A: label 0 twice, label 1 once; browser B: label 1 once.
    a = class_statistics([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [0, 0, 1], 2, 3)
    b = class_statistics([[0.6, 0.8, 0.0]], [1], 2, 3)
    assert np.allclose(_flat(a), [1 / 3, 1 / 3, 0, 0, 0, 1 / 3, 2 / 3, 1 / 3])
    assert np.allclose(_flat(b), [0, 0, 0, 0.6, 0.8, 0, 0, 1])
    step = fedavg(np.stack([_flat(a), _flat(b)]), np.array([3.0, 1.0]))
    # Class means of the union: label 0 (0.5, 0.5, 0), label 1 (0.3, 0.4, 0.5).
    assert np.allclose(prototype_head(step, 2, 3),
                       [20, 20, 0, 12, 16, 20, -40 * 0.5 / 2, -40 * 0.5 / 2])


def test_fedavg_of_class_statistics_is_the_prototype_init_of_the_union():
    assert PROTOTYPE_SCALE == DEFAULTS["scale"]
    k, d = 4, 16
    clients = []
    for n, labels in ((7, [0, 1]), (3, [2]), (12, [0, 1, 2])):   # label 3: nobody
        clients.append((_unit_rows(n, d), RNG.choice(labels, size=n)))
    stats = [_flat(class_statistics(x.tolist(), y.tolist(), k, d)) for x, y in clients]
    step = fedavg(np.stack(stats), np.array([len(y) for _, y in clients], float))
    union_x = np.concatenate([x for x, _ in clients])
    union_y = np.concatenate([y for _, y in clients])
    head = LinearHead(["a", "b", "c", "d"], d)
    prototype_init(head, union_x.tolist(), union_y.tolist(),
                   np.bincount(union_y, minlength=k).tolist(), DEFAULTS["scale"])
    expected = np.concatenate([head.weights, head.bias])
    assert np.allclose(prototype_head(step, k, d), expected, atol=1e-12)
    assert expected[-1] == -2 * DEFAULTS["scale"]


def test_bad_statistics_give_a_finite_head():
    k, d = 3, 2
    statistics = np.array([3.0, 4.0, 1.0, 1.0, np.nan, 0.0, 0.5, -0.1, 0.2])
    out = prototype_head(statistics, k, d, 10.0)
    # Label 0: mean (6, 8) is longer than 1, shortened to (0.6, 0.8); label 1: no share;
    # label 2: not finite. Both get the row of a label nobody has.
    assert np.allclose(out, [6, 8, 0, 0, 0, 0, -5, -20, -20])
    with pytest.raises(ValueError, match="must hold 9 values"):
        prototype_head(statistics[:-1], k, d)


def test_the_page_sends_class_statistics_only_while_the_head_is_untrained():
    labels, d = ["a", "b", "c"], 8
    x = _unit_rows(6, d).tolist()
    zero_w, zero_b = [0.0] * (3 * d), [0.0] * 3
    first = local_update(labels, d, x[:2], [1, 1], zero_w, zero_b, 0, None)   # one label
    assert first["examples"] == 2
    assert np.allclose(_flat(first), _flat(class_statistics(x[:2], [1, 1], 3, d)))
    with pytest.raises(ValueError, match="at least two labels"):
        local_update(labels, d, x[:2], [1, 1], first["weights"], first["bias"], 1, None)
    with pytest.raises(ValueError, match="label index 3"):
        local_update(labels, d, x[:2], [1, 3], zero_w, zero_b, 0, None)
    trained = local_update(labels, d, x, [0, 1, 0, 1, 0, 1], first["weights"], first["bias"],
                           1, {"epochs": 2})
    assert trained["weights"][2 * d:] == first["weights"][2 * d:]   # label c: no example
    assert trained["bias"][2] == first["bias"][2]
    assert trained["weights"][:d] != first["weights"][:d]


@pytest.fixture()
def http(tmp_path):
    app = create_app({"TESTING": True, "MIN_UPDATES": 3, "FEDERATION_MODE": "plain",
                      "DATABASE_PATH": str(tmp_path / "fl.sqlite3")})
    return app.test_client()


def _send(person, weights, bias, examples):
    """Send the update and return what the server received (decoded) and its answer."""
    state = person.state()
    data = person.encode(weights=weights, bias=bias, examples=examples,
                         bound=state["clip_bound"], state=state)
    answer = person.send(data)
    assert answer.status_code == 202, answer.get_json()
    return codec.decode_update(data), answer.get_json()


def _flat_update(update):
    return np.concatenate([update.weights, update.bias])


def _served(http):
    head = codec.decode_head(http.get("/api/head").data)
    return head.version, np.concatenate([head.weights, head.bias])


def test_the_server_builds_the_first_head_from_class_statistics_then_averages_deltas(http):
    clients = [Participant(http) for _ in range(3)]
    data = [(_unit_rows(n, 384), RNG.choice(labels, size=n))
            for n, labels in ((9, [0, 1]), (4, [2]), (20, [0, 1, 2]))]
    payloads = []
    for client, (x, y) in zip(clients, data):
        stats = class_statistics(x.tolist(), y.tolist(), 3, 384)
        received, answer = _send(client, stats["weights"], stats["bias"], len(y))
        payloads.append(received)
    assert answer["round_closed"] and answer["head_version"] == 1
    version, head = _served(http)
    counts = np.array([len(y) for _, y in data], float)
    received = np.stack([_flat_update(u) for u in payloads])
    assert version == 1
    assert np.array_equal(head, prototype_head(fedavg(received, counts), 3, 384)
                          .astype(np.float32))
    # Close to the page's prototype head of the union: only int8 rounding differs.
    x = np.concatenate([x for x, _ in data])
    y = np.concatenate([y for _, y in data])
    page = LinearHead(["a", "b", "c"], 384)
    prototype_init(page, x.tolist(), y.tolist(), np.bincount(y, minlength=3).tolist(), 40.0)
    assert np.max(np.abs(head - np.concatenate([page.weights, page.bias]))) < 0.5
    # Round 2 starts from that head and averages deltas.
    deltas = [RNG.normal(scale=0.01, size=3 * 385) for _ in clients]
    sent = [_send(client, d[:1152], d[1152:], 5)[0] for client, d in zip(clients, deltas)]
    version, second = _served(http)
    steps = np.stack([_flat_update(u) for u in sent])
    assert version == 2
    assert np.array_equal(second, (head + fedavg(steps, np.full(3, 5.0))).astype(np.float32))
