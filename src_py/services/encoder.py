"""The encoder runtime: the only module that imports onnxruntime-web.

It asks the browser for a WebGPU adapter, starts onnxruntime-web's build for a backend, creates
sessions (the encoder's, and the probes' that ``backend_choice`` times), runs one call at a
time and pools the token vectors into a sentence embedding.
"""
from services.errors import AppError, describe
from settings import MAX_WASM_THREADS, verbose_runtime_log
from tinybert_core.pooling import l2_normalize, mean_pool


class BackendFailed(AppError):
    """The encoder's session could not be created on the backend (the bytes were fine)."""


async def gpu_adapter():
    """Return a WebGPU adapter, or None when the browser offers none."""
    if not navigator.gpu:
        return None
    try:
        adapter = await navigator.gpu.requestAdapter()
    except:  # noqa: E722 - a browser without a usable GPU may throw
        return None
    return adapter if adapter else None


def adapter_facts(adapter):
    """What the choice of a file and a remembered measurement depend on:
    ``{"features": ["shader-f16"] or [], "name": vendor, architecture, device, description}``."""
    features = []
    if adapter.features and adapter.features.has("shader-f16"):
        features.append("shader-f16")
    info = adapter.info if adapter.info else {}
    parts = []
    for key in ["vendor", "architecture", "device", "description"]:
        if info[key]:
            parts.append(str(info[key]))
    fallback = adapter.isFallbackAdapter or info.isFallbackAdapter
    name = " ".join(parts) if len(parts) > 0 else "unnamed adapter"
    return {"features": features, "name": name + (" (software)" if fallback else "")}


async def _import_runtime(backend):
    """Import the onnxruntime-web build for ``backend`` and point it at its bundled wasm.

    The WebGPU build is ``onnxruntime-web/webgpu`` (it also runs the WASM provider): the
    default import computes INT8 models wrongly on WebGPU. Setting ``wasmPaths`` from Vite
    ``?url`` imports keeps the production build's thread workers away from the app chunk (they
    hang otherwise).
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


def import_build(backend):
    """Start importing the build for ``backend`` ("wasm" or "webgpu"); a promise of it."""
    return _import_runtime(backend)


def thread_count():
    """WASM threads: one per core (at most MAX_WASM_THREADS) when the page is cross-origin
    isolated, else 1."""
    if not window.crossOriginIsolated:
        return 1
    cores = navigator.hardwareConcurrency if navigator.hardwareConcurrency else 1
    return min(cores, MAX_WASM_THREADS)


def wasm_available():
    return typeof(WebAssembly) != "undefined"


async def start_runtime(build, threads, adapter):
    """A runtime on an imported build (a promise from ``import_build``): ``{"ort", "threads"}``.

    threads: WASM threads (the count is fixed when onnxruntime-web first starts its wasm).
    adapter: the WebGPU adapter to use, or None.
    """
    ort = await build
    ort.env.wasm.numThreads = threads
    if adapter is not None:
        ort.env.webgpu.adapter = adapter
    if verbose_runtime_log():
        ort.env.logLevel = "verbose"
    return {"ort": ort, "threads": threads}


async def warm_up(runtime, warmup_bytes):
    """Open and release a one-node model: onnxruntime-web fetches and compiles its wasm now,
    while the encoder is still downloading. Best effort: the real session reports problems."""
    try:
        warm = await runtime["ort"].InferenceSession.create(await warmup_bytes,
                                                            {"executionProviders": ["wasm"]})
        await warm.release()
    except:  # noqa: E722
        console.warn("Warm-up session failed: " + describe(__except0__))
    return None


async def create_session(runtime, model_bytes, provider, session_options):
    """An InferenceSession on ``provider`` ("wasm" or "webgpu") from the file's bytes."""
    options = {"executionProviders": [provider]}
    if session_options:
        for key in __pragma__("js", "{}", "Object.keys(session_options)"):
            options[key] = session_options[key]
    if verbose_runtime_log():
        options["logSeverityLevel"] = 0
        options["logVerbosityLevel"] = 0
    return await runtime["ort"].InferenceSession.create(model_bytes, options)


def _int64_tensor(ort, values):
    data = __new__(BigInt64Array(len(values)))
    for i in range(len(values)):
        data[i] = BigInt(values[i])
    return __new__(ort.Tensor("int64", data, [1, len(values)]))


def feeds_for(runtime, session, ids):
    """The inputs of one unpadded text: input_ids, and an all-ones attention_mask for files
    that take one (the WebGPU files do not)."""
    ort = runtime["ort"]
    feeds = {"input_ids": _int64_tensor(ort, ids)}
    if session.inputNames.indexOf("attention_mask") >= 0:
        feeds["attention_mask"] = _int64_tensor(ort, [1 for i in range(len(ids))])
    return feeds


async def timed_run(session, feeds):
    """Milliseconds one run of ``session`` takes, its output read back."""
    started = performance.now()
    await session.run(feeds)
    return performance.now() - started


class Encoder:
    """A loaded encoder session. Create it with ``open_encoder``."""

    def __init__(self, runtime, session, backend, entry, hidden_size, note, measured):
        self.runtime = runtime
        self.session = session
        self.backend = backend
        self.threads = runtime["threads"] if backend == "wasm" else 1
        self.model = entry["file"]
        self.hidden_size = hidden_size
        self.note = note
        self.measured = measured
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
        feeds = feeds_for(self.runtime, self.session, ids)
        session = self.session
        try:
            outputs = await self._serialise(lambda: session.run(feeds))
        except:  # noqa: E722 - onnxruntime throws JS errors
            raise AppError("The encoder failed on this text: " + describe(__except0__))
        hidden = outputs["last_hidden_state"]
        mask = [1 for i in range(len(ids))]
        vector = l2_normalize(mean_pool(hidden.data, mask, self.hidden_size))
        return __new__(Float32Array(vector))

    def info(self):
        """``{"name": backend, "threads": n, "note": why this backend, "model": file in use,
        "measured": {"wasm": ms, "webgpu": ms} or None}``."""
        return {"name": self.backend, "threads": self.threads, "note": self.note,
                "model": self.model, "measured": self.measured}

    async def release(self):
        await self.session.release()
        return None


async def open_encoder(decision, model_bytes, manifest):
    """Create the encoder session of ``decision`` (from ``backend_choice.choose``) from the
    file's bytes. Returns an Encoder. Raises BackendFailed when the backend cannot run the
    file, saying what to do."""
    session_options = manifest["runtime"]["session_options"] if manifest["runtime"] else {}
    backend = decision["backend"]
    runtime = await decision["runtime"]
    try:
        session = await create_session(runtime, model_bytes, backend, session_options)
    except:  # noqa: E722
        failure = describe(__except0__)
        if backend == "webgpu":
            raise BackendFailed("The encoder could not start on WebGPU: " + failure
                                + ". Choose Auto or WASM in the backend setting.")
        raise BackendFailed("Could not start the encoder on wasm: " + failure
                            + ". Rebuild the model with `make model` and reload.")
    return Encoder(runtime, session, backend, decision["entry"], manifest["hidden_size"],
                   decision["note"], decision["measured"])
