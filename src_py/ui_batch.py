"""DOM of batch mode and active learning: paste lines, classify all, download CSV, and the
suggested order in which to label texts."""


def _el(element_id):
    return document.getElementById(element_id)


def _cell(tag, text):
    cell = document.createElement(tag)
    cell.textContent = text
    return cell


def _picker(on_pick, text):
    return lambda event: on_pick(text)


class BatchPanel:
    def __init__(self):
        self.input = _el("batch-input")
        self.classify_button = _el("classify-batch")
        self.suggest_button = _el("suggest")
        self.download_button = _el("download-csv")
        self.progress = _el("batch-progress")
        self.suggestions = _el("suggestions")
        self.results = _el("batch-results")

    def lines(self):
        """The pasted texts, one per non-blank line."""
        out = []
        for line in self.input.value.split("\n"):
            if len(line.strip()) > 0:
                out.append(line.strip())
        return out

    def enable(self, on_classify, on_suggest, on_download):
        self.classify_button.addEventListener("click", lambda event: on_classify(self.lines()))
        self.suggest_button.addEventListener("click", lambda event: on_suggest(self.lines()))
        self.download_button.addEventListener("click", lambda event: on_download())
        self.classify_button.disabled = False
        self.suggest_button.disabled = False

    def set_busy(self, busy):
        self.classify_button.disabled = busy
        self.suggest_button.disabled = busy

    def show_progress(self, done, total):
        self.progress.max = max(total, 1)
        self.progress.value = done

    def show_results(self, rows):
        """rows: ``[text, label, confidence]`` per text."""
        self.results.innerHTML = ""
        header = document.createElement("tr")
        for name in ["Text", "Label", "Confidence"]:
            header.appendChild(_cell("th", name))
        self.results.appendChild(header)
        for row in rows:
            line = document.createElement("tr")
            line.appendChild(_cell("td", row[0]))
            line.appendChild(_cell("td", row[1]))
            line.appendChild(_cell("td", (row[2] * 100).toFixed(1) + " %"))
            self.results.appendChild(line)
        self.download_button.disabled = len(rows) == 0

    def show_suggestions(self, items, on_pick):
        """items: ``{text, label, confidence, margin}``, most uncertain first. Picking one puts
        it in the text box for labelling."""
        self.suggestions.innerHTML = ""
        for item in items:
            entry = document.createElement("li")
            button = document.createElement("button")
            button.js_type = "button"
            button.textContent = "Label this"
            button.setAttribute("aria-label", "Label: " + item["text"])
            button.addEventListener("click", _picker(on_pick, item["text"]))
            entry.appendChild(_cell("span", item["text"] + " "))
            why = _cell("span", "(now " + item["label"] + ", " + (item["confidence"] * 100).toFixed(0)
                        + " %; margin " + item["margin"].toFixed(2) + ") ")
            why.className = "why"
            entry.appendChild(why)
            entry.appendChild(button)
            self.suggestions.appendChild(entry)
