"""Metrics and cross-validation folds under CPython, against numpy."""
import numpy as np
import pytest

from tinybert_core.metrics import (
    accuracy,
    class_counts,
    confusion_matrix,
    holdout_split,
    kfold_splits,
    per_label_precision,
    per_label_recall,
    per_label_report,
    suggest_folds,
)

RNG = np.random.default_rng(21)


def test_accuracy_and_confusion_match_numpy():
    y_true = RNG.integers(0, 4, size=200)
    y_pred = np.where(RNG.random(200) < 0.7, y_true, RNG.integers(0, 4, size=200))
    assert accuracy(y_true.tolist(), y_pred.tolist()) == pytest.approx(np.mean(y_true == y_pred))
    m = confusion_matrix(y_true.tolist(), y_pred.tolist(), 5)
    expected = np.zeros((5, 5), dtype=int)
    np.add.at(expected, (y_true, y_pred), 1)
    assert m == expected.tolist()
    recall = per_label_recall(m)
    assert recall[4] is None
    assert recall[:4] == pytest.approx([expected[k, k] / expected[k].sum() for k in range(4)])


def test_class_counts():
    assert class_counts([0, 2, 2, 1, 2], 4) == [1, 1, 3, 0]
    assert class_counts([], 2) == [0, 0]


@pytest.mark.parametrize('call,message', [
    (lambda: accuracy([0, 1], [0]), "Got 2 true labels but 1 predictions."),
    (lambda: accuracy([], []), "No examples to score."),
    (lambda: confusion_matrix([0, 3], [0, 1], 3), "Label index 3 is outside 0 to 2."),
    (lambda: class_counts([0, -1], 2), "Label index -1 is outside 0 to 1."),
    (lambda: class_counts([0, 0.5], 2), "Label index 0.5 is outside 0 to 1."),
    (lambda: class_counts([0, '1'], 2), "Label index 1 is outside 0 to 1."),
])
def test_refusals(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


@pytest.mark.parametrize('folds', [2, 3, 5, 10])
def test_kfold_splits_are_stratified_disjoint_and_deterministic(folds):
    ys = [0] * 23 + [1] * 7 + [2] * 11 + [3] * 0
    RNG.shuffle(ys)
    splits = kfold_splits(ys, 4, folds, 42)
    assert splits == kfold_splits(ys, 4, folds, 42)
    assert splits != kfold_splits(ys, 4, folds, 43)
    assert len(splits) == folds
    tests = [s['test'] for s in splits]
    assert sorted(i for t in tests for i in t) == list(range(len(ys)))
    sizes = [len(t) for t in tests]
    assert max(sizes) - min(sizes) <= 1
    for s in splits:
        assert sorted(s['train'] + s['test']) == list(range(len(ys)))
        assert s['train'] == sorted(s['train']) and s['test'] == sorted(s['test'])
        for k, total in ((0, 23), (1, 7), (2, 11)):
            share = sum(1 for i in s['test'] if ys[i] == k)
            assert total // folds <= share <= total // folds + 1


def test_kfold_refuses_bad_fold_counts():
    for folds in (1, 11, 2.5):
        with pytest.raises(ValueError, match="whole number of folds from 2 to"):
            kfold_splits([0, 1] * 10, 2, folds, 0)
    with pytest.raises(ValueError, match="from 2 to 3, got 4"):
        kfold_splits([0, 1, 1], 2, 4, 0)


def test_suggest_folds():
    assert suggest_folds([0, 1], 3) == 2
    assert suggest_folds([0] * 3 + [1] * 4, 2) == 3
    assert suggest_folds([0] * 30 + [1] * 40, 2) == 5


def test_per_label_report_matches_a_hand_computation():
    y_true = RNG.integers(0, 3, size=300)
    y_pred = np.where(RNG.random(300) < 0.6, y_true, RNG.integers(0, 4, size=300))
    m = confusion_matrix(y_true.tolist(), y_pred.tolist(), 5)
    report = per_label_report(m, ['a', 'b', 'c', 'd', 'e'])
    for k in range(3):
        # scikit-learn's definitions: tp / (tp + fp), tp / (tp + fn), 2pr / (p + r)
        tp = np.sum((y_true == k) & (y_pred == k))
        p = tp / np.sum(y_pred == k)
        r = tp / np.sum(y_true == k)
        entry = report[k]
        assert entry['precision'] == pytest.approx(p) and entry['recall'] == pytest.approx(r)
        assert entry['f1'] == pytest.approx(2 * p * r / (p + r))
        assert entry['support'] == np.sum(y_true == k) and entry['label'] == 'abc'[k]
    # 'd' is predicted but never true; 'e' neither
    assert report[3]['precision'] == 0 and report[3]['recall'] is None
    assert report[3]['f1'] is None and report[3]['support'] == 0
    assert report[4] == {'label': 'e', 'precision': None, 'recall': None, 'f1': None,
                         'support': 0}
    assert per_label_precision([[0, 1], [0, 1]]) == [None, 0.5]
    assert per_label_report([[0, 2], [1, 0]], ['x', 'y'])[0]['f1'] == 0.0


@pytest.mark.parametrize('fraction', [0.2, 0.1, 0.5, 0.33])
def test_holdout_split_is_stratified_disjoint_and_deterministic(fraction):
    ys = [0] * 23 + [1] * 7 + [2] * 11 + [3] * 1 + [4] * 2
    RNG.shuffle(ys)
    split = holdout_split(ys, 6, fraction, 5)
    assert split == holdout_split(ys, 6, fraction, 5)
    assert split != holdout_split(ys, 6, fraction, 6)
    assert sorted(split['train'] + split['test']) == list(range(len(ys)))
    assert split['train'] == sorted(split['train']) and split['test'] == sorted(split['test'])
    for k, total in ((0, 23), (1, 7), (2, 11), (3, 1), (4, 2)):
        share = sum(1 for i in split['test'] if ys[i] == k)
        expected = min(max(int(np.floor(total * fraction + 0.5)), 1), total - 1)
        assert share == expected


def test_holdout_split_refuses_bad_fractions():
    for fraction in (0, 1, -0.1, 1.5, '0.2', None):
        with pytest.raises(ValueError, match="hold-out fraction must be between 0 and 1"):
            holdout_split([0, 1] * 5, 2, fraction, 0)
    with pytest.raises(ValueError, match="outside 0 to 1"):
        holdout_split([0, 2], 2, 0.5, 0)
