"""This browser's storage for the product: the only module that touches IndexedDB (via idb).

Database ``tinybert``, schema version 2:
- ``examples`` (auto-increment ``id``, index ``by_label``):
  ``{text, label, embedding: Float32Array, encoder, time}``
- ``heads`` (key ``[name, version]``): a saved head with its labels, weights, encoder,
  training settings, metrics and timestamps.
- ``settings`` (key ``key``): ``{key, value}``.

Every failure becomes an AppError that says what happened and what to do; a failed write
leaves what was stored before untouched (each write is one transaction).
"""
from services.errors import AppError, describe

DB_NAME = "tinybert"
DB_VERSION = 2


def _upgrade(db, old_version, new_version, transaction):
    """Migrations, one step per schema version; each step runs once, in order."""
    if old_version < 1:
        db.createObjectStore("examples", {"keyPath": "id", "autoIncrement": True})
        heads = db.createObjectStore("heads", {"keyPath": ["name", "version"]})
        heads.createIndex("by_name", "name")
        db.createObjectStore("settings", {"keyPath": "key"})
    if old_version < 2:
        # Version 2: examples are looked up by label (renaming, per-label counts).
        transaction.objectStore("examples").createIndex("by_label", "label")
    return None


def storage_error(thrown, action):
    """An AppError for a failed storage ``action`` ("save the model", ...)."""
    name = thrown.js_name if thrown and thrown.js_name else ""
    if name == "QuotaExceededError":
        return AppError("Could not " + action + ": this browser's storage for the page is full. "
                        + "Delete saved models you no longer need (or free disk space) and try "
                        + "again; nothing already stored was changed.")
    if name == "InvalidStateError" or name == "VersionError":
        return AppError("Could not " + action + ": the stored data belongs to a newer version of "
                        + "this page. Reload to get the new version.")
    return AppError("Could not " + action + ": " + describe(thrown))


async def open_storage(on_blocked):
    """Open (and if needed upgrade) the database; returns a Storage.

    on_blocked(message) is called while an upgrade waits for another open tab to close.
    Raises AppError when IndexedDB is unavailable.
    """
    idb = await __pragma__("js", "{}", 'import("idb")')
    if typeof(indexedDB) == "undefined":
        raise AppError("This browser offers no IndexedDB, so nothing can be saved here; "
                       + "predictions and training still work until the page closes.")

    def blocked(current, blocked_version, event):
        on_blocked("Another tab of this page is open with an older version of its storage. "
                   + "Close it (or reload it) to continue; nothing has been changed yet.")

    def blocking(current, blocked_version, event):
        # A newer tab wants to upgrade: let it, and ask this one to reload.
        db.close()
        on_blocked("This page was updated in another tab. Reload this tab to keep working.")

    db = None
    try:
        db = await idb.openDB(DB_NAME, DB_VERSION, {"upgrade": _upgrade, "blocked": blocked,
                                                    "blocking": blocking})
    except:  # noqa: E722
        raise storage_error(__except0__, "open this browser's storage")
    return Storage(db)


class Storage:
    """Reads and writes of the three stores. All methods are async."""

    def __init__(self, db):
        self.db = db

    async def _run(self, action, work):
        try:
            return await work()
        except:  # noqa: E722
            raise storage_error(__except0__, action)

    async def add_example(self, example):
        """Store one labelled example; returns its id."""
        db = self.db
        return await self._run("save the example", lambda: db.add("examples", example))

    async def put_example(self, example):
        db = self.db
        return await self._run("update the example", lambda: db.put("examples", example))

    async def examples(self):
        db = self.db
        return await self._run("read the examples", lambda: db.getAll("examples"))

    async def delete_example(self, example_id):
        db = self.db
        return await self._run("delete the example", lambda: db.delete("examples", example_id))

    async def relabel_examples(self, old_label, new_label):
        """Give every example labelled ``old_label`` the label ``new_label`` (one transaction)."""
        db = self.db

        async def work():
            tx = db.transaction("examples", "readwrite")
            cursor = await tx.store.index("by_label").openCursor(old_label)
            while cursor:
                record = cursor.value
                record.label = new_label
                await cursor.js_update(record)
                cursor = await cursor["continue"]()
            await tx.done
            return None

        return await self._run("rename the label", work)

    async def save_head(self, record):
        """Store a head as the next version of ``record["name"]``; returns the version."""
        db = self.db

        async def work():
            tx = db.transaction("heads", "readwrite")
            keys = await tx.store.index("by_name").getAllKeys(record["name"])
            version = 1
            for key in keys:
                if key[1] >= version:
                    version = key[1] + 1
            record["version"] = version
            await tx.store.add(record)
            await tx.done
            return version

        return await self._run("save the model", work)

    async def heads(self):
        """Every saved head record (all versions)."""
        db = self.db
        return await self._run("list the saved models", lambda: db.getAll("heads"))

    async def head(self, name, version):
        db = self.db
        return await self._run("load the model", lambda: db.js_get("heads", [name, version]))

    async def delete_head(self, name):
        """Delete every version of the saved head ``name``."""
        db = self.db

        async def work():
            tx = db.transaction("heads", "readwrite")
            keys = await tx.store.index("by_name").getAllKeys(name)
            for key in keys:
                await tx.store.delete(key)
            await tx.done
            return len(keys)

        return await self._run("delete the model", work)

    async def setting(self, key, default):
        db = self.db
        record = await self._run("read the settings", lambda: db.js_get("settings", key))
        return record.value if record else default

    async def set_setting(self, key, value):
        db = self.db
        return await self._run("save the settings",
                               lambda: db.put("settings", {"key": key, "value": value}))
