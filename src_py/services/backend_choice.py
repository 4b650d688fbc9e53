"""Which backend runs the encoder on this device, and why: chosen by measurement, not by the
presence of an adapter.

- Forced: ``?backend=wasm|webgpu`` or the backend setting; no measurement.
- No WebGPU adapter: WASM.
- An adapter: the choice remembered for this device (the same adapter, cores and encoder files)
  if there is one; otherwise both backends are timed now on their *probe* files (the encoder's
  graph with one layer's weights shared by every layer: the same work per run from a 2-5 MB
  file, see tools/model_probe.py) and the faster is kept and remembered. Only the encoder file
  of the chosen backend is then downloaded.

A real GPU runs the float16 encoder several times faster than the WASM build runs the INT8 one
(bench/results/webgpu_device.md); a software adapter (SwiftShader) or a weak integrated GPU can
be far slower. The probes are timed at a short and a long text after one untimed run each (on
WebGPU the first run compiles the shaders), each in the onnxruntime-web build that would run
it (so a first visit with an adapter fetches both builds' wasm); WASM code is not yet fully
optimised by the browser after so few runs, so the measurement slightly favours WebGPU where
the two are close. A backend that needs more than PROBE_BUDGET_MS loses without finishing.
"""
from services.encoder import (
    adapter_facts,
    create_session,
    feeds_for,
    gpu_adapter,
    import_build,
    start_runtime,
    thread_count,
    timed_run,
    warm_up,
    wasm_available,
)
from services.errors import AppError, describe
from settings import (
    PROBE_BUDGET_MS,
    PROBE_RUNS,
    remember_measurement,
    remembered_measurement,
    requested_encoder_file,
)
from tinybert_core.backend_pick import encoder_entry as core_encoder_entry
from tinybert_core.backend_pick import per_text_ms, pick, probe_ids


def encoder_entry(manifest, backend, features):
    """The manifest's best encoder for ``backend`` whose required adapter features are all in
    ``features``. Raises AppError when the model folder has none."""
    entry = core_encoder_entry(manifest["encoders"], backend, features)
    if entry is None:
        raise AppError("The model has no encoder file for " + backend + " on this device. "
                       + "Rebuild it with `make model` and reload.")
    return entry


def _named_entry(manifest, name):
    """The manifest's encoder named ``name`` (any backend's: ``?encoder=`` may run the WASM
    file on WebGPU to compare). Raises AppError when there is none."""
    for entry in manifest["encoders"]:
        if entry["file"] == name:
            return entry
    raise AppError("?encoder=" + name + " is not an encoder file of this model.")


def device_key(manifest, facts):
    """What a remembered measurement is valid for: the adapter, its features, the cores and
    the encoder files (a new build measures again)."""
    files = [e["file"] + "@" + manifest["files"][e["file"]]["sha256"][:12]
             for e in manifest["encoders"]]
    return " | ".join([facts["name"], ",".join(facts["features"]),
                       str(navigator.hardwareConcurrency), ",".join(files)])


def _ms(value):
    return value.toFixed(1) + " ms"


def measured_note(choice, measured, when):
    """Why ``choice`` was kept, in words: both times, and when they were measured."""
    other = "wasm" if choice == "webgpu" else "webgpu"
    names = {"wasm": "WASM", "webgpu": "WebGPU"}
    theirs = _ms(measured[other]) if measured[other] is not None else "too slow to finish"
    return ("faster here: " + _ms(measured[choice]) + " vs " + theirs + " on " + names[other]
            + ", measured " + when + " on a short and a long text")


def _timer(ms, value):
    return __new__(Promise(lambda resolve: setTimeout(lambda: resolve(value), max(ms, 0))))


async def measure(runtimes, sessions, probe):
    """Time each probe session (``{"wasm": session, "webgpu": session}``, each on its own
    runtime in ``runtimes``) at the probe lengths.

    One untimed run per length first, then PROBE_RUNS rounds in alternation. A backend whose
    runs together take more than PROBE_BUDGET_MS stops there, a run still going is left to
    finish in the background, and the backend is reported as None (too slow). Returns
    ``{"times": {backend: ms per text (the median at each length, averaged) or None},
    "pending": {backend: promise of its last run}}``.
    """
    names = ["wasm", "webgpu"]
    lengths = probe["lengths"]
    feeds, times, spent, pending = {}, {}, {}, {}
    for name in names:
        feeds[name] = [feeds_for(runtimes[name], sessions[name], probe_ids(probe["vocab"], n))
                       for n in lengths]
        times[name] = [[] for n in lengths]
        spent[name] = 0
        pending[name] = Promise.resolve(None)

    async def one(name, i, keep):
        if spent[name] > PROBE_BUDGET_MS:
            return None
        run = timed_run(sessions[name], feeds[name][i])
        pending[name] = run
        took = await Promise.race([run, _timer(PROBE_BUDGET_MS - spent[name] + 1, -1)])
        if took < 0:
            spent[name] = PROBE_BUDGET_MS + 1
            return None
        spent[name] += took
        if keep:
            times[name][i].append(took)
        return None

    for name in names:
        for i in range(len(lengths)):
            await one(name, i, False)
    for r in range(PROBE_RUNS):
        for name in names:
            for i in range(len(lengths)):
                await one(name, i, True)
    result = {}
    for name in names:
        result[name] = per_text_ms(times[name], PROBE_RUNS)
    return {"times": result, "pending": pending}


def _release_after(run, session):
    """Release ``session`` once its last run has finished (never during a run)."""
    return run.catch(lambda ignored: None).then(lambda ignored: session.release())


