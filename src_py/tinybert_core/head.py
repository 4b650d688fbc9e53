"""The classification head: a linear softmax layer over a sentence embedding (pure)."""
import math

from tinybert_core.arrays import zeros
from tinybert_core.binary import fround


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

    def predict_index(self, x):
        """Return the index of the highest logit for ``x`` (ties go to the first label)."""
        logits = self.logits(x)
        best = 0
        for k in range(1, len(logits)):
            if logits[k] > logits[best]:
                best = k
        return best


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


def to_float32(head):
    """Round ``head``'s weights and bias to float32 in place (the grid a stored or exported
    head is kept on, so that it predicts the same after a reload); returns the head."""
    for i in range(len(head.weights)):
        head.weights[i] = fround(head.weights[i])
    for k in range(len(head.bias)):
        head.bias[k] = fround(head.bias[k])
    return head


def _label_index(head, label):
    for k in range(len(head.labels)):
        if head.labels[k] == label:
            return k
    raise ValueError("Unknown label: " + str(label))


def add_label(head, label):
    """Return a new head with ``label`` appended and the existing rows unchanged.

    The new row is zero. Its bias is ``mean(b) - |mean row| - 1``: for any embedding of
    length at most 1 (the encoder's are unit length) the best existing logit is at least the
    mean logit, which is above that, so every prediction stays what it was until the head is
    trained again. A head whose weights and bias are all zero (untrained) gets bias 0.
    Raises ValueError if the label already exists.
    """
    n = len(head.labels)
    dim = head.dim
    labels = [head.labels[k] for k in range(n)]
    labels.append(label)
    mean_bias = 0.0
    untrained = True
    for k in range(n):
        mean_bias += head.bias[k] / n
        if head.bias[k] != 0:
            untrained = False
    norm = 0.0
    for j in range(dim):
        column = 0.0
        for k in range(n):
            column += head.weights[k * dim + j] / n
            if head.weights[k * dim + j] != 0:
                untrained = False
        norm += column * column
    out = LinearHead(labels, dim)
    for i in range(n * dim):
        out.weights[i] = head.weights[i]
    for k in range(n):
        out.bias[k] = head.bias[k]
    out.bias[n] = 0.0 if untrained else mean_bias - math.sqrt(norm) - 1.0
    return out


def remove_label(head, label):
    """Return a new head without ``label``'s row; the other rows keep their weights, so the
    best remaining label is the same for every input.

    Raises ValueError for an unknown label or when removing the last one.
    """
    drop = _label_index(head, label)
    dim = head.dim
    labels = []
    for k in range(len(head.labels)):
        if k != drop:
            labels.append(head.labels[k])
    out = LinearHead(labels, dim)
    row = 0
    for k in range(len(head.labels)):
        if k == drop:
            continue
        for j in range(dim):
            out.weights[row * dim + j] = head.weights[k * dim + j]
        out.bias[row] = head.bias[k]
        row += 1
    return out


def rename_label(head, old, new):
    """Return a new head with label ``old`` called ``new``, weights unchanged.

    Raises ValueError for an unknown ``old`` or a ``new`` that another label already has.
    """
    index = _label_index(head, old)
    labels = [head.labels[k] for k in range(len(head.labels))]
    labels[index] = new
    return head_with_weights(labels, head.dim, head.weights, head.bias)
