"""Sentence pooling over an encoder's token vectors (pure)."""
import math

from tinybert_core.arrays import zeros


def mean_pool(hidden, mask, hidden_size):
    """Average the token vectors of one text over its attention mask.

    hidden: flat sequence of ``len(mask) * hidden_size`` floats (token-major, as onnxruntime
    returns ``last_hidden_state`` for batch 1); mask: attention mask, 1 for real tokens.
    Returns ``hidden_size`` floats. Raises ValueError if the mask has no real token.
    """
    if len(hidden) != len(mask) * hidden_size:
        raise ValueError("mean_pool: hidden has " + str(len(hidden)) + " values, expected "
                         + str(len(mask) * hidden_size))
    out = zeros(hidden_size)
    count = 0
    for t in range(len(mask)):
        if mask[t] != 0:
            count += 1
            base = t * hidden_size
            for j in range(hidden_size):
                out[j] += hidden[base + j]
    if count == 0:
        raise ValueError("mean_pool: the attention mask has no real token")
    for j in range(hidden_size):
        out[j] = out[j] / count
    return out


def l2_normalize(vector):
    """Return ``vector`` scaled to unit Euclidean length (a zero vector is returned unchanged)."""
    total = 0.0
    for j in range(len(vector)):
        total += vector[j] * vector[j]
    norm = math.sqrt(total)
    out = zeros(len(vector))
    for j in range(len(vector)):
        out[j] = vector[j] / norm if norm > 0 else vector[j]
    return out
