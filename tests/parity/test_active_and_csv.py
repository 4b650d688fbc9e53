"""Active-learning order and CSV output: CPython against references, and transpiled parity."""
import csv
import io
import math

import numpy as np

from tests.support.parity import run_js_many, run_py_many
from tinybert_core.active import entropy, margin, uncertainty_order
from tinybert_core.csv_out import to_csv

RNG = np.random.default_rng(11)


def random_probs(n, k):
    logits = RNG.normal(scale=3, size=(n, k))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).tolist()


def test_order_is_by_margin_then_entropy_against_numpy():
    rows = random_probs(200, 4) + [[0.5, 0.5, 0.0, 0.0], [0.4, 0.4, 0.2, 0.0], [1.0, 0, 0, 0]]
    p = np.array(rows)
    top2 = np.sort(p, axis=1)[:, -2:]
    margins = top2[:, 1] - top2[:, 0]
    ent = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=1)
    expected = sorted(range(len(rows)), key=lambda i: (margins[i], -ent[i], i))
    assert uncertainty_order(rows) == expected
    # The two exact ties: same margin 0, the higher-entropy one first.
    assert uncertainty_order(rows)[:2] == [201, 200]
    assert margin([1.0]) == 1.0 and math.isclose(entropy([0.5, 0.5]), math.log(2))


def test_active_learning_parity():
    cases = [[random_probs(50, 3)], [[[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]]], [[]]]
    assert run_py_many("tinybert_core.active", "uncertainty_order", cases) == \
        run_js_many("tinybert_core.active", "uncertainty_order", cases)


ROWS = [["plain", "Dev", "0.9000"], ["a, comma", "Meeting", "0.5000"],
        ['say "hi"', "Email", "0.3333"], ["two\nlines", "Dev", "1.0000"],
        [" padded ", "Réunion ✉", "0.0001"], ["", "x", "0"]]


def test_csv_reads_back_with_pythons_csv_module():
    text = to_csv(["text", "label", "confidence"], ROWS)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["text", "label", "confidence"]] + ROWS


def test_csv_parity():
    cases = [[["text", "label"], [r[:2] for r in ROWS]], [["a"], []]]
    assert run_py_many("tinybert_core.csv_out", "to_csv", cases) == \
        run_js_many("tinybert_core.csv_out", "to_csv", cases)
