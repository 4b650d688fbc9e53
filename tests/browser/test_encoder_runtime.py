"""The encoder runtime in Chromium: backend choice and fallback, WebGPU against WASM, the model
cache (second visit, corrupted and stale entries), and identical embeddings whatever came before."""
import json

import numpy as np
import pytest

from tests.support.browser import DIST, Server, dist_without, launch_other, open_page, wait_ready
from tests.support.page_js import EMBED_ALL
from tests.support.reference import (
    FIXED_SENTENCES,
    cosine,
    load_manifest,
    model_dir,
    native_embed,
    native_session,
)
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


# --- WebGPU: the software adapter (SwiftShader) that --enable-unsafe-webgpu gives ------------

@pytest.fixture(scope="module")
def gpu_browser(browser):
    other = launch_other(browser, ["--enable-unsafe-webgpu"], drop_args=["--disable-gpu"])
    yield other
    other.close()


def model_requests(page, action):
    """The model-folder files (``.onnx``) requested while ``action()`` runs."""
    seen = []
    page.on("request", lambda request: seen.append(request.url.rsplit("/", 1)[1]))
    action()
    return [name for name in seen if name.endswith(".onnx")]


def test_auto_measures_both_backends_on_probes_and_downloads_only_the_faster_encoder(
        gpu_browser, server):
    context = gpu_browser.new_context()
    page = context.new_page()
    files = model_requests(page, lambda: (page.goto(server.url + "/"), wait_ready(page)))
    error = page.evaluate("() => window.tinybertError ? String(window.tinybertError) : null")
    assert error is None, error
    info = page.evaluate("() => window.tinybert.backend()")
    # The software adapter takes seconds a run: it cannot finish the probe in time.
    assert info["name"] == "wasm" and info["model"] == "encoder.onnx", json.dumps(info)
    assert info["measured"]["wasm"] > 0 and info["measured"]["webgpu"] is None
    assert info["note"].startswith("faster here: ") and "just now" in info["note"]
    assert "faster here" in page.text_content("#backend")
    assert sorted(f for f in files if f != "warmup.onnx") == [
        "encoder.onnx", "probe.wasm.onnx", "probe.webgpu-fp32.onnx"]
    # Remembered for this device: the next visit measures nothing and fetches one file.
    files = model_requests(page, lambda: (page.reload(), wait_ready(page)))
    again = page.evaluate("() => window.tinybert.backend()")
    assert again["name"] == "wasm" and again["measured"] == info["measured"]
    assert "measured on " in again["note"]
    assert not [f for f in files if f.startswith("probe.")]
    # Choosing Auto again forgets the measurement: the next visit measures again.
    page.select_option("#backend-choice", "auto")
    page.wait_for_load_state()
    wait_ready(page)
    assert "just now" in page.evaluate("() => window.tinybert.backend()")["note"]
    context.close()


REMEMBER_WEBGPU = """key => localStorage.setItem('tinybert.backend.measured', JSON.stringify({
  key, choice: 'webgpu', measured: {wasm: 40.0, webgpu: 10.0}, note: '', date: '2026-01-02'}))"""


def device_key_of(page):
    """The key the page files its measurement under (read back from the one it saved)."""
    return page.evaluate(
        "() => JSON.parse(localStorage.getItem('tinybert.backend.measured')).key")


def test_a_remembered_faster_webgpu_is_used_and_only_its_file_is_downloaded(gpu_browser, server):
    context = gpu_browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/")
    wait_ready(page)
    page.evaluate(REMEMBER_WEBGPU, device_key_of(page))
    files = model_requests(page, lambda: (page.reload(), wait_ready(page)))
    info = page.evaluate("() => window.tinybert.backend()")
    assert info["name"] == "webgpu" and info["model"] == "encoder.webgpu-fp32.onnx"
    assert info["measured"] == {"wasm": 40.0, "webgpu": 10.0}
    assert info["note"] == ("faster here: 10.0 ms vs 40.0 ms on WASM, measured on 2026-01-02 "
                            "on a short and a long text")
    assert [f for f in files if f != "warmup.onnx"] == ["encoder.webgpu-fp32.onnx"]
    # A measurement for another device (another adapter, cores or build) is not used.
    page.evaluate(REMEMBER_WEBGPU, "another device")
    page.reload()
    wait_ready(page)
    assert page.evaluate("() => window.tinybert.backend()")["name"] == "wasm"
    context.close()


