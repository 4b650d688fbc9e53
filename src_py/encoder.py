"""The encoder runtime: the only module that imports onnxruntime-web.

It chooses the backend (WebGPU when the browser offers an adapter, WASM otherwise), creates
the session, runs one call at a time and pools the token vectors into a sentence embedding.
"""
from core.pooling import mean_pool, l2_normalize
from errors import AppError, describe


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
    if backend == "webgpu":
        ort = await __pragma__("js", "{}", 'import("onnxruntime-web/webgpu")')
        mjs = await __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url")')
        wasm = await __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url")')
    else:
        ort = await __pragma__("js", "{}", 'import("onnxruntime-web/wasm")')
        mjs = await __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.mjs?url")')
        wasm = await __pragma__("js", "{}", 'import("onnxruntime-web/ort-wasm-simd-threaded.wasm?url")')
    ort.env.wasm.wasmPaths = {"mjs": mjs["default"], "wasm": wasm["default"]}
    return ort


def _thread_count():
    """WASM threads: one per core (at most 4) when the page is cross-origin isolated, else 1."""
    if not window.crossOriginIsolated:
        return 1
    cores = navigator.hardwareConcurrency if navigator.hardwareConcurrency else 1
    return min(cores, 4)


def _int64_tensor(ort, values):
    data = __new__(BigInt64Array(len(values)))
    for i in range(len(values)):
        data[i] = BigInt(values[i])
    return __new__(ort.Tensor("int64", data, [1, len(values)]))


class Encoder:
    """A loaded encoder session. Create it with ``open_encoder``."""

    def __init__(self, ort, session, backend, threads, hidden_size):
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
        """Return ``{"name": backend, "threads": n}``."""
        return {"name": self.backend, "threads": self.threads}


async def open_encoder(model_bytes, hidden_size, prefer):
    """Create the encoder session from the ONNX file's bytes.

    prefer: "webgpu", "wasm" or None (automatic: WebGPU when an adapter exists).
    Returns an Encoder. Raises AppError when no backend can run the model.
    """
    backend = "wasm"
    if prefer != "wasm":
        adapter = await _gpu_adapter()
        if adapter is not None:
            backend = "webgpu"
        elif prefer == "webgpu":
            raise AppError("WebGPU was requested but this browser offers no WebGPU adapter. "
                           + "Use ?backend=wasm or a browser with WebGPU.")
    ort = await _import_runtime(backend)
    threads = _thread_count()
    ort.env.wasm.numThreads = threads
    options = {"executionProviders": [backend], "graphOptimizationLevel": "all"}
    try:
        session = await ort.InferenceSession.create(model_bytes, options)
    except:  # noqa: E722
        raise AppError("Could not start the encoder on " + backend + ": "
                       + describe(__except0__) + ". Rebuild the model with `make model`.")
    return Encoder(ort, session, backend, threads, hidden_size)
