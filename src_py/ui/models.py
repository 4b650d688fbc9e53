"""DOM of the model controls: save, the saved-model list, load, delete, export, import."""
from ui.dom import element


class ModelsPanel:
    """Save Model / Load Model / Delete / Export / Import."""

    def __init__(self):
        self.name = element("model-name")
        self.save_button = element("save")
        self.list = element("model-list")
        self.load_button = element("load")
        self.delete_button = element("delete-model")
        self.export_button = element("export")
        self.import_file = element("import-file")

    def enable(self, handlers):
        """handlers: save(name), load(name), delete(name), export(), import_bytes(Uint8Array)."""
        self.save_button.addEventListener("click", lambda event: handlers["save"](self.name.value))
        self.load_button.addEventListener("click", lambda event: handlers["load"](self.list.value))
        self.delete_button.addEventListener("click",
                                            lambda event: handlers["delete"](self.list.value))
        self.export_button.addEventListener("click", lambda event: handlers["export"]())

        async def on_file(event):
            files = self.import_file.files
            if files.length == 0:
                return None
            data = __new__(Uint8Array(await files[0].arrayBuffer()))
            self.import_file.value = ""
            await handlers["import_bytes"](data)
            return None

        self.import_file.addEventListener("change", on_file)
        for button in [self.save_button, self.export_button]:
            button.disabled = False

    def show_models(self, models):
        """List saved models: name, version, date, labels and accuracy."""
        self.list.innerHTML = ""
        for model in models:
            option = document.createElement("option")
            option.value = model["name"]
            accuracy = "" if model["accuracy"] is None else (
                ", train acc " + (model["accuracy"] * 100).toFixed(0) + " %")
            option.textContent = (model["name"] + " v" + str(model["version"]) + " — "
                                  + model["created"][:16].replace("T", " ") + " — "
                                  + ", ".join(model["labels"]) + accuracy)
            self.list.appendChild(option)
        empty = len(models) == 0
        self.load_button.disabled = empty
        self.delete_button.disabled = empty

    def download(self, data, filename):
        """Offer ``data`` (Uint8Array) to the user as a file download."""
        blob = __new__(Blob([data], {"type": "application/octet-stream"}))
        url = URL.createObjectURL(blob)
        link = document.createElement("a")
        link.href = url
        link.download = filename
        document.body.appendChild(link)
        link.click()
        link.remove()
        URL.revokeObjectURL(url)
