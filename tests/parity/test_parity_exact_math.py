"""``tinybert_core.exact_math`` gives the same bits in Node as in CPython, and with it plain
training does too (V8's Math.exp and Math.log differ from glibc's for 7-10 % of inputs)."""
import numpy as np

from tests.support.parity import run_js_many, run_py_many

RNG = np.random.default_rng(8)


def both(module, target, cases):
    return run_py_many(module, target, cases), run_js_many(module, target, cases)


def test_exp_and_ln_are_bit_identical():
    ln_cases = np.concatenate([RNG.random(3000), np.exp(RNG.uniform(-700, 700, 3000)),
                               [5e-324, 2.0 ** -104, 1 - 2 ** -53, 1.0, 2.0, 1.7e308]])
    exp_cases = np.concatenate([RNG.uniform(-30, 5, 3000), RNG.uniform(-745, 709.7, 3000),
                                [0.0, -745.1, -745.3, 709.78, 710.0]])
    for target, xs in (('ln', ln_cases), ('exp', exp_cases)):
        py, js = both('tinybert_core.exact_math', target, [[x] for x in xs.tolist()])
        # Node's JSON writes whole doubles above 2**53 as long integers, and infinity as null.
        js = [float('inf') if v is None else float(v) for v in js]
        assert py == js, target


def test_plain_training_is_bit_identical():
    dim, labels = 20, ['a', 'b', 'c']
    centres = RNG.normal(size=(3, dim))
    xs = (np.repeat(centres, 8, axis=0) + 1.3 * RNG.normal(size=(24, dim)))
    xs = (xs / np.linalg.norm(xs, axis=1, keepdims=True)).tolist()
    ys = [i // 8 for i in range(24)]
    cases = [[labels, dim, xs, ys, opts] for opts in (
        None, {'init': 'zeros', 'batch_size': 5, 'decay_mode': 'l2', 'seed': 3},
        {'balance': False, 'epochs': 8, 'learning_rate': 0.1})]
    py, js = both('tinybert_core.train', 'train_fresh', cases)
    assert py == js
