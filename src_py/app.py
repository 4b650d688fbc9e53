"""The page's entry point: loads the model, wires tokenizer → encoder → head to the page, and
exposes the automation API ``window.tinybert``."""
from assets import fetch_bytes, fetch_json
from classifier import Classifier
from embedding_cache import EmbeddingCache
from encoder import open_encoder, prepare_runtime
from errors import AppError, describe
from fl_client import FederationClient
from model_store import load_model_file
from settings import requested_backend, save_backend, saved_backend
from storage import open_storage
from tokenizer_client import TokenizerClient
from ui import Page
from ui_batch import BatchPanel
from ui_federation import FederationPanel
from ui_models import ModelsPanel
from ui_teach import TeachPanel

from tinybert_core.active import margin, uncertainty_order
from tinybert_core.csv_out import to_csv

EMBEDDING_CACHE_SIZE = 20000


def check_text(text, allow_blank):
    """Refuse non-text, and empty or blank text unless ``allow_blank`` (tokenising "" is fine)."""
    if not isinstance(text, str):
        raise AppError("Expected a text, got " + str(typeof(text)) + ".")
    if not allow_blank and len(text.strip()) == 0:
        raise AppError("Type a text first: there is nothing to classify.")


class App:
    """The loaded product: tokenizer, encoder and head for one model."""

    def __init__(self, manifest, tokenizer, encoder, storage, timings):
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.timings = timings
        self.embeddings = EmbeddingCache(manifest["files"][manifest["encoder_file"]]["sha256"],
                                         EMBEDDING_CACHE_SIZE)
        self.classifier = Classifier(manifest, self.embed, storage)
        self.federation = FederationClient(storage, "default")

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
        return self.classifier.predict(vector)

    async def suggest(self, texts, on_progress):
        """Which of ``texts`` to label next: all of them, least certain prediction first.

        Returns ``{index, text, label, confidence, margin}`` per text."""
        labels = self.classifier.labels()
        results = []
        for i in range(len(texts)):
            results.append(await self.predict(texts[i]))
            if on_progress is not None:
                on_progress(i + 1, len(texts))
        rows = [[result["scores"][label] for label in labels] for result in results]
        items = []
        for i in uncertainty_order(rows):
            items.append({"index": i, "text": texts[i], "label": results[i]["label"],
                          "confidence": results[i]["scores"][results[i]["label"]],
                          "margin": margin(rows[i])})
        return items

    async def backend(self):
        return self.encoder.info()

    async def labels(self):
        return self.classifier.labels()

    async def stats(self):
        """Start-up timings (ms), where the model came from, and embedding-cache counters."""
        return {"timings": self.timings, "embeddings": self.embeddings.stats()}


async def _start_tokenizer(manifest):
    tokenizer = TokenizerClient()
    await tokenizer.init(await fetch_json("tokenizer.json"), manifest["max_length"])
    return tokenizer


async def _prepare_runtime(manifest):
    warmup = fetch_bytes(manifest["warmup_file"]) if manifest["warmup_file"] else None
    return await prepare_runtime(requested_backend(), warmup)


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


async def load_app(page):
    """Fetch and start everything. The database, the tokenizer, the runtime's WebAssembly and
    the model download proceed at the same time; the model's hash is checked while the
    session is built from it. ``stats().timings.stages`` says when each part was done."""
    started = performance.now()
    stages = {"script": started}
    timings = {"stages": stages}
    page.show_status("Loading the model…", "info")
    storage = _stamp(stages, "storage", _open_storage_or_none(page))
    manifest = await fetch_json("manifest.json")
    stages["manifest"] = performance.now()
    name = manifest["encoder_file"]
    runtime = _stamp(stages, "runtime", _prepare_runtime(manifest))

    async def build(data):
        page.show_status("Starting the encoder…", "info")
        stages["model_bytes"] = performance.now()
        prepared = await runtime
        for key in __pragma__("js", "{}", "Object.keys(prepared.stages)"):
            stages["runtime_" + key] = prepared["stages"][key]
        ready = performance.now()
        encoder = await open_encoder(prepared, data, manifest)
        stages["session"] = performance.now()
        timings["session_ms"] = stages["session"] - ready
        return encoder

    parts = await Promise.all([
        _stamp(stages, "tokenizer", _start_tokenizer(manifest)),
        _stamp(stages, "model_checked", load_model_file(name, manifest["files"][name],
                                                        page.show_progress, build, _release)),
        storage,
    ])
    timings["model_source"] = parts[1]["source"]
    timings["ready_ms"] = performance.now() - started
    timings["model_ms"] = timings["ready_ms"] - timings["session_ms"]
    app = App(manifest, parts[0], parts[1]["value"], parts[2], timings)
    await app.classifier.restore()
    stages["restored"] = performance.now()
    return app


