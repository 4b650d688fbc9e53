"""The page's entry point: loads the model, wires tokenizer → encoder → head to the page, and
exposes the automation API ``window.tinybert``."""
from assets import fetch_json
from core.head import LinearHead
from embedding_cache import EmbeddingCache
from encoder import open_encoder
from errors import AppError, describe
from model_store import load_model_file
from settings import requested_backend, save_backend, saved_backend
from tokenizer_client import TokenizerClient
from ui import Page

DEFAULT_LABELS = ["Dev", "Meeting", "Email"]
EMBEDDING_CACHE_SIZE = 20000


def check_text(text, allow_blank):
    """Refuse non-text, and empty or blank text unless ``allow_blank`` (tokenising "" is fine)."""
    if not isinstance(text, str):
        raise AppError("Expected a text, got " + str(typeof(text)) + ".")
    if not allow_blank and len(text.strip()) == 0:
        raise AppError("Type a text first: there is nothing to classify.")


class App:
    """The loaded product: tokenizer, encoder and head for one model."""

    def __init__(self, manifest, tokenizer, encoder, head, timings):
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.head = head
        self.timings = timings
        self.embeddings = EmbeddingCache(manifest["files"][manifest["encoder_file"]]["sha256"],
                                         EMBEDDING_CACHE_SIZE)

    async def tokenize(self, text):
        check_text(text, True)
        return await self.tokenizer.encode(text)

    async def embed(self, text):
        """The embedding the head sees; a known text comes from the cache, not the encoder."""
        check_text(text, False)
        vector = self.embeddings.lookup(text)
        if vector is not None:
            return vector
        ids = await self.tokenizer.encode(text)
        vector = await self.encoder.embed_ids(ids)
        self.embeddings.store(text, vector)
        return vector

    async def predict(self, text):
        vector = await self.embed(text)
        return self.head.predict(vector)

    async def backend(self):
        return self.encoder.info()

    async def labels(self):
        return [label for label in self.head.labels]

    async def stats(self):
        """Start-up timings (ms), where the model came from, and embedding-cache counters."""
        return {"timings": self.timings, "embeddings": self.embeddings.stats()}


async def load_app(page):
    started = performance.now()
    page.show_status("Loading the model…", "info")
    manifest = await fetch_json("manifest.json")
    tokenizer = TokenizerClient()
    tokenizer_ready = tokenizer.init(await fetch_json("tokenizer.json"), manifest["max_length"])
    name = manifest["encoder_file"]
    model = await load_model_file("model/" + name, manifest["files"][name], page.show_progress)
    fetched = performance.now()
    page.show_status("Starting the encoder…", "info")
    encoder = await open_encoder(model["bytes"], manifest, requested_backend())
    await tokenizer_ready
    timings = {"model_source": model["source"], "model_ms": fetched - started,
               "session_ms": performance.now() - fetched, "ready_ms": performance.now() - started}
    head = LinearHead(DEFAULT_LABELS, manifest["hidden_size"])
    return App(manifest, tokenizer, encoder, head, timings)


def js_method(method):
    """Wrap an async method for JS callers: failures reject with a JS Error and a clear message."""

    async def call(*args):
        try:
            return await method(*args)
        except:  # noqa: E722 - JS errors are not Python exceptions here
            raise __new__(Error(describe(__except0__)))

    return call


def expose(app):
    window.tinybert = {
        "tokenize": js_method(app.tokenize),
        "embed": js_method(app.embed),
        "predict": js_method(app.predict),
        "backend": js_method(app.backend),
        "labels": js_method(app.labels),
        "stats": js_method(app.stats),
    }


def on_backend_choice(value):
    """Save the user's backend choice and reload so that the encoder starts on it."""
    save_backend(value)
    url = __new__(URL(window.location.href))
    url.searchParams.delete("backend")
    window.location.assign(url.toString())


async def main():
    page = Page()
    page.show_backend_choice(saved_backend(), on_backend_choice)
    try:
        app = await load_app(page)
    except:  # noqa: E722
        message = describe(__except0__)
        page.show_status(message, "error")
        page.show_backend_failure()
        window.tinybertError = message
        return None

    async def on_predict(text):
        page.set_busy(True)
        try:
            started = performance.now()
            result = await app.predict(text)
            page.show_prediction(result, app.head.labels, performance.now() - started)
            page.show_status("Ready.", "ready")
        except:  # noqa: E722
            page.show_status(describe(__except0__), "error")
        page.set_busy(False)
        return None

    page.show_backend(app.encoder.info())
    page.enable(on_predict)
    expose(app)
    page.show_status("Ready. Type a text and press Predict.", "ready")
    return None


main()
