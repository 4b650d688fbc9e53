"""Texts to embeddings as the page makes them: the core tokenizer, the native encoder, the
disk cache in front of it."""
import time

import numpy as np

from tinybert.encoder import NativeEncoder
from tinybert.progress import Progress

SAVE_EVERY = 256   # texts written to the cache per transaction


class Embedder:
    """Embeds texts with ``model``, looking in ``cache`` first.

    threads: the encoder's intra-op threads (0: onnxruntime's default); progress: None to
    draw a bar only on a terminal, or True/False. The encoder is loaded on the first text
    that is not in the cache, so a fully cached run never starts onnxruntime.
    """

    def __init__(self, model, cache, threads, progress):
        self.model = model
        self.cache = cache
        self.threads = threads
        self.progress = progress
        self.encoder = None

    def embed_one(self, text):
        """The embedding of one text (float32 array of the model's hidden size)."""
        return self.embed([text])[0]

    def embed(self, texts):
        """``(vectors, stats)``: float32 [len(texts), hidden], one row per text (each distinct
        text looked up or embedded once), and ``{"texts", "distinct", "embedded" (encoder
        runs), "cached", "seconds" (encoder time), "rows_per_second" (embedded / seconds)}``.
        """
        vectors = {}
        missing = []
        for text in texts:
            if text in vectors:
                continue
            vectors[text] = self.cache.get(text)
            if vectors[text] is None:
                missing.append(text)
        seconds = self._embed_missing(missing, vectors)
        out = np.zeros((len(texts), self.model.hidden_size), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = vectors[text]
        stats = {"texts": len(texts), "distinct": len(vectors), "embedded": len(missing),
                 "cached": len(vectors) - len(missing), "seconds": round(seconds, 3),
                 "rows_per_second": round(len(missing) / seconds, 1) if seconds > 0 else None}
        return out, stats

    def _embed_missing(self, missing, vectors):
        if len(missing) == 0:
            return 0.0
        if self.encoder is None:
            self.encoder = NativeEncoder(self.model, self.threads)
        bar = Progress(len(missing), "embedding", None, self.progress)
        start = time.perf_counter()
        pending = []
        for i, text in enumerate(missing):
            vectors[text] = self.encoder.embed_ids(self.model.tokenizer.encode(text))
            pending.append((text, vectors[text]))
            if len(pending) >= SAVE_EVERY:
                self.cache.put_many(pending)
                pending = []
            bar.update(i + 1)
        self.cache.put_many(pending)
        bar.finish()
        return time.perf_counter() - start
