"""Training of the linear softmax head on cached sentence embeddings (pure, deterministic).

Loss: class-weighted cross-entropy, ``(1/|B|) sum_i w[y_i] * -log softmax(W x_i + b)[y_i]``
over a mini-batch B; analytic gradients; Adam with bias correction; weight decay on W only.
Shuffling uses the seeded mulberry32 generator of ``core.rng``, so the same inputs and options
give the same weights in CPython and in the browser.

The defaults were chosen by measurement on four real data sets (``python -m bench tune``):
prototype initialisation (each row starts as the scaled unit mean of its class) followed by a
few Adam epochs reaches the logistic-regression ceiling at 20 examples per label.
"""
import math

from core.adam import Adam, all_finite
from core.arrays import zeros
from core.head import LinearHead
from core.metrics import accuracy, confusion_matrix, kfold_splits
from core.rng import Rng

DEFAULTS = {
    'epochs': 5,
    'learning_rate': 0.01,
    'batch_size': 8,
    'weight_decay': 0.0,
    'decay_mode': 'decoupled',
    'seed': 0,
    'balance': True,
    'init': 'prototype',
    'scale': 10.0,
}
INITS = ['prototype', 'zeros', 'keep']
MAX_EPOCHS = 100
NOT_ENOUGH_LABELS = "Add examples of at least two labels before training."


def resolve_options(options):
    """Return a new dict: DEFAULTS overridden by ``options`` (a dict, a JS object or None).

    Raises ValueError naming the option for an unknown key or a value out of range.
    """
    out = {}
    for key in DEFAULTS.keys():
        out[key] = DEFAULTS[key]
    if options is None:
        return out
    given = dict(options)
    for key in given.keys():
        if key not in DEFAULTS:
            raise ValueError("Unknown training option '" + key + "'; allowed: "
                             + ", ".join(DEFAULTS.keys()) + ".")
        out[key] = given[key]
    epochs = out['epochs']
    if not (epochs >= 0 and epochs <= MAX_EPOCHS and epochs == math.floor(epochs)):
        raise ValueError("epochs must be a whole number from 0 to " + str(MAX_EPOCHS) + ".")
    if not (out['learning_rate'] > 0 and out['learning_rate'] < 10):
        raise ValueError("learning_rate must be between 0 and 10.")
    size = out['batch_size']
    if not (size >= 1 and size == math.floor(size)):
        raise ValueError("batch_size must be a whole number of at least 1.")
    if not (out['weight_decay'] >= 0 and out['weight_decay'] < 1):
        raise ValueError("weight_decay must be at least 0 and below 1.")
    if not (out['scale'] > 0 and out['scale'] <= 1000):
        raise ValueError("scale must be above 0 and at most 1000.")
    if out['init'] not in INITS:
        raise ValueError("Unknown init '" + str(out['init']) + "'; allowed: "
                         + ", ".join(INITS) + ".")
    seed = out['seed']
    if not (seed >= 0 and seed == math.floor(seed)):
        raise ValueError("seed must be a whole number of at least 0.")
    return out


def _is_finite(v):
    return v - v == 0


