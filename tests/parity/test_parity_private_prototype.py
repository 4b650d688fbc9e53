"""The private prototype head's pieces give the same numbers, bit for bit, in CPython and
transpiled in Node: class sums (a too-long embedding shortened), a member's sums of norm 1, the
example level's noisy sums from the same random bytes, the head of directions, the refusals."""
import numpy as np

from tests.support.parity import run_js_many, run_node_script, run_py_many
from tinybert_core.private_prototype import example_sums
from tinybert_core.rng import InsecureSeededBytes

MODULE = 'tinybert_core.private_prototype'
LABELS = ['Dev', 'Meeting', 'Email']
DIM = 20
RNG = np.random.default_rng(5)
_X = RNG.normal(size=(10, DIM))
XS = (_X / np.linalg.norm(_X, axis=1, keepdims=True)).tolist()
XS[4] = [3.0 * v for v in XS[4]]
YS = [0, 1, 1, 0, 2, 1, 0, 0, 1, 0]


IMPORTS = """
import fs from 'fs';
import * as pp from './tinybert_core.private_prototype.js';
import * as rng from './tinybert_core.rng.js';
const input = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const plain = x => (ArrayBuffer.isView(x) ? Array.from(x) : x);
"""


def node(body, data):
    """Run ``body`` in Node next to the transpiled module (``pp``, with ``rng``); ``input``
    holds ``data``; returns what it printed, parsed as JSON."""
    return run_node_script(MODULE, IMPORTS + body, data)


def both(target, cases):
    return run_py_many(MODULE, target, cases), run_js_many(MODULE, target, cases)


def test_sums_and_directions_are_bit_identical():
    py, js = both('class_sums', [[XS, YS, 3, DIM], [XS[:1], [2], 3, DIM]])
    assert py == js
    py, js = both('member_sums', [[LABELS, DIM, XS, YS], [LABELS, DIM, XS[:3], [1, 1, 1]]])
    assert py == js
    sums = (np.array(py[0]['weights']) + RNG.normal(size=3 * DIM)).tolist()
    zero_row = sums[:2 * DIM] + [0.0] * DIM
    py, js = both('direction_head', [[sums, 3, DIM], [zero_row, 3, DIM, 10.0]])
    assert py == js and py[1]['bias'] == [0.0, 0.0, -20.0]


def test_noisy_example_sums_are_bit_identical():
    js = node("""
const out = input.seeds.map(s => {
  const r = pp.example_sums(input.labels, input.dim, input.xs, input.ys, 0.8,
                            new rng.InsecureSeededBytes(s));
  return {weights: plain(r.weights), bias: plain(r.bias), examples: r.examples};
});
console.log(JSON.stringify(out));
""", {'seeds': [0, 7], 'labels': LABELS, 'dim': DIM, 'xs': XS, 'ys': YS})
    for seed, got in zip([0, 7], js):
        ref = example_sums(LABELS, DIM, XS, YS, 0.8, InsecureSeededBytes(seed))
        assert got['weights'] == list(ref['weights']) and got['examples'] == 10


def test_refusals_have_identical_messages():
    cases = [[LABELS, DIM, XS, YS, -1.0, None], [LABELS, DIM, XS, YS, 1.0, None],
             [LABELS, DIM, XS[:2], [0, 3], 0.0, None], [LABELS, DIM, [], [], 0.0, None]]
    py, js = both('example_sums', cases)
    assert [r['__error__']['message'] for r in py] == [r['__error__']['message'] for r in js]


def test_a_members_share_of_distributed_noise_is_bit_identical():
    from tinybert_core.private_prototype import with_member_noise
    update = {'weights': XS[0] * 3, 'bias': [0.0, 0.0, 0.0], 'weight': 1}
    js = node("""
const r = pp.with_member_noise(input.update, 1.3, 7, 2.5, new rng.InsecureSeededBytes(4));
console.log(JSON.stringify({weights: plain(r.weights), bias: plain(r.bias), weight: r.weight}));
""", {'update': update})
    ref = with_member_noise(update, 1.3, 7, 2.5, InsecureSeededBytes(4))
    assert js['weights'] == list(ref['weights']) and js['weight'] == 1
