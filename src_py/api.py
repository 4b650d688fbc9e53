"""The automation API: ``window.tinybert``, whose async methods return plain values (listed in
README.md), and ``window.tinybertError`` when the page cannot start."""
from services.engine import check_text
from services.errors import describe
from settings import DEFAULT_FEDERATION


def option(options, key, default):
    """``options[key]`` of a JS options object (or None), else ``default``."""
    if options is None or typeof(options) == "undefined":
        return default
    value = options[key]
    return default if value is None or typeof(value) == "undefined" else value


def js_method(method, after):
    """Wrap an async method for JS callers: failures reject with a JS Error and a clear message.

    after: None, or an async function run after a successful call (to refresh the page)."""

    async def call(*args):
        try:
            result = await method(*args)
        except:  # noqa: E722 - JS errors are not Python exceptions here
            raise __new__(Error(describe(__except0__)))
        if after is not None:
            await after()
        return result

    return call


def expose(engine, changed, synced, peers_changed):
    """Publish ``window.tinybert`` for ``engine`` (an Engine); ``changed()`` runs after every
    call that changes state, so the page always shows what scripts did (``synced()`` after
    federation calls, ``peers_changed()`` after peer-to-peer ones)."""
    c = engine.classifier

    async def add_example(text, label):
        check_text(text, False)
        return await c.add_example(text, label)

    async def train(options):
        return await c.train(options, None)

    async def examples():
        return c.examples()

    async def counts():
        return c.counts()

    async def export_head():
        return c.export_head()

    async def suggest(texts):
        return await engine.suggest(texts, None)

    async def send_delta(options):
        return await engine.federation.send_delta(c, options)

    async def apply_aggregate():
        return await engine.federation.apply_aggregate(c)

    async def import_examples(data, options):
        return await engine.files.import_text(data, options)

    async def import_status():
        return engine.files.status()

    async def cancel_import():
        return engine.files.cancel()

    async def export_examples():
        return engine.files.export_csv()

    async def join_peers(options):
        return await engine.gossip.join(option(options, "federation", DEFAULT_FEDERATION))

    async def gossip(options):
        return await engine.gossip.gossip(option(options, "rounds", 1),
                                          option(options, "heads", False))

    async def peers():
        return engine.gossip.status()

    async def leave_peers():
        return engine.gossip.leave()

    window.tinybert = {
        "tokenize": js_method(engine.tokenize, None),
        "embed": js_method(engine.embed, None),
        "predict": js_method(engine.predict, None),
        "backend": js_method(engine.backend, None),
        "labels": js_method(engine.labels, None),
        "stats": js_method(engine.stats, None),
        "addExample": js_method(add_example, changed),
        "deleteExample": js_method(c.delete_example, changed),
        "train": js_method(train, changed),
        "setLabels": js_method(c.set_labels, changed),
        "renameLabel": js_method(c.rename_label, changed),
        "examples": js_method(examples, None),
        "counts": js_method(counts, None),
        "evaluate": js_method(c.evaluate, None),
        "save": js_method(c.save, changed),
        "load": js_method(c.load, changed),
        "deleteModel": js_method(c.delete_model, changed),
        "listModels": js_method(c.list_models, None),
        "exportHead": js_method(export_head, None),
        "importHead": js_method(c.import_head, changed),
        "sendDelta": js_method(send_delta, synced),
        "applyAggregate": js_method(apply_aggregate, synced),
        "federation": js_method(engine.federation.status, None),
        "suggest": js_method(suggest, None),
        "importExamples": js_method(import_examples, changed),
        "importStatus": js_method(import_status, None),
        "cancelImport": js_method(cancel_import, None),
        "exportExamples": js_method(export_examples, None),
        "primeEmbeddings": js_method(engine.prime_embeddings, None),
        "joinPeers": js_method(join_peers, peers_changed),
        "gossip": js_method(gossip, peers_changed),
        "peers": js_method(peers, None),
        "leavePeers": js_method(leave_peers, peers_changed),
    }
    return None


def expose_failure(message):
    """Publish why the page could not start as ``window.tinybertError``."""
    window.tinybertError = message
    return None
