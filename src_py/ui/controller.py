"""What each control of the page does: every handler acts through the engine (the services)
and reports success, or the error in plain words, in the status line."""
from services.api_client import set_wait_listener
from services.engine import check_text
from services.errors import AppError, describe
from settings import BATCH_YIELD_EVERY
from tinybert_core.csv_out import to_csv
from ui.batch import BatchPanel
from ui.dialogs import ask_text, confirm
from ui.federation import FederationPanel
from ui.import_controller import ImportController
from ui.models import ModelsPanel
from ui.teach import TeachPanel


class Controller:
    """The handlers of the page's controls, acting on ``engine`` (an Engine). ``page`` (the
    Page) was made before the model loaded; the other panels are made here."""

    def __init__(self, engine, page):
        self.engine = engine
        self.classifier = engine.classifier
        self.page = page
        self.teach = TeachPanel()
        self.models = ModelsPanel()
        self.federation = FederationPanel()
        self.batch = BatchPanel()
        self.batch_rows = []
        self.imports = ImportController(engine, self)

    async def start(self):
        """Show the backend, wire every control to its handler, show the labels, counts and
        saved models, and go on with an import a reload interrupted. (The federation's state
        is the caller's to fetch: the page is usable without the server.)"""
        self.page.show_backend(self.engine.encoder.info())
        self.page.enable(self.predict)
        self.teach.enable({"train": self.train, "add": self.add_only,
                           "add_label": self.add_label, "rename": self.rename,
                           "remove": self.remove, "evaluate": self.evaluate})
        self.models.enable({"save": self.save, "load": self.load, "delete": self.delete,
                            "export": self.export, "import_bytes": self.import_bytes})
        self.federation.enable(self.send_delta, self.apply_aggregate)
        self.engine.federation.listener = self.federation.show_progress
        set_wait_listener(lambda message: self.page.show_status(message, "info"))
        self.batch.enable(self.classify_batch, self.suggest, self.download_csv)
        await self.refresh_all()
        await self.imports.start()
        return None

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
            self.federation.show_status(await self.engine.federation.status())
        except:  # noqa: E722
            self.federation.show_unreachable(describe(__except0__))
        sent = self.engine.federation.last["sent"]
        if sent:
            self.federation.show_sent(sent)
        return None

    async def _predict_lines(self, lines):
        """Predictions for each line, yielding to the browser between texts."""
        if len(lines) == 0:
            raise AppError("Paste some texts first, one per line.")
        results = []
        for i in range(len(lines)):
            results.append(await self.engine.predict(lines[i]))
            self.batch.show_progress(i + 1, len(lines))
            if i % BATCH_YIELD_EVERY == BATCH_YIELD_EVERY - 1:
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
            items = await self.engine.suggest(lines, self.batch.show_progress)
            self.batch.show_suggestions(items, self.pick)

        await self.guarded(work, "Suggested order: label the first texts first — the model is "
                                 + "least sure about them.")
        self.batch.set_busy(False)
        return None

    async def pick(self, text):
        """Put a suggested text in the text box and predict it, ready to be labelled."""
        self.page.put_text(text)
        await self.predict(text)
        return None

    async def send_delta(self):
        self.federation.set_busy(True)
        done = {}

        async def work():
            sent = await self.engine.federation.send_delta(
                self.classifier, {"epochs": self.teach.epoch_count()})
            if sent["mode"] == "secure":
                done["text"] = ("Secure round " + str(sent["round"]) + " " + sent["outcome"]
                                + ". Your texts stayed in this browser.")
            else:
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
            result = await self.engine.federation.apply_aggregate(self.classifier)
            done["text"] = "Now using the federation's head v" + str(result["version"]) + "."
            self.refresh()
            await self.refresh_federation()
            text = self.page.current_text()
            if len(text.strip()) > 0:
                started = performance.now()
                prediction = await self.engine.predict(text)
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
            result = await self.engine.predict(text)
            self.page.show_prediction(result, self.classifier.labels(), performance.now() - started)
            self.teach.select_feedback(result["label"])

        await self.guarded(work, "Ready.")
        self.page.set_busy(False)
        return None

    async def train(self, label, epochs):
        text = self.page.current_text()
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
            result = await self.engine.predict(text)
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
        text = self.page.current_text()

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
        name = ask_text("New name for the label " + old + ":", old)
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
            self.teach.show_evaluation(await self.classifier.evaluate(None))

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
        if not confirm("Delete every version of the saved model " + name + "?"):
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
