"""Training of the linear softmax head on cached sentence embeddings (pure, deterministic).

Loss: class-weighted cross-entropy, ``(1/|B|) sum_i w[y_i] * -log softmax(W x_i + b)[y_i]``
over a mini-batch B; analytic gradients (``tinybert_core.gradients``); Adam with bias correction;
weight decay on W only.
Shuffling uses the seeded mulberry32 generator of ``tinybert_core.rng``, so the same inputs and
options give the same weights in CPython and in the browser.

The defaults were chosen by measurement (``python -m bench tune``, ``bench/results/tuning.md``:
four real data sets, 5/10/20/50 examples per label, 5 draws of 1,000 held-out rows, gap to
logistic regression C=1; the rule is in ``bench/tune.py``):

- init: the scaled nearest-class-mean classifier (``prototype_init``). Best worst-gap at 20
  shots over the sets: -0.002, against -0.014 for zero initialisation and -0.016 for
  unit-length class means with centred biases (each at its best learning rate and batch).
  With few examples a well-regularised logistic regression is itself close to the
  nearest-class-mean rule, so training starts there and Adam refines it.
- scale 40, learning_rate 0.02, batch_size 16: a grid of scale 10-160, rate 0.003-0.1, batch
  8-32 has a plateau (scale 40-80, rate 0.01-0.03) whose scores the draws cannot tell apart;
  among those, scale 40 gives the best-calibrated probabilities (held-out NLL 0.49, ECE 0.03
  against 0.57 and 0.09 at scale 80; logistic regression C=1: 0.78 and 0.29, underconfident).
- weight decay: decoupled (AdamW) 0.1, which gave the best held-out NLL and accuracy of the
  tied variants and keeps SMS spam with all ~3,500 rows at 0.972 (goal 0.97). L2 decay added
  to the gradient, which Adam rescales per weight, fails that goal at every strength tried
  (0.001: 0.964; 0.01: 0.945, and worst gap -0.009).
- Adam epsilon 1e-8 (1e-3 and 1e-2 were not better); 5 epochs, the product's budget.
"""
from tinybert_core.adam import DECAY_MODES, Adam, all_finite
from tinybert_core.arrays import zeros
from tinybert_core.checks import is_number, is_whole
from tinybert_core.dp import (
    DP_OPTIONS,
    PrivateTraining,
    dp_event,
    dp_plan,
    dp_summary,
    private_epoch,
    resolve_dp_options,
)
from tinybert_core.gradients import (
    Scratch,
    add_gradient,
    evaluate,
    example_forward,
    loss_and_gradient,  # noqa: F401  (importable from here under CPython, as before)
    mean_step,
    zero_gradient,
)
from tinybert_core.head import LinearHead
from tinybert_core.metrics import accuracy, confusion_matrix, kfold_splits
from tinybert_core.rng import Rng

DEFAULTS = {
    'epochs': 5,
    'learning_rate': 0.02,
    'batch_size': 16,
    'weight_decay': 0.1,
    'decay_mode': 'decoupled',
    'seed': 0,
    'balance': True,
    'init': 'prototype',
    'scale': 40.0,
}
INITS = ['prototype', 'zeros', 'keep']
MAX_EPOCHS = 100
MAX_WHOLE = 9007199254740991      # 2**53 - 1: the largest whole number a double holds exactly
NOT_ENOUGH_LABELS = "Add examples of at least two labels before training."


