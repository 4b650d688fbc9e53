"""DOM of the labelled-file import: the file picker and drop zone, the column choice, the
preview, the progress of embedding, an interrupted import, and the held-out evaluation."""
from ui.dom import cell, element, fill_confusion

LEFT_OUT = [["existing", "row already an example", "rows already examples"],
            ["duplicates", "repeated text", "repeated texts"],
            ["conflicts", "row of a text with two labels", "rows of texts with two labels"],
            ["empty", "row without text or label", "rows without text or label"],
            ["malformed", "row with more fields than the header",
             "rows with more fields than the header"]]


def _percent(value):
    return "—" if value is None else (value * 100).toFixed(1) + "\u00a0%"


def _options(select, names, chosen):
    select.innerHTML = ""
    for name in names:
        option = document.createElement("option")
        option.value = name
        option.textContent = name
        select.appendChild(option)
    select.value = chosen if chosen is not None else ""
    select.disabled = len(names) == 0
    return None


def left_out_text(skipped):
    """"left out: 3 repeated texts, 1 row without text or label" (or "" when nothing was)."""
    parts = []
    for entry in LEFT_OUT:
        count = skipped[entry[0]]
        if count > 0:
            parts.append(str(count) + " " + (entry[1] if count == 1 else entry[2]))
    return "" if len(parts) == 0 else "left out: " + ", ".join(parts)


