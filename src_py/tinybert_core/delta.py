# __pragma__ ('ecom')
"""Head deltas on the client: difference from the global head, L2 norm, clipping (pure).

A delta is ``{"weights": [...], "bias": [...]}`` (row-major k*d weights, k bias values):
``local - global``. The browser clips it to the bound the server announces before
``tinybert_core.codec.encode_update`` quantises it.
"""
import math

from tinybert_core.arrays import zeros
from tinybert_core.checks import is_finite


def delta_of(local_weights, local_bias, global_weights, global_bias):
    """Return the delta ``local - global``. Raises ValueError if the shapes differ."""
    if len(local_weights) != len(global_weights) or len(local_bias) != len(global_bias):
        raise ValueError("local and global heads differ in shape")
    weights = zeros(len(local_weights))
    for i in range(len(local_weights)):
        weights[i] = local_weights[i] - global_weights[i]
    bias = zeros(len(local_bias))
    for i in range(len(local_bias)):
        bias[i] = local_bias[i] - global_bias[i]
    return {"weights": weights, "bias": bias}


def delta_norm(delta):
    """Euclidean norm of the delta's weights and bias taken as one vector."""
    total = 0.0
    for key in ["weights", "bias"]:
        values = delta[key]
        for i in range(len(values)):
            total += values[i] * values[i]
    return math.sqrt(total)


def clip_delta(delta, bound):
    """Return a copy of ``delta`` scaled down so its L2 norm is at most ``bound`` (> 0).

    A delta already within the bound is copied unchanged. Raises ValueError if ``bound`` is
    not a positive number or a value of the delta is not finite.
    """
    if not is_finite(bound) or bound <= 0:
        raise ValueError("the clip bound must be a positive number, got " + str(bound))
    norm = delta_norm(delta)
    if not is_finite(norm):
        raise ValueError("the delta holds a value that is not finite")
    factor = 1.0
    if norm > bound:
        factor = bound / norm
    out = {}
    for key in ["weights", "bias"]:
        values = delta[key]
        copy = zeros(len(values))
        for i in range(len(values)):
            copy[i] = values[i] * factor
        out[key] = copy
    return out


def keep_unseen_rows(local_weights, local_bias, global_weights, global_bias, dim, labels_seen):
    """Put back the global row and bias of every label with no local example, in place;
    returns ``{"weights", "bias"}`` (the same arrays).

    labels_seen: one flag per label. A client learned nothing about a label it has no example
    of, so its update must not move that label: averaging the rows such a client trained
    (a zero prototype, a very low bias) would push that label down for everyone.
    """
    for k in range(len(labels_seen)):
        if not labels_seen[k]:
            for j in range(dim):
                local_weights[k * dim + j] = global_weights[k * dim + j]
            local_bias[k] = global_bias[k]
    return {"weights": local_weights, "bias": local_bias}


def labels_seen(ys, n_labels):
    """One flag per label: does any of the label indices ``ys`` name it?"""
    seen = [False for k in range(n_labels)]
    for y in ys:
        seen[y] = True
    return seen
