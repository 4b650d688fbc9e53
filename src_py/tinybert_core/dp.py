"""Example-level differential privacy for the head trainer: DP-SGD (pure).

One step (Abadi et al. 2016, "Deep learning with differential privacy"): choose a batch;
clip each example's gradient (weights and bias together) to L2 norm at most C; sum the
clipped gradients; add Gaussian noise N(0, (z C)^2) to every coordinate of the sum, once;
divide by the batch size; take the usual Adam step. Batches:

- ``'poisson'`` (the default): every example joins each step independently with probability
  q = batch_size / n (1 when batch_size >= n), ceil(n / batch_size) steps an epoch, and the
  sum is divided by the *expected* batch size q n, so that the batch's actual size, which
  depends on who was chosen, is never used. This is the Poisson-subsampled Gaussian mechanism
  that ``dp_event`` describes for the accountant (``fl/privacy.py``).
- ``'shuffle'``: the plain trainer's shuffled fixed batches, divided by their actual size.
  No accounting is offered for it. With z = 0 and no clipping it is plain training exactly.

Choices that the noise does not cover are refused by ``resolve_dp_options``: the prototype
initialisation (class means of the examples) and class weights from label counts. The
per-epoch loss and accuracy in the trainer's history are measured on the training examples
without noise: they are for the person who owns the examples, not for release.

An example's gradient is ``delta x^T`` and ``delta`` (tinybert_core.gradients), so its
squared norm is ``|delta|^2 (|x|^2 + 1)`` and it is clipped without being built: the clipped
gradient is ``factor * delta x^T`` with ``factor = min(1, C / norm)``.
"""
# Imported by name: in the transpiled code ``math.f`` goes through a property getter.
from math import sqrt

from tinybert_core.checks import is_number
from tinybert_core.dp_random import RandomStream, next_normal, poisson_batch
from tinybert_core.gradients import (
    Scratch,
    add_gradient,
    example_forward,
    mean_step,
    zero_gradient,
)

DP_OPTIONS = ['dp_noise_multiplier', 'dp_clip', 'dp_sampling']
DP_SAMPLINGS = ['poisson', 'shuffle']
MAX_NOISE = 1000000
MAX_CLIP = 1000000
PROTOTYPE_REFUSED = ("init 'prototype' starts from the class means of the examples, which "
                     + "differential privacy does not cover: with dp_noise_multiplier use "
                     + "init 'zeros' or 'keep'.")
BALANCE_REFUSED = ("balance weighs the loss by the label counts, which differential privacy "
                   + "does not cover: with dp_noise_multiplier set balance to false.")


def resolve_dp_options(given, out):
    """Check the differential-privacy options in ``given`` and add them to ``out``.

    given: the caller's options (a dict); out: the options resolved so far, changed in place.
    ``dp_noise_multiplier`` absent or None: plain training; nothing is added, and ``dp_clip``
    and ``dp_sampling`` must be absent or None too. Otherwise ``out`` gets all three:
    dp_noise_multiplier z (0 to MAX_NOISE), dp_clip C (above 0, at most MAX_CLIP; None, no
    clipping, only with z = 0), dp_sampling (DP_SAMPLINGS, default 'poisson'); and ``init``
    defaults to 'zeros' and ``balance`` to False instead of DEFAULTS' values.
    Raises ValueError naming the option and what is allowed, also for init 'prototype' or
    balance true given together with dp_noise_multiplier.
    """
    z = given.get('dp_noise_multiplier', None)
    clip = given.get('dp_clip', None)
    sampling = given.get('dp_sampling', None)
    if z is None:
        if clip is not None or sampling is not None:
            raise ValueError("dp_clip and dp_sampling apply to differentially private training "
                             + "only: set dp_noise_multiplier as well (0 for clipping without "
                             + "noise).")
        return None
    if not (is_number(z) and z >= 0 and z <= MAX_NOISE):
        raise ValueError("dp_noise_multiplier must be a number from 0 to " + str(MAX_NOISE)
                         + ", or null for training without differential privacy.")
    if clip is not None and not (is_number(clip) and clip > 0 and clip <= MAX_CLIP):
        raise ValueError("dp_clip must be a number above 0 and at most " + str(MAX_CLIP)
                         + ", or null for no clipping (only with dp_noise_multiplier 0).")
    if clip is None and z > 0:
        raise ValueError("dp_noise_multiplier above 0 needs dp_clip: the noise's standard "
                         + "deviation is dp_noise_multiplier x dp_clip.")
    if sampling is None:
        sampling = 'poisson'
    if sampling not in DP_SAMPLINGS:
        raise ValueError("Unknown dp_sampling '" + str(sampling) + "'; allowed: "
                         + ", ".join(DP_SAMPLINGS) + ".")
    if 'init' in given and given['init'] == 'prototype':
        raise ValueError(PROTOTYPE_REFUSED)
    if 'balance' in given and given['balance'] is True:
        raise ValueError(BALANCE_REFUSED)
    if 'init' not in given:
        out['init'] = 'zeros'
    if 'balance' not in given:
        out['balance'] = False
    out['dp_noise_multiplier'] = z
    out['dp_clip'] = clip
    out['dp_sampling'] = sampling
    return None


