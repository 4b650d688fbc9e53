"""The encoder runtime in Chromium: backend choice and fallback, WebGPU against WASM, the model
cache (second visit, corrupted and stale entries), and identical embeddings whatever came before."""
import json

import numpy as np
import pytest

from tests.support.browser import DIST, Server, dist_without, launch_other, open_page, wait_ready
from tests.support.page_js import EMBED_ALL
from tests.support.reference import FIXED_SENTENCES, cosine, load_manifest
from tests.support.tokenizer_reference import load_corpus

CACHE_KEYS = """async () => {
  const cache = await caches.open('tinybert-model');
  return (await cache.keys()).map(r => r.url);
}"""


def fifty_sentences():
    """FIXED_SENTENCES plus real short texts from the corpus: 50 in all."""
    extra = [t for t in load_corpus() if 20 <= len(t) <= 120 and t.isascii()]
    return FIXED_SENTENCES + extra[: 50 - len(FIXED_SENTENCES)]


def encoder_requests(page_requests):
    return [url for url in page_requests if url.endswith("/model/encoder.onnx")]


def reload_expecting_one_download(page):
    """Reload: the page must start without error on a model fetched once from the network."""
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    wait_ready(page)
    assert page.evaluate("() => window.tinybertError || null") is None
    assert page.evaluate("() => window.tinybert.stats()")["timings"]["model_source"] == "network"
    assert len(encoder_requests(requests)) == 1


def test_model_download_shows_progress_to_the_full_size(app_page):
    size = load_manifest()["files"]["encoder.onnx"]["bytes"]
    progress = app_page.evaluate(
        "() => { const p = document.querySelector('#model-progress'); return [p.value, p.max]; }")
    assert progress == [size, size]


def test_second_visit_loads_the_model_from_cache(browser, server):
    page = open_page(browser, server.url + "/")
    assert page.evaluate("() => window.tinybert.stats()")["timings"]["model_source"] == "network"
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    wait_ready(page)
    assert page.evaluate("() => window.tinybert.stats()")["timings"]["model_source"] == "cache"
    assert encoder_requests(requests) == []
    assert page.evaluate("() => window.tinybert.predict('see you at the standup')")["label"]
    page.context.close()


def test_corrupted_and_stale_cache_entries_are_refetched(browser, server):
    page = open_page(browser, server.url + "/")
    sha = load_manifest()["files"]["encoder.onnx"]["sha256"]
    [key] = page.evaluate(CACHE_KEYS)
    assert key.endswith("/model/encoder.onnx?sha256=" + sha)
    stale = key.replace(sha, "0" * 64)
    page.evaluate("""async ([key, stale]) => {
      const cache = await caches.open('tinybert-model');
      await cache.put(key, new Response(new Uint8Array([1, 2, 3])));
      await cache.put(stale, new Response(new Uint8Array([4, 5, 6])));
    }""", [key, stale])
    reload_expecting_one_download(page)
    assert page.evaluate(CACHE_KEYS) == [key]
    page.context.close()


FLIP_ONE_CACHED_BYTE = """async key => {
  const cache = await caches.open('tinybert-model');
  const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
  bytes[bytes.length >> 1] ^= 0x55;   // inside a weight tensor: the file still parses
  await cache.put(key, new Response(bytes));
}"""


def test_a_cache_entry_that_still_builds_but_fails_its_hash_is_not_used(browser, server):
    page = open_page(browser, server.url + "/")
    [key] = page.evaluate(CACHE_KEYS)
    embed = "async () => Array.from(await window.tinybert.embed('the build is green again'))"
    expected = page.evaluate(embed)
    page.evaluate(FLIP_ONE_CACHED_BYTE, key)
    reload_expecting_one_download(page)
    assert page.evaluate(embed) == expected
    page.context.close()


def test_a_served_model_that_differs_from_the_manifest_is_refused_and_not_cached(browser, tmp_path):
    dist = dist_without(tmp_path, "model/encoder.onnx")
    data = bytearray((DIST / "model" / "encoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0x55
    (dist / "model" / "encoder.onnx").write_bytes(bytes(data))
    server = Server(dist)
    try:
        page = open_page(browser, server.url + "/")
        error = page.evaluate("() => window.tinybertError || null")
        assert error is not None and "does not match the model manifest" in error
        assert "make model" in error
        assert page.evaluate("() => window.tinybert === undefined")
        assert page.evaluate(CACHE_KEYS) == []
        page.context.close()
    finally:
        server.stop()


def test_embedding_does_not_depend_on_what_was_embedded_before(browser, server, app_page):
    texts = ["Merge the hotfix branch", "Quarterly planning meeting at 3pm",
             "Hi Anna, see attached"]
    first = app_page.evaluate(EMBED_ALL, texts)
    other = open_page(browser, server.url + "/")
    other.evaluate(EMBED_ALL, ["a completely different text " * 20, "short"])
    again = other.evaluate(EMBED_ALL, list(reversed(texts)))[::-1]
    assert first == again  # bit for bit: each text always runs alone, never padded
    other.context.close()


def test_known_texts_come_from_the_embedding_cache(app_page):
    text = "Please send the minutes of today's sync"
    before = app_page.evaluate("() => window.tinybert.stats()")["embeddings"]
    first = app_page.evaluate(EMBED_ALL, [text])
    second = app_page.evaluate(EMBED_ALL, [text])
    after = app_page.evaluate("() => window.tinybert.stats()")["embeddings"]
    assert first == second
    assert after["hits"] == before["hits"] + 1
    assert after["misses"] == before["misses"] + 1


def test_forced_webgpu_without_an_adapter_says_what_to_do(browser, server):
    page = open_page(browser, server.url + "/?backend=webgpu")
    error = page.evaluate("() => window.tinybertError")
    assert "no WebGPU adapter" in error and "WASM" in error
    page.context.close()


def test_neither_backend_usable_is_a_clear_error(browser, server):
    # A browser without WebAssembly (and, headless here, without a WebGPU adapter): the page's
    # own scripts see no WebAssembly global from the first line on.
    context = browser.new_context()
    context.add_init_script("delete globalThis.WebAssembly")
    page = context.new_page()
    page.goto(server.url + "/")
    wait_ready(page)
    error = page.evaluate("() => window.tinybertError")
    assert "neither WebGPU nor WebAssembly" in error
    assert "neither WebGPU nor WebAssembly" in page.text_content("#status")
    context.close()


def test_backend_setting_is_remembered(browser, server):
    page = open_page(browser, server.url + "/")
    page.select_option("#backend-choice", "wasm")
    page.wait_for_load_state()
    wait_ready(page)
    assert page.evaluate("() => window.tinybert.backend()")["note"] == "forced"
    assert page.input_value("#backend-choice") == "wasm"
    page.context.close()


@pytest.fixture(scope="module")
def webgpu_page(browser, server):
    other = launch_other(browser, ["--enable-unsafe-webgpu"], drop_args=["--disable-gpu"])
    page = open_page(other, server.url + "/")
    yield page
    other.close()


def test_webgpu_is_chosen_when_an_adapter_exists_and_matches_wasm(webgpu_page, app_page):
    info = webgpu_page.evaluate("() => window.tinybert.backend()")
    assert info["name"] == "webgpu", json.dumps(info)
    texts = fifty_sentences()
    assert len(texts) == 50
    gpu = np.array(webgpu_page.evaluate(EMBED_ALL, texts))
    cpu = np.array(app_page.evaluate(EMBED_ALL, texts))
    cosines = [cosine(a, b) for a, b in zip(gpu, cpu)]
    assert min(cosines) >= 0.99, min(cosines)