def resolve_options(options):
    """Return a new dict: DEFAULTS overridden by ``options`` (a dict, a JS object or None).

    The differential-privacy options (``tinybert_core.dp.DP_OPTIONS``) are added only when
    ``dp_noise_multiplier`` is given, with DP's own defaults for init and balance (see
    ``tinybert_core.dp.resolve_dp_options``); without them the result is as before DP existed.
    Raises ValueError naming the option for an unknown key or a value out of range.
    """
    out = {}
    for key in DEFAULTS.keys():
        out[key] = DEFAULTS[key]
    if options is None:
        return out
    given = dict(options)
    for key in given.keys():
        if key in DP_OPTIONS:
            continue
        if key not in DEFAULTS:
            raise ValueError("Unknown training option '" + key + "'; allowed: "
                             + ", ".join(DEFAULTS.keys()) + ", " + ", ".join(DP_OPTIONS) + ".")
        out[key] = given[key]
    if not is_whole(out['epochs'], 0, MAX_EPOCHS):
        raise ValueError("epochs must be a whole number from 0 to " + str(MAX_EPOCHS) + ".")
    rate = out['learning_rate']
    if not (is_number(rate) and rate > 0 and rate < 10):
        raise ValueError("learning_rate must be between 0 and 10.")
    if not is_whole(out['batch_size'], 1, MAX_WHOLE):
        raise ValueError("batch_size must be a whole number of at least 1.")
    decay = out['weight_decay']
    if not (is_number(decay) and decay >= 0 and decay < 1):
        raise ValueError("weight_decay must be at least 0 and below 1.")
    if out['decay_mode'] not in DECAY_MODES:
        raise ValueError("Unknown weight decay mode '" + str(out['decay_mode'])
                         + "'; allowed: " + ", ".join(DECAY_MODES) + ".")
    scale = out['scale']
    if not (is_number(scale) and scale > 0 and scale <= 1000):
        raise ValueError("scale must be above 0 and at most 1000.")
    if out['init'] not in INITS:
        raise ValueError("Unknown init '" + str(out['init']) + "'; allowed: "
                         + ", ".join(INITS) + ".")
    if not is_whole(out['seed'], 0, MAX_WHOLE):
        raise ValueError("seed must be a whole number of at least 0.")
    if not (out['balance'] is True or out['balance'] is False):
        raise ValueError("balance must be true or false.")
    resolve_dp_options(given, out)
    return out


def check_examples(head, xs, ys):
    """Validate training examples for ``head``; return the per-label counts.

    xs: embeddings (lists or typed arrays of ``head.dim`` numbers); ys: label indices.
    Raises ValueError: no examples, length mismatch, a label index out of range, a wrong-sized
    or non-finite embedding, or fewer than two labels with examples.
    """
    counts = count_examples(head, xs, ys)
    present = 0
    for k in range(len(counts)):
        if counts[k] > 0:
            present += 1
    if present < 2:
        raise ValueError(NOT_ENOUGH_LABELS)
    return counts


def count_examples(head, xs, ys):
    """``check_examples`` without the rule of two labels: examples of one label pass."""
    n_labels = len(head.labels)
    if len(xs) == 0:
        raise ValueError("No examples to train on.")
    if len(xs) != len(ys):
        raise ValueError("Got " + str(len(xs)) + " embeddings but " + str(len(ys))
                         + " labels.")
    counts = [0 for _ in range(n_labels)]
    for i in range(len(xs)):
        y = ys[i]
        if not is_whole(y, 0, n_labels - 1):
            raise ValueError("Example " + str(i) + " has label index " + str(y)
                             + "; the head has " + str(n_labels) + " labels (0 to "
                             + str(n_labels - 1) + ").")
        x = xs[i]
        if len(x) != head.dim:
            raise ValueError("Example " + str(i) + " has " + str(len(x))
                             + " values; the head expects " + str(head.dim) + ".")
        for j in range(head.dim):
            if not (x[j] - x[j] == 0):     # false for NaN and +-inf
                raise ValueError("Example " + str(i) + " contains a value that is not a "
                                 + "finite number (NaN or infinity) at position " + str(j)
                                 + ".")
        counts[y] += 1
    return counts


def class_weights(counts, balance):
    """Per-label loss weights: ``n / (present labels * count)`` if balance, else 1.

    Labels without examples get weight 0 (they never appear as a target anyway).
    """
    total = 0
    present = 0
    for k in range(len(counts)):
        total += counts[k]
        if counts[k] > 0:
            present += 1
    out = zeros(len(counts))
    for k in range(len(counts)):
        if counts[k] > 0:
            out[k] = total / (present * counts[k]) if balance else 1.0
    return out


