"""The encoder runtime: the only module that imports onnxruntime-web.

It chooses the backend (WebGPU when the browser offers an adapter, WASM otherwise), creates
the session, runs one call at a time and pools the token vectors into a sentence embedding.
"""
from services.errors import AppError, describe
from settings import MAX_WASM_THREADS
from tinybert_core.pooling import l2_normalize, mean_pool


async def _gpu_adapter():
    """Return a WebGPU adapter, or None when the browser offers none."""
    if not navigator.gpu:
        return None
    try:
        adapter = await navigator.gpu.requestAdapter()
    except:  # noqa: E722 - a browser without a usable GPU may throw
        return None
    return adapter if adapter else None


async def _import_runtime(backend):
    """Import the onnxruntime-web build for ``backend`` and point it at its bundled wasm.

    The WebGPU build is ``onnxruntime-web/webgpu``: the default import computes INT8 models
    wrongly on WebGPU. Setting ``wasmPaths`` from Vite ``?url`` imports keeps the production
    build's thread workers away from the app chunk (they hang otherwise).
    """
    # The three imports start together (each is a request on a cold visit).
    if backend == "webgpu":
        ort = __pragma__("js", "{}", 'import("onnxruntime-web/webgpu")')
        mjs = __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url")')  # noqa: E501
        wasm = __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url")')  # noqa: E501
    else:
        ort = __pragma__("js", "{}", 'import("onnxruntime-web/wasm")')
        mjs = __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.mjs?url")')
        wasm = __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.wasm?url")')
    parts = await Promise.all([ort, mjs, wasm])
    ort, mjs, wasm = parts[0], parts[1], parts[2]
    ort.env.wasm.wasmPaths = {"mjs": mjs["default"], "wasm": wasm["default"]}
    return ort


def _thread_count():
    """WASM threads: one per core (at most MAX_WASM_THREADS) when the page is cross-origin
    isolated, else 1."""
    if not window.crossOriginIsolated:
        return 1
    cores = navigator.hardwareConcurrency if navigator.hardwareConcurrency else 1
    return min(cores, MAX_WASM_THREADS)


def _int64_tensor(ort, values):
    data = __new__(BigInt64Array(len(values)))
    for i in range(len(values)):
        data[i] = BigInt(values[i])
    return __new__(ort.Tensor("int64", data, [1, len(values)]))


class Encoder:
    """A loaded encoder session. Create it with ``open_encoder``."""

    def __init__(self, ort, session, backend, threads, hidden_size, note):
        self.note = note
        self.ort = ort
        self.session = session
        self.backend = backend
        self.threads = threads
        self.hidden_size = hidden_size
        self._tail = Promise.resolve(None)

    def _serialise(self, work):
        """Run ``work()`` after every earlier call: a session runs one call at a time."""
        result = self._tail.then(work)
        self._tail = result.catch(lambda ignored: None)
        return result

    async def embed_ids(self, ids):
        """Return the pooled, L2-normalised embedding (Float32Array) of one token-id list.

        The text is run alone, never padded: dynamic INT8 gives a padded text another vector.
        """
        mask = [1 for i in range(len(ids))]
        feeds = {
            "input_ids": _int64_tensor(self.ort, ids),
            "attention_mask": _int64_tensor(self.ort, mask),
        }
        session = self.session
        try:
            outputs = await self._serialise(lambda: session.run(feeds))
        except:  # noqa: E722 - onnxruntime throws JS errors
            raise AppError("The encoder failed on this text: " + describe(__except0__))
        hidden = outputs["last_hidden_state"]
        vector = l2_normalize(mean_pool(hidden.data, mask, self.hidden_size))
        return __new__(Float32Array(vector))

    def info(self):
        """Return ``{"name": backend, "threads": n, "note": why this backend}``."""
        return {"name": self.backend, "threads": self.threads, "note": self.note}


def _wasm_available():
    return typeof(WebAssembly) != "undefined"


async def prepare_runtime(prefer, warmup_bytes):
    """Choose the backend and start onnxruntime-web on it, before the model has arrived.

    prefer: "webgpu", "wasm" or None (automatic: WebGPU when the browser offers an adapter).
    warmup_bytes: a tiny ONNX model (or a promise of it); opening it makes onnxruntime-web
    fetch and compile its WebAssembly now, so that this overlaps the model download. Returns the
    runtime for ``open_encoder``. Raises AppError when no backend can run here, saying what to do.
    """
    stages = {}
    # The WASM build is imported while the browser is asked for an adapter (which can take
    # tens of milliseconds): most visits end up on it, and an unused import costs little.
    wasm_build = None if prefer == "webgpu" else _import_runtime("wasm")
    adapter = None if prefer == "wasm" else await _gpu_adapter()
    stages["adapter"] = performance.now()
    if prefer == "webgpu" and adapter is None:
        raise AppError("WebGPU was requested but this browser offers no WebGPU adapter. "
                       + "Choose Auto or WASM in the backend setting (or use ?backend=wasm).")
    if not _wasm_available():
        raise AppError("This browser can run neither WebGPU nor WebAssembly, so the encoder "
                       + "cannot run here. Use a current Chrome, Edge, Firefox or Safari.")
    backend = "webgpu" if adapter is not None else "wasm"
    ort = await (wasm_build if backend == "wasm" else _import_runtime("webgpu"))
    stages["imported"] = performance.now()
    threads = _thread_count() if backend == "wasm" else 1
    ort.env.wasm.numThreads = threads
    if warmup_bytes is not None:
        try:
            warm = await ort.InferenceSession.create(await warmup_bytes,
                                                     {"executionProviders": ["wasm"]})
            await warm.release()
        except:  # noqa: E722 - only an optimisation; the real session reports real problems
            console.warn("Warm-up session failed: " + describe(__except0__))
    note = "forced" if prefer is not None else ("" if adapter is not None else "no WebGPU adapter")
    return {"ort": ort, "backend": backend, "threads": threads, "note": note, "prefer": prefer,
            "stages": stages}


async def _session(runtime, model_bytes, session_options):
    options = {"executionProviders": [runtime["backend"]]}
    for key in __pragma__("js", "{}", "Object.keys(session_options)"):
        options[key] = session_options[key]
    return await runtime["ort"].InferenceSession.create(model_bytes, options)


async def open_encoder(runtime, model_bytes, manifest):
    """Create the encoder session on the prepared runtime from the ONNX file's bytes.

    If WebGPU was chosen automatically and the session fails there, WASM is used instead (and
    the page says why). Returns an Encoder. Raises AppError saying what to do.
    """
    session_options = manifest["runtime"]["session_options"] if manifest["runtime"] else {}
    if runtime["backend"] == "webgpu":
        try:
            session = await _session(runtime, model_bytes, session_options)
            return Encoder(runtime["ort"], session, "webgpu", runtime["threads"],
                           manifest["hidden_size"], runtime["note"])
        except:  # noqa: E722
            failure = describe(__except0__)
            if runtime["prefer"] == "webgpu":
                raise AppError("The encoder could not start on WebGPU: " + failure
                               + ". Choose Auto or WASM in the backend setting.")
            runtime = await prepare_runtime("wasm", None)
            runtime["note"] = "WebGPU failed: " + failure
    try:
        session = await _session(runtime, model_bytes, session_options)
    except:  # noqa: E722
        raise AppError("Could not start the encoder on wasm: " + describe(__except0__)
                       + ". Rebuild the model with `make model` and reload.")
    return Encoder(runtime["ort"], session, "wasm", runtime["threads"], manifest["hidden_size"],
                   runtime["note"])
