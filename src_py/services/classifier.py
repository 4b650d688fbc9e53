"""The user's classifier: labels, labelled examples and the head trained on them, kept in this
browser's storage. The page and ``window.tinybert`` both act through this class."""
from services.errors import AppError
from settings import DEFAULT_LABELS, MAX_LABEL_LENGTH
from tinybert_core.dp_random import SystemRandomBytes
from tinybert_core.evaluation import evaluate_examples
from tinybert_core.fl_local import local_update
from tinybert_core.head import (
    LinearHead,
    add_label,
    head_with_weights,
    remove_label,
    rename_label,
    to_float32,
)
from tinybert_core.head_file import (
    HeadFileError,
    check_compatible,
    decode_head_file,
    encode_head_file,
)
from tinybert_core.private_prototype import example_sums, member_sums
from tinybert_core.train import resolve_options, train_head


def _now():
    return __new__(Date()).toISOString()


def check_label_name(name):
    """Refuse label names that cannot be shown or stored."""
    if not isinstance(name, str) or len(name.strip()) == 0:
        raise AppError("A label needs a name.")
    if len(name) > MAX_LABEL_LENGTH:
        raise AppError("Label names are at most " + str(MAX_LABEL_LENGTH) + " characters.")
    return name.strip()


def _float32(values):
    return __new__(Float32Array(values))


