"""Classification metrics and deterministic cross-validation folds (pure).

Labels are indices ``0 .. n_labels-1`` into the head's label list. Everything here is exact
arithmetic on counts, so CPython and the browser agree bit for bit.
"""
# Imported by name: in the transpiled code ``math.f`` goes through a property getter.
from math import floor

from tinybert_core.checks import is_number, is_whole
from tinybert_core.rng import Rng

MAX_FOLDS = 10


def _check_pair(y_true, y_pred):
    if len(y_true) != len(y_pred):
        raise ValueError("Got " + str(len(y_true)) + " true labels but " + str(len(y_pred))
                         + " predictions.")
    if len(y_true) == 0:
        raise ValueError("No examples to score.")
    return None


def _check_index(y, n_labels):
    if not is_whole(y, 0, n_labels - 1):
        raise ValueError("Label index " + str(y) + " is outside 0 to " + str(n_labels - 1)
                         + ".")
    return None


def accuracy(y_true, y_pred):
    """Fraction of positions where ``y_pred`` equals ``y_true``.

    Raises ValueError if the lengths differ or there are no examples.
    """
    _check_pair(y_true, y_pred)
    hits = 0
    for i in range(len(y_true)):
        if y_true[i] == y_pred[i]:
            hits += 1
    return hits / len(y_true)


def class_counts(ys, n_labels):
    """Number of examples of each label: a list of ``n_labels`` ints.

    Raises ValueError for an index outside ``0 .. n_labels-1``.
    """
    counts = [0 for _ in range(n_labels)]
    for i in range(len(ys)):
        _check_index(ys[i], n_labels)
        counts[ys[i]] += 1
    return counts


def confusion_matrix(y_true, y_pred, n_labels):
    """``n_labels x n_labels`` counts as a list of rows: ``m[true][predicted]``.

    Raises ValueError for mismatched lengths, no examples, or an index out of range.
    """
    _check_pair(y_true, y_pred)
    m = [[0 for _ in range(n_labels)] for _ in range(n_labels)]
    for i in range(len(y_true)):
        _check_index(y_true[i], n_labels)
        _check_index(y_pred[i], n_labels)
        m[y_true[i]][y_pred[i]] += 1
    return m


def per_label_recall(matrix):
    """For each true label, the fraction of its examples predicted correctly (None if it has
    no examples)."""
    out = []
    for k in range(len(matrix)):
        total = 0
        for j in range(len(matrix[k])):
            total += matrix[k][j]
        out.append(matrix[k][k] / total if total > 0 else None)
    return out


def per_label_precision(matrix):
    """For each label, the fraction of the examples predicted as it that are of it (None if
    nothing was predicted as it)."""
    out = []
    for k in range(len(matrix)):
        total = 0
        for i in range(len(matrix)):
            total += matrix[i][k]
        out.append(matrix[k][k] / total if total > 0 else None)
    return out


def per_label_report(matrix, labels):
    """One entry per label from a confusion matrix ``m[true][predicted]``:
    ``{"label", "precision", "recall", "f1", "support" (examples of it)}``. precision or
    recall is None where undefined (see per_label_precision / per_label_recall); f1 is their
    harmonic mean, None if either is None, 0 if both are 0.
    """
    precision = per_label_precision(matrix)
    recall = per_label_recall(matrix)
    out = []
    for k in range(len(matrix)):
        support = 0
        for j in range(len(matrix[k])):
            support += matrix[k][j]
        p = precision[k]
        r = recall[k]
        f1 = None
        if p is not None and r is not None:
            f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
        out.append({"label": labels[k], "precision": p, "recall": r, "f1": f1,
                    "support": support})
    return out


