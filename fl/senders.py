"""Who holds a token: the clients a process has already looked up, kept for a while.

Every update names its sender by a bearer token; finding the client (its id, federation,
and the head shape its update must have) is a database read per request, as dear as the
rest of the request's SQL together. What it finds does not change during a client's life
(clients are never deleted and a federation's labels and dim are fixed) except that the
operator may revoke it, so ``SenderCache`` keeps what was found: at most ``size`` clients,
each for at most ``ttl`` seconds. Only ``POST /api/update`` reads it, and the statement that
stores an update refuses a revoked client's (``fl.store.insert_update``), so a revoked token
is refused at once everywhere, not only after ``ttl``. Thread-safe. A token that finds no
client is not kept.
"""
import threading
import time
from collections import OrderedDict

SIZE = 50_000
TTL = 60.0


class SenderCache:
    """Clients by the hash of their token (``get``, ``put``), least recently used dropped
    first."""

    def __init__(self, size=SIZE, ttl=TTL, clock=time.monotonic):
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._entries = OrderedDict()   # token hash -> (client dict, kept since)
        self._lock = threading.Lock()

    def get(self, token_hash):
        """The client kept for ``token_hash``, or None (never kept, dropped or expired)."""
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is not None and self.clock() - entry[1] < self.ttl:
                self._entries.move_to_end(token_hash)
                self.hits += 1
                return entry[0]
            if entry is not None:
                del self._entries[token_hash]
            self.misses += 1
            return None

    def put(self, token_hash, client):
        """Keep ``client`` (a dict that nobody changes afterwards) for ``token_hash``."""
        with self._lock:
            self._entries[token_hash] = (client, self.clock())
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