def check_examples(head, xs, ys):
    """Validate training examples for ``head``; return the per-label counts.

    xs: embeddings (lists or typed arrays of ``head.dim`` numbers); ys: label indices.
    Raises ValueError: no examples, length mismatch, a label index out of range, a wrong-sized
    or non-finite embedding, or fewer than two labels with examples.
    """
    n_labels = len(head.labels)
    if len(xs) == 0:
        raise ValueError("No examples to train on.")
    if len(xs) != len(ys):
        raise ValueError("Got " + str(len(xs)) + " embeddings but " + str(len(ys))
                         + " labels.")
    counts = [0 for _ in range(n_labels)]
    for i in range(len(xs)):
        y = ys[i]
        if not (y >= 0 and y < n_labels and y == math.floor(y)):
            raise ValueError("Example " + str(i) + " has label index " + str(y)
                             + "; the head has " + str(n_labels) + " labels (0 to "
                             + str(n_labels - 1) + ").")
        x = xs[i]
        if len(x) != head.dim:
            raise ValueError("Example " + str(i) + " has " + str(len(x))
                             + " values; the head expects " + str(head.dim) + ".")
        for j in range(head.dim):
            if not _is_finite(x[j]):
                raise ValueError("Example " + str(i) + " contains a value that is not a "
                                 + "finite number (NaN or infinity) at position " + str(j)
                                 + ".")
        counts[y] += 1
    present = 0
    for k in range(n_labels):
        if counts[k] > 0:
            present += 1
    if present < 2:
        raise ValueError(NOT_ENOUGH_LABELS)
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
    """Set each row of ``head`` to ``scale`` times the unit-length mean of its class.

    Bias: minus the row's mean score over the class means, so every label starts with the
    same average logit over a balanced set. Labels without examples get a zero row and bias
    ``-scale``: below any class row's logit for unit-length embeddings.
    """
    n_labels = len(head.labels)
    dim = head.dim
    means = zeros(n_labels * dim)
    for i in range(len(xs)):
        x = xs[i]
        base = ys[i] * dim
        for j in range(dim):
            means[base + j] += x[j]
    present = 0
    for k in range(n_labels):
        base = k * dim
        if counts[k] > 0:
            present += 1
            for j in range(dim):
                means[base + j] = means[base + j] / counts[k]
            norm = 0.0
            for j in range(dim):
                norm += means[base + j] * means[base + j]
            norm = math.sqrt(norm)
            factor = scale / norm if norm > 0 else 0.0
            for j in range(dim):
                head.weights[base + j] = means[base + j] * factor
        else:
            for j in range(dim):
                head.weights[base + j] = 0.0
    for k in range(n_labels):
        if counts[k] == 0:
            head.bias[k] = -scale
            continue
        total = 0.0
        for c in range(n_labels):
            if counts[c] == 0:
                continue
            score = 0.0
            for j in range(dim):
                score += head.weights[k * dim + j] * means[c * dim + j]
            total += score
        head.bias[k] = -total / present
    return None


class _Scratch:
    """Buffers reused by every step, so the inner loops allocate nothing."""

    def __init__(self, n_labels, dim):
        self.logits = zeros(n_labels)
        self.exps = zeros(n_labels)
        self.grad_w = zeros(n_labels * dim)
        self.grad_b = zeros(n_labels)


def _example_loss(head, x, y, weight, scratch, accumulate):
    """Weighted cross-entropy of one example; adds its gradient to scratch if accumulate.

    Returns [loss, predicted index]. Uses the log-sum-exp form, so no probability is 0.
    """
    n_labels = len(head.labels)
    dim = head.dim
    w = head.weights
    logits = scratch.logits
    best = 0
    for k in range(n_labels):
        total = head.bias[k]
        base = k * dim
        for j in range(dim):
            total += w[base + j] * x[j]
        logits[k] = total
        if total > logits[best]:
            best = k
    top = logits[best]
    exps = scratch.exps
    z = 0.0
    for k in range(n_labels):
        exps[k] = math.exp(logits[k] - top)
        z += exps[k]
    loss = weight * (math.log(z) + top - logits[y])
    if accumulate:
        gw = scratch.grad_w
        for k in range(n_labels):
            p = exps[k] / z
            delta = weight * (p - 1.0 if k == y else p)
            scratch.grad_b[k] += delta
            base = k * dim
            for j in range(dim):
                gw[base + j] += delta * x[j]
    return [loss, best]


def loss_and_gradient(head, xs, ys, weights, indices):
    """Mean weighted loss over ``xs[indices]`` and its gradient.

    weights: per-label loss weights (see class_weights). Returns
    ``{'loss', 'grad_w' (row-major, like head.weights), 'grad_b'}``.
    """
    scratch = _Scratch(len(head.labels), head.dim)
    total = 0.0
    for t in range(len(indices)):
        i = indices[t]
        total += _example_loss(head, xs[i], ys[i], weights[ys[i]], scratch, True)[0]
    scale = 1.0 / len(indices)
    for i in range(len(scratch.grad_w)):
        scratch.grad_w[i] = scratch.grad_w[i] * scale
    for k in range(len(scratch.grad_b)):
        scratch.grad_b[k] = scratch.grad_b[k] * scale
    return {'loss': total * scale, 'grad_w': scratch.grad_w, 'grad_b': scratch.grad_b}


