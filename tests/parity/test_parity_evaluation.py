"""The held-out evaluation (``tinybert_core.evaluation``) and ``metrics.score`` give the same
results in CPython and transpiled in Node, and mean what they say: the split is the core's
``holdout_split``, the head the trainer's on the training part, rounded to float32, and the
scores are those of that head on the held-out part, recomputed here with numpy."""
import numpy as np
import pytest

from tests.parity.test_parity_train import blobs
from tests.support.parity import is_error, run_js_many, run_py_many
from tinybert_core.binary import fround
from tinybert_core.evaluation import holdout_evaluate
from tinybert_core.metrics import holdout_split
from tinybert_core.train import train_fresh

DIM = 16
LABELS = ["spam", "ham", "other"]
XS, YS = blobs(12, 3, DIM, 1.2, seed=3)
CASES = [[LABELS, DIM, XS, YS, {}, 0.2],
         [LABELS, DIM, XS, YS, {"seed": 9, "epochs": 3, "init": "keep"}, 0.5],
         [LABELS, DIM, XS[:30], YS[:30], {"batch_size": 4}, 0.25]]   # counts 12, 12, 6


def both(target, cases):
    return (run_py_many("tinybert_core.evaluation", target, cases),
            run_js_many("tinybert_core.evaluation", target, cases))


def test_holdout_evaluate_matches_in_node_and_means_what_it_says():
    py, js = both("holdout_evaluate", CASES)
    for case, a, b in zip(CASES, py, js):
        labels, dim, xs, ys, options, fraction = case
        for key in ("train", "test", "options", "report"):
            assert a[key] == b[key], key
        # Weights: exp and log may round differently in V8 and libm (see test_parity_train).
        assert np.allclose(a["weights"], b["weights"], rtol=1e-6, atol=1e-12)
        split = holdout_split(ys, 3, fraction, a["options"]["seed"])
        assert (a["train"], a["test"]) == (split["train"], split["test"])
        assert a["options"]["init"] == "prototype"
        trained = train_fresh(labels, dim, [xs[i] for i in a["train"]],
                              [ys[i] for i in a["train"]], a["options"])
        assert a["weights"] == [fround(w) for w in trained["weights"]]
        assert a["history"] == trained["history"]
        W = np.array(a["weights"]).reshape(3, dim)
        X = np.array([xs[i] for i in a["test"]])
        y = np.array([ys[i] for i in a["test"]])
        predicted = (X @ W.T + np.array(a["bias"])).argmax(axis=1)
        report = a["report"]
        assert report["examples"] == len(a["test"]) and report["fraction"] == fraction
        assert report["accuracy"] == pytest.approx(np.mean(predicted == y))
        confusion = np.zeros((3, 3), dtype=int)
        np.add.at(confusion, (y, predicted), 1)
        assert report["confusion"] == confusion.tolist()
        assert [e["support"] for e in report["per_label"]] == confusion.sum(axis=1).tolist()
        assert report["labels"] == LABELS


def test_refusals_match():
    cases = [[LABELS, DIM, XS, YS, {}, 1.5], [LABELS, DIM, XS, YS, {"epochs": -1}, 0.2],
             [LABELS, DIM, XS[:12], YS[:12], {}, 0.2]]          # one label only
    py, js = both("holdout_evaluate", cases)
    assert all(is_error(r) for r in py) and py == js
    assert "between 0 and 1" in py[0]["__error__"]["message"]


def test_score_matches():
    cases = [[["a", "b", "c"], [0, 1, 2, 2, 1], [0, 2, 2, 1, 1]], [["a", "b"], [0, 0], [0, 0]]]
    py = run_py_many("tinybert_core.metrics", "score", cases)
    assert py == run_js_many("tinybert_core.metrics", "score", cases)
    assert py[1]["per_label"][1] == {"label": "b", "precision": None, "recall": None,
                                     "f1": None, "support": 0}


def test_evaluate_examples_cross_validates_or_holds_out():
    trained = {"epochs": 3, "seed": 1}
    cases = [[LABELS, DIM, XS, YS, None, None],
             [LABELS, DIM, XS, YS, trained, {}],
             [LABELS, DIM, XS, YS, trained, {"holdout": 0.25}],
             [LABELS, DIM, XS, YS, trained, {"holdout": 0.25, "seed": 4}],
             [LABELS, DIM, XS, YS, None, {"holdout": 0.2, "folds": 3}]]
    py, js = both("evaluate_examples", cases)
    assert py == js
    assert sorted(py[0]) == ["accuracy", "confusion", "counts", "examples", "folds", "labels"]
    assert py[0]["folds"] == 5 and py[0]["examples"] == 36 and py[0]["counts"] == [12, 12, 12]
    # The last training's options apply unless the call overrides them.
    assert py[2] == dict(holdout_evaluate(LABELS, DIM, XS, YS, trained, 0.25)["report"],
                         train_examples=27, counts=[12, 12, 12])
    assert py[3] == dict(holdout_evaluate(LABELS, DIM, XS, YS, {"epochs": 3, "seed": 4},
                                          0.25)["report"], train_examples=27,
                         counts=[12, 12, 12])
    assert "Unknown training option 'folds'" in py[4]["__error__"]["message"]
