"""Embeddings already computed, keyed by model and text, so that a known text never runs
through the encoder again (retraining replays examples from here)."""


class EmbeddingCache:
    """A bounded map (model sha256, text) → Float32Array, oldest entries dropped first."""

    def __init__(self, model_key, capacity):
        self.model_key = model_key
        self.capacity = capacity
        self.entries = __new__(Map())
        self.hits = 0
        self.misses = 0

    def _key(self, text):
        return self.model_key + "\u0000" + text

    def lookup(self, text):
        """Return a copy of the cached vector for ``text``, or None."""
        vector = self.entries.js_get(self._key(text))
        if vector is None or typeof(vector) == "undefined":
            self.misses += 1
            return None
        self.hits += 1
        return vector.slice()

    def store(self, text, vector):
        key = self._key(text)
        self.entries.delete(key)
        self.entries.set(key, vector.slice())
        while self.entries.size > self.capacity:
            oldest = self.entries.js_keys().js_next().value
            self.entries.delete(oldest)
        return None

    def stats(self):
        return {"size": self.entries.size, "hits": self.hits, "misses": self.misses}
