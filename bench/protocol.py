"""The few-shot protocol shared by the learning benchmark and the tuning sweep.

For a set, a draw ``d`` and ``k`` examples per label: the de-duplicated rows are permuted with
``numpy.random.default_rng(1000 + d)``; the first 1,000 are the held-out test rows (the same
for every k of a draw); the training examples are the first k rows of each label among the
rest (so a draw's k=5 examples are a subset of its k=10 examples, and so on).

The ceiling is scikit-learn's LogisticRegression (lbfgs, multinomial) on the same embeddings:
``C=1`` (the default) and ``C`` chosen by stratified cross-validation on the training examples
only, from CS. The benchmark compares against the better of the two on the test rows.
"""
import warnings

import numpy as np

from bench import data, embed

TEST_ROWS = 1000
DRAWS = 5
SHOTS = [5, 10, 20, 50]
CS = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]


def load_set(name):
    """(X float64 [n, 384], y int [n], label names) for a benchmark set."""
    texts, names, y = data.load(name)
    X = embed.embeddings(data.SETS[name][1], texts).astype(np.float64)
    return X, np.asarray(y, dtype=np.int64), names


def split(y, n_labels, k, draw):
    """(train indices, test indices) for ``k`` shots per label (k=None: all non-test rows)."""
    perm = np.random.default_rng(1000 + draw).permutation(len(y))
    test = perm[:TEST_ROWS]
    rest = perm[TEST_ROWS:]
    if k is None:
        return rest, test
    parts = []
    for c in range(n_labels):
        rows = rest[y[rest] == c]
        if len(rows) < k:
            raise ValueError('label %d has only %d training rows, need %d' % (c, len(rows), k))
        parts.append(rows[:k])
    return np.concatenate(parts), test


def logistic_regression(X, y, C):
    """Fitted sklearn LogisticRegression (lbfgs) with inverse regularisation C."""
    from sklearn.linear_model import LogisticRegression
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return LogisticRegression(C=C, max_iter=5000).fit(X, y)


def cv_choose_c(X, y, folds=5):
    """C from CS with the best mean stratified-CV accuracy on (X, y); ties go to smaller C."""
    from sklearn.model_selection import StratifiedKFold
    smallest = int(np.bincount(y).min())
    folds = max(2, min(folds, smallest))
    best_c, best = CS[0], -1.0
    for C in CS:
        accs = []
        for tr, va in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
            accs.append((logistic_regression(X[tr], y[tr], C).predict(X[va]) == y[va]).mean())
        if np.mean(accs) > best + 1e-12:
            best_c, best = C, float(np.mean(accs))
    return best_c


def ceilings(X, y, train, test):
    """Test accuracy of LogisticRegression with C=1 and with a CV-chosen C, and that C."""
    default = (logistic_regression(X[train], y[train], 1.0).predict(X[test]) == y[test]).mean()
    c = cv_choose_c(X[train], y[train])
    tuned = (logistic_regression(X[train], y[train], c).predict(X[test]) == y[test]).mean()
    return float(default), float(tuned), c
