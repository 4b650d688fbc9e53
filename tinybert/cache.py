"""Embeddings kept on disk, so that a text already embedded by a model never runs again.

One SQLite file, ``embeddings.sqlite3`` in the cache folder (``--cache DIR``, else
``$TINYBERT_CACHE``, else ``$XDG_CACHE_HOME/tinybert`` or ``~/.cache/tinybert``). A row is
keyed by the model's cache key (encoder and tokenizer bytes, max length, pooling: see
tinybert.model) and the sha256 of the text, so the texts themselves are not stored, and a
rebuilt or different model never reuses another's vectors.
"""
import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np

from tinybert.errors import InputError

FILE = "embeddings.sqlite3"
SCHEMA = ("CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, text_sha256 BLOB NOT "
          "NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256)) WITHOUT ROWID")


def default_folder():
    """The cache folder used when none is given (see the module docstring)."""
    if os.environ.get("TINYBERT_CACHE"):
        return Path(os.environ["TINYBERT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinybert"


def _text_key(text):
    # surrogatepass: texts from the command line may hold lone surrogates (undecodable bytes)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """float32 vectors of ``dim`` values by (model key, text), in ``folder``.

    Raises InputError when the folder cannot be created or the file is not a database.
    """

    def __init__(self, folder, model_key, dim):
        self.model_key = model_key
        self.dim = dim
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(folder / FILE), timeout=30)
            self.db.execute(SCHEMA)
            self.db.commit()
        except (OSError, sqlite3.Error) as error:
            raise InputError(f"Cannot use the embedding cache in {folder}: {error}. Pass "
                             "--cache with another folder, or --no-cache.") from None

    def get(self, text):
        """The cached vector of ``text`` (float32 array), or None."""
        row = self.db.execute("SELECT vector FROM embeddings WHERE model = ? AND "
                              "text_sha256 = ?", (self.model_key, _text_key(text))).fetchone()
        if row is None or len(row[0]) != 4 * self.dim:
            return None
        return np.frombuffer(row[0], dtype="<f4").astype(np.float32)

    def put_many(self, pairs):
        """Store ``[(text, vector), ...]`` in one transaction."""
        self.db.executemany(
            "INSERT OR REPLACE INTO embeddings (model, text_sha256, vector) VALUES (?, ?, ?)",
            [(self.model_key, _text_key(t), np.asarray(v, dtype="<f4").tobytes())
             for t, v in pairs])
        self.db.commit()

    def close(self):
        self.db.close()


class NoCache:
    """The cache interface, keeping nothing (``--no-cache``)."""

    def get(self, text):
        return None

    def put_many(self, pairs):
        return None

    def close(self):
        return None