class ImportPanel:
    """The controls of the "Bring labelled examples" section, by their ids in index.html."""

    def __init__(self):
        self.file = element("import-data-file")
        self.drop = element("import-drop")
        self.text_column = element("import-text-column")
        self.label_column = element("import-label-column")
        self.summary = element("import-summary")
        self.preview = element("import-preview")
        self.start_button = element("import-start")
        self.cancel_button = element("import-cancel")
        self.progress = element("import-progress")
        self.progress_text = element("import-progress-text")
        self.pending = element("import-pending")
        self.pending_text = element("import-pending-text")
        self.resume_button = element("import-resume")
        self.discard_button = element("import-discard")
        self.train_button = element("train-all")
        self.holdout = element("holdout-percent")
        self.evaluate_button = element("evaluate-holdout")
        self.accuracy = element("holdout-accuracy")
        self.per_label = element("holdout-labels")
        self.confusion = element("holdout-confusion")
        self.export_button = element("export-examples")

    def enable(self, handlers):
        """Wire the controls. handlers: file(File), columns(text, label), start(), cancel(),
        resume(), discard(), train(), evaluate(fraction), export()."""
        def on_file(event):
            files = self.file.files
            if files.length > 0:
                handlers["file"](files[0])
            self.file.value = ""

        def on_drag(event):
            event.preventDefault()
            self.drop.classList.add("over")

        def on_drop(event):
            event.preventDefault()
            self.drop.classList.remove("over")
            files = event.dataTransfer.files if event.dataTransfer else None
            # While an import runs the picker is disabled; a dropped file waits as well.
            if files and files.length > 0 and not self.file.disabled:
                handlers["file"](files[0])

        def on_columns(event):
            handlers["columns"](self.text_column.value, self.label_column.value)

        self.file.addEventListener("change", on_file)
        self.drop.addEventListener("dragover", on_drag)
        self.drop.addEventListener("dragleave", lambda event: self.drop.classList.remove("over"))
        self.drop.addEventListener("drop", on_drop)
        self.text_column.addEventListener("change", on_columns)
        self.label_column.addEventListener("change", on_columns)
        self.start_button.addEventListener("click", lambda event: handlers["start"]())
        self.cancel_button.addEventListener("click", lambda event: handlers["cancel"]())
        self.resume_button.addEventListener("click", lambda event: handlers["resume"]())
        self.discard_button.addEventListener("click", lambda event: handlers["discard"]())
        self.train_button.addEventListener("click", lambda event: handlers["train"]())
        self.evaluate_button.addEventListener(
            "click", lambda event: handlers["evaluate"](self.holdout_fraction()))
        self.export_button.addEventListener("click", lambda event: handlers["export"]())
        for button in [self.train_button, self.evaluate_button, self.export_button]:
            button.disabled = False
        return None

    def holdout_fraction(self):
        """The hold-out share typed in, as a fraction (the core refuses one outside 0-1)."""
        return float(self.holdout.value) / 100

    def show_plan(self, plan):
        """Show the columns, what the file adds (per label, new labels, what is left out) and
        its first rows; Import is enabled when there is something to add."""
        _options(self.text_column, plan["columns"], plan["text_column"])
        _options(self.label_column, plan["columns"], plan["label_column"])
        counts = [plan["labels"][i] + " " + str(plan["counts"][i])
                  for i in range(len(plan["labels"]))]
        parts = [plan["name"] + ": " + str(plan["records"]) + " rows, "
                 + str(len(plan["rows"])) + " examples to add (" + ", ".join(counts) + ")"]
        left = left_out_text(plan["skipped"])
        if len(left) > 0:
            parts.append(left)
        if len(plan["dropped_labels"]) > 0:
            parts.append("its labels replace " + ", ".join(plan["dropped_labels"])
                         + " (no examples yet)")
        elif len(plan["new_labels"]) > 0:
            parts.append("new labels: " + ", ".join(plan["new_labels"]))
        self.summary.textContent = "; ".join(parts) + "."
        self.preview.innerHTML = ""
        header = document.createElement("tr")
        header.appendChild(cell("th", "Text"))
        header.appendChild(cell("th", "Label"))
        self.preview.appendChild(header)
        for row in plan["preview"]:
            line = document.createElement("tr")
            line.appendChild(cell("td", row[0]))
            line.appendChild(cell("td", row[1]))
            self.preview.appendChild(line)
        self.start_button.disabled = len(plan["rows"]) == 0
        return None

    def clear_plan(self, columns, text_column, label_column):
        """Show no plan (a file is being read, or was refused), with the file's ``columns``
        to choose from ([] when there is no file)."""
        _options(self.text_column, columns, text_column)
        _options(self.label_column, columns, label_column)
        self.summary.textContent = ""
        self.preview.innerHTML = ""
        self.start_button.disabled = True
        return None

    def set_evaluating(self, busy):
        self.evaluate_button.disabled = busy
        return None

    def set_running(self, running):
        """While rows are embedded, only Cancel works (a second import waits for this one)."""
        self.cancel_button.disabled = not running
        for control in [self.start_button, self.file, self.text_column, self.label_column,
                        self.train_button, self.evaluate_button]:
            control.disabled = running
        if running:
            self.pending.hidden = True
        return None

    def show_progress(self, done, total):
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.progress_text.textContent = str(done) + " / " + str(total)
        return None

    def show_pending(self, pending):
        """An import a reload or a failure interrupted (``{name, done, total}``), or None."""
        self.pending.hidden = pending is None
        if pending is not None:
            self.pending_text.textContent = ("The import of " + (pending["name"] or "a file")
                                             + " stopped after " + str(pending["done"]) + " of "
                                             + str(pending["total"]) + " examples.")
        return None

    def show_holdout(self, result):
        """Accuracy, precision and recall per label, and the confusion matrix."""
        self.accuracy.textContent = (
            "Held-out accuracy: " + _percent(result["accuracy"]) + " on "
            + str(result["examples"]) + " examples (" + _percent(result["fraction"])
            + " of each label, the head trained on the other " + str(result["train_examples"])
            + "; your head was not changed).")
        self.per_label.innerHTML = ""
        header = document.createElement("tr")
        for name in ["Label", "Precision", "Recall", "F1", "Examples"]:
            header.appendChild(cell("th", name))
        self.per_label.appendChild(header)
        for entry in result["per_label"]:
            row = document.createElement("tr")
            row.appendChild(cell("td", entry["label"]))
            row.appendChild(cell("td", _percent(entry["precision"])))
            row.appendChild(cell("td", _percent(entry["recall"])))
            row.appendChild(cell("td", _percent(entry["f1"])))
            row.appendChild(cell("td", str(entry["support"])))
            self.per_label.appendChild(row)
        fill_confusion(self.confusion, result["labels"], result["confusion"])
        return None
