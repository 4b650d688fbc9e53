"""Differentially private training (DP-SGD) under CPython: equal to plain training without
noise, the noise's size, clipping against a numpy reference, Poisson sampling, refusals, the
accounting description and the random numbers behind them."""
import math

import numpy as np
import pytest
from scipy import stats

from tinybert_core import dp
from tinybert_core.dp import clip_factor, dp_plan, private_sum
from tinybert_core.dp_random import (
    CHUNK,
    RandomStream,
    SystemRandomBytes,
    draws,
    poisson_batch,
)
from tinybert_core.fl_local import local_update
from tinybert_core.head import LinearHead, head_with_weights
from tinybert_core.rng import InsecureSeededBytes
from tinybert_core.train import (
    DEFAULTS,
    class_weights,
    cross_validate,
    dp_event_of,
    loss_and_gradient,
    resolve_options,
    train_fresh,
    train_head,
)

LABELS = ['a', 'b', 'c']
DP = {'dp_noise_multiplier': 1.0, 'dp_clip': 1.0}


def blobs(n_per_label, n_labels, dim, spread, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    xs, ys = [], []
    for k in range(n_labels):
        pts = centres[k] + spread * rng.normal(size=(n_per_label, dim))
        pts /= np.linalg.norm(pts, axis=1, keepdims=True)
        xs += pts.tolist()
        ys += [k] * n_per_label
    return xs, ys


def state(head):
    return list(head.weights) + list(head.bias)


def without_dp(history):
    return [{k: v for k, v in e.items() if k != 'dp'} for e in history]


# --- no noise, no clipping, shuffled batches: plain training exactly ----------------------

@pytest.mark.parametrize('options', [
    {'init': 'zeros', 'balance': False},
    {'init': 'zeros', 'balance': False, 'batch_size': 5, 'learning_rate': 0.05,
     'weight_decay': 0.01, 'decay_mode': 'l2', 'seed': 7, 'epochs': 4},
    {'init': 'keep', 'balance': False, 'batch_size': 64},
])
def test_dp_without_noise_clipping_or_sampling_equals_plain_training(options):
    xs, ys = blobs(9, 3, 16, 1.2, seed=1)
    start = np.random.default_rng(2).normal(size=3 * 16 + 3).tolist()
    plain = head_with_weights(LABELS, 16, start[:48], start[48:])
    private = head_with_weights(LABELS, 16, start[:48], start[48:])
    expected = train_head(plain, xs, ys, options)
    got = train_head(private, xs, ys, dict(options, dp_noise_multiplier=0,
                                           dp_sampling='shuffle'))
    assert state(private) == state(plain)
    assert without_dp(got) == expected
    assert [e['dp']['steps'] for e in got] == [(e + 1) * math.ceil(27 / min(
        options.get('batch_size', 16), 64)) for e in range(len(got))]


def test_plain_options_resolve_as_before():
    assert resolve_options(None) == DEFAULTS
    assert resolve_options({'dp_noise_multiplier': None, 'dp_clip': None,
                            'dp_sampling': None}) == DEFAULTS
    resolved = resolve_options(DP)
    assert resolved == dict(DEFAULTS, init='zeros', balance=False, dp_noise_multiplier=1.0,
                            dp_clip=1.0, dp_sampling='poisson')
    assert resolve_options(resolved) == resolved


# --- noise ------------------------------------------------------------------------------

def test_noise_has_standard_deviation_z_times_clip():
    """500 steps with zero gradients (an empty batch): the added noise is N(0, (zC)^2)."""
    z, clip = 1.3, 0.7
    xs, ys = blobs(2, 2, 3, 0.5, seed=3)
    head = LinearHead(['a', 'b'], 3)
    source = InsecureSeededBytes(5)
    noise = np.array([list(s['grad_w']) + list(s['grad_b']) for s in
                      (private_sum(head, xs, ys, [1.0, 1.0], [], clip, z * clip, source)
                       for _ in range(500))])
    assert noise.shape == (500, 8)
    per_coordinate = noise.std(axis=0, ddof=1)
    assert np.all(np.abs(per_coordinate / (z * clip) - 1) < 0.15), per_coordinate
    assert abs(noise.std(ddof=1) / (z * clip) - 1) < 0.05
    assert np.all(np.abs(noise.mean(axis=0)) < 4 * z * clip / math.sqrt(500))
    assert np.all(np.abs(np.corrcoef(noise.T) - np.eye(8)) < 0.2)


def test_noise_added_to_real_gradients_with_the_system_source():
    """The difference between a step's noisy sum and its clean sum, over 500 steps."""
    z, clip = 0.8, 0.05
    xs, ys = blobs(5, 3, 4, 0.8, seed=4)
    head = head_with_weights(LABELS, 4, [0.3] * 12, [0.0, 0.1, -0.1])
    weights = [1.0, 1.0, 1.0]
    batch = [0, 3, 6, 9, 12]
    clean = private_sum(head, xs, ys, weights, batch, clip, 0.0, None)
    clean = np.array(list(clean['grad_w']) + list(clean['grad_b']))
    source = SystemRandomBytes()
    noise = np.array([list(s['grad_w']) + list(s['grad_b']) for s in
                      (private_sum(head, xs, ys, weights, batch, clip, z * clip, source)
                       for _ in range(500))]) - clean
    assert np.all(np.abs(noise.std(axis=0, ddof=1) / (z * clip) - 1) < 0.15)
    assert abs(noise.std(ddof=1) / (z * clip) - 1) < 0.05


def test_normals_and_uniforms_have_their_distributions():
    normals = draws(InsecureSeededBytes(1), 'normal', 20000)
    uniforms = draws(InsecureSeededBytes(2), 'uniform', 20000)
    assert stats.kstest(normals, 'norm').pvalue > 0.001
    assert stats.kstest(uniforms, 'uniform').pvalue > 0.001
    assert all(0 <= u < 1 and u * 2 ** 53 == int(u * 2 ** 53) for u in uniforms)
    real = draws(SystemRandomBytes(), 'normal', 20000)
    assert abs(np.std(real) - 1) < 0.05 and abs(np.mean(real)) < 0.05


def test_seeded_source_repeats_and_a_short_source_is_refused():
    xs, ys = blobs(6, 3, 8, 1.0, seed=5)
    a = train_fresh(LABELS, 8, xs, ys, DP, InsecureSeededBytes(3))
    b = train_fresh(LABELS, 8, xs, ys, DP, InsecureSeededBytes(3))
    c = train_fresh(LABELS, 8, xs, ys, DP, InsecureSeededBytes(4))
    assert a == b and a['weights'] != c['weights']

    class Short:
        def bytes(self, n):
            return bytes(n - 1)

    with pytest.raises(ValueError, match="returned %d bytes when asked for %d" % (CHUNK - 1,
                                                                                 CHUNK)):
        train_fresh(LABELS, 8, xs, ys, DP, Short())


# --- clipping ---------------------------------------------------------------------------

def numpy_example_gradients(head, xs, ys):
    """Per-example gradients of the unweighted cross-entropy, [n, k*d + k] (weights, bias)."""
    k, d = len(head.labels), head.dim
    W = np.array(head.weights).reshape(k, d)
    X = np.array(xs)
    logits = X @ W.T + np.array(head.bias)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = p - np.eye(k)[ys]
    return np.concatenate([(delta[:, :, None] * X[:, None, :]).reshape(len(xs), -1), delta],
                          axis=1)


def test_per_example_gradients_are_clipped_to_the_bound():
    rng = np.random.default_rng(7)
    xs = (rng.normal(size=(12, 5)) * rng.uniform(0.05, 3, size=(12, 1))).tolist()
    ys = [0, 1, 2] * 4
    head = head_with_weights(LABELS, 5, rng.normal(size=15).tolist(),
                             rng.normal(size=3).tolist())
    weights = class_weights([4, 4, 4], False)
    grads = numpy_example_gradients(head, xs, ys)
    for i in range(12):      # the reference agrees with the trainer's tested gradient
        one = loss_and_gradient(head, xs, ys, weights, [i])
        assert np.allclose(grads[i], list(one['grad_w']) + list(one['grad_b']), rtol=1e-12,
                           atol=1e-15)
    norms = np.linalg.norm(grads, axis=1)
    clip = float(np.median(norms))
    assert (norms > clip).sum() >= 5 and (norms < clip).sum() >= 5
    clipped = grads * np.minimum(1, clip / norms)[:, None]
    got = private_sum(head, xs, ys, weights, list(range(12)), clip, 0.0, None)
    assert np.allclose(list(got['grad_w']) + list(got['grad_b']), clipped.sum(0), rtol=1e-12,
                       atol=1e-14)
    for i in range(12):
        one = private_sum(head, xs, ys, weights, [i], clip, 0.0, None)
        norm = np.linalg.norm(list(one['grad_w']) + list(one['grad_b']))
        assert norm == pytest.approx(min(norms[i], clip), rel=1e-13)
        assert norm <= clip * (1 + 1e-15)
    unclipped = private_sum(head, xs, ys, weights, list(range(12)), None, 0.0, None)
    assert np.allclose(list(unclipped['grad_w']) + list(unclipped['grad_b']), grads.sum(0),
                       rtol=1e-12, atol=1e-14)


def test_an_example_with_a_non_finite_gradient_adds_nothing():
    assert clip_factor([3.0, 4.0], 1.0, 10.0) == 1.0
    assert clip_factor([3.0, 4.0], 4.0, 5.0) == 0.5            # norm 10
    assert clip_factor([float('nan'), 0.0], 1.0, 1.0) == 0.0
    assert clip_factor([1e200, 0.0], 1e200, 1.0) == 0.0        # the norm overflows
    xs, ys = blobs(4, 2, 4, 0.5, seed=9)
    xs[1] = [1.7e308] * 4
    head = LinearHead(['a', 'b'], 4)
    history = train_head(head, xs, ys, dict(DP, batch_size=8), None, InsecureSeededBytes(1))
    assert all(math.isfinite(v) for v in state(head))
    assert [e['skipped_steps'] for e in history] == [0] * 5


# --- Poisson sampling -------------------------------------------------------------------

def test_poisson_sampling_selects_each_example_with_probability_q():
    n, q, steps = 40, 0.3, 3000
    stream = RandomStream(InsecureSeededBytes(8))
    counts = np.zeros(n)
    sizes = []
    for _ in range(steps):
        batch = poisson_batch(stream, n, q)
        assert batch == sorted(set(batch))
        counts[batch] += 1
        sizes.append(len(batch))
    bound = 5 * math.sqrt(steps * q * (1 - q))        # five binomial standard deviations
    assert np.all(np.abs(counts - steps * q) < bound)
    assert abs(np.mean(sizes) - n * q) < 5 * math.sqrt(n * q * (1 - q) / steps)
    assert np.var(sizes) == pytest.approx(n * q * (1 - q), rel=0.15)
    assert poisson_batch(stream, 5, 1.0) == [0, 1, 2, 3, 4]
    assert poisson_batch(stream, 5, 0.0) == []


def test_poisson_steps_divide_by_the_expected_batch_size(monkeypatch):
    xs, ys = blobs(10, 3, 6, 1.0, seed=10)               # n = 30
    seen = []
    real = dp.poisson_batch

    def recording_batch(stream, n, q):
        batch = real(stream, n, q)
        seen.append(('batch', len(batch), q))
        return batch

    def recording_step(head, scratch, divisor, adam_w, adam_b):
        seen.append(('divisor', divisor))
        return True

    monkeypatch.setattr(dp, 'poisson_batch', recording_batch)
    monkeypatch.setattr(dp, 'mean_step', recording_step)
    train_head(LinearHead(LABELS, 6), xs, ys, dict(DP, batch_size=8, epochs=2), None,
               InsecureSeededBytes(2))
    batches = [s for s in seen if s[0] == 'batch']
    assert len(batches) == 2 * 4                          # ceil(30 / 8) steps an epoch
    assert all(q == 8 / 30 for _, _, q in batches)
    assert [s for s in seen if s[0] == 'divisor'] == [('divisor', 8)] * 8
    assert len({size for _, size, _ in batches}) > 1      # actual sizes vary; the divisor not
    plan = dp_plan(resolve_options(dict(DP, batch_size=64)), 30)
    assert plan['sampling_probability'] == 1 and plan['expected_batch_size'] == 30
    assert plan['steps_per_epoch'] == 1


# --- refusals ---------------------------------------------------------------------------

@pytest.mark.parametrize('options,message', [
    (dict(DP, init='prototype'), "init 'prototype' starts from the class means of the "
     "examples, which differential privacy does not cover: with dp_noise_multiplier use init "
     "'zeros' or 'keep'."),
    (dict(DP, balance=True), "balance weighs the loss by the label counts, which differential "
     "privacy does not cover: with dp_noise_multiplier set balance to false."),
    ({'dp_noise_multiplier': -0.5, 'dp_clip': 1}, "dp_noise_multiplier must be a number from "
     "0 to 1000000, or null for training without differential privacy."),
    ({'dp_noise_multiplier': '1', 'dp_clip': 1}, "dp_noise_multiplier must be a number"),
    ({'dp_noise_multiplier': True, 'dp_clip': 1}, "dp_noise_multiplier must be a number"),
    ({'dp_noise_multiplier': float('nan'), 'dp_clip': 1}, "dp_noise_multiplier must be"),
    ({'dp_noise_multiplier': float('inf'), 'dp_clip': 1}, "dp_noise_multiplier must be"),
    ({'dp_noise_multiplier': 1, 'dp_clip': 0}, "dp_clip must be a number above 0 and at most "
     "1000000, or null for no clipping (only with dp_noise_multiplier 0)."),
    ({'dp_noise_multiplier': 1, 'dp_clip': -1}, "dp_clip must be a number above 0"),
    ({'dp_noise_multiplier': 1, 'dp_clip': 'big'}, "dp_clip must be a number above 0"),
    ({'dp_noise_multiplier': 1}, "dp_noise_multiplier above 0 needs dp_clip: the noise's "
     "standard deviation is dp_noise_multiplier x dp_clip."),
    (dict(DP, dp_sampling='fixed'), "Unknown dp_sampling 'fixed'; allowed: poisson, "
     "shuffle."),
    ({'dp_clip': 1.0}, "dp_clip and dp_sampling apply to differentially private training "
     "only: set dp_noise_multiplier as well (0 for clipping without noise)."),
    ({'dp_sampling': 'shuffle'}, "dp_clip and dp_sampling apply to"),
    ({'dp_noise': 1}, "Unknown training option 'dp_noise'; allowed: epochs, learning_rate, "
     "batch_size, weight_decay, decay_mode, seed, balance, init, scale, dp_noise_multiplier, "
     "dp_clip, dp_sampling."),
])
def test_bad_dp_options_are_refused_and_the_head_is_unchanged(options, message):
    xs, ys = blobs(3, 3, 4, 0.5, seed=11)
    head = head_with_weights(LABELS, 4, [0.5] * 12, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError) as err:
        train_head(head, xs, ys, options, None, InsecureSeededBytes(1))
    assert str(err.value).startswith(message)
    assert state(head) == [0.5] * 12 + [0.1, 0.2, 0.3]


@pytest.mark.parametrize('options', [DP, {'dp_noise_multiplier': 0, 'dp_clip': 1},
                                     dict(DP, dp_sampling='shuffle')])
def test_dp_needs_a_random_source_unless_nothing_is_random(options):
    xs, ys = blobs(3, 3, 4, 0.5, seed=12)
    head = LinearHead(LABELS, 4)
    with pytest.raises(ValueError, match="needs a source of random bytes"):
        train_head(head, xs, ys, options)
    assert state(head) == [0.0] * 15
    with pytest.raises(ValueError, match="needs a source of random bytes"):
        train_head(head, xs, ys, options, None, object())
    train_head(head, xs, ys, {'dp_noise_multiplier': 0, 'dp_clip': 1, 'dp_sampling':
                              'shuffle'})


# --- accounting description and history -------------------------------------------------

def test_dp_event_describes_the_poisson_subsampled_gaussian_over_all_steps():
    assert dp_event_of(dict(DP, dp_noise_multiplier=1.1, batch_size=16, epochs=5), 60) == {
        'type': 'self_composed', 'count': 20,
        'event': {'type': 'poisson_sampled', 'sampling_probability': 16 / 60,
                  'event': {'type': 'gaussian', 'noise_multiplier': 1.1}}}
    assert dp_event_of(dict(DP, batch_size=100, epochs=3), 60)['event'][
        'sampling_probability'] == 1.0
    with pytest.raises(ValueError, match="without differential privacy"):
        dp_event_of({}, 60)
    with pytest.raises(ValueError, match="covers dp_sampling 'poisson' only"):
        dp_event_of(dict(DP, dp_sampling='shuffle'), 60)


def test_history_reports_what_the_accounting_needs():
    xs, ys = blobs(10, 3, 6, 1.0, seed=13)
    history = train_head(LinearHead(LABELS, 6), xs, ys, dict(DP, epochs=3, batch_size=7),
                         None, InsecureSeededBytes(1))
    assert [e['dp'] for e in history] == [
        {'noise_multiplier': 1.0, 'clip': 1.0, 'sampling': 'poisson',
         'sampling_probability': 7 / 30, 'steps': 5 * e} for e in (1, 2, 3)]
    assert 'dp' not in train_head(LinearHead(LABELS, 6), xs, ys, None)[0]


def test_dp_training_still_learns_a_separable_set():
    xs, ys = blobs(40, 3, 16, 0.3, seed=14)
    history = train_head(LinearHead(LABELS, 16), xs, ys,
                         dict(DP, dp_noise_multiplier=0.7, epochs=10, learning_rate=0.05),
                         None, InsecureSeededBytes(2))
    assert history[-1]['accuracy'] >= 0.9


# --- callers: cross-validation and federated local training -----------------------------

def test_cross_validation_and_local_updates_under_dp():
    xs, ys = blobs(8, 3, 6, 1.0, seed=15)
    result = cross_validate(LABELS, 6, xs, ys, dict(DP, init='keep'), 3,
                            InsecureSeededBytes(1))
    assert result['folds'] == 3 and result['examples'] == 24
    with pytest.raises(ValueError, match="first round sends each label's sum"):
        local_update(LABELS, 6, xs, ys, [0.0] * 18, [0.0] * 3, 0, DP, InsecureSeededBytes(1))
    two = [i for i in range(24) if ys[i] < 2]                # label c: no local example
    global_w = np.random.default_rng(3).normal(size=18).tolist()
    update = local_update(LABELS, 6, [xs[i] for i in two], [ys[i] for i in two], global_w,
                          [0.0] * 3, 4, DP, InsecureSeededBytes(1))
    assert list(update['weights'][12:]) != global_w[12:]     # c's row has its noise too
    plain = local_update(LABELS, 6, [xs[i] for i in two], [ys[i] for i in two], global_w,
                         [0.0] * 3, 4, None)
    assert list(plain['weights'][12:]) == global_w[12:]
