# __pragma__ ('ecom')
"""A differentially private head in one release: noisy class sums, turned into directions (pure).

The head that the examples' class means make (``train.prototype_init``) is, for the frozen
encoder, within a few points of everything later training adds. Released once with Gaussian
noise it costs far less accuracy than DP-SGD or DP-FedAvg deltas over many rounds
(``bench/dp_accuracy.py``): one release needs the least noise for a given epsilon, and the
class sums' sensitivity is small.

What a browser releases, head-shaped (weights row k = label k; bias all zero, so that no count
is released):

- *example level* (``example_sums``): the sum of the embeddings (length at most 1) of each
  label, plus N(0, std^2) on every weight. Adding or removing one example changes one row by
  a vector of length at most 1, so the sensitivity is 1 and std = z gives the Gaussian
  mechanism with noise multiplier z for each example.
- *example level, distributed* (``member_noise_std``): the same, but each of a secure round's
  n members adds only N(0, z^2 / t), t = ``secagg.threshold(n)``: the server unmasks nothing
  but the sum of at least t members' inputs (fewer and the round aborts), whose noise has
  variance at least z^2 (Kairouz, Liu & Steinke, ICML 2021, with Gaussian instead of discrete
  noise). What one page sends is then private on its own only at z / sqrt(t); the guarantee of
  z rests on the masking. Measured: TREC-6, 10 browsers, epsilon 8: 61.9 % instead of 47.3 %
  with the full noise in every page.
- *client level* (``member_sums``): the same sums scaled to total L2 norm 1 (no noise in the
  browser: the server adds N(0, z^2) to the sum of all members once). Adding or removing a
  member changes the sum by at most 1. Scaling every member to norm 1, rather than dividing by
  its example count (norm at most 1, often 0.3), measured 61.6 % instead of 45.1 % on TREC-6
  with 100 members at epsilon 8.

``direction_head`` makes the head from the (summed, noisy) sums: row k = scale * sum k /
|sum k|, bias 0. Dividing by the noisy counts, as the plain prototype head does, needs the
counts released too and measured worse at every epsilon (noisy counts of rare labels swing the
bias).
"""
# Imported by name: in the transpiled code ``math.f`` goes through a property getter.
from math import sqrt

from tinybert_core.arrays import zeros
from tinybert_core.delta import clip_delta
from tinybert_core.dp_random import RandomStream, SystemRandomBytes, next_normal
from tinybert_core.head import LinearHead
from tinybert_core.secagg import threshold
from tinybert_core.train import count_examples

# tinybert_core.train's prototype scale: the logits of the head a page builds from its examples.
DIRECTION_SCALE = 40.0


def class_sums(xs, ys, n_labels, dim):
    """Row-major ``n_labels x dim`` sums of the embeddings ``xs`` of each label ``ys``, each
    embedding first shortened to length 1 if it is longer (the encoder's are unit length; the
    bound is what the privacy rests on, so it is enforced here)."""
    sums = zeros(n_labels * dim)
    for i in range(len(xs)):
        x = xs[i]
        length = _norm(x, 0, dim)
        factor = 1.0
        if length > 1.0:
            factor = 1.0 / length
        base = ys[i] * dim
        for j in range(dim):
            sums[base + j] += factor * x[j]
    return sums


def _norm(values, start, stop):
    total = 0.0
    for i in range(start, stop):
        total += values[i] * values[i]
    return sqrt(total)


def member_sums(labels, dim, xs, ys):
    """Client level: the class sums scaled to L2 norm 1 over all rows. Returns
    ``{"weights", "bias" (zeros), "examples"}``. Raises ValueError for invalid examples."""
    count_examples(LinearHead(labels, dim), xs, ys)
    sums = class_sums(xs, ys, len(labels), dim)
    norm = _norm(sums, 0, len(sums))
    if norm > 0:
        for i in range(len(sums)):
            sums[i] = sums[i] / norm
    return {"weights": sums, "bias": zeros(len(labels)), "examples": len(xs)}


def example_sums(labels, dim, xs, ys, noise_std, random_source):
    """Example level: the class sums plus N(0, ``noise_std``^2) on every weight, drawn from
    ``random_source`` (see tinybert_core.dp_random; one normal per weight, row-major).
    Returns ``{"weights", "bias" (zeros), "examples"}``. Raises ValueError for invalid examples,
    a negative or non-finite ``noise_std``, or a missing random source."""
    count_examples(LinearHead(labels, dim), xs, ys)
    sums = class_sums(xs, ys, len(labels), dim)
    return {"weights": add_noise(sums, noise_std, random_source), "bias": zeros(len(labels)),
            "examples": len(xs)}


def add_noise(values, noise_std, random_source):
    """``values`` plus N(0, ``noise_std``^2) on each, drawn from ``random_source`` in order (a
    new array; ``values`` itself when noise_std is 0)."""
    if not (noise_std >= 0 and noise_std - noise_std == 0):
        raise ValueError("The noise's standard deviation must be a finite number of at least "
                         + "0 (the federation's noise multiplier).")
    if noise_std == 0:
        return values
    stream = RandomStream(random_source)
    out = zeros(len(values))
    for i in range(len(values)):
        out[i] = values[i] + noise_std * next_normal(stream)
    return out


def member_noise_std(noise_multiplier, cohort):
    """The standard deviation of one member's share of distributed noise of multiplier z in
    a secure round of ``cohort`` members: z / sqrt(threshold(cohort)), so that the sum of
    any threshold(cohort) members' noise has standard deviation at least z."""
    return noise_multiplier / sqrt(threshold(cohort))


def direction_head(sums, n_labels, dim, scale=DIRECTION_SCALE):
    """The head of (noisy) class ``sums`` (row-major): row k = scale * row k / |row k|, bias 0;
    a row of zeros (no example and no noise) stays zero with bias -2 * scale, never predicted.
    Returns ``{"weights", "bias"}``."""
    weights = zeros(n_labels * dim)
    bias = zeros(n_labels)
    for k in range(n_labels):
        start = k * dim
        length = _norm(sums, start, start + dim)
        if not (length > 0 and length - length == 0):
            bias[k] = -2.0 * scale
            continue
        for j in range(dim):
            weights[start + j] = scale * sums[start + j] / length
    return {"weights": weights, "bias": bias}


def with_member_noise(update, noise_multiplier, cohort, bound, random_source=None):
    """A secure round's input ``update`` (``{"weights", "bias", "weight"}``: class sums
    without noise) with this member's share of distributed noise added to its weights
    (``member_noise_std``), then clipped to ``bound`` (post-processing: the privacy does not
    depend on it). ``random_source``: the runtime's cryptographic generator unless given."""
    source = random_source
    if source is None:
        source = SystemRandomBytes()
    noisy = add_noise(update["weights"], member_noise_std(noise_multiplier, cohort), source)
    clipped = clip_delta({"weights": noisy, "bias": update["bias"]}, bound)
    return {"weights": clipped["weights"], "bias": clipped["bias"], "weight": update["weight"]}