async def _measure_now(manifest, facts, adapter, wasm_build, load_probe):
    """Time both backends on their probes, each in the onnxruntime-web build that would run
    it, and keep the faster (its started runtime comes with the decision)."""
    entries = {"wasm": encoder_entry(manifest, "wasm", []),
               "webgpu": encoder_entry(manifest, "webgpu", facts["features"])}
    started = await Promise.all([
        start_runtime(wasm_build, thread_count(), None),
        start_runtime(import_build("webgpu"), 1, adapter),
        load_probe(entries["wasm"]["probe"]), load_probe(entries["webgpu"]["probe"])])
    runtimes = {"wasm": started[0], "webgpu": started[1]}
    sessions = {"wasm": await create_session(runtimes["wasm"], started[2], "wasm", None)}
    failure = None
    try:
        sessions["webgpu"] = await create_session(runtimes["webgpu"], started[3], "webgpu", None)
        outcome = await measure(runtimes, sessions, manifest["probe"])
        measured = outcome["times"]
        _release_after(outcome["pending"]["webgpu"], sessions["webgpu"])
    except:  # noqa: E722 - a broken adapter or driver: WASM it is
        failure = describe(__except0__)
        measured = None
    await sessions["wasm"].release()
    if failure is not None:
        choice = "wasm"
        note = "WebGPU failed on the probe: " + failure
    else:
        choice = pick(measured)
        note = measured_note(choice, measured, "just now")
    key = device_key(manifest, facts)
    remember_measurement({"key": key, "choice": choice, "measured": measured, "note": note,
                          "date": _today()})
    return {"backend": choice, "runtime": Promise.resolve(runtimes[choice]),
            "entry": entries[choice], "note": note, "measured": measured, "key": key}


def _today():
    return __new__(Date()).toISOString()[:10]


async def choose(manifest, prefer, load_probe, warmup_bytes):
    """Decide the backend and start onnxruntime-web on it, before the encoder is downloaded.

    prefer: "webgpu", "wasm" or None (automatic). load_probe(name): a promise of a probe
    file's checked bytes. warmup_bytes: a promise of the one-node warm-up model (opened on a
    chosen runtime so that its wasm compiles while the encoder downloads), or None.
    Returns ``{"backend", "runtime" (a promise of the started onnxruntime-web), "entry" (the
    manifest's encoder), "note", "measured", "key" (this device's, or None), "stages"}``.
    Raises AppError when no backend can run here, saying what to do.
    """
    stages = {}
    # The WASM build is imported while the browser is asked for an adapter: most visits end
    # up on it, and an unused import costs little.
    wasm_build = None if prefer == "webgpu" else import_build("wasm")
    adapter = None if prefer == "wasm" else await gpu_adapter()
    stages["adapter"] = performance.now()
    if prefer == "webgpu" and adapter is None:
        raise AppError("WebGPU was requested but this browser offers no WebGPU adapter. "
                       + "Choose Auto or WASM in the backend setting (or use ?backend=wasm).")
    if not wasm_available():
        raise AppError("This browser can run neither WebGPU nor WebAssembly, so the encoder "
                       + "cannot run here. Use a current Chrome, Edge, Firefox or Safari.")
    facts = adapter_facts(adapter) if adapter is not None else None
    key = device_key(manifest, facts) if facts is not None else None
    measured = None
    if prefer is not None:
        backend, note = prefer, "forced"
    elif adapter is None:
        backend, note = "wasm", "no WebGPU adapter"
    else:
        known = remembered_measurement(key)
        if known is None:
            decision = await _measure_now(manifest, facts, adapter, wasm_build, load_probe)
            stages["measured"] = performance.now()
            decision["stages"] = stages
            return decision
        backend, measured = known["choice"], known["measured"]
        note = (measured_note(backend, measured, "on " + known["date"])
                if measured is not None else known["note"])
    features = facts["features"] if facts is not None else []
    entry = encoder_entry(manifest, backend, features)
    wanted = requested_encoder_file()
    if wanted is not None and prefer is not None:
        entry = _named_entry(manifest, wanted)
    build = wasm_build if backend == "wasm" else import_build("webgpu")
    threads = thread_count() if backend == "wasm" else 1
    # Not awaited: the runtime starts (its wasm compiles) while the encoder downloads.
    runtime = _started(build, threads, adapter if backend == "webgpu" else None, warmup_bytes,
                       stages)
    return {"backend": backend, "runtime": runtime, "entry": entry, "note": note,
            "measured": measured, "stages": stages, "key": key}


async def _started(build, threads, adapter, warmup_bytes, stages):
    runtime = await start_runtime(build, threads, adapter)
    stages["imported"] = performance.now()
    if warmup_bytes is not None:
        await warm_up(runtime, warmup_bytes)
    return runtime


async def fall_back_to_wasm(manifest, decision, failure):
    """After the encoder failed to start on an automatically chosen WebGPU: WASM, remembered
    for this device so that the next visit goes there directly. ``failure``: its message."""
    runtime = start_runtime(import_build("wasm"), thread_count(), None)
    note = "WebGPU failed: " + failure
    if decision["key"] is not None:
        remember_measurement({"key": decision["key"], "choice": "wasm", "measured": None,
                              "note": note, "date": _today()})
    return {"backend": "wasm", "runtime": runtime, "entry": encoder_entry(manifest, "wasm", []),
            "note": note, "measured": None, "stages": {}, "key": decision["key"]}