def js_method(method, after):
    """Wrap an async method for JS callers: failures reject with a JS Error and a clear message.

    after: None, or an async function run after a successful call (to refresh the page)."""

    async def call(*args):
        try:
            result = await method(*args)
        except:  # noqa: E722 - JS errors are not Python exceptions here
            raise __new__(Error(describe(__except0__)))
        if after is not None:
            await after()
        return result

    return call


def expose(app, changed, synced):
    """Publish ``window.tinybert``; ``changed()`` runs after every call that changes state, so
    the page always shows what scripts did (``synced()`` after federation calls)."""
    c = app.classifier

    async def add_example(text, label):
        check_text(text, False)
        return await c.add_example(text, label)

    async def train(options):
        return await c.train(options, None)

    async def examples():
        return c.examples()

    async def counts():
        return c.counts()

    async def export_head():
        return c.export_head()

    async def suggest(texts):
        return await app.suggest(texts, None)

    async def send_delta(options):
        return await app.federation.send_delta(c, options)

    async def apply_aggregate():
        return await app.federation.apply_aggregate(c)

    window.tinybert = {
        "tokenize": js_method(app.tokenize, None),
        "embed": js_method(app.embed, None),
        "predict": js_method(app.predict, None),
        "backend": js_method(app.backend, None),
        "labels": js_method(app.labels, None),
        "stats": js_method(app.stats, None),
        "addExample": js_method(add_example, changed),
        "deleteExample": js_method(c.delete_example, changed),
        "train": js_method(train, changed),
        "setLabels": js_method(c.set_labels, changed),
        "renameLabel": js_method(c.rename_label, changed),
        "examples": js_method(examples, None),
        "counts": js_method(counts, None),
        "evaluate": js_method(c.evaluate, None),
        "save": js_method(c.save, changed),
        "load": js_method(c.load, changed),
        "deleteModel": js_method(c.delete_model, changed),
        "listModels": js_method(c.list_models, None),
        "exportHead": js_method(export_head, None),
        "importHead": js_method(c.import_head, changed),
        "sendDelta": js_method(send_delta, synced),
        "applyAggregate": js_method(apply_aggregate, synced),
        "federation": js_method(app.federation.status, None),
        "suggest": js_method(suggest, None),
    }


def on_backend_choice(value):
    """Save the user's backend choice and reload so that the encoder starts on it."""
    save_backend(value)
    url = __new__(URL(window.location.href))
    url.searchParams.delete("backend")
    window.location.assign(url.toString())


