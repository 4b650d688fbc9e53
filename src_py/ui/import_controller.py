"""What the controls of the labelled-file import do: read and check a file, preview it, embed
its rows with a progress bar (cancellable, resumed after a reload), train on every example,
evaluate on a held-out split, export the examples. Acts through the engine's ``files`` (an
ExampleFiles) and ``classifier``; reports through the main controller (``host``)."""
from ui.dialogs import confirm
from ui.import_panel import ImportPanel, left_out_text

REFRESH_EVERY = 200   # rows between updates of the example counts while importing


def _label_question(plan):
    """What importing ``plan`` does to the labels, asked before it does it."""
    if len(plan["dropped_labels"]) > 0:
        return ("This page has no examples yet. Use the file's labels ("
                + ", ".join(plan["labels_after"]) + ") instead of "
                + ", ".join(plan["dropped_labels"]) + "?")
    return ("Add " + str(len(plan["new_labels"])) + " new label(s): "
            + ", ".join(plan["new_labels"]) + "?")


class ImportController:
    def __init__(self, engine, host):
        self.engine = engine
        self.files = engine.files
        self.host = host
        self.panel = ImportPanel()
        self.draft = None
        self.plan = None

    async def start(self):
        """Wire the panel; an import that a reload interrupted goes on by itself."""
        self.panel.enable({"file": self.choose_file, "columns": self.choose_columns,
                           "start": self.start_import, "cancel": self.files.cancel,
                           "resume": self.resume, "discard": self.discard,
                           "train": self.train, "evaluate": self.evaluate,
                           "export": self.export})
        pending = await self.files.pending()
        if pending is not None:
            self.panel.show_pending(pending)
            self.resume()   # in the background: the page is usable meanwhile
        return None

    def _replan(self, text_column, label_column):
        """Plan the import of the chosen file with these columns (raises AppError)."""
        self.plan = None
        self.panel.clear_plan(self.draft["table"]["columns"], text_column, label_column)
        self.plan = self.files.plan(self.draft, text_column, label_column)
        self.panel.show_plan(self.plan)
        return None

    async def choose_file(self, file):
        async def work():
            self.draft = None
            self.plan = None
            self.panel.clear_plan([], None, None)
            self.files.check_size(file.size)
            data = __new__(Uint8Array(await file.arrayBuffer()))
            self.draft = self.files.read(data, file.js_name, None)
            self._replan(self.draft["guess"]["text"], self.draft["guess"]["label"])

        await self.host.guarded(work, "Check the columns and the first rows, then press "
                                      + "Import examples.")
        return None

    async def choose_columns(self, text_column, label_column):
        async def work():
            if self.draft is not None:
                self._replan(text_column, label_column)

        await self.host.guarded(work, "Check the first rows, then press Import examples.")
        return None

    async def start_import(self):
        plan = self.plan
        if plan is None:
            return None
        if len(plan["new_labels"]) > 0 and not confirm(_label_question(plan)):
            self.host.page.show_status("Nothing was imported: the labels were left as they "
                                       + "were.", "info")
            return None
        self.draft = None
        self.plan = None
        self.panel.clear_plan([], None, None)
        await self._run(lambda on_progress: self.files.start(plan, on_progress))
        return None

    async def resume(self):
        await self._run(lambda on_progress: self.files.resume(on_progress))
        return None

    async def discard(self):
        async def work():
            await self.files.discard()
            self.panel.show_pending(None)

        await self.host.guarded(work, "The interrupted import was discarded; the examples it "
                                      + "added are kept.")
        return None

    def _progress(self, done, total):
        self.panel.show_progress(done, total)
        if done % REFRESH_EVERY == 0:
            self.host.refresh()
        return None

    async def _run(self, work):
        """Run an import (``work(on_progress)``) with the panel busy, then say what it did."""
        self.panel.set_running(True)
        self.panel.show_progress(0, 0)
        done = {}

        async def task():
            result = await work(self._progress)
            if result is not None:
                done["text"] = self._summary(result)

        await self.host.guarded(task, None)
        self.panel.set_running(False)
        self.host.refresh()
        if done["text"]:
            self.host.page.show_status(done["text"], "ready")
        self.panel.show_pending(await self.files.pending())   # kept when a row failed
        return None

    def _summary(self, result):
        left = left_out_text(result["skipped_by"])
        text = ("Import cancelled after adding " if result["cancelled"] else "Added ") \
            + str(result["added"]) + " examples" + (" (" + left + ")" if len(left) > 0 else "")
        if result["cancelled"]:
            return text + "; they are kept."
        return text + ". Press Train on all examples to use them."

    async def train(self):
        teach = self.host.teach
        epochs = teach.epoch_count()
        teach.set_busy(True)
        done = {}

        async def work():
            teach.start_training(epochs)

            def on_epoch(entry):
                teach.show_epoch(entry)

            history = await self.engine.classifier.train({"epochs": epochs}, on_epoch)
            last = history[len(history) - 1]
            done["text"] = ("Trained " + str(len(history)) + " epochs on "
                            + str(self.engine.classifier.trained["examples"]) + " examples: "
                            + "training accuracy " + (last["accuracy"] * 100).toFixed(1) + " %.")

        await self.host.guarded(work, None)
        teach.set_busy(False)
        if done["text"]:
            self.host.page.show_status(done["text"], "ready")
        return None

    async def evaluate(self, fraction):
        done = {}

        async def work():
            result = await self.engine.classifier.evaluate({"holdout": fraction})
            self.panel.show_holdout(result)
            done["text"] = ("Held-out accuracy " + (result["accuracy"] * 100).toFixed(1)
                            + " % on " + str(result["examples"]) + " examples.")

        self.panel.set_evaluating(True)
        await self.host.guarded(work, None)
        self.panel.set_evaluating(False)
        if done["text"]:
            self.host.page.show_status(done["text"], "ready")
        return None

    async def export(self):
        async def work():
            data = __new__(TextEncoder()).encode(self.files.export_csv())
            self.host.models.download(data, "examples.csv")

        await self.host.guarded(work, "Examples exported as examples.csv.")
        return None
