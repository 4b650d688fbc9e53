"""The page's main controls: text, Predict, scores, backend, model progress, status."""
from settings import save_backend
from ui.dom import element


def _percent(p):
    return (p * 100).toFixed(1) + " %"


def reload_on_backend(value):
    """Save the user's backend choice and reload (without ``?backend=``) so that the encoder
    starts on it."""
    save_backend(value)
    url = __new__(URL(window.location.href))
    url.searchParams.delete("backend")
    window.location.assign(url.toString())
    return None


class Page:
    """The controls of the page, by their stable element ids."""

    def __init__(self):
        self.text = element("text")
        self.predict_button = element("predict")
        self.label = element("label")
        self.scores = element("scores")
        self.backend = element("backend")
        self.latency = element("latency")
        self.status = element("status")
        self.progress = element("model-progress")
        self.progress_text = element("model-progress-text")
        self.backend_choice = element("backend-choice")

    def show_status(self, message, kind):
        """Show ``message``; kind is "info", "ready" or "error" (errors are announced)."""
        self.status.textContent = message
        self.status.className = "status " + kind
        # A counter that changes with every message, even a repeated one (scripts wait on it).
        self.status.dataset.seq = str(int(self.status.dataset.seq or "0") + 1)
        self.status.setAttribute("role", "alert" if kind == "error" else "status")

    def shows_error(self):
        """True while the status line shows an error."""
        return self.status.className.indexOf("error") >= 0

    def current_text(self):
        """The text in the text box."""
        return self.text.value

    def put_text(self, text):
        """Put ``text`` in the text box and focus it."""
        self.text.value = text
        self.text.focus()
        return None

    def show_backend(self, info):
        """Show the backend in use (its threads on WASM) and why it was chosen: forced, no
        adapter, or both backends' measured times."""
        text = info["name"]
        if info["name"] == "wasm":
            threads = info["threads"]
            text = text + " · " + str(threads) + (" thread" if threads == 1 else " threads")
        if info["note"]:
            text = text + " (" + info["note"] + ")"
        self.backend.textContent = text
        self.backend.title = "Encoder file: " + info["model"]

    def show_backend_failure(self):
        self.backend.textContent = "none (see the message below)"

    def show_backend_choice(self, current, on_change):
        """Set the backend setting's value; ``on_change(value)`` runs when the user changes it."""
        self.backend_choice.value = current
        self.backend_choice.addEventListener(
            "change", lambda event: on_change(self.backend_choice.value))

    def show_progress(self, received, total):
        """Model download progress: bytes received of total."""
        self.progress.max = total
        self.progress.value = received
        self.progress_text.textContent = (
            (received / 1e6).toFixed(1) + " / " + (total / 1e6).toFixed(1) + " MB")

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
