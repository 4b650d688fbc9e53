"""The sub-commands: embed, train, eval, predict. Each takes the parsed arguments, writes its
result to stdout (text, or JSON with --json) and notes to stderr, and returns the exit status.

Training mirrors the page's Train (``src_py/classifier.py``): the examples in file order, the
labels in order of first appearance (the import's order), a fresh head trained by
``train_head`` with ``resolve_options`` of the given options (the page's defaults and seed
otherwise), rounded to float32 and written as the page's Export writes it. With the same
embeddings, the page and this command produce the same head, bit for bit.

Differences that remain: the embeddings (native onnxruntime here, onnxruntime-web in the
page: mean cosine 0.9998, a few short texts down to 0.986; see
tests/browser/test_twin_parity.py). The page trains on every example it holds: a file
imported into a page without examples gives it the same examples, order and labels as here,
but examples added one by one may repeat a text, and labels keep the order its user gave.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from tinybert import cache as cache_module
from tinybert.data import import_summary, read_labelled, read_texts
from tinybert.embedding import Embedder
from tinybert.errors import InputError
from tinybert.heads import read_head, write_head
from tinybert.model import load_model
from tinybert.report import render
from tinybert_core.evaluation import holdout_evaluate
from tinybert_core.head import LinearHead, head_with_weights, to_float32
from tinybert_core.metrics import score
from tinybert_core.train import resolve_options, train_head

LEFT_OUT = ("duplicates", "conflicts", "empty", "malformed")


def _note(text):
    print(text, file=sys.stderr)


def _emit(args, result, text):
    print(json.dumps(result, indent=1, ensure_ascii=False) if args.json else text)
    return 0


def _embedder(args, model):
    if args.no_cache:
        store = cache_module.NoCache()
    else:
        store = cache_module.EmbeddingCache(args.cache or cache_module.default_folder(),
                                            model.cache_key, model.hidden_size)
    return Embedder(model, store, args.threads, args.progress)


def _embedding_line(stats):
    rate = f" ({stats['rows_per_second']} rows/s)" if stats["embedded"] > 0 else ""
    return (f"{stats['texts']} texts, {stats['distinct']} distinct: {stats['embedded']} "
            f"embedded in {stats['seconds']} s{rate}, {stats['cached']} from the cache")


def _as_lists(vectors):
    """float32 rows as lists of Python floats (the same values, as the page's Float32Array
    embeddings reach its trainer)."""
    return [row.tolist() for row in vectors]


def embed(args):
    """Embed the texts of one column; optionally save them as a .npy array."""
    model = load_model(args.model)
    texts = read_texts(args.file, args.text, args.format)
    vectors, stats = _embedder(args, model).embed(texts)
    if args.out:
        try:
            np.save(args.out, vectors)
        except OSError as error:
            raise InputError(f"Cannot write {args.out}: {error.strerror}.") from None
        stats["out"] = str(args.out)
    return _emit(args, stats, _embedding_line(stats))


def _options(args):
    given = {}
    for key in ("epochs", "seed"):
        if getattr(args, key) is not None:
            given[key] = getattr(args, key)
    try:
        return resolve_options(given)
    except ValueError as error:
        raise InputError(str(error)) from None


def train(args):
    """Train a head on a labelled file (optionally holding part of it out) and save it.

    With --holdout the head is the one ``holdout_evaluate`` trains on the rest of the file,
    as the page's held-out evaluation trains it."""
    options = _options(args)
    model = load_model(args.model)
    data = read_labelled(args.file, args.text, args.label, args.format)
    _note(import_summary(args.file, data))
    labels = data["labels"]
    texts = [row[0] for row in data["rows"]]
    ys = [labels.index(row[1]) for row in data["rows"]]
    vectors, stats = _embedder(args, model).embed(texts)
    _note(_embedding_line(stats))
    xs = _as_lists(vectors)
    started = time.perf_counter()
    try:
        if args.holdout is None:
            head = LinearHead(labels, model.hidden_size)
            history = train_head(head, xs, ys, options, None)
            to_float32(head)
            train_rows, holdout = list(range(len(ys))), None
        else:
            held = holdout_evaluate(labels, model.hidden_size, xs, ys, options, args.holdout)
            head = head_with_weights(labels, model.hidden_size, held["weights"], held["bias"])
            history, train_rows = held["history"], held["train"]
            holdout = held["report"] if len(held["test"]) > 0 else None
    except ValueError as error:
        raise InputError(str(error)) from None
    seconds = round(time.perf_counter() - started, 3)
    size = write_head(args.out, head, model, options, history, Path(args.out).stem)
    result = {"head": str(args.out), "bytes": size, "labels": labels,
              "counts": data["counts"], "train_examples": len(train_rows),
              "options": options, "history": history, "train_seconds": seconds,
              "left_out": {key: data[key]["count"] for key in LEFT_OUT},
              "embedding": stats, "holdout": holdout}
    last = history[len(history) - 1] if len(history) > 0 else None
    text = [f"trained on {len(train_rows)} examples of {len(labels)} labels "
            f"({', '.join(labels)}), {options['epochs']} epochs"
            + (f": training loss {last['loss']:.4f}, training accuracy {last['accuracy']:.4f}"
               if last else "")
            + f"; head written to {args.out}"]
    if holdout is not None:
        text += ["", f"held out {holdout['examples']} examples ({args.holdout:g} of each label, "
                 f"seed {options['seed']}):", render(holdout)]
    return _emit(args, result, "\n".join(text))


def evaluate(args):
    """Score a head file on a labelled file: accuracy, per-label report, confusion."""
    model = load_model(args.model)
    head, _ = read_head(args.head, model)
    data = read_labelled(args.file, args.text, args.label, args.format, None, 1)
    _note(import_summary(args.file, data))
    known = [row for row in data["rows"] if row[1] in head.labels]
    unknown = [label for label in data["labels"] if label not in head.labels]
    if len(known) == 0:
        raise InputError(f"None of the labels in {args.file} ({', '.join(data['labels'])}) is "
                         f"a label of the head ({', '.join(head.labels)}). Choose the label "
                         "column with --label, or another head.")
    if len(unknown) > 0:
        _note(f"  left out: {len(data['rows']) - len(known)} rows of labels the head does "
              f"not have ({', '.join(unknown)})")
    vectors, stats = _embedder(args, model).embed([row[0] for row in known])
    _note(_embedding_line(stats))
    predicted = [head.predict_index(x) for x in _as_lists(vectors)]
    result = score(head.labels, [head.labels.index(row[1]) for row in known], predicted)
    result["embedding"] = stats
    return _emit(args, result, render(result))


def predict(args):
    """The label and the probability of every label for each text given."""
    model = load_model(args.model)
    head, _ = read_head(args.head, model)
    for text in args.texts:
        if len(text.strip()) == 0:
            raise InputError("A text to classify is empty; give non-empty texts.")
    vectors, _ = _embedder(args, model).embed(args.texts)
    out = []
    lines = []
    for text, x in zip(args.texts, _as_lists(vectors)):
        probs = head.probabilities(x)
        best = head.predict_index(x)
        scores = {label: probs[k] for k, label in enumerate(head.labels)}
        out.append({"text": text, "label": head.labels[best], "scores": scores})
        lines.append(f"{head.labels[best]}\t{probs[best]:.3f}\t"
                     + "  ".join(f"{label} {p:.3f}" for label, p in scores.items())
                     + f"\t{text}")
    return _emit(args, out, "\n".join(lines))