def dp_plan(opts, n):
    """The mechanism that resolved options ``opts`` run on ``n`` examples; None without DP.

    Returns ``{'noise_multiplier', 'clip' (None: none), 'sampling', 'batch_size',
    'sampling_probability' (q), 'expected_batch_size' (q n), 'steps_per_epoch'
    (ceil(n / batch_size)), 'noise_std' (z C; 0 without clipping, where z is 0)}``.
    """
    if 'dp_noise_multiplier' not in opts:
        return None
    size = opts['batch_size']
    expected = size if size < n else n
    z = opts['dp_noise_multiplier']
    clip = opts['dp_clip']
    return {'noise_multiplier': z, 'clip': clip, 'sampling': opts['dp_sampling'],
            'batch_size': size, 'sampling_probability': expected / n,
            'expected_batch_size': expected, 'steps_per_epoch': (n + size - 1) // size,
            'noise_std': 0.0 if clip is None else z * clip}


def dp_event(plan, epochs):
    """The DP event of ``epochs`` epochs under ``plan`` (from dp_plan), as plain data in the
    structure of Google's dp-accounting (``fl/privacy.py`` turns it into its DpEvent)::

        {"type": "self_composed", "count": steps, "event": {"type": "poisson_sampled",
         "sampling_probability": q, "event": {"type": "gaussian", "noise_multiplier": z}}}

    Raises ValueError without DP or with 'shuffle' batches, which this accounting does not
    cover.
    """
    if plan is None:
        raise ValueError("These options train without differential privacy: set "
                         + "dp_noise_multiplier and dp_clip for a privacy guarantee.")
    if plan['sampling'] != 'poisson':
        raise ValueError("Privacy accounting covers dp_sampling 'poisson' only; 'shuffle' "
                         + "batches are not accounted for.")
    return {'type': 'self_composed', 'count': epochs * plan['steps_per_epoch'],
            'event': {'type': 'poisson_sampled',
                      'sampling_probability': plan['sampling_probability'],
                      'event': {'type': 'gaussian',
                                'noise_multiplier': plan['noise_multiplier']}}}


def dp_summary(plan, epochs):
    """What the accounting needs after ``epochs`` epochs under ``plan``: ``{'noise_multiplier',
    'clip', 'sampling', 'sampling_probability', 'steps'}`` (plain data for a history entry)."""
    return {'noise_multiplier': plan['noise_multiplier'], 'clip': plan['clip'],
            'sampling': plan['sampling'], 'sampling_probability': plan['sampling_probability'],
            'steps': epochs * plan['steps_per_epoch']}


