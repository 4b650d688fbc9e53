"""The page's entry point: starts the database, the tokenizer, the encoder runtime and the
model download, builds the services on them, then the page's controls and ``window.tinybert``.
"""
from api import expose, expose_failure
from services.assets import fetch_bytes, fetch_json
from services.backend_choice import choose, fall_back_to_wasm
from services.encoder import BackendFailed, open_encoder
from services.engine import Engine
from services.errors import AppError, describe
from services.model_store import load_model_file
from services.storage import open_storage
from services.tokenizer_client import TokenizerClient
from settings import MODEL_BASE, requested_backend, saved_backend
from ui.controller import Controller
from ui.page import Page, reload_on_backend
from ui.peers import PeersPanel
from ui.tabs import Tabs


async def _start_tokenizer(tokenizer, manifest):
    url = __new__(URL(MODEL_BASE + "tokenizer.json", window.location.href)).href
    await tokenizer.init(url, manifest["max_length"])
    return tokenizer


def _load_probe(manifest):
    """A probe file's bytes, checked and cached like the encoder's (its progress not shown)."""
    def identity(data):
        return Promise.resolve(data)

    def ignore(*args):
        return None

    async def load(name):
        loaded = await load_model_file(name, manifest["files"][name], ignore, identity, ignore)
        return loaded["value"]

    return load


async def _choose_backend(manifest):
    warmup = fetch_bytes(manifest["warmup_file"]) if manifest["warmup_file"] else None
    return await choose(manifest, requested_backend(), _load_probe(manifest), warmup)


async def _open_storage_or_none(page):
    """The page's database, or None (said in the status line) when the browser has none."""
    try:
        return await open_storage(lambda message: page.show_status(message, "error"))
    except AppError as error:
        page.show_status(str(error), "error")
        return None


async def _release(encoder):
    await encoder.session.release()
    return None


def _stamp(stages, name, promise):
    """``promise``, noting in ``stages[name]`` when it settles (ms since navigation start)."""
    def note(value):
        stages[name] = performance.now()
        return value

    return promise.then(note)


async def _load_encoder(page, manifest, decision, stages, timings):
    """Download (or read from the cache) the decision's encoder file and start its session."""
    for key in __pragma__("js", "{}", "Object.keys(decision.stages)"):
        stages["runtime_" + key] = decision["stages"][key]
    name = decision["entry"]["file"]

    async def build(data):
        page.show_status("Starting the encoder…", "info")
        stages["model_bytes"] = performance.now()
        ready = performance.now()
        encoder = await open_encoder(decision, data, manifest)
        stages["session"] = performance.now()
        timings["session_ms"] = stages["session"] - ready
        return encoder

    return await load_model_file(name, manifest["files"][name], page.show_progress, build,
                                 _release)


async def load_engine(page):
    """Fetch and start everything; returns the Engine. The database, the tokenizer, the
    runtime's WebAssembly and the model download proceed at the same time; the model's hash is
    checked while the session is built from it. The backend is chosen first (measured on small
    probe files when the browser has a WebGPU adapter), so that only its encoder file is
    downloaded. ``stats().timings.stages`` says when each part was done. ``page`` shows the
    status and the download's progress."""
    started = performance.now()
    stages = {"script": started}
    timings = {"stages": stages}
    page.show_status("Loading the model…", "info")
    storage = _stamp(stages, "storage", _open_storage_or_none(page))
    worker = TokenizerClient()   # its module loads while the manifest is fetched
    manifest = await fetch_json("manifest.json")
    stages["manifest"] = performance.now()
    tokenizer = _stamp(stages, "tokenizer", _start_tokenizer(worker, manifest))
    decision = await _choose_backend(manifest)
    stages["runtime"] = performance.now()
    try:
        loaded = await _load_encoder(page, manifest, decision, stages, timings)
    except BackendFailed as failure:
        if requested_backend() is not None or decision["backend"] != "webgpu":
            raise
        decision = await fall_back_to_wasm(manifest, decision, str(failure))
        loaded = await _load_encoder(page, manifest, decision, stages, timings)
    stages["model_checked"] = performance.now()
    parts = await Promise.all([tokenizer, loaded, storage])
    timings["model_source"] = parts[1]["source"]
    _stamp(stages, "model_cached", parts[1]["cached"])
    timings["ready_ms"] = performance.now() - started
    timings["model_ms"] = timings["ready_ms"] - timings["session_ms"]
    engine = Engine(manifest, parts[0], parts[1]["value"], parts[2], timings)
    await engine.classifier.restore()
    stages["restored"] = performance.now()
    return engine


async def main():
    page = Page()
    Tabs("tools").enable()
    page.show_backend_choice(saved_backend(), reload_on_backend)
    try:
        engine = await load_engine(page)
    except:  # noqa: E722
        message = describe(__except0__)
        page.show_status(message, "error")
        page.show_backend_failure()
        expose_failure(message)
        return None
    control = Controller(engine, page)
    await control.start()
    peers = PeersPanel(engine.gossip, page)
    peers.enable()

    async def peers_changed():
        peers.show()
        await control.refresh_all()
        return None

    expose(engine, control.refresh_all, control.refresh_synced, peers_changed)
    control.refresh_federation()   # in the background: the page is usable without the server
    if not page.shows_error():
        page.show_status("Ready. Type a text and press Predict.", "ready")
    return None


main()
