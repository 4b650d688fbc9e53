"""Held-out evaluation of the head trainer (pure): train a fresh head on part of the examples,
score it on the rest. The page's "evaluate on a held-out split" and ``python -m tinybert train
--holdout`` both run this, so the same examples, options and fraction give the same split, the
same head and the same scores in either place (given the same embeddings).
"""
from tinybert_core.head import LinearHead, to_float32
from tinybert_core.metrics import class_counts, holdout_split, score, suggest_folds
from tinybert_core.train import cross_validate, resolve_options, train_head


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


def evaluate_examples(labels, dim, xs, ys, trained_options, options):
    """The page's Evaluate: how well the trainer does on these examples.

    trained_options: the options of the last training (None: the defaults); options: None,
    or a dict (or JS object) whose ``holdout`` is the fraction to hold out and whose other
    keys override training options. Without ``holdout``: stratified cross-validation
    (``train.cross_validate``, ``metrics.suggest_folds`` folds), returning ``{accuracy,
    confusion, folds, examples}``; with it: ``holdout_evaluate``'s report plus
    ``train_examples``. Both also give ``counts`` (examples per label) and ``labels``.
    Raises ValueError for too few examples or bad options.
    """
    settings = {}
    fraction = None
    if trained_options is not None:
        base = dict(trained_options)
        for key in base.keys():
            settings[key] = base[key]
    if options is not None:
        given = dict(options)
        for key in given.keys():
            if key == "holdout":
                fraction = given[key]
            else:
                settings[key] = given[key]
    if fraction is None:
        result = cross_validate(labels, dim, xs, ys, settings, suggest_folds(ys, len(labels)))
    else:
        held = holdout_evaluate(labels, dim, xs, ys, settings, fraction)
        result = held["report"]
        result["train_examples"] = len(held["train"])
    result["counts"] = class_counts(ys, len(labels))
    result["labels"] = [label for label in labels]
    return result