def clip_factor(delta, x_square_plus_one, clip):
    """``min(1, clip / norm)`` for the example gradient of norm ``sqrt(|delta|^2 (|x|^2 + 1))``;
    0 when that norm is not finite (the example then adds nothing, which is within the bound).
    """
    total = 0.0
    for k in range(len(delta)):
        total += delta[k] * delta[k]
    norm = sqrt(total * x_square_plus_one)
    if norm <= clip:
        return 1.0
    if norm - norm == 0:
        return clip / norm
    return 0.0


class PrivateTraining:
    """What DP training keeps across steps: the plan, the random stream (None when neither
    noise nor Poisson sampling needs one) and ``|x|^2 + 1`` of every example."""

    def __init__(self, plan, xs, random_source):
        self.plan = plan
        needs_random = plan['noise_std'] > 0 or plan['sampling'] == 'poisson'
        self.stream = RandomStream(random_source) if needs_random else None
        self.squares = []
        if plan['clip'] is not None:
            for i in range(len(xs)):
                x = xs[i]
                total = 1.0
                for j in range(len(x)):
                    total += x[j] * x[j]
                self.squares.append(total)


def _private_sum(head, xs, ys, weights, batch, dp_state, scratch):
    """Sum of the clipped gradients of ``xs[batch]`` plus the noise, into scratch's sums."""
    zero_gradient(scratch)
    clip = dp_state.plan['clip']
    for t in range(len(batch)):
        i = batch[t]
        example_forward(head, xs[i], ys[i], weights[ys[i]], scratch)
        if clip is None:
            add_gradient(scratch, xs[i], 1.0)
            continue
        factor = clip_factor(scratch.delta, dp_state.squares[i], clip)
        if factor > 0:
            add_gradient(scratch, xs[i], factor)
    std = dp_state.plan['noise_std']
    if std > 0:
        stream = dp_state.stream
        for i in range(len(scratch.grad_w)):
            scratch.grad_w[i] += std * next_normal(stream)
        for k in range(len(scratch.grad_b)):
            scratch.grad_b[k] += std * next_normal(stream)
    return None


def private_epoch(head, xs, ys, weights, order, dp_state, scratch, adam_w, adam_b):
    """One epoch of DP-SGD steps (see the module notes); returns the number of skipped steps.

    order: the epoch's shuffled indices, used by 'shuffle' batches. Random numbers are drawn
    in this order each step: with 'poisson', one uniform per example in index order; then,
    if the noise is above 0, one normal per weight (row-major) and one per bias.
    """
    plan = dp_state.plan
    size = plan['batch_size']
    n = len(xs)
    skipped = 0
    for step in range(plan['steps_per_epoch']):
        if plan['sampling'] == 'poisson':
            batch = poisson_batch(dp_state.stream, n, plan['sampling_probability'])
            divisor = plan['expected_batch_size']
        else:
            start = step * size
            stop = min(start + size, n)
            batch = [order[t] for t in range(start, stop)]
            divisor = stop - start
        _private_sum(head, xs, ys, weights, batch, dp_state, scratch)
        if not mean_step(head, scratch, divisor, adam_w, adam_b):
            skipped += 1
    return skipped


def private_sum(head, xs, ys, weights, indices, clip, noise_std, random_source):
    """One DP step's noisy sum before the division: the gradients of ``xs[indices]`` each
    clipped to ``clip`` (None: not clipped), summed, plus N(0, noise_std^2) per coordinate
    drawn from ``random_source`` (unused when noise_std is 0).

    For tests. Returns ``{'grad_w' (row-major), 'grad_b'}``.
    """
    plan = {'clip': clip, 'noise_std': noise_std, 'sampling': 'shuffle'}
    dp_state = PrivateTraining(plan, xs, random_source)
    scratch = Scratch(len(head.labels), head.dim)
    _private_sum(head, xs, ys, weights, indices, dp_state, scratch)
    return {'grad_w': scratch.grad_w, 'grad_b': scratch.grad_b}
