"""The page's entry point: loads the model, wires tokenizer → encoder → head to the page, and
exposes the automation API ``window.tinybert``."""
from assets import fetch_bytes, fetch_json
from core.head import LinearHead
from encoder import open_encoder
from errors import AppError, describe
from tokenizer_client import TokenizerClient
from ui import Page

DEFAULT_LABELS = ["Dev", "Meeting", "Email"]


def check_text(text, allow_blank):
    """Refuse non-text, and empty or blank text unless ``allow_blank`` (tokenising "" is fine)."""
    if not isinstance(text, str):
        raise AppError("Expected a text, got " + str(typeof(text)) + ".")
    if not allow_blank and len(text.strip()) == 0:
        raise AppError("Type a text first: there is nothing to classify.")


class App:
    """The loaded product: tokenizer, encoder and head for one model."""

    def __init__(self, manifest, tokenizer, encoder, head):
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.head = head

    async def tokenize(self, text):
        check_text(text, True)
        return await self.tokenizer.encode(text)

    async def embed(self, text):
        check_text(text, False)
        ids = await self.tokenizer.encode(text)
        return await self.encoder.embed_ids(ids)

    async def predict(self, text):
        vector = await self.embed(text)
        return self.head.predict(vector)

    async def backend(self):
        return self.encoder.info()

    async def labels(self):
        return [label for label in self.head.labels]


def requested_backend():
    """The backend forced by the URL (``?backend=wasm`` or ``webgpu``), else None."""
    value = __new__(URLSearchParams(window.location.search)).js_get("backend")
    if value == "wasm" or value == "webgpu":
        return value
    return None


async def load_app(page):
    page.show_status("Loading the model…", "info")
    manifest = await fetch_json("manifest.json")
    tokenizer_json = await fetch_json("tokenizer.json")
    tokenizer = TokenizerClient()
    await tokenizer.init(tokenizer_json, manifest["max_length"])
    model_bytes = await fetch_bytes(manifest["encoder_file"])
    page.show_status("Starting the encoder…", "info")
    encoder = await open_encoder(model_bytes, manifest["hidden_size"], requested_backend())
    head = LinearHead(DEFAULT_LABELS, manifest["hidden_size"])
    return App(manifest, tokenizer, encoder, head)


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
    }


async def main():
    page = Page()
    try:
        app = await load_app(page)
    except:  # noqa: E722
        page.show_status(describe(__except0__), "error")
        window.tinybertError = describe(__except0__)
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
