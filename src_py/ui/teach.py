"""DOM of the teaching controls: feedback, training progress, label editor, counts, metrics."""
from ui.chart import draw_history
from ui.dom import cell, element, fill_confusion


def _button(text, label, on_click):
    button = document.createElement("button")
    button.js_type = "button"
    button.textContent = text
    button.setAttribute("aria-label", label)
    button.addEventListener("click", lambda event: on_click())
    return button


class TeachPanel:
    """Feedback label, Train on Feedback, per-epoch log, labels, example counts, metrics."""

    def __init__(self):
        self.feedback = element("feedback-label")
        self.epochs = element("epochs")
        self.train_button = element("train")
        self.add_button = element("add-example")
        self.progress = element("train-progress")
        self.chart = element("train-chart")
        self.history = []
        self.log = element("epoch-log").querySelector("tbody")
        self.label_list = element("label-list")
        self.new_label = element("new-label")
        self.add_label_button = element("add-label")
        self.counts = element("example-counts")
        self.evaluate_button = element("evaluate")
        self.cv = element("cv-accuracy")
        self.confusion = element("confusion")

    def enable(self, handlers):
        """Wire the controls. handlers: train(label, epochs), add(label), add_label(name),
        rename(old), remove(name), evaluate()."""
        self.handlers = handlers
        self.train_button.addEventListener(
            "click", lambda event: handlers["train"](self.feedback.value, self.epoch_count()))
        self.add_button.addEventListener("click",
                                         lambda event: handlers["add"](self.feedback.value))
        self.add_label_button.addEventListener("click", lambda event: self._add_label())

        def on_key(event):
            if event.key == "Enter":
                event.preventDefault()
                self._add_label()

        self.new_label.addEventListener("keydown", on_key)
        self.evaluate_button.addEventListener("click", lambda event: handlers["evaluate"]())
        document.addEventListener("keydown", self._on_number_key)
        for button in [self.train_button, self.add_button, self.add_label_button,
                       self.evaluate_button]:
            button.disabled = False

    def _on_number_key(self, event):
        """Keys 1–9 pick the correct label, unless the user is typing in a field."""
        target = event.target
        tag = target.tagName if target else ""
        typing = (tag == "INPUT" or tag == "TEXTAREA"
                  or (tag == "SELECT" and target != self.feedback))
        if typing or event.ctrlKey or event.altKey or event.metaKey:
            return None
        if len(event.key) == 1 and event.key >= "1" and event.key <= "9":
            index = int(event.key) - 1
            if index < self.feedback.options.length:
                event.preventDefault()
                self.feedback.selectedIndex = index
        return None

    def _add_label(self):
        name = self.new_label.value
        self.new_label.value = ""
        self.handlers["add_label"](name)

    def epoch_count(self):
        value = int(self.epochs.value)
        return value if value >= 1 else 5

    def set_busy(self, busy):
        for button in [self.train_button, self.add_button, self.evaluate_button]:
            button.disabled = busy

    def show_labels(self, labels, selected):
        """Fill the feedback list and the label editor with ``labels``."""
        self.feedback.innerHTML = ""
        for i in range(len(labels)):
            option = document.createElement("option")
            option.value = labels[i]
            option.textContent = (str(i + 1) + " · " if i < 9 else "") + labels[i]
            self.feedback.appendChild(option)
        if selected in labels:
            self.feedback.value = selected
        self.label_list.innerHTML = ""
        for label in labels:
            self.label_list.appendChild(self._label_row(label, len(labels) > 1))

    def _label_row(self, label, removable):
        row = document.createElement("li")
        name = cell("span", label)
        name.className = "label-name"
        row.appendChild(name)
        handlers = self.handlers
        row.appendChild(_button("Rename", "Rename " + label, lambda: handlers["rename"](label)))
        remove = _button("Remove", "Remove " + label, lambda: handlers["remove"](label))
        remove.disabled = not removable
        row.appendChild(remove)
        return row

    def select_feedback(self, label):
        self.feedback.value = label

    def start_training(self, epochs):
        self.progress.max = epochs
        self.progress.value = 0
        self.log.innerHTML = ""
        self.history = []
        draw_history(self.chart, self.history)

    def show_epoch(self, entry):
        self.progress.value = entry["epoch"]
        row = document.createElement("tr")
        row.appendChild(cell("td", str(entry["epoch"])))
        row.appendChild(cell("td", entry["loss"].toPrecision(3)))
        row.appendChild(cell("td", (entry["accuracy"] * 100).toFixed(1) + " %"))
        self.log.appendChild(row)
        self.history.append(entry)
        draw_history(self.chart, self.history)

    def show_counts(self, counts):
        parts = []
        for label in __pragma__("js", "{}", "Object.keys(counts.per_label)"):
            parts.append(label + ": " + str(counts["per_label"][label]))
        text = "Examples — " + ", ".join(parts) + "."
        if counts["set_aside"] > 0:
            text = text + " " + str(counts["set_aside"]) + " example(s) of removed labels are " \
                + "kept aside, not trained on; add the label again to use them."
        self.counts.textContent = text

    def show_evaluation(self, result):
        self.cv.textContent = ("Cross-validated accuracy: " + (result["accuracy"] * 100).toFixed(1)
                               + " % over " + str(result["examples"]) + " examples ("
                               + str(result["folds"]) + " folds).")
        fill_confusion(self.confusion, result["labels"], result["confusion"])
