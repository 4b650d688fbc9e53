"""The built page in headless Chromium against the real server: predict, embed, errors."""
import numpy as np
import pytest

from tests.support.browser import Server, dist_without, open_page
from tests.support.reference import (
    FIXED_SENTENCES,
    cosine,
    hf_tokenizer,
    load_manifest,
    native_embed,
)

DEFAULT_LABELS = ["Dev", "Meeting", "Email"]


def test_predict_from_the_ui_shows_label_scores_backend_and_latency(app_page):
    page = app_page
    page.fill("#text", "The build fails after the last merge; can you look at the stack trace?")
    page.click("#predict")
    page.wait_for_function("() => document.querySelector('#label').textContent !== '—'")
    assert page.text_content("#label") in DEFAULT_LABELS
    rows = page.locator("#scores li")
    assert rows.count() == 3
    assert [rows.nth(i).locator(".score-label").text_content() for i in range(3)] == DEFAULT_LABELS
    values = [float(rows.nth(i).locator("meter").get_attribute("value") or
                    rows.nth(i).locator("meter").evaluate("m => m.value")) for i in range(3)]
    assert sum(values) == pytest.approx(1.0, abs=1e-6)
    assert page.text_content("#latency").endswith(" ms")
    assert page.text_content("#backend") == "wasm · 2 threads (no WebGPU adapter)"


def test_page_is_cross_origin_isolated_and_uses_two_threads(app_page):
    assert app_page.evaluate("() => window.crossOriginIsolated") is True
    assert app_page.evaluate("() => window.tinybert.backend()") == {
        "name": "wasm", "threads": 2, "note": "no WebGPU adapter", "model": "encoder.onnx",
        "measured": None}
    assert app_page.evaluate("() => window.tinybert.labels()") == DEFAULT_LABELS


def test_tokenize_matches_the_reference_tokenizer(app_page):
    reference = hf_tokenizer()
    for text in FIXED_SENTENCES:
        ids = app_page.evaluate("t => window.tinybert.tokenize(t)", text)
        assert ids == reference.encode(text).ids, text


def test_embeddings_match_native_onnxruntime(app_page):
    browser = np.array(app_page.evaluate(
        "async texts => { const out = [];"
        " for (const t of texts) out.push(Array.from(await window.tinybert.embed(t)));"
        " return out; }", FIXED_SENTENCES), dtype=np.float32)
    native = native_embed(FIXED_SENTENCES)
    assert browser.shape == native.shape == (len(FIXED_SENTENCES), load_manifest()["hidden_size"])
    cosines = [cosine(a, b) for a, b in zip(browser, native)]
    assert min(cosines) >= 0.99, cosines
    assert np.allclose(np.linalg.norm(browser, axis=1), 1.0, atol=1e-5)


def test_embed_returns_a_float32array(app_page):
    kind = app_page.evaluate("async () => (await window.tinybert.embed('hello')).constructor.name")
    assert kind == "Float32Array"


def test_predict_api_returns_plain_scores(app_page):
    result = app_page.evaluate("() => window.tinybert.predict('Lunch meeting moved to Friday')")
    assert result["label"] in DEFAULT_LABELS
    assert set(result["scores"]) == set(DEFAULT_LABELS)
    assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-6)


def test_empty_text_is_refused_with_a_message(app_page):
    page = app_page
    page.fill("#text", "   ")
    page.click("#predict")
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')")
    assert "Type a text first" in page.text_content("#status")
    with pytest.raises(Exception, match="Type a text first"):
        page.evaluate("() => window.tinybert.predict('')")


def test_a_100_kB_text_is_truncated_and_still_answers(app_page):
    text = ("Please review the pull request before the meeting. " * 2000)[:100_000]
    max_length = load_manifest()["max_length"]
    ids = app_page.evaluate("t => window.tinybert.tokenize(t)", text)
    assert len(ids) == max_length
    assert ids[0] == 101 and ids[-1] == 102
    result = app_page.evaluate("t => window.tinybert.predict(t)", text)
    assert result["label"] in DEFAULT_LABELS


def test_missing_model_file_names_the_file_and_the_command(browser, tmp_path):
    server = Server(dist_without(tmp_path, "model/encoder.onnx"))
    try:
        page = open_page(browser, server.url + "/")
        error = page.evaluate("() => window.tinybertError || null")
        assert error is not None
        assert "model/encoder.onnx" in error and "make model" in error
        assert "model/encoder.onnx" in page.text_content("#status")
        assert page.evaluate("() => window.tinybert === undefined")
        page.context.close()
    finally:
        server.stop()
