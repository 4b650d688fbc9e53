"""``python -m tinybert`` end to end on a committed CSV: what it reports is what numpy computes
from the saved head and the native reference embeddings; its head is the page's head; bad
input exits 2 with a clear message; the cache saves the encoder's work."""
import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from tests.support.parity import run_js
from tests.support.reference import REPO, load_manifest, native_embed
from tinybert.progress import Progress
from tinybert_core.binary import fround
from tinybert_core.head_file import check_compatible, decode_head_file, encode_head_file
from tinybert_core.metrics import holdout_split
from tinybert_core.train import DEFAULTS, resolve_options, train_fresh

FIXTURE = REPO / "tests" / "fixtures" / "domain_sentences.csv"


def run_cli(args, cache, check=True):
    """Run the command line; with check, assert exit 0 and no traceback."""
    proc = subprocess.run([sys.executable, "-m", "tinybert", *map(str, args), "--cache",
                           str(cache)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def fixture_rows():
    """(texts, labels) of the fixture, read by Python's csv module."""
    with open(FIXTURE, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache):
    """The JSON result and head file of ``train --holdout`` on the fixture."""
    out = tmp_path_factory.mktemp("head") / "domain.safetensors"
    proc = run_cli(["train", FIXTURE, "--text", "text", "--label", "label", "--out", out,
                    "--holdout", "--json"], cache)
    return json.loads(proc.stdout), out


@pytest.fixture(scope="module")
def reference():
    """Native reference embeddings of the fixture texts (tests/support/reference.py)."""
    texts, labels = fixture_rows()
    return native_embed(texts), texts, labels


def numpy_head(path):
    tensors = load_file(str(path))
    with safe_open(str(path), "numpy") as f:
        labels = json.loads(f.metadata()["labels"])
    return tensors["weight"].astype(np.float64), tensors["bias"].astype(np.float64), labels


def test_train_reports_the_holdout_accuracy_numpy_computes(trained, reference):
    result, path = trained
    X, texts, names = reference
    W, b, labels = numpy_head(path)
    assert labels == list(dict.fromkeys(names))          # order of first appearance
    y = np.array([labels.index(n) for n in names])
    split = holdout_split(y.tolist(), len(labels), 0.2, 0)
    test = np.array(split["test"])
    predicted = (X[test] @ W.T + b).argmax(axis=1)
    assert result["holdout"]["examples"] == len(test) == 48
    assert result["holdout"]["accuracy"] == pytest.approx(np.mean(predicted == y[test]))
    assert result["holdout"]["accuracy"] >= 0.85
    assert result["train_examples"] == 192 and result["options"] == DEFAULTS
    assert result["left_out"] == {"duplicates": 0, "conflicts": 0, "empty": 0, "malformed": 0}


def test_eval_reports_what_numpy_computes(trained, reference, cache):
    _, path = trained
    X, _, names = reference
    W, b, labels = numpy_head(path)
    proc = run_cli(["eval", FIXTURE, "--head", path, "--json"], cache)
    result = json.loads(proc.stdout)
    y = np.array([labels.index(n) for n in names])
    predicted = (X @ W.T + b).argmax(axis=1)
    assert result["examples"] == 240
    assert result["accuracy"] == pytest.approx(np.mean(predicted == y))
    expected = np.zeros((3, 3), dtype=int)
    np.add.at(expected, (y, predicted), 1)
    assert result["confusion"] == expected.tolist()
    for k, entry in enumerate(result["per_label"]):
        assert entry["label"] == labels[k]
        assert entry["recall"] == pytest.approx(expected[k, k] / expected[k].sum())
        assert entry["precision"] == pytest.approx(expected[k, k] / expected[:, k].sum())
    assert "240 examples of 240 rows" in proc.stderr
    text = run_cli(["eval", FIXTURE, "--head", path], cache).stdout
    assert text.startswith("accuracy %.4f on 240 examples" % result["accuracy"])
    assert "precision  recall" in text and "confusion (rows: true label" in text


def test_predict_agrees_with_numpy(trained, cache):
    _, path = trained
    W, b, labels = numpy_head(path)
    texts = ["The pasta was cold and the waiter ignored us.",
             "The battery died after two days of use.",
             "A touching film with a brilliant cast.",
             "ok"]
    proc = run_cli(["predict", "--head", path, "--json", *texts], cache)
    result = json.loads(proc.stdout)
    logits = native_embed(texts) @ W.T + b
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    for i, entry in enumerate(result):
        assert entry["text"] == texts[i]
        assert entry["label"] == labels[int(probs[i].argmax())]
        assert [entry["scores"][label] for label in labels] == pytest.approx(probs[i],
                                                                              abs=2e-3)
    assert [e["label"] for e in result[:3]] == ["yelp", "amazon", "imdb"]
    line = run_cli(["predict", "--head", path, texts[0]], cache).stdout.split("\t")
    assert line[0] == "yelp" and line[3].strip() == texts[0]


def test_embeddings_match_the_native_reference(tmp_path, reference, cache):
    X, texts, _ = reference
    out = tmp_path / "vectors.npy"
    run_cli(["embed", FIXTURE, "--out", out], cache)
    ours = np.load(out)
    assert ours.dtype == np.float32 and ours.shape == (240, 384)
    cosines = np.sum(ours.astype(np.float64) * X, axis=1) / np.linalg.norm(X, axis=1)
    assert cosines.min() > 0.99999


def test_the_head_is_the_pages_head(trained, tmp_path, cache):
    """The page's trainer (transpiled, in Node) on the same embeddings gives the same file.

    Same float32 weights; losses agree to the last bits that JavaScript's and C's exp and log
    may round differently."""
    result, path = trained
    out = tmp_path / "vectors.npy"
    run_cli(["embed", FIXTURE, "--out", out], cache)
    X = np.load(out)
    texts, names = fixture_rows()
    labels = result["labels"]
    y = [labels.index(n) for n in names]
    train = holdout_split(y, len(labels), 0.2, 0)["train"]
    xs = [X[i].tolist() for i in train]
    ys = [y[i] for i in train]
    page = run_js("tinybert_core.train", "train_fresh", [labels, 384, xs, ys, {}])
    head = decode_head_file(path.read_bytes())
    assert head["weights"] == [fround(w) for w in page["weights"]]
    assert head["bias"] == [fround(v) for v in page["bias"]]
    assert head["info"]["metrics"] == result["history"]
    for ours, theirs in zip(result["history"], page["history"]):
        assert ours == dict(theirs, loss=pytest.approx(theirs["loss"], rel=1e-12))
    cpython = train_fresh(labels, 384, xs, ys, resolve_options(None))
    assert cpython["weights"] == pytest.approx(page["weights"], rel=1e-9, abs=1e-12)


def test_head_file_round_trips_through_the_pages_decoder(trained):
    _, path = trained
    data = path.read_bytes()
    head = decode_head_file(data)
    manifest = load_manifest()
    info = head["info"]
    assert head["labels"] == ["yelp", "imdb", "amazon"] and head["hidden_size"] == 384
    assert info["encoder_id"] == manifest["model_id"]
    assert info["encoder_sha256"] == manifest["files"]["encoder.onnx"]["sha256"]
    assert info["pooling"] == "mean" and info["training"] == DEFAULTS
    assert info["name"] == "domain" and info["created"].endswith("Z")
    check_compatible(info, manifest["model_id"], 384)
    again = dict(info, hidden_size=384, version=0)
    assert encode_head_file(head["labels"], head["weights"], head["bias"], again) == data


def test_the_cache_saves_the_encoders_work(tmp_path):
    first = json.loads(run_cli(["embed", FIXTURE, "--json"], tmp_path).stdout)
    second = json.loads(run_cli(["embed", FIXTURE, "--json"], tmp_path).stdout)
    assert first["embedded"] == 240 and first["cached"] == 0 and first["rows_per_second"] > 0
    assert second["embedded"] == 0 and second["cached"] == 240
    assert (tmp_path / "embeddings.sqlite3").is_file()
    fresh = json.loads(run_cli(["embed", FIXTURE, "--json", "--no-cache"], tmp_path).stdout)
    assert fresh["embedded"] == 240


def test_progress_bar_draws_on_request():
    stream = io.StringIO()
    bar = Progress(3, "embedding", stream, True)
    for done in (1, 2, 3):
        bar.update(done)
    bar.finish()
    lines = stream.getvalue().split("\r")
    assert lines[len(lines) - 1].startswith("embedding [" + "#" * 30 + "] 3/3")
    assert stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    Progress(3, "embedding", quiet, None).update(3)    # not a terminal: nothing drawn
    assert quiet.getvalue() == ""


# --- refusals -------------------------------------------------------------------------------

def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def bad_head(tmp_path):
    """A valid head file for a 768-wide encoder."""
    info = {"encoder_id": "sentence-transformers/all-mpnet-base-v2", "encoder_sha256": "0" * 64,
            "hidden_size": 768, "pooling": "mean", "name": "x", "version": 0, "created": "",
            "training": {}, "metrics": []}
    path = tmp_path / "wide.safetensors"
    path.write_bytes(encode_head_file(["a", "b"], [0.0] * 1536, [0.0, 0.0], info))
    return path


@pytest.mark.parametrize("case, message", [
    ("missing column", "There is no label column 'kind'. Columns found: 'text', 'label'."),
    ("one label", "Every row has the label 'spam'. A classifier needs examples of at least "
                  "two labels"),
    ("no file", "No such file: "),
    ("latin-1", "is not UTF-8 text at line 2 (byte 13, 0xE9)"),
    ("too many labels", "has 60 different values; at most 50 labels can be trained. Is this "
                        "really the label column?"),
    ("bad holdout", "argument --holdout: the hold-out fraction must be between 0 and 1 "
                    "(e.g. 0.2), got '1.5'"),
    ("bad epochs", "epochs must be a whole number from 0 to 100."),
])
def test_bad_training_input_exits_2_with_a_clear_message(case, message, tmp_path):
    out = tmp_path / "h.safetensors"
    args = {
        "missing column": [FIXTURE, "--label", "kind"],
        "one label": [write(tmp_path / "one.csv", "text,label\nwin now,spam\nfree,spam\n")],
        "no file": [tmp_path / "nothing.csv"],
        "latin-1": [tmp_path / "latin.csv"],
        "too many labels": [write(tmp_path / "ids.csv", "text,label\n" + "".join(
            "text %d,%d\n" % (i, i) for i in range(60)))],
        "bad holdout": [FIXTURE, "--holdout", "1.5"],
        "bad epochs": [FIXTURE, "--epochs", "500"],
    }[case]
    (tmp_path / "latin.csv").write_bytes("text,label\nd\xe9j\xe0 vu,a\n".encode("latin-1"))
    proc = run_cli(["train", *args, "--out", out], tmp_path, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in proc.stderr, proc.stderr
    assert not out.exists()


def test_bad_heads_exit_2_with_a_clear_message(tmp_path):
    cases = [(tmp_path / "missing.safetensors", "No such head file: "),
             (FIXTURE, "cannot be used: This is not a head file"),
             (bad_head(tmp_path), "was trained for the encoder "
                                  "sentence-transformers/all-mpnet-base-v2 (hidden size 768), "
                                  "but the model in ")]
    for head, message in cases:
        for command in (["eval", FIXTURE, "--head", head], ["predict", "--head", head, "hi"]):
            proc = run_cli(command, tmp_path, check=False)
            assert proc.returncode == 2 and message in proc.stderr, proc.stderr
            assert proc.stderr.count("\n") == 1


def test_eval_refuses_a_file_of_other_labels(trained, tmp_path):
    _, path = trained
    other = write(tmp_path / "other.csv", "text,label\nwin now,spam\nhello,ham\n")
    proc = run_cli(["eval", other, "--head", path], tmp_path, check=False)
    assert proc.returncode == 2
    assert "None of the labels in" in proc.stderr and "(spam, ham)" in proc.stderr


def test_eval_scores_a_file_of_one_label_and_leaves_out_unknown_labels(trained, tmp_path):
    _, path = trained
    one = write(tmp_path / "one.csv", "text,label\nThe soup was cold.,yelp\nLovely staff.,yelp"
                                      "\nwin a prize now,spam\n")
    proc = run_cli(["eval", one, "--head", path, "--json"], tmp_path)
    assert json.loads(proc.stdout)["examples"] == 2
    assert "left out: 1 rows of labels the head does not have (spam)" in proc.stderr


def test_a_missing_model_exits_1_and_says_make_model(tmp_path, trained):
    _, path = trained
    for command in (["embed", FIXTURE], ["predict", "--head", path, "hi"]):
        proc = run_cli([*command, "--model", tmp_path / "nomodel"], tmp_path, check=False)
        assert proc.returncode == 1 and "Run `make model`" in proc.stderr, proc.stderr


def test_usage_errors_exit_2():
    proc = subprocess.run([sys.executable, "-m", "tinybert", "train", str(FIXTURE)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "--out" in proc.stderr
