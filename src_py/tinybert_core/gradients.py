"""The head's loss, per-example gradients and one averaged optimiser step (pure).

Loss of one example: ``w[y] * -log softmax(W x + b)[y]``. Its gradient is the outer product
``delta x^T`` for the weights and ``delta`` for the bias, with ``delta_k = w[y] * (p_k -
[k == y])``: ``example_forward`` leaves ``delta`` in the scratch buffers and ``add_gradient``
adds ``factor * delta x^T`` to the running sums, so the plain trainer (factor 1) and the
differentially private one (factor = the example's clipping factor) share every operation.
``exp`` and ``ln`` come from ``tinybert_core.exact_math``, not ``math``, so that training gives
the same bits in CPython and in the browser.
"""
from tinybert_core.arrays import zeros
from tinybert_core.exact_math import exp, ln


class Scratch:
    """Buffers reused by every step, so the inner loops allocate nothing.

    ``grad_w`` (row-major, like the head's weights) and ``grad_b`` hold the running sums of
    gradients; ``delta`` the last example's gradient with respect to its logits.
    """

    def __init__(self, n_labels, dim):
        self.logits = zeros(n_labels)
        self.exps = zeros(n_labels)
        self.delta = zeros(n_labels)
        self.grad_w = zeros(n_labels * dim)
        self.grad_b = zeros(n_labels)


def example_forward(head, x, y, weight, scratch):
    """Weighted cross-entropy of one example; leaves its logit gradient in ``scratch.delta``.

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
        exps[k] = exp(logits[k] - top)
        z += exps[k]
    for k in range(n_labels):
        p = exps[k] / z
        scratch.delta[k] = weight * (p - 1.0 if k == y else p)
    return [weight * (ln(z) + top - logits[y]), best]


def add_gradient(scratch, x, factor):
    """Add ``factor`` times the last example's gradient (``scratch.delta`` and ``x``) to the
    sums. ``delta * 1.0`` is ``delta`` exactly, so factor 1 adds the unscaled gradient."""
    n_labels = len(scratch.delta)
    dim = len(x)
    gw = scratch.grad_w
    for k in range(n_labels):
        delta = scratch.delta[k] * factor
        scratch.grad_b[k] += delta
        base = k * dim
        for j in range(dim):
            gw[base + j] += delta * x[j]
    return None


def zero_gradient(scratch):
    """Reset the gradient sums to 0."""
    for i in range(len(scratch.grad_w)):
        scratch.grad_w[i] = 0.0
    for k in range(len(scratch.grad_b)):
        scratch.grad_b[k] = 0.0
    return None


def mean_step(head, scratch, divisor, adam_w, adam_b):
    """Divide the gradient sums by ``divisor`` and take one Adam step on the head.

    The step is skipped, leaving head and optimisers unchanged, when a gradient is not finite.
    Returns True if the step was taken.
    """
    inv = 1.0 / divisor
    n_weights = len(scratch.grad_w)
    n_labels = len(scratch.grad_b)
    # g * 0 is 0 for a finite g and NaN for NaN or +-inf, so `check` stays 0 exactly when
    # every gradient is finite; both halves are checked before either moves.
    check = 0.0
    for i in range(n_weights):
        g = scratch.grad_w[i] * inv
        scratch.grad_w[i] = g
        check += g * 0.0
    for k in range(n_labels):
        g = scratch.grad_b[k] * inv
        scratch.grad_b[k] = g
        check += g * 0.0
    if check != 0:
        return False
    adam_w.apply(head.weights, scratch.grad_w)
    adam_b.apply(head.bias, scratch.grad_b)
    return True


def loss_and_gradient(head, xs, ys, weights, indices):
    """Mean weighted loss over ``xs[indices]`` and its gradient.

    weights: per-label loss weights (see tinybert_core.train.class_weights). Returns
    ``{'loss', 'grad_w' (row-major, like head.weights), 'grad_b'}``.
    """
    scratch = Scratch(len(head.labels), head.dim)
    total = 0.0
    for t in range(len(indices)):
        i = indices[t]
        total += example_forward(head, xs[i], ys[i], weights[ys[i]], scratch)[0]
        add_gradient(scratch, xs[i], 1.0)
    scale = 1.0 / len(indices)
    for i in range(len(scratch.grad_w)):
        scratch.grad_w[i] = scratch.grad_w[i] * scale
    for k in range(len(scratch.grad_b)):
        scratch.grad_b[k] = scratch.grad_b[k] * scale
    return {'loss': total * scale, 'grad_w': scratch.grad_w, 'grad_b': scratch.grad_b}


def evaluate(head, xs, ys, weights):
    """``{'loss': mean weighted loss, 'accuracy': fraction of argmax hits}`` on (xs, ys)."""
    scratch = Scratch(len(head.labels), 0)
    total = 0.0
    hits = 0
    for i in range(len(xs)):
        result = example_forward(head, xs[i], ys[i], weights[ys[i]], scratch)
        total += result[0]
        if result[1] == ys[i]:
            hits += 1
    return {'loss': total / len(xs), 'accuracy': hits / len(xs)}
