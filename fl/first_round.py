"""The first round of a federation: the class-prototype head of everyone's examples (pure numpy).

While the head is untrained (version 0), browsers send their class statistics instead of a
trained delta (``tinybert_core.fl_local``): row k = (sum of their embeddings of label k) / n
and bias k = (their examples of label k) / n, n their examples. The configured aggregator
combines them like any deltas; for FedAvg (weighted by n) row k / bias k is then exactly the
class mean m_k of the union, and the first head is the page's prototype initialisation of it
(``tinybert_core.train.prototype_init``): row k = scale * m_k, bias k = -scale * |m_k|^2 / 2.

A private federation's first round sends noisy class sums instead
(``tinybert_core.private_prototype``), and its head is ``direction_head`` of their total.
"""
import numpy as np

# tinybert_core.train's default prototype scale: the head a page would build from the same
# examples.
PROTOTYPE_SCALE = 40.0


def prototype_head(statistics, rows, cols, scale=PROTOTYPE_SCALE):
    """The flat head (rows * cols weights row-major, then rows bias values) built from the
    aggregated class ``statistics`` (same layout).

    A label whose share (bias k) is not positive had no example anywhere: a zero row and bias
    ``-2 * scale``, as prototype_init gives it, so it is never predicted. A class mean longer
    than 1 (impossible for the encoder's unit-length embeddings, so a sign of a bad update)
    is shortened to length 1, which keeps the head finite whatever was sent.
    """
    statistics = np.asarray(statistics, dtype=np.float64)
    if statistics.shape != (rows * cols + rows,):
        raise ValueError("class statistics must hold %d values, got %s"
                         % (rows * cols + rows, statistics.shape))
    sums = statistics[:rows * cols].reshape(rows, cols)
    shares = statistics[rows * cols:]
    weights = np.zeros((rows, cols))
    bias = np.full(rows, -2.0 * scale)
    for k in range(rows):
        if not (np.isfinite(shares[k]) and shares[k] > 0 and np.all(np.isfinite(sums[k]))):
            continue
        mean = sums[k] / shares[k]
        length = float(np.linalg.norm(mean))
        if not np.isfinite(length):
            continue
        if length > 1.0:
            mean = mean / length
        weights[k] = scale * mean
        bias[k] = -0.5 * scale * float(mean @ mean)
    return np.concatenate([weights.ravel(), bias])


def direction_head(sums, rows, cols, scale=PROTOTYPE_SCALE):
    """The flat head of (noisy) class ``sums`` (rows * cols weights row-major, any values
    after them ignored): row k = scale * sum k / |sum k|, bias 0, as
    ``tinybert_core.private_prototype.direction_head``; a zero or non-finite row gives a zero
    row with bias ``-2 * scale``."""
    sums = np.asarray(sums, dtype=np.float64)
    if sums.shape[0] < rows * cols:
        raise ValueError("class sums must hold at least %d values, got %s"
                         % (rows * cols, sums.shape))
    matrix = sums[:rows * cols].reshape(rows, cols)
    weights = np.zeros((rows, cols))
    bias = np.zeros(rows)
    for k in range(rows):
        length = float(np.linalg.norm(matrix[k]))
        if not (np.isfinite(length) and length > 0):
            bias[k] = -2.0 * scale
            continue
        weights[k] = scale * matrix[k] / length
    return np.concatenate([weights.ravel(), bias])