def test_webgpu_embeddings_match_native_onnxruntime_on_the_same_file(gpu_browser, server):
    page = open_page(gpu_browser, server.url + "/?backend=webgpu")
    info = page.evaluate("() => window.tinybert.backend()")
    assert info["name"] == "webgpu" and info["note"] == "forced", json.dumps(info)
    texts = fifty_sentences()
    assert len(texts) == 50
    gpu = np.array(page.evaluate(EMBED_ALL, texts))
    native = native_embed(texts, session=native_session(info["model"]))
    cosines = [cosine(a, b) for a, b in zip(gpu, native)]
    assert min(cosines) >= 0.999, min(cosines)
    # And close to the WASM file's INT8 embeddings (min 0.9775 against fp32 at build time).
    int8 = native_embed(texts)
    assert min(cosine(a, b) for a, b in zip(gpu, int8)) >= 0.96
    page.context.close()


# Ops that only compute shapes: onnxruntime keeps them on the CPU by design. Any other node on
# the CPU (a MatMul, an attention or norm, an embedding Gather...) would run between GPU nodes.
SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "ConstantOfShape",
             "Range", "Cast", "Reshape", "Equal", "Where", "Expand"}


def placement(console_lines):
    """{provider: ["Op (name)", ...]} from onnxruntime's verbose "Node placements" log."""
    out, current = {}, None
    for line in console_lines:
        if "Node(s) placed on [" in line:
            current = line.split("Node(s) placed on [")[1].split("]")[0]
            out[current] = []
        elif current and "VerifyEachNodeIsAssignedToAnEp]   " in line:
            out[current].append(line.split("]   ", 1)[1].strip())
        elif "VerifyEachNodeIsAssignedToAnEp" not in line:
            current = None
    return out


def float_tensors(model):
    """Names of the float (32/16) tensors of a graph: inputs, initializers, values."""
    import onnx

    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    inferred = onnx.shape_inference.infer_shapes(model)
    names = {i.name for i in model.graph.initializer if i.data_type in floats}
    for value in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        if value.type.tensor_type.elem_type in floats:
            names.add(value.name)
    return names


def cpu_compute_nodes(model, cpu_nodes):
    """The CPU-placed nodes that are not shape arithmetic: an op outside SHAPE_OPS, or one that
    reads or writes a float tensor (a Gather of an embedding table)."""
    by_name = {n.name: n for n in model.graph.node}
    floats = float_tensors(model)
    bad = []
    for entry in cpu_nodes:
        op, _, rest = entry.partition(" ")
        node = by_name.get(rest.strip()[1:-1])
        if op not in SHAPE_OPS:
            bad.append(entry)
        elif node is not None and floats & {*node.input, *node.output}:
            bad.append(entry)
    return bad


@pytest.mark.parametrize("file", ["encoder.webgpu-fp32.onnx", "encoder.webgpu-fp16.onnx"])
def test_no_compute_node_of_a_webgpu_file_runs_on_the_cpu(gpu_browser, server, file):
    import onnx

    context = gpu_browser.new_context()
    page = context.new_page()
    lines = []
    page.on("console", lambda message: lines.append(message.text))
    page.goto(server.url + "/?backend=webgpu&ortlog=verbose&encoder=" + file)
    # The software adapter has no shader-f16: the fp16 file is placed (and logged) when its
    # session is created, then fails at its first run; the placement is what is checked.
    page.wait_for_function("() => window.tinybert !== undefined || window.tinybertError "
                           "!== undefined", timeout=120_000)
    placed = placement(lines)
    assert placed.get("WebGpuExecutionProvider"), lines[-20:]
    cpu = placed.get("CPUExecutionProvider", [])
    model = onnx.load(str(model_dir() / file))
    assert cpu_compute_nodes(model, cpu) == []
    gpu_ops = {entry.split(" ", 1)[0] for entry in placed["WebGpuExecutionProvider"]}
    assert {"MatMul", "SkipLayerNormalization", "BiasGelu", "Softmax", "Gather"} <= gpu_ops
    context.close()


def test_the_placement_check_catches_the_int8_files_cpu_matmuls(gpu_browser, server):
    """The same check on the WASM file run on WebGPU: its INT8 matrix products have no WebGPU
    kernel and run on the CPU (the reason the WebGPU files exist); the check must say so."""
    import onnx

    context = gpu_browser.new_context()
    page = context.new_page()
    lines = []
    page.on("console", lambda message: lines.append(message.text))
    page.goto(server.url + "/?backend=webgpu&ortlog=verbose&encoder=encoder.onnx")
    wait_ready(page)
    cpu = placement(lines).get("CPUExecutionProvider", [])
    bad = cpu_compute_nodes(onnx.load(str(model_dir() / "encoder.onnx")), cpu)
    assert sum(1 for entry in bad if entry.startswith("MatMulInteger")) == 18, bad
    assert sum(1 for entry in bad if entry.startswith("QAttention")) == 6, bad
    context.close()
