"""The benchmark page (``bench/page/bench.html``), built only by ``bench/browser.py``'s
``build_bench_page()`` (Transcrypt, then ``vite build --mode bench``); never part of the product.

It exposes ``window.bench``, driven by the harness in ``bench/``:

- tokenizer speed on the main thread: this product's ``tinybert_core.tokenizer`` and transformers.js
  ``AutoTokenizer`` on the same texts (no truncation in either);
- encoder latency: transformers.js ``feature-extraction`` pipeline and a bare onnxruntime-web
  session, both on the product's INT8 ONNX file and with the same thread count.

transformers.js loads local files only (``tjs-models/<name>/...`` beside this page) and its own
onnxruntime-web wasm from this build, never from a hub or a CDN. Timing loops run here, in the
page; the harness only picks texts, warm-up and sample counts, and does the statistics.
"""
from tinybert_core.tokenizer import Tokenizer, config_from_tokenizer_json

TJS_MODEL = "minilm"
TJS_MODEL_ROOT = "/tjs-models/"

state = {
    "texts": [],
    "tokenizer_json": None,
    "tjs": None,
    "tjs_tokenizer": None,
    "extractor": None,
    "ort": None,
    "session": None,
    "variants": {},
}


def now():
    return performance.now()


def fail(message):
    """A JS Error the harness sees with its message (Python exceptions would be opaque)."""
    return __new__(Error(message))


def describe(thrown):
    if thrown is None or typeof(thrown) == "undefined":
        return "unknown error"
    if thrown.message:
        return thrown.message
    return str(thrown)


async def fetch_ok(url):
    response = await fetch(url)
    if not response.ok:
        raise fail("GET " + url + " answered HTTP " + str(response.status))
    return response


def info():
    """What the page runs on: isolation (needed for WASM threads) and cores."""
    return {"crossOriginIsolated": window.crossOriginIsolated,
            "hardwareConcurrency": navigator.hardwareConcurrency,
            "userAgent": navigator.userAgent}


def set_texts(texts):
    state["texts"] = texts
    return len(texts)


# --- tokenizer speed -----------------------------------------------------------------------

async def tokenizer_json():
    if state["tokenizer_json"] is None:
        response = await fetch_ok("model/tokenizer.json")
        state["tokenizer_json"] = await response.json()
    return state["tokenizer_json"]


def pass_ours(tk, texts):
    """Encode every text once; return the number of tokens produced."""
    total = 0
    for t in texts:
        total += len(tk.encode(t))
    return total


def pass_tjs(tok, texts):
    total = 0
    for t in texts:
        total += len(tok.encode(t))
    return total


async def tok_ours(warmup_seconds, passes, cold):
    """This product's tokenizer, no truncation, on the texts given to set_texts.

    warm (cold false): one Tokenizer; warm-up passes for warmup_seconds, then `passes` timed
    passes (its word cache full after the first pass).
    cold (cold true): a fresh Tokenizer per timed pass (empty word cache); building it is
    timed apart (construct_ms) and not counted in pass_ms.
    """
    config = config_from_tokenizer_json(await tokenizer_json(), None)
    texts = state["texts"]
    construct_ms = []
    pass_ms = []
    tokens = 0
    started = now()
    tk = Tokenizer(config)
    construct_ms.append(now() - started)
    first_started = now()
    tokens = pass_ours(tk, texts)
    first_ms = now() - first_started
    warm_passes = 1
    while now() - started < warmup_seconds * 1000:
        if cold:
            tk = Tokenizer(config)
        pass_ours(tk, texts)
        warm_passes += 1
    for i in range(passes):
        if cold:
            t0 = now()
            tk = Tokenizer(config)
            construct_ms.append(now() - t0)
        t1 = now()
        n = pass_ours(tk, texts)
        pass_ms.append(now() - t1)
        if n != tokens:
            raise fail("token count changed between passes: " + str(n) + " vs " + str(tokens))
    return {"pass_ms": pass_ms, "tokens": tokens, "first_pass_ms": first_ms,
            "warmup_passes": warm_passes, "construct_ms": construct_ms}


async def tok_ours_ids(start, stop):
    """Ids of texts[start:stop] by this product's tokenizer (for the parity check)."""
    config = config_from_tokenizer_json(await tokenizer_json(), None)
    tk = Tokenizer(config)
    texts = state["texts"]
    return [tk.encode(texts[i]) for i in range(start, stop)]