def evaluate(head, xs, ys, weights):
    """``{'loss': mean weighted loss, 'accuracy': fraction of argmax hits}`` on (xs, ys)."""
    scratch = _Scratch(len(head.labels), 0)
    total = 0.0
    hits = 0
    for i in range(len(xs)):
        result = _example_loss(head, xs[i], ys[i], weights[ys[i]], scratch, False)
        total += result[0]
        if result[1] == ys[i]:
            hits += 1
    return {'loss': total / len(xs), 'accuracy': hits / len(xs)}


def _epoch_entry(epoch, result, skipped):
    return {'epoch': epoch, 'loss': result['loss'], 'accuracy': result['accuracy'],
            'skipped_steps': skipped}


def train_head(head, xs, ys, options, on_epoch=None):
    """Train ``head`` in place on embeddings ``xs`` with label indices ``ys``.

    options: dict (or JS object, or None) overriding DEFAULTS: epochs (0 only initialises),
    learning_rate,
    batch_size, weight_decay, decay_mode ('decoupled' | 'l2'), seed, balance (class weights
    inversely proportional to counts), init ('prototype' | 'zeros' | 'keep' the current
    weights), scale (row length of the prototype init).
    on_epoch: None or a function called after each epoch with that epoch's entry.
    Returns one entry per epoch: ``{'epoch': 1.., 'loss': weighted training loss,
    'accuracy': training accuracy, 'skipped_steps': steps refused for a non-finite gradient}``.
    Raises ValueError (see check_examples and resolve_options); the head is then unchanged.
    """
    opts = resolve_options(options)
    counts = check_examples(head, xs, ys)
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
    scratch = _Scratch(n_labels, dim)
    rng = Rng(opts['seed'])
    order = [i for i in range(len(xs))]
    size = opts['batch_size']
    history = []
    for epoch in range(1, opts['epochs'] + 1):
        rng.shuffle(order)
        skipped = 0
        start = 0
        while start < len(order):
            stop = min(start + size, len(order))
            for i in range(n_labels * dim):
                scratch.grad_w[i] = 0.0
            for k in range(n_labels):
                scratch.grad_b[k] = 0.0
            for t in range(start, stop):
                i = order[t]
                _example_loss(head, xs[i], ys[i], weights[ys[i]], scratch, True)
            inv = 1.0 / (stop - start)
            for i in range(n_labels * dim):
                scratch.grad_w[i] = scratch.grad_w[i] * inv
            for k in range(n_labels):
                scratch.grad_b[k] = scratch.grad_b[k] * inv
            # Both halves are checked before either moves, so W and b stay consistent.
            if all_finite(scratch.grad_w) and all_finite(scratch.grad_b):
                adam_w.step(head.weights, scratch.grad_w)
                adam_b.step(head.bias, scratch.grad_b)
            else:
                skipped += 1
            start = stop
        entry = _epoch_entry(epoch, evaluate(head, xs, ys, weights), skipped)
        history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
    return history



def train_fresh(labels, dim, xs, ys, options):
    """Train a new head over ``labels`` and return it as plain data.

    For callers that need plain values rather than a LinearHead, e.g. a Web Worker posting its
    result back to the page. Returns ``{'labels', 'dim', 'weights', 'bias', 'history'}``
    (weights row-major; history as from train_head). Raises ValueError like train_head.
    """
    head = LinearHead(labels, dim)
    history = train_head(head, xs, ys, options)
    return {'labels': head.labels, 'dim': dim, 'weights': head.weights, 'bias': head.bias,
            'history': history}

def cross_validate(labels, dim, xs, ys, options, folds):
    """Estimate held-out accuracy by stratified k-fold cross-validation.

    For each fold a fresh head over ``labels`` is trained with ``options`` on the other folds
    and scored on this one; folds come from ``kfold_splits`` seeded with the options' seed.
    A fold whose training part has fewer than two labels is skipped.
    Returns ``{'accuracy', 'confusion' (m[true][predicted] over all scored examples),
    'folds' (folds used), 'examples' (examples scored)}``.
    Raises ValueError for invalid examples or options, or when no fold could be trained.
    """
    head = LinearHead(labels, dim)
    check_examples(head, xs, ys)
    opts = resolve_options(options)
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
        train_head(head, train_x, train_y, opts)
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
