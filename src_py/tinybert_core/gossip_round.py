# __pragma__ ('ecom')
"""What one peer does with its examples and the frames it receives in a gossip round (pure;
``bench/gossip_simulation.py`` measured this protocol, the page runs it over WebRTC).

- The start: the class statistics of the peer's training examples
  (``tinybert_core.fl_local.class_statistics``) are mixed by push-sum with mass = its count,
  then turned into the class-prototype head (``prototype_from_statistics``: the server's
  ``fl.first_round.prototype_head``, the same numbers), so every peer starts from (nearly)
  the prototype head of everyone's examples.
- A held-out part of the peer's own examples (``holdout_split``) is never trained on: it
  estimates the current head's accuracy and refuses a received head that does worse on it
  (``worse_on_held_out``).
- ``screen``: a received frame is checked (shape, sender, length) and, outside the start
  and catching up, pulled toward the own head.
"""
import math

from tinybert_core.checks import is_finite
from tinybert_core.gossip import DISTANCE_FRACTION, NORM_FACTOR, check_frame, head_norm, pull_toward
from tinybert_core.rng import Rng

PROTOTYPE_SCALE = 40.0     # tinybert_core.train's default prototype scale
HOLDOUT_FRACTION = 0.2     # of each label's examples, when it has at least HOLDOUT_MIN
HOLDOUT_MIN = 5
HOLDOUT_SEED = 0
# A received head is refused when it gets more held-out examples wrong than the own head by
# more than this share, and by more than one example and a half (a few examples are all a
# page holds out: one example is already 10-25 points).
HOLDOUT_DROP = 0.05


def prototype_from_statistics(weights, bias, rows, cols, scale):
    """The class-prototype head of mixed class statistics (row k = sum of label k's
    embeddings / n, bias k = share of label k): row k = scale * m_k, bias k = -scale *
    |m_k|^2 / 2 with m_k = row k / bias k; a label with no share gets a zero row and bias
    -2 * scale; a mean longer than 1 is shortened to 1. Returns ``{"weights", "bias"}``."""
    out_w = []
    out_b = []
    for k in range(rows):
        share = bias[k]
        ok = is_finite(share) and share > 0
        square = 0.0
        for j in range(cols):
            value = weights[k * cols + j]
            if not is_finite(value):
                ok = False
            elif ok:
                square += (value / share) * (value / share)
        length = math.sqrt(square) if ok else 0.0
        shrink = 1.0 / length if ok and length > 1.0 else 1.0
        for j in range(cols):
            out_w.append(scale * weights[k * cols + j] / share * shrink if ok else 0.0)
        out_b.append(-0.5 * scale * square * shrink * shrink if ok else -2.0 * scale)
    return {"weights": out_w, "bias": out_b}


def holdout_split(ys, n_labels, fraction, seed):
    """Indices of the examples to train on and to hold out: ``floor(fraction * n_k)`` of each
    label k that has at least HOLDOUT_MIN examples, drawn by a seeded shuffle; the others
    are all trained on. Returns ``{"train": [...], "held": [...]}`` in example order."""
    held_flags = [False for i in range(len(ys))]
    for k in range(n_labels):
        members = [i for i in range(len(ys)) if ys[i] == k]
        if len(members) < HOLDOUT_MIN:
            continue
        Rng(seed + k).shuffle(members)
        for m in range(int(math.floor(fraction * len(members)))):
            held_flags[members[m]] = True
    train = [i for i in range(len(ys)) if not held_flags[i]]
    held = [i for i in range(len(ys)) if held_flags[i]]
    return {"train": train, "held": held}


def accuracy(weights, bias, rows, cols, xs, ys):
    """Share of ``xs`` whose highest logit is their label ``ys`` (None without examples)."""
    if len(xs) == 0:
        return None
    right = 0
    for i in range(len(xs)):
        x = xs[i]
        best = 0
        best_logit = None
        for k in range(rows):
            logit = bias[k]
            base = k * cols
            for j in range(cols):
                logit += weights[base + j] * x[j]
            if best_logit is None or logit > best_logit:
                best = k
                best_logit = logit
        if best == ys[i]:
            right += 1
    return right / len(xs)


def worse_on_held_out(own_accuracy, accuracy_value, held):
    """Whether a head whose held-out accuracy is ``accuracy_value`` does worse than the own
    head (``own_accuracy``) by more than HOLDOUT_DROP and more than 1.5 of ``held``
    examples."""
    if held == 0 or own_accuracy is None:
        return False
    return accuracy_value < own_accuracy - max(HOLDOUT_DROP, 1.5 / held)


def screen(own_weights, own_bias, frame, rows, cols, sender, statistics, catching_up):
    """The head to mix from a decoded ``frame`` (``tinybert_core.gossip.decode_frame``) sent
    by ``sender``, as ``{"weights", "bias"}``. Class statistics (``statistics``) are checked
    against the codec's bound only and taken as they are; otherwise a head longer than
    NORM_FACTOR times the own one is refused and the rest pulled to within
    DISTANCE_FRACTION of the own length, except while catching up (a late peer takes its
    neighbours' heads as they are). Raises ``tinybert_core.gossip.GossipError``."""
    length = head_norm(own_weights, own_bias)
    check_frame(frame, rows, cols, sender, None if statistics else NORM_FACTOR * length)
    if statistics or catching_up:
        return {"weights": frame["weights"], "bias": frame["bias"]}
    return pull_toward(own_weights, own_bias, frame["weights"], frame["bias"],
                       DISTANCE_FRACTION * length)