class Classifier:
    """Labels, examples and head of one encoder (``manifest``), persisted through ``storage``.

    embed: async function text → Float32Array (cached by the engine, so a known text never runs
    the encoder again). storage: a Storage, or None when this browser cannot store anything.
    encoder_sha: the sha256 of the encoder file in use (examples embedded by another are
    embedded again before training).
    """

    def __init__(self, manifest, embed, storage, encoder_sha):
        self.manifest = manifest
        self.embed = embed
        self.storage = storage
        self.encoder_sha = encoder_sha
        self.head = LinearHead(DEFAULT_LABELS, manifest["hidden_size"])
        self.records = []
        self.trained = None   # settings and metrics of the last training run
        self.loaded_from = None

    # --- state -----------------------------------------------------------------------------
    def labels(self):
        return [label for label in self.head.labels]

    def examples(self):
        """Every stored example as ``{id, text, label, time, active}``; inactive ones belong to
        a label that was removed and come back if a label of that name is added again."""
        out = []
        for record in self.records:
            out.append({"id": record.id, "text": record.text, "label": record.label,
                        "time": record.time, "active": record.label in self.head.labels})
        return out

    def counts(self):
        """Examples per current label, plus ``set_aside`` for examples of removed labels."""
        counts = {}
        for label in self.head.labels:
            counts[label] = 0
        aside = 0
        for record in self.records:
            if record.label in self.head.labels:
                counts[record.label] += 1
            else:
                aside += 1
        return {"per_label": counts, "set_aside": aside}

    def encoder_info(self):
        return {"encoder_id": self.manifest["model_id"], "encoder_sha256": self.encoder_sha,
                "hidden_size": self.manifest["hidden_size"],
                "pooling": self.manifest["pooling"]["mode"]}

    async def restore(self):
        """Load labels, the working head and the examples saved in this browser."""
        if self.storage is None:
            return None
        self.records = await self.storage.examples()
        working = await self.storage.setting("working_head", None)
        if working is not None:
            try:
                self.head = self._head_from_record(working)
                self.trained = working.training
            except AppError:
                console.warn("The working head in storage is unusable; starting untrained.")
        return None

    async def _persist_working_head(self):
        if self.storage is None:
            return None
        await self.storage.set_setting("working_head", self._record("", 0))
        return None

    # --- examples and labels -------------------------------------------------------------------
    async def add_example(self, text, label):
        """Store ``text`` as an example of ``label`` (one of the current labels)."""
        if label not in self.head.labels:
            raise AppError("'" + str(label) + "' is not one of the labels ("
                           + ", ".join(self.head.labels) + "). Add it as a label first.")
        vector = await self.embed(text)
        record = {"text": text, "label": label, "embedding": vector,
                  "encoder": self.encoder_sha, "time": _now()}
        if self.storage is not None:
            record["id"] = await self.storage.add_example(record)
        else:
            record["id"] = len(self.records) + 1
        self.records.append(record)
        return {"id": record["id"], "count": len(self.records)}

    async def delete_example(self, example_id):
        kept = []
        for record in self.records:
            if record.id != example_id:
                kept.append(record)
        if len(kept) == len(self.records):
            raise AppError("There is no example with id " + str(example_id) + ".")
        if self.storage is not None:
            await self.storage.delete_example(example_id)
        self.records = kept
        return None

    async def set_labels(self, labels):
        """Make ``labels`` the label set, in that order: new names are added, missing ones
        removed. Existing labels keep what the head learned for them; examples of removed
        labels are set aside (kept, not trained on) until a label of that name returns."""
        names = []
        for label in labels:
            name = check_label_name(label)
            if name in names:
                raise AppError("The label '" + name + "' appears twice.")
            names.append(name)
        if len(names) < 1:
            raise AppError("Keep at least one label.")
        removed = [label for label in self.head.labels if label not in names]
        head = self.head
        for name in names:   # add first, so the head never runs out of labels
            if name not in head.labels:
                head = add_label(head, name)
        for label in removed:
            head = remove_label(head, label)
        self.head = self._reordered(head, names)
        await self._persist_working_head()
        return self.labels()

    def _reordered(self, head, names):
        dim = head.dim
        weights = []
        bias = []
        for name in names:
            k = head.labels.indexOf(name)
            for j in range(dim):
                weights.append(head.weights[k * dim + j])
            bias.append(head.bias[k])
        return head_with_weights(names, dim, weights, bias)

    async def rename_label(self, old, new):
        """Rename a label: its head row and its examples keep everything they had."""
        name = check_label_name(new)
        if old not in self.head.labels:
            raise AppError("There is no label '" + str(old) + "' to rename.")
        if name in self.head.labels:
            raise AppError("There is already a label '" + name + "'.")
        self.head = rename_label(self.head, old, name)
        if self.storage is not None:
            await self.storage.relabel_examples(old, name)
        for record in self.records:
            if record.label == old:
                record.label = name
        await self._persist_working_head()
        return self.labels()

    # --- training ------------------------------------------------------------------------------
    async def _training_set(self):
        """Embeddings and label indices of the active examples; embeddings made by another
        encoder are computed again (from the cache when the text is known)."""
        xs = []
        ys = []
        for record in self.records:
            index = self.head.labels.indexOf(record.label)
            if index < 0:
                continue
            if record.encoder != self.encoder_sha or not record.embedding:
                record.embedding = await self.embed(record.text)
                record.encoder = self.encoder_sha
                if self.storage is not None:
                    await self.storage.put_example(record)
            xs.append(record.embedding)
            ys.append(index)
        return {"xs": xs, "ys": ys}

    async def training_set(self):
        """``{xs, ys}``: the embeddings and label indices of the active examples."""
        return await self._training_set()

    async def train(self, options, on_epoch):
        """Train the head on every active example; returns the per-epoch history.

        options: training options (see tinybert_core.train), e.g. ``{"epochs": 5}``.
        Raises AppError when there is nothing (or only one label) to train on.
        """
        data = await self._training_set()
        if len(data["xs"]) == 0:
            raise AppError("There are no examples to train on yet: predict a text, choose its "
                           + "correct label and press Train on Feedback.")
        opts = resolve_options(options)
        head = head_with_weights(self.head.labels, self.head.dim, self.head.weights,
                                 self.head.bias)
        try:
            history = train_head(head, data["xs"], data["ys"], opts, on_epoch)
        except ValueError as error:
            raise AppError(str(error))
        self.head = to_float32(head)
        self.trained = {"options": opts, "history": history, "examples": len(data["xs"]),
                        "time": _now()}
        await self._persist_working_head()
        return history

    async def train_local(self, weights, bias, version, options):
        """This browser's new head for a federated round from the global head (``weights``,
        ``bias`` at ``version``), by ``tinybert_core.fl_local.local_update``: the class statistics
        of the examples while the global head is untrained (version 0), else a copy of it trained
        on them. This page's own head is not changed. Returns ``{weights, bias, examples}``.
        """
        data = await self._training_set()
        if len(data["xs"]) == 0:
            raise AppError("There are no examples to learn from yet: label some texts first. "
                           + "Nothing was sent.")
        try:
            return local_update(self.head.labels, self.head.dim, data["xs"], data["ys"],
                                weights, bias, version, options)
        except ValueError as error:
            raise AppError(str(error) + " Nothing was sent.")

    async def private_sums(self, mode, noise_multiplier):
        """This browser's class sums for a private federation's first round
        (``tinybert_core.private_prototype``): ``mode`` 'client', scaled to norm 1 (the server
        adds the noise); 'example', plus N(0, noise_multiplier^2) on every weight, drawn from
        ``crypto.getRandomValues``. Returns ``{weights, bias, examples}``."""
        data = await self._training_set()
        if len(data["xs"]) == 0:
            raise AppError("There are no examples to learn from yet: label some texts first. "
                           + "Nothing was sent.")
        try:
            if mode == "client":
                return member_sums(self.head.labels, self.head.dim, data["xs"], data["ys"])
            return example_sums(self.head.labels, self.head.dim, data["xs"], data["ys"],
                                noise_multiplier, SystemRandomBytes())
        except ValueError as error:
            raise AppError(str(error) + " Nothing was sent.")

    async def use_global_head(self, labels, weights, bias, version):
        """Make the federation's head (``version``) this page's head."""
        self.head = to_float32(head_with_weights(labels, self.head.dim, weights, bias))
        self.trained = {"federation_version": version, "time": _now()}
        await self._persist_working_head()
        return None

    async def evaluate(self, options):
        """Cross-validation, or with ``{"holdout": fraction}`` a held-out split, of the trainer
        on the active examples (``tinybert_core.evaluation.evaluate_examples``, training
        options from the last training); the page's head is not changed."""
        data = await self._training_set()
        try:
            return evaluate_examples(self.labels(), self.head.dim, data["xs"], data["ys"],
                                     self._trained("options"), options or None)
        except ValueError as error:
            raise AppError(str(error))

    def _trained(self, key):
        """A field of the last training record, or None (a federated head has no history)."""
        if not self.trained or key not in self.trained:
            return None
        value = self.trained[key]
        return None if typeof(value) == "undefined" else value

    def predict(self, vector):
        return self.head.predict(vector)

    # --- saved heads ---------------------------------------------------------------------------
    def _record(self, name, version):
        info = self.encoder_info()
        return {"name": name, "version": version, "labels": self.labels(),
                "weights": _float32(self.head.weights), "bias": _float32(self.head.bias),
                "encoder": {"id": info["encoder_id"], "sha256": info["encoder_sha256"],
                            "hidden_size": info["hidden_size"]},
                "pooling": info["pooling"], "training": self.trained,
                "examples": len(self.records), "created": _now()}

    def _head_from_record(self, record):
        """A LinearHead from a stored record, refusing damaged or foreign ones."""
        what = "The saved model '" + str(record.js_name if record else "?") + "'"
        labels = record.labels if record else None
        dim = self.manifest["hidden_size"]
        if not record or not Array.isArray(labels) or len(labels) == 0:
            raise AppError(what + " is damaged (no labels); it was left as it is.")
        if not record.encoder or record.encoder.id != self.manifest["model_id"] \
                or record.encoder.hidden_size != dim:
            raise AppError(what + " was trained for another encoder ("
                           + str(record.encoder.id if record.encoder else "unknown")
                           + "); this page runs " + self.manifest["model_id"] + ".")
        if not record.weights or len(record.weights) != len(labels) * dim \
                or not record.bias or len(record.bias) != len(labels):
            raise AppError(what + " is damaged (its weights do not fit " + str(len(labels))
                           + " labels x " + str(dim) + "); it was left as it is.")
        try:
            return head_with_weights(labels, dim, record.weights, record.bias)
        except ValueError as error:
            raise AppError(what + " is damaged: " + str(error))

    async def save(self, name):
        """Save the current head as the next version of ``name``; returns {name, version}."""
        name = check_label_name(name)
        if self.storage is None:
            raise AppError("This browser cannot store anything here, so the model cannot be "
                           + "saved. Use Export to keep it as a file.")
        version = await self.storage.save_head(self._record(name, 0))
        return {"name": name, "version": version}

    async def list_models(self):
        """Saved heads, newest version first per name: {name, version, versions, created,
        labels, accuracy}."""
        if self.storage is None:
            return []
        latest = {}
        for record in await self.storage.heads():
            key = "m:" + record.js_name
            entry = latest[key] if key in latest else None
            if entry is None or record.version > entry["version"]:
                accuracy = None
                if record.training and record.training.history and len(record.training.history) > 0:
                    last = record.training.history[len(record.training.history) - 1]
                    accuracy = last.accuracy
                versions = entry["versions"] if entry is not None else 0
                entry = {"name": record.js_name, "version": record.version,
                         "created": record.created, "labels": record.labels,
                         "accuracy": accuracy, "versions": versions}
                latest[key] = entry
            entry["versions"] += 1
        # Heads come back in key order ([name, version]), so the list is sorted by name.
        return [latest[key] for key in __pragma__("js", "{}", "Object.keys(latest)")]

    async def load(self, name, version):
        """Make a saved head current (its newest version unless ``version`` is given)."""
        if self.storage is None:
            raise AppError("This browser cannot store anything here, so there is nothing to load.")
        if version is None or typeof(version) == "undefined":
            for model in await self.list_models():
                if model["name"] == name:
                    version = model["version"]
        record = await self.storage.head(name, version) if version is not None else None
        if not record:
            raise AppError("There is no saved model called '" + str(name) + "'.")
        self.head = self._head_from_record(record)
        self.trained = record.training
        await self._persist_working_head()
        return {"name": name, "version": version, "labels": self.labels()}

    async def delete_model(self, name):
        if self.storage is None:
            return 0
        return await self.storage.delete_head(name)

    def export_head(self):
        """The current head as safetensors bytes (Uint8Array)."""
        info = self.encoder_info()
        info["name"] = "exported"
        info["version"] = 0
        info["created"] = _now()
        info["training"] = self._trained("options")
        info["metrics"] = self._trained("history")
        return encode_head_file(self.head.labels, self.head.weights, self.head.bias, info)

    async def import_head(self, data):
        """Make the head in a safetensors file current, after checking it fits this encoder."""
        try:
            head = decode_head_file(data)
            check_compatible(head["info"], self.manifest["model_id"], self.manifest["hidden_size"])
        except HeadFileError as error:
            raise AppError("Import refused: " + str(error))
        except TypeError:
            raise AppError("Import refused: expected the bytes of a .safetensors head file.")
        self.head = head_with_weights(head["labels"], head["hidden_size"], head["weights"],
                                      head["bias"])
        await self._persist_working_head()
        return {"labels": self.labels()}