def prototype_init(head, xs, ys, counts, scale):
    """Start ``head`` as a scaled nearest-class-mean classifier.

    Row k is ``scale * m_k`` and bias k is ``-scale * |m_k|^2 / 2``, where m_k is the mean
    embedding of label k, so ``logit_k(x) = scale * (m_k . x - |m_k|^2 / 2)``, which ranks the
    labels as ``-|x - m_k|^2`` does. With few examples a well-regularised logistic regression
    is close to this classifier, and training starts from it instead of from zero.
    Labels without examples get a zero row and bias ``-2 * scale``: for embeddings of length
    at most 1 every other logit is at least ``-1.5 * scale``, so such a label is never chosen.
    """
    n_labels = len(head.labels)
    dim = head.dim
    w = head.weights
    for i in range(n_labels * dim):
        w[i] = 0.0
    for i in range(len(xs)):
        x = xs[i]
        base = ys[i] * dim
        for j in range(dim):
            w[base + j] += x[j]
    for k in range(n_labels):
        base = k * dim
        if counts[k] == 0:
            head.bias[k] = -2.0 * scale
            continue
        square = 0.0
        for j in range(dim):
            mean = w[base + j] / counts[k]
            square += mean * mean
            w[base + j] = scale * mean
        head.bias[k] = -0.5 * scale * square
    return None


def _plain_epoch(head, xs, ys, weights, order, size, scratch, adam_w, adam_b):
    """One pass over ``order`` in batches of ``size``; returns the number of skipped steps."""
    skipped = 0
    start = 0
    while start < len(order):
        stop = min(start + size, len(order))
        zero_gradient(scratch)
        for t in range(start, stop):
            i = order[t]
            example_forward(head, xs[i], ys[i], weights[ys[i]], scratch)
            add_gradient(scratch, xs[i], 1.0)
        if not mean_step(head, scratch, stop - start, adam_w, adam_b):
            skipped += 1
        start = stop
    return skipped


def _epoch_entry(epoch, result, skipped):
    return {'epoch': epoch, 'loss': result['loss'], 'accuracy': result['accuracy'],
            'skipped_steps': skipped}


def train_head(head, xs, ys, options, on_epoch=None, random_source=None):
    """Train ``head`` in place on embeddings ``xs`` with label indices ``ys``.

    options: dict (or JS object, or None) overriding DEFAULTS: epochs (0 only initialises),
    learning_rate, batch_size, weight_decay, decay_mode ('decoupled' | 'l2'), seed, balance
    (class weights inversely proportional to counts), init ('prototype': scaled
    nearest-class-mean start, see prototype_init | 'zeros' | 'keep' the current weights),
    scale (of the prototype init); and for differentially private training (DP-SGD, see
    tinybert_core.dp) dp_noise_multiplier z (None: plain training), dp_clip C (per-example
    gradient L2 bound; None: no clipping) and dp_sampling ('poisson' | 'shuffle').
    on_epoch: None or a function called after each epoch with that epoch's entry.
    random_source: with DP, an object whose ``bytes(n)`` returns n cryptographically random
    bytes (tinybert_core.dp_random.SystemRandomBytes); only z = 0 with 'shuffle' needs none.
    Returns one entry per epoch, measured on the training examples after that epoch:
    ``{'epoch': 1.., 'loss': mean class-weighted cross-entropy, 'accuracy': fraction
    predicted right (unweighted), 'skipped_steps': steps refused for a non-finite gradient}``;
    with DP also ``'dp': {'noise_multiplier', 'clip', 'sampling', 'sampling_probability',
    'steps' (so far)}``. The loss and accuracy are not private (see tinybert_core.dp).
    Raises ValueError (see check_examples and resolve_options, and without a random source
    that DP needs); the head is then unchanged.
    """
    opts = resolve_options(options)
    counts = check_examples(head, xs, ys)
    plan = dp_plan(opts, len(xs))
    dp_state = None if plan is None else PrivateTraining(plan, xs, random_source)
    weights = class_weights(counts, opts['balance'])
    n_labels = len(head.labels)
    dim = head.dim
    if opts['init'] == 'prototype':
        prototype_init(head, xs, ys, counts, opts['scale'])
    elif not (all_finite(head.weights) and all_finite(head.bias)):
        raise ValueError("The head holds weights that are not finite numbers; train it with "
                         + "init 'prototype' or 'zeros' instead of 'keep'.")
    if opts['init'] == 'zeros':
        for i in range(n_labels * dim):
            head.weights[i] = 0.0
        for k in range(n_labels):
            head.bias[k] = 0.0
    adam_w = Adam(n_labels * dim, opts['learning_rate'], 0.9, 0.999, 1e-8,
                  opts['weight_decay'], opts['decay_mode'])
    adam_b = Adam(n_labels, opts['learning_rate'], 0.9, 0.999, 1e-8, 0.0, 'decoupled')
    scratch = Scratch(n_labels, dim)
    rng = Rng(opts['seed'])
    order = [i for i in range(len(xs))]
    history = []
    for epoch in range(1, opts['epochs'] + 1):
        rng.shuffle(order)
        if dp_state is None:
            skipped = _plain_epoch(head, xs, ys, weights, order, opts['batch_size'], scratch,
                                   adam_w, adam_b)
        else:
            skipped = private_epoch(head, xs, ys, weights, order, dp_state, scratch, adam_w,
                                    adam_b)
        entry = _epoch_entry(epoch, evaluate(head, xs, ys, weights), skipped)
        if plan is not None:
            entry['dp'] = dp_summary(plan, epoch)
        history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
    return history


