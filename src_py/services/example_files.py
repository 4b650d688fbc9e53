"""Labelled files into the classifier's examples, and the examples out as CSV.

A file goes through the core's import, the code ``python -m tinybert`` runs: bytes to text
(``text_file``: size, UTF-8), text to a table (``table_parse``: CSV, TSV, JSON Lines), the
table to labelled rows (``table_import``: columns guessed or chosen, each text once, empty rows
left out, 2 to 50 labels). Everything is checked before anything is stored, so a refused file
changes nothing. Texts that are already examples here are left out too. Labels the file
brings are added; a page without any example takes the file's labels instead of its own.

Then each row is embedded and stored as an example at once (``Classifier.add_example``), so
the work done is kept: the rows of an import are kept in storage (setting
``pending_import``) until it ends, and after a reload ``resume`` embeds only the rows that are
not examples yet (only the row being embedded when the page closed is embedded again).
Cancelling keeps the examples already added.
"""
from services.errors import AppError
from settings import IMPORT_PREVIEW_ROWS
from tinybert_core.table_import import examples_csv, guess_columns, labelled_rows
from tinybert_core.table_parse import read_table
from tinybert_core.text_file import TableError, check_size, decode_text, format_for_name

PENDING_KEY = "pending_import"
OPTIONS = ["format", "textColumn", "labelColumn", "name", "addLabels"]
SKIPPED = ["duplicates", "conflicts", "empty", "malformed"]   # the core's reports
SKIPPED_BY = ["existing", "duplicates", "conflicts", "empty", "malformed"]


def _given(options, key):
    """``options[key]``, or None when it is missing, null or undefined."""
    if not options or key not in options:
        return None
    value = options[key]
    return None if value is None or typeof(value) == "undefined" else value


def _stored_texts(records):
    """{"k" + text: label} of the stored examples (keys prefixed: a text may be "keys")."""
    out = {}
    for record in records:
        out["k" + record.text] = record.label
    return out


