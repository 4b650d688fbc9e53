"""A browser's federated update (``tinybert_core.fl_local``) is the same in CPython and
transpiled in Node: class statistics while the global head is untrained (examples of one label
are enough), a locally trained head afterwards (two labels needed), the same refusals."""
import numpy as np

from tests.support.parity import is_error, run_js_many, run_py_many

MODULE = 'tinybert_core.fl_local'
LABELS = ['Dev', 'Meeting', 'Email']
DIM = 12
RNG = np.random.default_rng(3)


def _unit_rows(n):
    x = RNG.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).tolist()


XS = _unit_rows(9)
YS = [0, 1, 0, 1, 1, 0, 0, 1, 0]          # label Email: no example
ZERO_W, ZERO_B = [0.0] * (3 * DIM), [0.0] * 3
GLOBAL_W = (RNG.normal(size=3 * DIM) * 5).tolist()
GLOBAL_B = RNG.normal(size=3).tolist()


def both(target, cases):
    return run_py_many(MODULE, target, cases), run_js_many(MODULE, target, cases)


def _close(a, b):
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12,
                       atol=1e-300)


def test_class_statistics_are_bit_identical():
    cases = [[XS, YS, 3, DIM], [XS[:1], [2], 3, DIM], [XS, [2] * 9, 3, DIM]]
    py, js = both('class_statistics', cases)
    assert py == js
    assert py[1]['bias'] == [0.0, 0.0, 1.0] and _close(py[1]['weights'][2 * DIM:], XS[0])


def test_local_updates_match():
    cases = [
        [LABELS, DIM, XS, YS, ZERO_W, ZERO_B, 0, None],              # statistics
        [LABELS, DIM, XS[:3], [1, 1, 1], ZERO_W, ZERO_B, 0, None],   # one label, version 0
        [LABELS, DIM, XS, YS, GLOBAL_W, GLOBAL_B, 4, {'epochs': 3}],   # trained
    ]
    py, js = both('local_update', cases)
    assert py[:2] == js[:2]
    assert py[0]['examples'] == 9 and py[1]['bias'] == [0.0, 1.0, 0.0]
    assert _close(py[2]['weights'], js[2]['weights']) and _close(py[2]['bias'], js[2]['bias'])
    # Email had no local example: its global row and bias are kept.
    assert py[2]['weights'][2 * DIM:] == GLOBAL_W[2 * DIM:] and py[2]['bias'][2] == GLOBAL_B[2]
    assert not _close(py[2]['weights'][:DIM], GLOBAL_W[:DIM])


def test_refusals_have_identical_messages():
    cases = [
        [LABELS, DIM, XS[:3], [1, 1, 1], GLOBAL_W, GLOBAL_B, 1, None],   # one label after v0
        [LABELS, DIM, XS[:2], [0, 3], ZERO_W, ZERO_B, 0, None],
        [LABELS, DIM, [], [], ZERO_W, ZERO_B, 0, None],
        [LABELS, DIM, [XS[0][:5]], [0], ZERO_W, ZERO_B, 0, None],
        [LABELS, DIM, XS, YS, GLOBAL_W, GLOBAL_B, 2, {'epoch': 2}],
        [LABELS, DIM, XS, YS, ZERO_W, ZERO_B, 0, {'learning_rate': 0}],
    ]
    py, js = both('local_update', cases)
    assert all(is_error(r) for r in py)
    assert [r['__error__']['message'] for r in py] == [r['__error__']['message'] for r in js]
    assert 'at least two labels' in py[0]['__error__']['message']
    assert 'label index 3' in py[1]['__error__']['message']
