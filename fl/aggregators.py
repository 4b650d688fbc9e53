"""Aggregation rules: pure functions over stacked client deltas (numpy, no I/O).

Every aggregator has the signature ``aggregate(deltas, counts) -> step``: ``deltas`` is an
``(n, p)`` float64 array (one flattened delta a row, n >= 1), ``counts`` the ``n`` local
example counts; ``step`` is the ``p``-vector added to the global head. An aggregator raises
``AggregationError`` (a ValueError) when it cannot decide, e.g. Krum with too few updates.

Robust rules and clipping wrap a base rule instead of flags inside it:
``clipped(fedavg, bound)`` clips each delta to an L2 norm of at most ``bound`` first.
``build_aggregator(name, **params)`` builds one from its configured name.
"""
import numpy as np


class AggregationError(ValueError):
    """The rule cannot produce a step from these deltas; the message says why."""


def _check(deltas, counts):
    deltas = np.asarray(deltas, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if deltas.ndim != 2 or deltas.shape[0] < 1:
        raise AggregationError("aggregation needs at least one delta")
    if counts.shape != (deltas.shape[0],) or np.any(counts <= 0):
        raise AggregationError("each delta needs a positive example count")
    return deltas, counts


def fedavg(deltas, counts):
    """FedAvg: the mean of the deltas weighted by their example counts."""
    deltas, counts = _check(deltas, counts)
    return counts @ deltas / counts.sum()


def median(deltas, counts):
    """Coordinate-wise median (counts are ignored: each client is one vote)."""
    deltas, _ = _check(deltas, counts)
    return np.median(deltas, axis=0)


def trimmed_mean(deltas, counts, trim=0.1):
    """Coordinate-wise mean after dropping the ``floor(trim * n)`` lowest and highest values.

    ``trim`` is in [0, 0.5). Counts are ignored.
    """
    deltas, _ = _check(deltas, counts)
    if not 0 <= trim < 0.5:
        raise AggregationError("trim must be in [0, 0.5), got %r" % trim)
    n = deltas.shape[0]
    cut = int(np.floor(trim * n))
    ordered = np.sort(deltas, axis=0)
    return ordered[cut:n - cut].mean(axis=0)


def krum_scores(deltas, byzantine):
    """Krum score of each delta: the sum of squared distances to its n - f - 2 nearest others."""
    n = deltas.shape[0]
    squared = np.sum(deltas * deltas, axis=1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2 * deltas @ deltas.T, 0.0)
    nearest = n - byzantine - 2
    scores = np.empty(n)
    for i in range(n):
        others = np.sort(np.delete(distances[i], i))
        scores[i] = others[:nearest].sum()
    return scores


def krum(deltas, counts, byzantine=1, select=1):
    """(Multi-)Krum: the mean of the ``select`` deltas with the lowest Krum scores.

    Tolerates ``byzantine`` (f) bad clients; needs n >= 2f + 3 deltas. Ties go to the earlier
    delta. Counts are ignored.
    """
    deltas, _ = _check(deltas, counts)
    n = deltas.shape[0]
    if byzantine < 0 or n < 2 * byzantine + 3:
        raise AggregationError("Krum with f=%d needs at least %d updates, got %d"
                               % (byzantine, 2 * byzantine + 3, n))
    if not 1 <= select <= n:
        raise AggregationError("Krum selects between 1 and n deltas, got %d" % select)
    chosen = np.argsort(krum_scores(deltas, byzantine), kind="stable")[:select]
    return deltas[np.sort(chosen)].mean(axis=0)


def clip_rows(deltas, bound):
    """Each delta scaled down to an L2 norm of at most ``bound``."""
    deltas = np.asarray(deltas, dtype=np.float64)
    norms = np.linalg.norm(deltas, axis=1)
    factors = np.where(norms > bound, bound / np.where(norms > 0, norms, 1.0), 1.0)
    return deltas * factors[:, None]


def clipped(base, bound):
    """Wrap ``base`` so that it sees every delta clipped to an L2 norm of at most ``bound``."""
    if not bound > 0:
        raise ValueError("the clip bound must be positive, got %r" % (bound,))

    def aggregate(deltas, counts):
        return base(clip_rows(deltas, bound), counts)

    aggregate.__name__ = "clipped_" + getattr(base, "__name__", "aggregate")
    return aggregate


def _with(rule, **fixed):
    def aggregate(deltas, counts):
        return rule(deltas, counts, **fixed)

    aggregate.__name__ = rule.__name__
    return aggregate


AGGREGATORS = {
    "fedavg": lambda params: fedavg,
    "median": lambda params: median,
    "trimmed_mean": lambda params: _with(trimmed_mean, trim=float(params.get("trim", 0.1))),
    "krum": lambda params: _with(krum, byzantine=int(params.get("byzantine", 1)),
                                 select=int(params.get("select", 1))),
}


def build_aggregator(name, clip_bound=None, **params):
    """The aggregator called ``name`` (one of ``AGGREGATORS``), clipped if ``clip_bound``.

    params: ``trim`` for trimmed_mean; ``byzantine`` and ``select`` for krum.
    Raises ValueError naming the allowed names for an unknown ``name``.
    """
    if name not in AGGREGATORS:
        raise ValueError("unknown aggregator %r; allowed: %s"
                         % (name, ", ".join(sorted(AGGREGATORS))))
    rule = AGGREGATORS[name](params)
    return clipped(rule, clip_bound) if clip_bound is not None else rule