async def transformers():
    """transformers.js, configured for local files and its own bundled wasm."""
    if state["tjs"] is not None:
        return state["tjs"]
    tjs = await __pragma__("js", "{}", 'import("@huggingface/transformers")')
    # Literal import() calls, so that Vite bundles the files.
    mjs = await __pragma__("js", "{}", 'import("transformers-ort-dist/ort-wasm-simd-threaded.asyncify.mjs?url")')  # noqa: E501
    wasm = await __pragma__("js", "{}", 'import("transformers-ort-dist/ort-wasm-simd-threaded.asyncify.wasm?url")')  # noqa: E501
    env = tjs.env
    env.allowLocalModels = True
    env.allowRemoteModels = False
    env.localModelPath = TJS_MODEL_ROOT
    env.backends.onnx.wasm.wasmPaths = {"mjs": mjs["default"], "wasm": wasm["default"]}
    state["tjs"] = tjs
    return tjs


async def tjs_tokenizer():
    if state["tjs_tokenizer"] is None:
        tjs = await transformers()
        state["tjs_tokenizer"] = await tjs.AutoTokenizer.from_pretrained(TJS_MODEL)
    return state["tjs_tokenizer"]


async def tok_tjs(warmup_seconds, passes):
    """transformers.js AutoTokenizer.encode(text) (no truncation) on the same texts."""
    t0 = now()
    tok = await tjs_tokenizer()
    load_ms = now() - t0
    texts = state["texts"]
    started = now()
    tokens = pass_tjs(tok, texts)
    first_ms = now() - started
    warm_passes = 1
    while now() - started < warmup_seconds * 1000:
        pass_tjs(tok, texts)
        warm_passes += 1
    pass_ms = []
    for i in range(passes):
        t1 = now()
        n = pass_tjs(tok, texts)
        pass_ms.append(now() - t1)
        if n != tokens:
            raise fail("token count changed between passes")
    return {"pass_ms": pass_ms, "tokens": tokens, "first_pass_ms": first_ms,
            "warmup_passes": warm_passes, "load_ms": load_ms}


async def tok_tjs_ids(start, stop):
    tok = await tjs_tokenizer()
    texts = state["texts"]
    return [tok.encode(texts[i]) for i in range(start, stop)]


# --- encoder: transformers.js pipeline -------------------------------------------------------

async def tjs_open(threads):
    """Create the feature-extraction pipeline (q8 = the product's INT8 file) on WASM.

    Returns stage times in ms and, like every start-up call here, performance.now() at the
    end (ms since the navigation started).
    """
    t0 = now()
    tjs = await transformers()
    tjs.env.backends.onnx.wasm.numThreads = threads
    t1 = now()
    state["extractor"] = await tjs.pipeline("feature-extraction", TJS_MODEL,
                                            {"dtype": "q8", "device": "wasm"})
    t2 = now()
    return {"import_ms": t1 - t0, "pipeline_ms": t2 - t1, "at_ms": t2,
            "numThreads": tjs.env.backends.onnx.wasm.numThreads}


async def tjs_embed(text):
    output = await state["extractor"](text, {"pooling": "mean", "normalize": True})
    return output.data


async def tjs_first(text):
    """Time of the first embedding after tjs_open; returns the vector too."""
    t0 = now()
    vector = await tjs_embed(text)
    t1 = now()
    return {"first_ms": t1 - t0, "at_ms": t1, "vector": Array["from"](vector)}


async def tjs_token_count(text):
    tok = state["extractor"].tokenizer
    return len(tok.encode(text))


async def tjs_time(texts):
    """Back-to-back embeddings of `texts` (distinct texts, as the product is timed); their
    durations in ms."""
    out = []
    for text in texts:
        t0 = now()
        await tjs_embed(text)
        out.append(now() - t0)
    return out


# --- encoder: bare onnxruntime-web session ---------------------------------------------------

async def ort_runtime():
    """The product's onnxruntime-web build and wasm (the same imports as the product)."""
    ort = await __pragma__("js", "{}", 'import("onnxruntime-web/wasm")')
    mjs = await __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.mjs?url")')
    wasm = await __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.wasm?url")')
    ort.env.wasm.wasmPaths = {"mjs": mjs["default"], "wasm": wasm["default"]}
    return ort


async def ort_open(threads, model_url):
    """Bare session on the product's model file; start-up split into stages (ms).

    create_ms is the first InferenceSession.create (wasm fetch + compile + thread start-up +
    model parsing and optimisation); create_again_ms is a second session on the same bytes
    (model only), so create_ms - create_again_ms is roughly the one-off wasm start-up.
    """
    t0 = now()
    ort = await ort_runtime()
    ort.env.wasm.numThreads = threads
    t1 = now()
    response = await fetch_ok(model_url)
    data = __new__(Uint8Array(await response.arrayBuffer()))
    t2 = now()
    options = {"executionProviders": ["wasm"], "graphOptimizationLevel": "all"}
    session = await ort.InferenceSession.create(data, options)
    t3 = now()
    again = await ort.InferenceSession.create(data, options)
    t4 = now()
    await again.release()
    state["ort"] = ort
    state["session"] = session
    return {"import_ms": t1 - t0, "fetch_model_ms": t2 - t1, "create_ms": t3 - t2,
            "create_again_ms": t4 - t3, "at_ms": t4, "model_bytes": data.length,
            "numThreads": ort.env.wasm.numThreads}