class ExampleFiles:
    """Import of labelled files into ``classifier`` (a Classifier), its progress kept in
    ``storage`` (a Storage, or None: then an import cannot resume after a reload)."""

    def __init__(self, classifier, storage):
        self.classifier = classifier
        self.storage = storage
        self.running = None     # {"name", "done", "total"} while rows are being embedded
        self.cancelled = False

    # --- reading and checking ------------------------------------------------------------------
    def check_size(self, size):
        """Refuse a file of ``size`` bytes over the import's limit before reading it."""
        try:
            check_size(size, None)
        except TableError as error:
            raise AppError(str(error))
        return None

    def read(self, data, name, fmt):
        """The table in a file: ``data`` its bytes (Uint8Array) or its text; ``name`` its file
        name (its extension chooses the format when ``fmt`` is None; else the text decides).
        Returns ``{"name", "table", "guess": {"text", "label"} column names}``. Raises AppError
        with the core's message (size, encoding, format)."""
        try:
            if isinstance(data, str):
                check_size(__new__(TextEncoder()).encode(data).length, None)
                text = data
            elif data and typeof(data.length) == "number" and data.BYTES_PER_ELEMENT == 1:
                text = decode_text(data, None)
            else:
                raise AppError("Expected the text or the bytes (Uint8Array) of a file.")
            table = read_table(text, fmt if fmt is not None else format_for_name(name or ""))
        except TableError as error:
            raise AppError(str(error))
        return {"name": name or "", "table": table, "guess": guess_columns(table)}

    def plan(self, draft, text_column, label_column):
        """What importing ``draft`` (from ``read``) with these columns (None: guessed) adds.

        Returns ``{"name", "rows": [[text, label]] to add, "labels" of the file in order of
        first appearance, "counts" per file label (rows to add), "new_labels" (not labels
        here yet), "labels_after" (the labels once imported: the current ones and the new
        ones; the file's own when this page has no example yet), "dropped_labels" (the
        current labels that then go), "skipped": {duplicates, conflicts, empty, malformed,
        existing (texts that are examples already)}, "text_column", "label_column", "columns",
        "records" (rows read), "preview": the first rows to add}``. Raises AppError with the
        core's message (no such column, one label only, too many labels, ...)."""
        table = draft["table"]
        try:
            found = labelled_rows(table, text_column, label_column, None, None)
        except TableError as error:
            raise AppError(str(error))
        stored = _stored_texts(self.classifier.records)
        rows = []
        for row in found["rows"]:
            if ("k" + row[0]) not in stored:
                rows.append(row)
        counts = [0 for label in found["labels"]]
        for row in rows:
            counts[found["labels"].indexOf(row[1])] += 1
        skipped = {"existing": len(found["rows"]) - len(rows)}
        for key in SKIPPED:
            skipped[key] = found[key]["count"]
        change = self._label_change(found["labels"])
        return {"name": draft["name"], "rows": rows, "labels": found["labels"],
                "counts": counts, "new_labels": change["new"], "labels_after": change["after"],
                "dropped_labels": change["dropped"],
                "skipped": skipped, "text_column": found["text_column"],
                "label_column": found["label_column"], "columns": table["columns"],
                "records": found["records"], "preview": rows[0:IMPORT_PREVIEW_ROWS]}

    def _label_change(self, labels):
        """The labels once a file of ``labels`` is imported: ``{"new": labels not here yet,
        "after": the labels then, "dropped": labels that go}``. New labels are added; a page
        without any example takes the file's labels instead of its own (placeholders then)."""
        known = self.classifier.labels()
        new = [label for label in labels if label not in known]
        fresh = len(self.classifier.records) == 0 and len(new) > 0
        return {"new": new, "after": labels if fresh else known.concat(new),
                "dropped": [label for label in known if fresh and label not in labels]}

    # --- embedding and storing -----------------------------------------------------------------
    async def start(self, plan, on_progress):
        """Change the labels as the plan says (from the labels as they are now), then embed
        and store its rows (see ``_embed``).

        Raises AppError while another import runs or an interrupted one waits."""
        if self.running is not None:
            raise AppError("An import is already running: wait for it to end, or cancel it.")
        waiting = await self.pending()
        if waiting is not None:
            raise AppError("The import of " + (waiting["name"] or "a file") + " stopped after "
                           + str(waiting["done"]) + " of " + str(waiting["total"])
                           + " examples: resume or discard it first.")
        change = self._label_change(plan["labels"])
        if len(change["new"]) > 0:
            await self.classifier.set_labels(change["after"])
        pending = {"name": plan["name"], "rows": plan["rows"], "labels": plan["labels"],
                   "skipped": plan["skipped"]}
        if self.storage is not None and len(plan["rows"]) > 0:
            await self.storage.set_setting(PENDING_KEY, pending)
        return await self._embed(pending, on_progress)

    async def pending(self):
        """The import a reload interrupted, ``{"name", "done", "total"}``, or None (also while
        it runs here)."""
        if self.storage is None or self.running is not None:
            return None
        pending = await self.storage.setting(PENDING_KEY, None)
        if not pending:
            return None
        stored = _stored_texts(self.classifier.records)
        done = len([row for row in pending["rows"] if ("k" + row[0]) in stored])
        return {"name": pending["name"], "done": done, "total": len(pending["rows"])}

    async def resume(self, on_progress):
        """Go on with the interrupted import: rows already stored as examples are not embedded
        again. Returns the result as ``start`` does, or None when there is nothing to resume."""
        if self.running is not None or self.storage is None:
            return None
        pending = await self.storage.setting(PENDING_KEY, None)
        if not pending:
            return None
        return await self._embed(pending, on_progress)

    async def discard(self):
        """Forget the interrupted import (the examples it added stay)."""
        if self.storage is not None:
            await self.storage.set_setting(PENDING_KEY, None)
        return None

    def cancel(self):
        """Stop the running import after the row being embedded; its examples stay."""
        if self.running is not None:
            self.cancelled = True
        return None

    def status(self):
        """``{"running", "name", "done", "total"}`` of the running import."""
        if self.running is None:
            return {"running": False, "name": None, "done": 0, "total": 0}
        return {"running": True, "name": self.running["name"], "done": self.running["done"],
                "total": self.running["total"]}

    async def _embed(self, pending, on_progress):
        """Embed and store every row of ``pending`` that is not an example yet, one at a time;
        ``on_progress(done, total)`` after each row (or None). The pending import is forgotten
        when it ends or is cancelled, and kept when a row fails (to resume later).
        Returns ``{"added", "skipped" (rows left out), "skipped_by", "labels", "cancelled"}``."""
        rows = pending["rows"]
        stored = _stored_texts(self.classifier.records)
        self.running = {"name": pending["name"], "done": 0, "total": len(rows)}
        self.cancelled = False
        added = 0
        try:
            for row in rows:
                if self.cancelled:
                    break
                if ("k" + row[0]) not in stored:
                    await self.classifier.add_example(row[0], row[1])
                    added += 1
                self.running["done"] += 1
                if on_progress is not None:
                    on_progress(self.running["done"], len(rows))
            await self.discard()
        finally:
            self.running = None
        skipped = 0
        for key in SKIPPED_BY:
            skipped += pending["skipped"][key]
        return {"added": added, "skipped": skipped, "skipped_by": pending["skipped"],
                "labels": pending["labels"], "cancelled": self.cancelled}

    # --- the API's one call, and export ---------------------------------------------------------
    async def import_text(self, data, options):
        """``tinybert.importExamples``: read, check and import a file in one call.

        options: ``{format, textColumn, labelColumn, name, addLabels}`` (all optional; the
        labels change as ``plan`` says unless ``addLabels`` is false: then a file with labels
        not known here is refused).
        Returns what ``_embed`` returns. Raises AppError, having changed nothing, for an
        unknown option and everything ``read`` and ``plan`` refuse."""
        if options:
            for key in __pragma__("js", "{}", "Object.keys(options)"):
                if key not in OPTIONS:
                    raise AppError("Unknown import option '" + key + "'; allowed: "
                                   + ", ".join(OPTIONS) + ".")
        draft = self.read(data, _given(options, "name"), _given(options, "format"))
        plan = self.plan(draft, _given(options, "textColumn"), _given(options, "labelColumn"))
        if _given(options, "addLabels") is False and len(plan["new_labels"]) > 0:
            raise AppError("The file has labels that are not labels here ("
                           + ", ".join(plan["new_labels"]) + "); nothing was imported. Add "
                           + "them first, or pass addLabels: true.")
        return await self.start(plan, None)

    def export_csv(self):
        """Every example (those of removed labels too) as CSV text, header ``text,label``."""
        return examples_csv([[record.text, record.label] for record in self.classifier.records])
