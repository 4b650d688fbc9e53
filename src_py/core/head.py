"""The classification head: a linear softmax layer over a sentence embedding (pure)."""
import math

from core.arrays import zeros


def softmax(logits):
    """Return the softmax of ``logits`` (numerically stable: the maximum is subtracted)."""
    top = logits[0]
    for i in range(1, len(logits)):
        if logits[i] > top:
            top = logits[i]
    out = zeros(len(logits))
    total = 0.0
    for i in range(len(logits)):
        out[i] = math.exp(logits[i] - top)
        total += out[i]
    for i in range(len(logits)):
        out[i] = out[i] / total
    return out


class LinearHead:
    """``softmax(W x + b)`` over ``labels``.

    labels: list of class names (at least one, no duplicates); dim: embedding size.
    Weights are row-major ``len(labels) x dim``. A new head has zero weights, so it gives
    every label the same probability until it is trained.
    """

    def __init__(self, labels, dim):
        if len(labels) == 0:
            raise ValueError("A head needs at least one label.")
        seen = {}
        for label in labels:
            if label in seen:
                raise ValueError("Duplicate label: " + label)
            seen[label] = True
        if dim <= 0:
            raise ValueError("A head needs a positive embedding size, got " + str(dim))
        self.labels = [label for label in labels]
        self.dim = dim
        self.weights = zeros(len(labels) * dim)
        self.bias = zeros(len(labels))

    def logits(self, x):
        """Return the ``len(labels)`` raw scores for embedding ``x`` (length ``dim``)."""
        if len(x) != self.dim:
            raise ValueError("This head expects embeddings of size " + str(self.dim)
                             + ", got " + str(len(x)))
        out = zeros(len(self.labels))
        for k in range(len(self.labels)):
            total = self.bias[k]
            base = k * self.dim
            for j in range(self.dim):
                total += self.weights[base + j] * x[j]
            out[k] = total
        return out

    def probabilities(self, x):
        """Return the probability of each label for embedding ``x``."""
        return softmax(self.logits(x))

    def predict(self, x):
        """Return ``{"label": best label, "scores": {label: probability}}`` for ``x``.

        Ties go to the first label in order.
        """
        probs = self.probabilities(x)
        best = 0
        scores = {}
        for k in range(len(self.labels)):
            scores[self.labels[k]] = probs[k]
            if probs[k] > probs[best]:
                best = k
        return {"label": self.labels[best], "scores": scores}


def head_with_weights(labels, dim, weights, bias):
    """Return a LinearHead over ``labels`` holding the given row-major weights and bias."""
    head = LinearHead(labels, dim)
    if len(weights) != len(labels) * dim or len(bias) != len(labels):
        raise ValueError("Weights must be " + str(len(labels)) + " x " + str(dim)
                         + " and bias " + str(len(labels)) + " long.")
    for i in range(len(weights)):
        head.weights[i] = weights[i]
    for k in range(len(bias)):
        head.bias[k] = bias[k]
    return head
