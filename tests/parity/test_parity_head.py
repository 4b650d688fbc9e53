"""The head and pooling give the same numbers in CPython and transpiled in Node."""
import numpy as np

from tests.support.parity import ref, run_js_many, run_py_many

RNG = np.random.default_rng(7)
DIM = 16
LABELS = ["Dev", "Meeting", "Email"]
WEIGHTS = RNG.normal(size=len(LABELS) * DIM).tolist()
BIAS = RNG.normal(size=len(LABELS)).tolist()
INPUTS = [[RNG.normal(size=DIM).tolist()] for _ in range(20)] + [[[0.0] * DIM]]


def both(module, target, cases, setup=None):
    return run_py_many(module, target, cases, setup), run_js_many(module, target, cases, setup)


# Math.exp in V8 and exp in CPython's libm may differ in the last bit, so probabilities are
# compared to 1e-15 relative; everything without exp is compared bit for bit.
def close(a, b):
    return np.allclose(a, b, rtol=1e-14, atol=0)


def test_softmax_parity():
    cases = [[RNG.normal(scale=s, size=5).tolist()] for s in (0.1, 1, 10, 300)]
    py, js = both("tinybert_core.head", "softmax", cases)
    assert close(py, js)


def test_head_predict_parity():
    setup = [("head", "head_with_weights", [LABELS, DIM, WEIGHTS, BIAS])]
    py, js = both("tinybert_core.head", "head.predict", INPUTS, setup)
    assert [r["label"] for r in py] == [r["label"] for r in js]
    for a, b in zip(py, js):
        assert list(a["scores"]) == list(b["scores"]) == LABELS
        assert close(list(a["scores"].values()), list(b["scores"].values()))
    logits_py, logits_js = both("tinybert_core.head", "head.logits", INPUTS, setup)
    assert logits_py == logits_js
    assert {r["label"] for r in py} <= set(LABELS)


def test_head_refusals_parity():
    cases = [[[], 3], [["a", "a"], 3], [["a"], 0]]
    py, js = both("tinybert_core.head", "LinearHead", cases)
    assert [r["__error__"]["message"] for r in py] == [r["__error__"]["message"] for r in js]


def test_pooling_parity():
    hidden = RNG.normal(size=5 * DIM).tolist()
    cases = [[hidden, [1, 1, 1, 0, 0], DIM], [hidden, [1, 1, 1, 1, 1], DIM]]
    py, js = both("tinybert_core.pooling", "mean_pool", cases)
    assert py == js
    setup = [("pooled", "mean_pool", [hidden, [1, 1, 0, 0, 0], DIM])]
    py, js = both("tinybert_core.pooling", "l2_normalize", [[ref("pooled")]], setup)
    assert np.allclose(py, js, rtol=0, atol=1e-15)
    assert abs(np.linalg.norm(py[0]) - 1.0) < 1e-12
