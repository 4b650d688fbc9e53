"""Held-out evaluation of the head trainer (pure): train a fresh head on part of the examples,
score it on the rest. The page's "evaluate on a held-out split" and ``python -m tinybert train
--holdout`` both run this, so the same examples, options and fraction give the same split, the
same head and the same scores in either place (given the same embeddings).
"""
from tinybert_core.head import LinearHead, to_float32
from tinybert_core.metrics import holdout_split, score
from tinybert_core.train import resolve_options, train_head


def holdout_evaluate(labels, dim, xs, ys, options, fraction):
    """Train on a stratified, seeded share of the examples and score the rest.

    labels: the head's labels; dim: the embedding size; xs, ys: embeddings and label indices,
    in the order the examples were added; options: training options (see
    ``tinybert_core.train``; init 'keep' means 'prototype', as the head is fresh); fraction:
    the share of each label held out (``metrics.holdout_split`` with the options' seed).
    The head is rounded to float32 before scoring, as a stored head is.
    Returns plain data, as ``train_fresh`` does: ``{"weights" (row-major), "bias", "history":
    per-epoch entries, "options": resolved options, "train": [indices], "test": [indices],
    "report": metrics.score(...) plus "fraction"}``.
    Raises ValueError for a fraction outside (0, 1), invalid options or examples.
    """
    opts = resolve_options(options)
    if opts["init"] == "keep":
        opts["init"] = "prototype"
    split = holdout_split(ys, len(labels), fraction, opts["seed"])
    head = LinearHead(labels, dim)
    history = train_head(head, [xs[i] for i in split["train"]],
                         [ys[i] for i in split["train"]], opts)
    to_float32(head)
    predicted = [head.predict_index(xs[i]) for i in split["test"]]
    report = score(labels, [ys[i] for i in split["test"]], predicted)
    report["fraction"] = fraction
    return {"weights": head.weights, "bias": head.bias, "history": history, "options": opts,
            "train": split["train"], "test": split["test"], "report": report}
