"""The loaded product for one model: text → tokenizer → encoder → head, with the classifier
and the federation client. The page's controller and ``window.tinybert`` both act through it."""
from services.classifier import Classifier
from services.embedding_cache import EmbeddingCache
from services.errors import AppError
from services.example_files import ExampleFiles
from services.federation_client import FederationClient
from services.gossip_client import GossipClient
from settings import DEFAULT_FEDERATION, EMBEDDING_CACHE_SIZE
from tinybert_core.active import margin, uncertainty_order


def check_text(text, allow_blank):
    """Refuse non-text, and empty or blank text unless ``allow_blank`` (tokenising "" is fine).

    Raises AppError saying what is wrong."""
    if not isinstance(text, str):
        raise AppError("Expected a text, got " + str(typeof(text)) + ".")
    if not allow_blank and len(text.strip()) == 0:
        raise AppError("Type a text first: there is nothing to classify.")
    return None


class Engine:
    """Tokenizer, encoder and head of one model (``manifest``), and what is built on them.

    tokenizer: a TokenizerClient; encoder: an Encoder; storage: a Storage or None; timings:
    the start-up timings that ``stats()`` reports.
    """

    def __init__(self, manifest, tokenizer, encoder, storage, timings):
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.timings = timings
        # Embeddings belong to the encoder file in use: the WebGPU files give slightly other
        # vectors than the WASM one, so stored examples are embedded again after a switch.
        encoder_sha = manifest["files"][encoder.model]["sha256"]
        self.embeddings = EmbeddingCache(encoder_sha, EMBEDDING_CACHE_SIZE)
        self.classifier = Classifier(manifest, self.embed, storage, encoder_sha)
        self.files = ExampleFiles(self.classifier, storage)
        self.federation = FederationClient(storage, DEFAULT_FEDERATION)
        self.gossip = GossipClient(self.classifier)

    async def tokenize(self, text):
        """Token ids of ``text``, [CLS] ... [SEP]; raises AppError for a non-text."""
        check_text(text, True)
        return await self.tokenizer.encode(text)

    async def embed(self, text):
        """The embedding the head sees; a known text comes from the cache, not the encoder."""
        check_text(text, False)
        vector = self.embeddings.lookup(text)
        if vector is not None:
            return vector
        ids = await self.tokenizer.encode(text)
        vector = await self.encoder.embed_ids(ids)
        self.embeddings.store(text, vector)
        return vector

    async def predict(self, text):
        """``{label, scores: {label: probability}}`` for ``text``."""
        vector = await self.embed(text)
        return self.classifier.predict(vector)

    async def suggest(self, texts, on_progress):
        """Which of ``texts`` to label next: all of them, least certain prediction first.

        on_progress(done, total) or None. Returns ``{index, text, label, confidence, margin}``
        per text."""
        labels = self.classifier.labels()
        results = []
        for i in range(len(texts)):
            results.append(await self.predict(texts[i]))
            if on_progress is not None:
                on_progress(i + 1, len(texts))
        rows = [[result["scores"][label] for label in labels] for result in results]
        items = []
        for i in uncertainty_order(rows):
            items.append({"index": i, "text": texts[i], "label": results[i]["label"],
                          "confidence": results[i]["scores"][results[i]["label"]],
                          "margin": margin(rows[i])})
        return items

    async def backend(self):
        """``{name, threads, note, model, measured}`` of the encoder's backend."""
        return self.encoder.info()

    async def labels(self):
        return self.classifier.labels()

    async def prime_embeddings(self, texts, vectors):
        """Keep ``vectors[i]`` as the embedding of ``texts[i]`` (vectors the same encoder made
        elsewhere, e.g. a benchmark's), so that adding or predicting those texts does not
        run the encoder. Returns the number kept."""
        if len(texts) != len(vectors):
            raise AppError("Give one vector per text.")
        for i in range(len(texts)):
            check_text(texts[i], False)
            if len(vectors[i]) != self.manifest["hidden_size"]:
                raise AppError("An embedding of this encoder has " + str(
                    self.manifest["hidden_size"]) + " values.")
            self.embeddings.store(texts[i], __new__(Float32Array(vectors[i])))
        return len(texts)

    async def stats(self):
        """Start-up timings (ms), where the model came from, and embedding-cache counters."""
        return {"timings": self.timings, "embeddings": self.embeddings.stats()}