def score(labels, y_true, y_pred):
    """Scores of predictions against true labels (indices into ``labels``):
    ``{"examples", "accuracy", "per_label": per_label_report, "confusion": m[true][predicted],
    "labels"}``. Raises ValueError like confusion_matrix."""
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    return {"examples": len(y_true), "accuracy": accuracy(y_true, y_pred),
            "per_label": per_label_report(matrix, labels), "confusion": matrix,
            "labels": [label for label in labels]}


def suggest_folds(ys, n_labels):
    """Folds for cross-validation: the smallest non-zero label count, between 2 and 5.

    With few examples, leave-one-out per label is the most a stratified split can do; five
    folds are enough once every label has five examples.
    """
    counts = class_counts(ys, n_labels)
    smallest = 0
    for k in range(n_labels):
        if counts[k] > 0 and (smallest == 0 or counts[k] < smallest):
            smallest = counts[k]
    return max(2, min(5, smallest))


def _shuffled_labels(ys, n_labels, seed):
    """Each label's example indices, shuffled by one mulberry32(seed) stream, label by label.

    Raises ValueError for an index outside ``0 .. n_labels-1``.
    """
    class_counts(ys, n_labels)
    rng = Rng(seed)
    groups = []
    for k in range(n_labels):
        members = []
        for i in range(len(ys)):
            if ys[i] == k:
                members.append(i)
        rng.shuffle(members)
        groups.append(members)
    return groups


def kfold_splits(ys, n_labels, folds, seed):
    """Stratified, seeded k-fold split of the examples ``0 .. len(ys)-1``.

    Each label's examples are shuffled with mulberry32(seed) and dealt round-robin to the
    folds, continuing where the previous label stopped, so fold sizes differ by at most one
    and each fold gets a share of every label. Returns ``folds`` dicts
    ``{'train': [indices], 'test': [indices]}``, indices ascending.
    Raises ValueError if folds is not a whole number from 2 to min(MAX_FOLDS, len(ys)).
    """
    if not is_whole(folds, 2, min(MAX_FOLDS, len(ys))):
        raise ValueError("Cross-validation needs a whole number of folds from 2 to "
                         + str(min(MAX_FOLDS, len(ys))) + ", got " + str(folds) + ".")
    fold_of = [0 for _ in range(len(ys))]
    next_fold = 0
    groups = _shuffled_labels(ys, n_labels, seed)
    for k in range(n_labels):
        members = groups[k]
        for t in range(len(members)):
            fold_of[members[t]] = next_fold
            next_fold = (next_fold + 1) % folds
    out = []
    for f in range(folds):
        train = []
        test = []
        for i in range(len(ys)):
            if fold_of[i] == f:
                test.append(i)
            else:
                train.append(i)
        out.append({'train': train, 'test': test})
    return out


def holdout_split(ys, n_labels, fraction, seed):
    """Stratified, seeded hold-out split of the examples ``0 .. len(ys)-1``.

    Each label's examples are shuffled as in ``kfold_splits`` (one mulberry32(seed) stream,
    label by label) and the first ``floor(count * fraction + 0.5)`` go to the test part,
    kept between 1 and count - 1, so a label with at least two examples is in both parts and
    a label with one example only trains. Returns ``{"train": [indices], "test": [indices]}``,
    indices ascending. Raises ValueError if fraction is not strictly between 0 and 1, or for a
    label index out of range.
    """
    if not (is_number(fraction) and fraction > 0 and fraction < 1):
        raise ValueError("The hold-out fraction must be between 0 and 1 (e.g. 0.2), got "
                         + str(fraction) + ".")
    groups = _shuffled_labels(ys, n_labels, seed)
    in_test = [False for _ in range(len(ys))]
    for k in range(n_labels):
        members = groups[k]
        count = len(members)
        take = floor(count * fraction + 0.5)
        take = min(max(take, 1), count - 1)
        for t in range(take):
            in_test[members[t]] = True
    train = []
    test = []
    for i in range(len(ys)):
        if in_test[i]:
            test.append(i)
        else:
            train.append(i)
    return {"train": train, "test": test}
