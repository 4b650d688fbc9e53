"""DOM of batch mode and active learning: paste lines, classify all, download CSV, and the
suggested order in which to label texts."""
from ui.dom import cell, element


def _picker(on_pick, text):
    return lambda event: on_pick(text)


class BatchPanel:
    def __init__(self):
        self.input = element("batch-input")
        self.classify_button = element("classify-batch")
        self.suggest_button = element("suggest")
        self.download_button = element("download-csv")
        self.progress = element("batch-progress")
        self.suggestions = element("suggestions")
        self.results = element("batch-results")

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
            header.appendChild(cell("th", name))
        self.results.appendChild(header)
        for row in rows:
            line = document.createElement("tr")
            line.appendChild(cell("td", row[0]))
            line.appendChild(cell("td", row[1]))
            line.appendChild(cell("td", (row[2] * 100).toFixed(1) + " %"))
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
            entry.appendChild(cell("span", item["text"] + " "))
            why = cell("span", "(now " + item["label"] + ", "
                       + (item["confidence"] * 100).toFixed(0)
                       + " %; margin " + item["margin"].toFixed(2) + ") ")
            why.className = "why"
            entry.appendChild(why)
            entry.appendChild(button)
            self.suggestions.appendChild(entry)
