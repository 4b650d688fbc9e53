"""The page's DOM: the only module that reads or writes elements."""


def _el(element_id):
    return document.getElementById(element_id)


def _percent(p):
    return (p * 100).toFixed(1) + " %"


class Page:
    """The controls of the page, by their stable element ids."""

    def __init__(self):
        self.text = _el("text")
        self.predict_button = _el("predict")
        self.label = _el("label")
        self.scores = _el("scores")
        self.backend = _el("backend")
        self.latency = _el("latency")
        self.status = _el("status")

    def show_status(self, message, kind):
        """Show ``message``; kind is "info", "ready" or "error" (errors are announced)."""
        self.status.textContent = message
        self.status.className = "status " + kind
        self.status.setAttribute("role", "alert" if kind == "error" else "status")

    def show_backend(self, info):
        threads = info["threads"]
        self.backend.textContent = info["name"] + " · " + str(threads) + (
            " thread" if threads == 1 else " threads")

    def show_prediction(self, result, labels, millis):
        """Show the best label, a bar per label in ``labels`` order, and the latency."""
        self.label.textContent = result["label"]
        self.scores.innerHTML = ""
        for label in labels:
            p = result["scores"][label]
            row = document.createElement("li")
            row.className = "score" + (" best" if label == result["label"] else "")
            name = document.createElement("span")
            name.className = "score-label"
            name.textContent = label
            bar = document.createElement("meter")
            bar.min = 0
            bar.max = 1
            bar.value = p
            bar.setAttribute("aria-label", label)
            value = document.createElement("span")
            value.className = "score-value"
            value.textContent = _percent(p)
            row.appendChild(name)
            row.appendChild(bar)
            row.appendChild(value)
            self.scores.appendChild(row)
        self.latency.textContent = millis.toFixed(1) + " ms"

    def enable(self, on_predict):
        """Enable the controls; ``on_predict(text)`` runs on click or on Enter."""
        self.predict_button.disabled = False
        self.predict_button.addEventListener("click", lambda event: on_predict(self.text.value))

        def on_key(event):
            if event.key == "Enter" and not event.shiftKey:
                event.preventDefault()
                on_predict(self.text.value)

        self.text.addEventListener("keydown", on_key)

    def set_busy(self, busy):
        self.predict_button.disabled = busy
        self.predict_button.setAttribute("aria-busy", "true" if busy else "false")
