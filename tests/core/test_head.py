"""Head, softmax and pooling under CPython, against numpy references."""
import numpy as np
import pytest

from tinybert_core.arrays import zeros
from tinybert_core.head import LinearHead, softmax
from tinybert_core.pooling import l2_normalize, mean_pool


def test_softmax_matches_numpy_and_survives_large_logits():
    logits = [1000.0, 999.0, -5.0]
    expected = np.exp(np.array(logits) - 1000.0)
    expected /= expected.sum()
    assert np.allclose(softmax(logits), expected, rtol=0, atol=1e-15)


def test_new_head_gives_uniform_scores_in_label_order():
    head = LinearHead(["Dev", "Meeting", "Email"], 4)
    result = head.predict([0.1, 0.2, 0.3, 0.4])
    assert result["label"] == "Dev"
    assert list(result["scores"]) == ["Dev", "Meeting", "Email"]
    assert all(p == pytest.approx(1 / 3) for p in result["scores"].values())


def test_head_logits_match_numpy():
    rng = np.random.default_rng(0)
    head = LinearHead(["a", "b", "c"], 5)
    w = rng.normal(size=(3, 5))
    b = rng.normal(size=3)
    head.weights = list(w.ravel())
    head.bias = list(b)
    x = rng.normal(size=5)
    assert np.allclose(head.logits(list(x)), w @ x + b, rtol=0, atol=1e-12)
    probs = np.exp(w @ x + b - (w @ x + b).max())
    probs /= probs.sum()
    assert head.predict(list(x))["label"] == "abc"[int(np.argmax(probs))]


def test_head_refuses_bad_shapes_and_labels():
    with pytest.raises(ValueError, match="at least one label"):
        LinearHead([], 3)
    with pytest.raises(ValueError, match="Duplicate label"):
        LinearHead(["a", "a"], 3)
    with pytest.raises(ValueError, match="expects embeddings of size 3"):
        LinearHead(["a", "b"], 3).logits([1.0, 2.0])


def test_mean_pool_uses_only_masked_tokens_and_normalises():
    hidden = np.arange(12, dtype=np.float64).reshape(3, 4)
    mask = [1, 1, 0]
    pooled = mean_pool(list(hidden.ravel()), mask, 4)
    assert np.allclose(pooled, hidden[:2].mean(axis=0))
    unit = l2_normalize(pooled)
    assert np.allclose(unit, hidden[:2].mean(axis=0) / np.linalg.norm(hidden[:2].mean(axis=0)))
    with pytest.raises(ValueError, match="no real token"):
        mean_pool([0.0] * 8, [0, 0], 4)
    with pytest.raises(ValueError, match="expected 8"):
        mean_pool([0.0] * 7, [1, 1], 4)


def test_zero_vector_normalises_to_itself():
    assert list(l2_normalize(zeros(3))) == [0.0, 0.0, 0.0]