def ort_feeds(ids):
    ort = state["ort"]
    n = len(ids)
    input_ids = __new__(BigInt64Array(n))
    mask = __new__(BigInt64Array(n))
    for i in range(n):
        input_ids[i] = BigInt(ids[i])
        mask[i] = BigInt(1)
    return {"input_ids": __new__(ort.Tensor("int64", input_ids, [1, n])),
            "attention_mask": __new__(ort.Tensor("int64", mask, [1, n]))}


async def ort_first(ids):
    """First run on the new session; returns its time and last_hidden_state (flat)."""
    feeds = ort_feeds(ids)
    t0 = now()
    outputs = await state["session"].run(feeds)
    t1 = now()
    return {"first_ms": t1 - t0, "at_ms": t1,
            "hidden": Array["from"](outputs["last_hidden_state"].data)}


async def _timed_runs(session, ids, count):
    """`count` back-to-back runs of ``session`` on one input (tensors built once); ms each."""
    feeds = ort_feeds(ids)
    out = []
    for i in range(count):
        t0 = now()
        await session.run(feeds)
        out.append(now() - t0)
    return out


async def ort_time(ids, count):
    """`count` back-to-back runs of the main session on one input; durations in ms."""
    return await _timed_runs(state["session"], ids, count)


async def ort_levels(levels, ids, warmup_ms, runs):
    """Session creation time and a short latency probe per graphOptimizationLevel (bare
    session, same bytes, same threads). Each: create, warm up for warmup_ms, then `runs` timed
    runs of `ids`; the session is released before the next level."""
    ort = state["ort"]
    response = await fetch_ok("model/encoder.onnx")
    data = __new__(Uint8Array(await response.arrayBuffer()))
    out = []
    for level in levels:
        t0 = now()
        session = await ort.InferenceSession.create(
            data, {"executionProviders": ["wasm"], "graphOptimizationLevel": level})
        create_ms = now() - t0
        saved = state["session"]
        state["session"] = session
        t1 = now()
        while now() - t1 < warmup_ms:
            await ort_time(ids, 1)
        times = await ort_time(ids, runs)
        state["session"] = saved
        await session.release()
        out.append({"level": level, "create_ms": create_ms, "run_ms": times})
    return out


async def variant_open(key, model_url, options):
    """A further session under ``key`` (a model file and session options to compare), beside
    the main one; returns its creation time (ms). The runtime must be started (ort_open)."""
    response = await fetch_ok(model_url)
    data = __new__(Uint8Array(await response.arrayBuffer()))
    merged = {"executionProviders": ["wasm"]}
    for name in __pragma__("js", "{}", "Object.keys(options)"):
        merged[name] = options[name]
    t0 = now()
    state["variants"][key] = await state["ort"].InferenceSession.create(data, merged)
    return now() - t0


async def variant_time(key, ids, count):
    """`count` back-to-back runs of session ``key`` on one input; durations in ms."""
    return await _timed_runs(state["variants"][key], ids, count)


async def variant_output(key, ids):
    """last_hidden_state of session ``key`` (flat) for one input."""
    outputs = await state["variants"][key].run(ort_feeds(ids))
    return Array["from"](outputs["last_hidden_state"].data)


def js_method(method):
    """Failures reach the harness as JS Errors with a readable message."""

    async def call(*args):
        try:
            return await method(*args)
        except:  # noqa: E722 - JS errors are not Python exceptions here
            raise fail(describe(__except0__))

    return call


def sync_method(method):
    async def call(*args):
        return method(*args)

    return call


window.bench = {
    "info": sync_method(info),
    "set_texts": sync_method(set_texts),
    "tok_ours": js_method(tok_ours),
    "tok_ours_ids": js_method(tok_ours_ids),
    "tok_tjs": js_method(tok_tjs),
    "tok_tjs_ids": js_method(tok_tjs_ids),
    "tjs_open": js_method(tjs_open),
    "tjs_first": js_method(tjs_first),
    "tjs_token_count": js_method(tjs_token_count),
    "tjs_time": js_method(tjs_time),
    "ort_open": js_method(ort_open),
    "ort_first": js_method(ort_first),
    "ort_time": js_method(ort_time),
    "ort_levels": js_method(ort_levels),
    "variant_open": js_method(variant_open),
    "variant_time": js_method(variant_time),
    "variant_output": js_method(variant_output),
}
