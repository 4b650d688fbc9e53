"""The exported head file: safetensors that numpy/safetensors read, identical bytes in CPython
and transpiled JS, and clear refusals of anything else."""
import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load, save

from tests.support.parity import is_error, run_js_many, run_py_many
from tinybert_core.head_file import (
    HeadFileError,
    check_compatible,
    decode_head_file,
    encode_head_file,
)

RNG = np.random.default_rng(3)
LABELS = ["Dev", "Meeting", "Email"]
WEIGHTS = RNG.normal(size=3 * 384).tolist()
BIAS = RNG.normal(size=3).tolist()
INFO = {"encoder_id": "sentence-transformers/all-MiniLM-L6-v2", "encoder_sha256": "ab" * 32,
        "hidden_size": 384, "pooling": "mean", "name": "work", "version": 2,
        "created": "2026-11-21T10:00:00Z", "training": {"epochs": 5, "learning_rate": 0.05},
        "metrics": {"accuracy": 0.9}}


def test_numpy_and_safetensors_read_the_file(tmp_path):
    data = encode_head_file(LABELS, WEIGHTS, BIAS, INFO)
    tensors = load(data)
    assert tensors["weight"].dtype == np.float32 and tensors["weight"].shape == (3, 384)
    assert np.array_equal(tensors["weight"], np.array(WEIGHTS, dtype=np.float32).reshape(3, 384))
    assert np.array_equal(tensors["bias"], np.array(BIAS, dtype=np.float32))
    path = tmp_path / "head.safetensors"
    path.write_bytes(data)
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    assert json.loads(meta["labels"]) == LABELS
    assert meta["encoder_id"] == INFO["encoder_id"] and meta["hidden_size"] == "384"


def test_a_head_for_384_x_3_fits_in_10_kB():
    assert len(encode_head_file(LABELS, WEIGHTS, BIAS, INFO)) <= 10_000


def test_round_trip_keeps_float32_values_and_metadata():
    head = decode_head_file(encode_head_file(LABELS, WEIGHTS, BIAS, INFO))
    assert head["labels"] == LABELS and head["hidden_size"] == 384
    assert head["weights"] == np.array(WEIGHTS, dtype=np.float32).astype(float).tolist()
    assert head["info"]["training"] == INFO["training"]
    assert head["info"]["metrics"] == INFO["metrics"]


def test_python_written_safetensors_without_metadata_is_refused():
    data = save({"weight": np.zeros((3, 384), np.float32), "bias": np.zeros(3, np.float32)})
    with pytest.raises(HeadFileError, match="not a head exported by this product"):
        decode_head_file(data)


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b[:10], "only 10 bytes"),
    (lambda b: b[:-7], "truncated"),
    (lambda b: b"\xff" * 8 + b[8:], "safetensors header"),
    (lambda b: b[:8] + b"x" + b[9:], "not JSON"),
])
def test_malformed_files_are_refused_with_a_reason(mangle, message):
    with pytest.raises(HeadFileError, match=message):
        decode_head_file(mangle(encode_head_file(LABELS, WEIGHTS, BIAS, INFO)))


def test_non_finite_weights_are_refused():
    bad = list(WEIGHTS)
    bad[5] = float("nan")
    with pytest.raises(HeadFileError, match="not a finite number"):
        decode_head_file(encode_head_file(LABELS, bad, BIAS, INFO))


def test_head_for_another_encoder_is_refused():
    check_compatible(INFO, INFO["encoder_id"], 384)
    with pytest.raises(HeadFileError, match="hidden size 768"):
        check_compatible(dict(INFO, hidden_size=768), INFO["encoder_id"], 384)
    with pytest.raises(HeadFileError, match="trained for the encoder other/model"):
        check_compatible(dict(INFO, encoder_id="other/model"), INFO["encoder_id"], 384)


def test_bytes_are_identical_in_cpython_and_transpiled_js():
    cases = [[LABELS, WEIGHTS, BIAS, INFO],
             [["Réunion", "Courriel ✉"], RNG.normal(size=8).tolist(), [0.0, -1.5],
              dict(INFO, hidden_size=4, name="équipe")]]
    py = run_py_many("tinybert_core.head_file", "encode_head_file", cases)
    js = run_js_many("tinybert_core.head_file", "encode_head_file", cases)
    assert py == js
    decoded_py = run_py_many("tinybert_core.head_file", "decode_head_file",
                             [[encode_head_file(*cases[0])]])
    assert decoded_py[0]["labels"] == LABELS


def test_decode_errors_match_in_js():
    good = encode_head_file(LABELS, WEIGHTS, BIAS, INFO)
    cases = [[good[:10]], [good[:-7]], [good[:8] + b"x" + good[9:]],
             [save({"bias": np.zeros(3, np.float32)})]]
    py = run_py_many("tinybert_core.head_file", "decode_head_file", cases)
    js = run_js_many("tinybert_core.head_file", "decode_head_file", cases)
    assert all(is_error(r) for r in py + js)
    assert [r["__error__"]["message"] for r in py] == [r["__error__"]["message"] for r in js]
