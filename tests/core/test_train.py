"""The head trainer under CPython: gradients, Adam, initialisation, refusals, label editing."""
import math

import numpy as np
import pytest

from tinybert_core.adam import Adam, all_finite
from tinybert_core.head import LinearHead, add_label, head_with_weights, remove_label, rename_label
from tinybert_core.rng import Rng, permutation, u32_sequence
from tinybert_core.train import (
    DEFAULTS,
    NOT_ENOUGH_LABELS,
    class_weights,
    cross_validate,
    loss_and_gradient,
    prototype_init,
    resolve_options,
    train_head,
)

RNG = np.random.default_rng(11)


def unit_rows(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def blobs(n_per_label, n_labels, dim, spread, seed):
    """Unit-length embeddings around one random direction per label."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.normal(size=(n_labels, dim)))
    xs, ys = [], []
    for k in range(n_labels):
        pts = unit_rows(centres[k] + spread * rng.normal(size=(n_per_label, dim)))
        xs += [list(map(float, p)) for p in pts]
        ys += [k] * n_per_label
    return xs, ys


def random_head(n_labels, dim, rng):
    return head_with_weights(['l%d' % k for k in range(n_labels)], dim,
                             rng.normal(size=n_labels * dim).tolist(),
                             rng.normal(size=n_labels).tolist())


# --- loss and gradient ------------------------------------------------------------------

def test_gradient_matches_central_finite_differences():
    rng = np.random.default_rng(3)
    head = random_head(3, 5, rng)
    xs = rng.normal(size=(7, 5)).tolist()
    ys = [0, 0, 0, 0, 1, 1, 2]
    weights = class_weights([4, 2, 1], True)
    idx = list(range(7))
    got = loss_and_gradient(head, xs, ys, weights, idx)
    h = 1e-6
    for params, grad in ((head.weights, got['grad_w']), (head.bias, got['grad_b'])):
        for i in range(len(params)):
            keep = params[i]
            params[i] = keep + h
            up = loss_and_gradient(head, xs, ys, weights, idx)['loss']
            params[i] = keep - h
            down = loss_and_gradient(head, xs, ys, weights, idx)['loss']
            params[i] = keep
            assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-8)


def test_loss_matches_numpy_weighted_cross_entropy():
    rng = np.random.default_rng(4)
    head = random_head(4, 6, rng)
    xs = rng.normal(size=(9, 6))
    ys = np.array([0, 1, 1, 2, 3, 3, 3, 0, 2])
    weights = class_weights([2, 2, 2, 3], True)
    logits = xs @ np.array(head.weights).reshape(4, 6).T + np.array(head.bias)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    expected = np.mean(-np.array(weights)[ys] * logp[np.arange(9), ys])
    got = loss_and_gradient(head, xs.tolist(), ys.tolist(), weights, list(range(9)))
    assert got['loss'] == pytest.approx(expected, rel=1e-13)


def test_class_weights_are_inverse_to_counts_and_average_one():
    w = class_weights([6, 2, 0, 4], True)
    assert list(w) == pytest.approx([12 / 18, 12 / 6, 0.0, 12 / 12])
    assert sum(w[k] * c for k, c in enumerate([6, 2, 0, 4])) == pytest.approx(12)
    assert list(class_weights([6, 2, 0, 4], False)) == [1.0, 1.0, 0.0, 1.0]


# --- Adam -------------------------------------------------------------------------------

def numpy_adam(p, grads, lr, wd, mode, b1=0.9, b2=0.999, eps=1e-8):
    p = np.array(p, dtype=np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=np.float64)
        if mode == 'l2':
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        p = p - lr * (m_hat / (np.sqrt(v_hat) + eps) + (wd * p if mode == 'decoupled' else 0))
    return p


@pytest.mark.parametrize('mode,wd', [('decoupled', 0.0), ('decoupled', 0.05), ('l2', 0.05)])
@pytest.mark.parametrize('steps', [1, 4])
def test_adam_matches_numpy_reference(mode, wd, steps):
    rng = np.random.default_rng(5)
    p0 = rng.normal(size=10)
    grads = [rng.normal(size=10) for _ in range(steps)]
    params = p0.tolist()
    adam = Adam(10, 0.01, 0.9, 0.999, 1e-8, wd, mode)
    for g in grads:
        assert adam.step(params, g.tolist()) is True
    # numpy's b**t is a power, ours a running product: equal to the last bit or two.
    assert np.allclose(params, numpy_adam(p0, grads, 0.01, wd, mode), rtol=1e-13, atol=1e-15)
    assert adam.steps == steps


def test_adam_skips_non_finite_gradients_and_keeps_state():
    params = [1.0, 2.0, 3.0]
    adam = Adam(3, 0.1, 0.9, 0.999, 1e-8, 0.0, 'decoupled')
    for bad in ([1.0, float('nan'), 0.0], [float('inf'), 0.0, 0.0], [0.0, 0.0, -float('inf')]):
        assert adam.step(params, bad) is False
    assert params == [1.0, 2.0, 3.0] and adam.steps == 0 and list(adam.m) == [0.0] * 3
    assert not all_finite([0.0, float('nan')]) and all_finite([0.0, -1e308])
    with pytest.raises(ValueError, match="allowed: decoupled, l2"):
        Adam(3, 0.1, 0.9, 0.999, 1e-8, 0.0, 'l1')


# --- PRNG -------------------------------------------------------------------------------

def test_mulberry32_known_values_and_shuffle():
    # First outputs of the reference JavaScript mulberry32 for seed 0 and 42.
    assert u32_sequence(0, 3) == [1144304738, 1416247, 958946056]
    assert u32_sequence(42, 2) == [2581720956, 1925393290]
    r = Rng(7)
    assert all(0.0 <= r.random() < 1.0 for _ in range(1000))
    p = permutation(9, 50)
    assert sorted(p) == list(range(50)) and p != list(range(50))
    assert permutation(9, 50) == p and permutation(10, 50) != p


# --- training ---------------------------------------------------------------------------

def test_separable_set_is_learned_perfectly_within_five_epochs():
    xs, ys = blobs(20, 3, 32, 0.3, seed=1)
    head = LinearHead(['a', 'b', 'c'], 32)
    seen = []
    history = train_head(head, xs, ys, {'init': 'zeros'}, seen.append)
    assert len(history) == DEFAULTS['epochs'] <= 5
    assert seen == history
    assert history[-1]['accuracy'] == 1.0
    assert [e['epoch'] for e in history] == [1, 2, 3, 4, 5]
    assert history[-1]['loss'] < history[0]['loss']
    assert all(head.predict_index(x) == y for x, y in zip(xs, ys))


def test_default_training_fits_noisy_blobs():
    xs, ys = blobs(25, 4, 48, 0.12, seed=2)
    head = LinearHead(['a', 'b', 'c', 'd'], 48)
    history = train_head(head, xs, ys, None)
    assert history[-1]['accuracy'] == 1.0


def test_training_is_deterministic_for_a_seed():
    xs, ys = blobs(10, 3, 16, 1.0, seed=3)

    def run(seed):
        head = LinearHead(['a', 'b', 'c'], 16)
        train_head(head, xs, ys, {'seed': seed, 'batch_size': 4})
        return list(head.weights) + list(head.bias)

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_prototype_init_is_the_scaled_nearest_class_mean_classifier():
    xs, ys = blobs(6, 3, 10, 0.5, seed=4)
    xs, ys = xs[:14], ys[:14]          # counts 6, 6, 2
    head = LinearHead(['a', 'b', 'c', 'empty'], 10)
    head.weights[35] = 5.0              # overwritten
    prototype_init(head, xs, ys, [6, 6, 2, 0], 7.0)
    W = np.array(head.weights).reshape(4, 10)
    X, y = np.array(xs), np.array(ys)
    means = np.stack([X[y == k].mean(0) for k in range(3)])
    assert np.allclose(W[:3], 7.0 * means, rtol=1e-13, atol=1e-15)
    assert np.allclose(head.bias[:3], -3.5 * (means * means).sum(1), rtol=1e-13)
    assert np.all(W[3] == 0) and head.bias[3] == -14.0
    for x in list(unit_rows(RNG.normal(size=(300, 10)))) + xs:
        nearest = int(np.argmin(((means - np.asarray(x)) ** 2).sum(1)))
        assert head.predict_index(list(x)) == nearest     # never 3: no examples


def test_label_without_examples_stays_unpredicted_after_training():
    xs, ys = blobs(10, 2, 16, 0.8, seed=5)
    head = LinearHead(['a', 'b', 'later'], 16)
    train_head(head, xs, ys, None)
    probe = unit_rows(RNG.normal(size=(300, 16)))
    assert all(head.predict_index(list(x)) != 2 for x in probe)


def test_balancing_helps_the_minority_label():
    xs, ys = blobs(60, 2, 24, 1.6, seed=6)
    keep = [i for i in range(120) if ys[i] == 0 or i < 66]      # 60 vs 6
    tx, ty = [xs[i] for i in keep], [ys[i] for i in keep]
    test_x, test_y = blobs(200, 2, 24, 1.6, seed=6)
    minority = [x for x, y in zip(test_x, test_y) if y == 1]

    def recall(balance):
        head = LinearHead(['a', 'b'], 24)
        train_head(head, tx, ty, {'balance': balance, 'init': 'zeros'})
        return np.mean([head.predict_index(x) == 1 for x in minority])

    assert recall(True) > recall(False)


def test_keep_init_continues_from_current_weights():
    xs, ys = blobs(10, 2, 8, 0.5, seed=7)
    head = LinearHead(['a', 'b'], 8)
    first = train_head(head, xs, ys, {'epochs': 2})
    before = list(head.weights)
    again = train_head(head, xs, ys, {'epochs': 1, 'init': 'keep'})
    assert again[0]['loss'] < first[0]['loss']
    assert list(head.weights) != before
    head.weights[0] = float('nan')
    with pytest.raises(ValueError, match="not finite numbers"):
        train_head(head, xs, ys, {'init': 'keep'})


@pytest.mark.parametrize('xs,ys,message', [
    ([], [], "No examples to train on."),
    ([[0.0, 1.0]], [0, 1], "Got 1 embeddings but 2 labels."),
    ([[0.0, 1.0], [1.0, 0.0]], [0, 3],
     "Example 1 has label index 3; the head has 3 labels (0 to 2)."),
    ([[0.0, 1.0], [1.0, 0.0]], [0, -1],
     "Example 1 has label index -1; the head has 3 labels (0 to 2)."),
    ([[0.0, 1.0], [1.0, 0.0]], [1, 1], NOT_ENOUGH_LABELS),
    ([[0.0, 1.0], [1.0, 0.0]], [0, '1'],
     "Example 1 has label index 1; the head has 3 labels (0 to 2)."),
    ([[0.0, 1.0], [1.0, 0.0]], [0, 0.5],
     "Example 1 has label index 0.5; the head has 3 labels (0 to 2)."),
    ([[0.0, 1.0], [1.0]], [0, 1], "Example 1 has 1 values; the head expects 2."),
])
def test_bad_examples_are_refused_with_a_message(xs, ys, message):
    head = LinearHead(['a', 'b', 'c'], 2)
    with pytest.raises(ValueError) as err:
        train_head(head, xs, ys, None)
    assert str(err.value) == message
    assert list(head.weights) == [0.0] * 6


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_input_is_refused_and_weights_stay_finite(bad):
    xs, ys = blobs(5, 2, 4, 0.5, seed=8)
    head = LinearHead(['a', 'b'], 4)
    train_head(head, xs, ys, None)
    before = list(head.weights) + list(head.bias)
    xs[3] = list(xs[3])
    xs[3][2] = bad
    with pytest.raises(ValueError, match=r"Example 3 contains a value that is not a finite "
                                         r"number \(NaN or infinity\) at position 2\."):
        train_head(head, xs, ys, None)
    assert list(head.weights) + list(head.bias) == before


def test_overflowing_but_finite_input_skips_steps_instead_of_poisoning_weights():
    xs, ys = blobs(4, 2, 4, 0.5, seed=9)
    xs, ys = xs[:5], ys[:5]                  # 4 of label a, 1 of b: b's loss weight is 2.5
    xs[4] = [1.7e308] * 4                    # 2.5 * 0.5 * 1.7e308 overflows to -inf
    head = LinearHead(['a', 'b'], 4)
    history = train_head(head, xs, ys, {'init': 'zeros', 'batch_size': 8})
    assert all(math.isfinite(v) for v in list(head.weights) + list(head.bias))
    assert [e['skipped_steps'] for e in history] == [1, 1, 1, 1, 1]


@pytest.mark.parametrize('options,message', [
    ({'epoch': 3}, "Unknown training option 'epoch'; allowed: epochs, learning_rate"),
    ({'epochs': -1}, "epochs must be a whole number from 0 to 100."),
    ({'epochs': 101}, "epochs must be a whole number from 0 to 100."),
    ({'epochs': 2.5}, "epochs must be a whole number"),
    ({'learning_rate': 0}, "learning_rate must be between 0 and 10."),
    ({'batch_size': 0}, "batch_size must be a whole number of at least 1."),
    ({'weight_decay': -1}, "weight_decay must be at least 0 and below 1."),
    ({'init': 'random'}, "Unknown init 'random'; allowed: prototype, zeros, keep."),
    ({'decay_mode': 'l1'}, "Unknown weight decay mode 'l1'; allowed: decoupled, l2."),
    ({'scale': 0}, "scale must be above 0 and at most 1000."),
    ({'seed': -2}, "seed must be a whole number of at least 0."),
    ({'epochs': '5'}, "epochs must be a whole number from 0 to 100."),
    ({'learning_rate': '0.1'}, "learning_rate must be between 0 and 10."),
    ({'batch_size': True}, "batch_size must be a whole number of at least 1."),
    ({'balance': 'no'}, "balance must be true or false."),
    ({'balance': 1}, "balance must be true or false."),
])
def test_bad_options_are_refused(options, message):
    xs, ys = blobs(3, 2, 4, 0.5, seed=10)
    with pytest.raises(ValueError) as err:
        train_head(LinearHead(['a', 'b'], 4), xs, ys, options)
    assert str(err.value).startswith(message)


def test_resolve_options_fills_defaults_without_changing_them():
    out = resolve_options({'epochs': 3})
    assert out['epochs'] == 3 and out['learning_rate'] == DEFAULTS['learning_rate']
    assert resolve_options(None) == DEFAULTS and DEFAULTS['epochs'] <= 5


# --- cross-validation -------------------------------------------------------------------

def test_cross_validate_is_deterministic_and_counts_every_example():
    xs, ys = blobs(8, 3, 12, 1.2, seed=12)
    a = cross_validate(['a', 'b', 'c'], 12, xs, ys, {'seed': 3}, 4)
    b = cross_validate(['a', 'b', 'c'], 12, xs, ys, {'seed': 3}, 4)
    assert a == b
    assert a['folds'] == 4 and a['examples'] == 24
    assert sum(map(sum, a['confusion'])) == 24
    assert [sum(row) for row in a['confusion']] == [8, 8, 8]
    assert a['accuracy'] == sum(a['confusion'][k][k] for k in range(3)) / 24


def test_cross_validate_refuses_too_few_examples():
    with pytest.raises(ValueError, match="Too few examples to cross-validate"):
        cross_validate(['a', 'b'], 2, [[1.0, 0.0], [0.0, 1.0]], [0, 1], None, 2)


# --- label editing ----------------------------------------------------------------------

def trained_head(n_labels=4, dim=16):
    xs, ys = blobs(10, n_labels, dim, 1.0, seed=13)
    head = LinearHead(['l%d' % k for k in range(n_labels)], dim)
    train_head(head, xs, ys, None)
    return head


def probes(dim, n=400):
    return [list(map(float, r)) for r in unit_rows(RNG.normal(size=(n, dim)))]


def test_remove_label_keeps_the_best_remaining_label_for_every_input():
    head = trained_head()
    for drop in range(4):
        smaller = remove_label(head, 'l%d' % drop)
        assert smaller.labels == [lab for lab in head.labels if lab != 'l%d' % drop]
        for x in probes(16):
            logits = head.logits(x)
            rest = [k for k in range(4) if k != drop]
            expected = max(rest, key=lambda k: (logits[k], -k))
            assert smaller.labels[smaller.predict_index(x)] == head.labels[expected]
    with pytest.raises(ValueError, match="Unknown label: nope"):
        remove_label(head, 'nope')
    with pytest.raises(ValueError, match="at least one label"):
        remove_label(LinearHead(['only'], 3), 'only')


def test_add_label_leaves_every_prediction_unchanged():
    head = trained_head()
    bigger = add_label(head, 'new')
    assert bigger.labels == head.labels + ['new']
    assert list(bigger.weights[:len(head.weights)]) == list(head.weights)
    assert all(v == 0.0 for v in bigger.weights[len(head.weights):])
    for x in probes(16):
        assert bigger.predict_index(x) == head.predict_index(x)
    assert add_label(LinearHead(['a'], 3), 'b').bias[1] == 0.0     # untrained stays uniform
    with pytest.raises(ValueError, match="Duplicate label: l1"):
        add_label(head, 'l1')


def test_rename_label_keeps_weights():
    head = trained_head()
    renamed = rename_label(head, 'l2', 'two')
    assert renamed.labels == ['l0', 'l1', 'two', 'l3']
    assert list(renamed.weights) == list(head.weights) and list(renamed.bias) == list(head.bias)
    with pytest.raises(ValueError, match="Duplicate label: l1"):
        rename_label(head, 'l2', 'l1')
    with pytest.raises(ValueError, match="Unknown label: zz"):
        rename_label(head, 'zz', 'a')