class Controller:
    """What the page's controls do: each handler reports success or the error in the status."""

    def __init__(self, app, page, teach, models, federation, batch):
        self.batch = batch
        self.batch_rows = []
        self.app = app
        self.page = page
        self.teach = teach
        self.models = models
        self.federation = federation
        self.classifier = app.classifier

    async def guarded(self, work, success):
        """Run ``work()``; show ``success`` (or the error, in plain words) in the status line."""
        try:
            await work()
            if success:
                self.page.show_status(success, "ready")
        except:  # noqa: E722
            self.page.show_status(describe(__except0__), "error")
        return None

    def refresh(self):
        labels = self.classifier.labels()
        self.teach.show_labels(labels, self.teach.feedback.value)
        self.teach.show_counts(self.classifier.counts())
        return None

    async def refresh_models(self):
        self.models.show_models(await self.classifier.list_models())
        return None

    async def refresh_all(self):
        self.refresh()
        await self.refresh_models()
        return None

    async def refresh_synced(self):
        await self.refresh_all()
        await self.refresh_federation()
        return None

    async def refresh_federation(self):
        """Show the federation's state; an unreachable server is reported, not fatal."""
        try:
            self.federation.show_status(await self.app.federation.status())
        except:  # noqa: E722
            self.federation.show_unreachable(describe(__except0__))
        sent = self.app.federation.last["sent"]
        if sent:
            self.federation.show_sent(sent)
        return None

    async def _predict_lines(self, lines):
        """Predictions for each line, yielding to the browser between texts."""
        if len(lines) == 0:
            raise AppError("Paste some texts first, one per line.")
        results = []
        for i in range(len(lines)):
            results.append(await self.app.predict(lines[i]))
            self.batch.show_progress(i + 1, len(lines))
            if i % 8 == 7:
                await __new__(Promise(lambda resolve: setTimeout(resolve, 0)))
        return results

    async def classify_batch(self, lines):
        self.batch.set_busy(True)

        async def work():
            results = await self._predict_lines(lines)
            self.batch_rows = [[lines[i], results[i]["label"],
                                results[i]["scores"][results[i]["label"]]]
                               for i in range(len(lines))]
            self.batch.show_results(self.batch_rows)

        await self.guarded(work, "Classified " + str(len(lines)) + " texts.")
        self.batch.set_busy(False)
        return None

    def download_csv(self):
        rows = [[row[0], row[1], row[2].toFixed(4)] for row in self.batch_rows]
        data = __new__(TextEncoder()).encode(to_csv(["text", "label", "confidence"], rows))
        self.models.download(data, "predictions.csv")
        return None

    async def suggest(self, lines):
        self.batch.set_busy(True)

        async def work():
            if len(lines) == 0:
                raise AppError("Paste some texts first, one per line.")
            items = await self.app.suggest(lines, self.batch.show_progress)
            self.batch.show_suggestions(items, self.pick)

        await self.guarded(work, "Suggested order: label the first texts first — the model is "
                                 + "least sure about them.")
        self.batch.set_busy(False)
        return None

    async def pick(self, text):
        """Put a suggested text in the text box and predict it, ready to be labelled."""
        self.page.text.value = text
        self.page.text.focus()
        await self.predict(text)
        return None

    async def send_delta(self):
        self.federation.set_busy(True)
        done = {}

        async def work():
            sent = await self.app.federation.send_delta(
                self.classifier, {"epochs": self.teach.epoch_count()})
            done["text"] = ("Sent a delta of " + str(sent["bytes"]) + " bytes to round "
                            + str(sent["round"]) + ". Your texts stayed in this browser.")
            await self.refresh_federation()

        await self.guarded(work, None)
        if done["text"]:
            self.page.show_status(done["text"], "ready")
        self.federation.set_busy(False)
        return None

    async def apply_aggregate(self):
        self.federation.set_busy(True)
        done = {}

        async def work():
            result = await self.app.federation.apply_aggregate(self.classifier)
            done["text"] = "Now using the federation's head v" + str(result["version"]) + "."
            self.refresh()
            await self.refresh_federation()
            if len(self.page.text.value.strip()) > 0:
                started = performance.now()
                prediction = await self.app.predict(self.page.text.value)
                self.page.show_prediction(prediction, self.classifier.labels(),
                                          performance.now() - started)

        await self.guarded(work, None)
        if done["text"]:
            self.page.show_status(done["text"], "ready")
        self.federation.set_busy(False)
        return None

    async def predict(self, text):
        self.page.set_busy(True)
        started = performance.now()

        async def work():
            result = await self.app.predict(text)
            self.page.show_prediction(result, self.classifier.labels(), performance.now() - started)
            self.teach.select_feedback(result["label"])

        await self.guarded(work, "Ready.")
        self.page.set_busy(False)
        return None

    async def train(self, label, epochs):
        text = self.page.text.value
        self.teach.set_busy(True)

        async def work():
            check_text(text, False)
            await self.classifier.add_example(text, label)
            self.refresh()
            self.teach.start_training(epochs)

            def on_epoch(entry):
                self.teach.show_epoch(entry)

            history = await self.classifier.train({"epochs": epochs}, on_epoch)
            started = performance.now()
            result = await self.app.predict(text)
            self.page.show_prediction(result, self.classifier.labels(), performance.now() - started)
            last = history[len(history) - 1]
            self.page.show_status("Trained " + str(len(history)) + " epochs on "
                                  + str(self.classifier.trained["examples"]) + " examples: "
                                  + "training accuracy " + (last["accuracy"] * 100).toFixed(1)
                                  + " %. This text is now: " + result["label"] + ".", "ready")

        await self.guarded(work, None)
        self.teach.set_busy(False)
        return None

    async def add_only(self, label):
        text = self.page.text.value

        async def work():
            check_text(text, False)
            await self.classifier.add_example(text, label)
            self.refresh()

        await self.guarded(work, "Example saved as " + label + ". Train to use it.")
        return None

    async def add_label(self, name):
        async def work():
            await self.classifier.set_labels(self.classifier.labels().concat([name]))
            self.refresh()

        await self.guarded(work, "Label added.")
        return None

    async def rename(self, old):
        name = window.prompt("New name for the label " + old + ":", old)
        if name is None or name == old:
            return None

        async def work():
            await self.classifier.rename_label(old, name)
            self.refresh()

        await self.guarded(work, "Label renamed; its examples and what the model learned for it "
                                 + "were kept.")
        return None

    async def remove(self, label):
        async def work():
            await self.classifier.set_labels(
                [name for name in self.classifier.labels() if name != label])
            self.refresh()

        await self.guarded(work, "Label " + label + " removed. Its examples are kept aside "
                                 + "(not trained on) and come back if you add the label again.")
        return None

    async def evaluate(self):
        async def work():
            self.teach.show_evaluation(await self.classifier.evaluate())

        await self.guarded(work, "Accuracy estimated by cross-validation.")
        return None

    async def save(self, name):
        saved = {}

        async def work():
            result = await self.classifier.save(name)
            saved["text"] = "Saved " + result["name"] + " v" + str(result["version"]) + "."
            await self.refresh_models()

        await self.guarded(work, None)
        if saved["text"]:
            self.page.show_status(saved["text"], "ready")
        return None

    async def load(self, name):
        async def work():
            await self.classifier.load(name, None)
            self.refresh()

        await self.guarded(work, "Loaded " + str(name) + ".")
        return None

    async def delete(self, name):
        if not window.confirm("Delete every version of the saved model " + name + "?"):
            return None

        async def work():
            await self.classifier.delete_model(name)
            await self.refresh_models()

        await self.guarded(work, "Deleted " + str(name) + ".")
        return None

    async def export(self):
        async def work():
            self.models.download(self.classifier.export_head(), "head.safetensors")

        await self.guarded(work, "Head exported as head.safetensors.")
        return None

    async def import_bytes(self, data):
        async def work():
            await self.classifier.import_head(data)
            self.refresh()

        await self.guarded(work, "Head imported.")
        return None


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
    teach = TeachPanel()
    models = ModelsPanel()
    federation = FederationPanel()
    batch = BatchPanel()
    control = Controller(app, page, teach, models, federation, batch)
    page.show_backend(app.encoder.info())
    page.enable(control.predict)
    teach.enable({"train": control.train, "add": control.add_only, "add_label": control.add_label,
                  "rename": control.rename, "remove": control.remove,
                  "evaluate": control.evaluate})
    models.enable({"save": control.save, "load": control.load, "delete": control.delete,
                   "export": control.export, "import_bytes": control.import_bytes})
    federation.enable(control.send_delta, control.apply_aggregate)
    batch.enable(control.classify_batch, control.suggest, control.download_csv)
    await control.refresh_all()
    expose(app, control.refresh_all, control.refresh_synced)
    control.refresh_federation()   # in the background: the page is usable without the server
    if page.status.className.indexOf("error") < 0:
        page.show_status("Ready. Type a text and press Predict.", "ready")
    return None


main()