def dp_event_of(options, n):
    """The privacy mechanism that training with ``options`` on ``n`` examples runs, as plain
    data for the accountant (tinybert_core.dp.dp_event; ``fl/privacy.py`` computes epsilon).

    Raises ValueError for invalid options, without DP, or with dp_sampling 'shuffle'.
    """
    opts = resolve_options(options)
    return dp_event(dp_plan(opts, n), opts['epochs'])


def train_fresh(labels, dim, xs, ys, options, random_source=None):
    """Train a new head over ``labels`` and return it as plain data.

    For callers that need plain values rather than a LinearHead, e.g. a Web Worker posting its
    result back to the page. Returns ``{'labels', 'dim', 'weights', 'bias', 'history'}``
    (weights row-major; history as from train_head). Raises ValueError like train_head.
    """
    head = LinearHead(labels, dim)
    history = train_head(head, xs, ys, options, None, random_source)
    return {'labels': head.labels, 'dim': dim, 'weights': head.weights, 'bias': head.bias,
            'history': history}


def cross_validate(labels, dim, xs, ys, options, folds, random_source=None):
    """Estimate held-out accuracy by stratified k-fold cross-validation.

    For each fold a fresh head over ``labels`` is trained with ``options`` on the other folds
    and scored on this one; folds come from ``kfold_splits`` seeded with the options' seed.
    init 'keep' means 'prototype' here, or 'zeros' with differential privacy (a fresh head has
    nothing to keep); random_source as for train_head. A fold whose training part has fewer
    than two labels is skipped.
    Returns ``{'accuracy', 'confusion' (m[true][predicted] over all scored examples),
    'folds' (folds used), 'examples' (examples scored)}``.
    Raises ValueError for invalid examples or options, or when no fold could be trained.
    """
    head = LinearHead(labels, dim)
    check_examples(head, xs, ys)
    opts = resolve_options(options)
    if opts['init'] == 'keep':
        opts['init'] = 'prototype' if dp_plan(opts, len(xs)) is None else 'zeros'
    y_true = []
    y_pred = []
    used = 0
    splits = kfold_splits(ys, len(labels), folds, opts['seed'])
    for s in range(len(splits)):
        train_x = [xs[i] for i in splits[s]['train']]
        train_y = [ys[i] for i in splits[s]['train']]
        seen = {}
        for t in range(len(train_y)):
            seen[str(train_y[t])] = True
        if len(seen.keys()) < 2 or len(splits[s]['test']) == 0:
            continue
        head = LinearHead(labels, dim)
        train_head(head, train_x, train_y, opts, None, random_source)
        for i in splits[s]['test']:
            y_true.append(ys[i])
            y_pred.append(head.predict_index(xs[i]))
        used += 1
    if used == 0:
        raise ValueError("Too few examples to cross-validate: each fold needs examples of at "
                         + "least two labels to train on.")
    return {'accuracy': accuracy(y_true, y_pred),
            'confusion': confusion_matrix(y_true, y_pred, len(labels)),
            'folds': used, 'examples': len(y_true)}
