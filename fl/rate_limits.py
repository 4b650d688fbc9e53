"""Rate limits on the write routes: requests counted per token and per address in fixed
windows, in the server's own database, so every process of every worker sees one count.

Why not a library: Flask-Limiter's storage (the ``limits`` package) is memory, Redis,
Memcached, MongoDB or etcd: none is the SQLite or PostgreSQL database the workers already
share, and memory is per process (N gunicorn workers would allow N times the limit).
pyrate-limiter has SQLite and PostgreSQL buckets, but they log one row per request through
connections of their own (a psycopg pool for PostgreSQL) and so cost a transaction and a
commit per request outside the server's; on this 2-core machine the load benchmark has no
such room (``bench/results/fl_load.md``: 508 updates/s on SQLite, goal 500). Here a counter
is one UPSERT in the transaction that stores the update (``fl.rounds.store_updates``, shared
by the updates of a group commit) or records its refusal; the other write routes (register,
the secure rounds' messages) count in a short transaction of their own.

Rules (``Limits``): a key is ``token:<sha256 of the bearer token>`` or ``address:<client
address>`` (``register:<address>`` for registrations); each has at most ``limit`` requests a
window of ``window`` seconds (window ``n`` is ``[n * window, (n + 1) * window)``). The
request that goes over is refused (``RATE_LIMITED``, 429 with ``Retry-After``: the seconds
to the window's end), and counted; the process then refuses that key's requests at once,
without the database, until the window ends. Refusals for rate are not counted in rounds
(a flood must not write a row per request). Rows of windows before the previous one are
deleted, by each process once a window.
"""
import logging
import math
import threading
from dataclasses import dataclass

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from fl.database import writing
from fl.refusals import RATE_LIMITED, Refusal
from fl.tables import rate_counters

log = logging.getLogger("fl.rate_limits")

_UPSERT = {
    name: dialect_insert(rate_counters)
    .values(key=bindparam("key"), window=bindparam("window"), hits=bindparam("n"))
    .on_conflict_do_update(index_elements=["key", "window"],
                           set_={"hits": rate_counters.c.hits + bindparam("n")})
    .returning(rate_counters.c.hits)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
_FORGET = delete(rate_counters).where(rate_counters.c.window < bindparam("before"))


@dataclass(frozen=True)
class Limits:
    """The rules: requests a ``window`` (seconds) per token, per address, and registrations
    per address; ``enabled`` False counts nothing."""
    window: float = 60.0
    per_token: int = 600
    per_address: int = 120_000
    registrations: int = 3_000
    enabled: bool = True


class RateLimiter:
    """Counts requests in the database; remembers, per process, the keys over their limit."""

    def __init__(self, limits, clock):
        self.limits = limits
        self.clock = clock
        self._blocked = {}   # key -> end of the window in which it went over
        self._swept = None   # the last window this process deleted old rows in
        self._lock = threading.Lock()

    def keys(self, token_hash, address, registering=False):
        """``[(key, limit)]`` of a request: its token's (if any) and its address's."""
        if not self.limits.enabled:
            return []
        found = []
        if token_hash:
            found.append(("token:" + token_hash, self.limits.per_token))
        if registering:
            found.append(("register:%s" % address, self.limits.registrations))
        else:
            found.append(("address:%s" % address, self.limits.per_address))
        return found

    def _window(self, now):
        return int(now // self.limits.window)

    def _retry_after(self, now):
        return max(1, math.ceil((self._window(now) + 1) * self.limits.window - now))

    def _refusal(self, key, now):
        kind = key.partition(":")[0]
        return Refusal(RATE_LIMITED, "too many requests for this %s: at most %d a %g s window;"
                       " try again in %d s" % (
                           "address" if kind != "token" else "token",
                           {"token": self.limits.per_token, "address": self.limits.per_address,
                            "register": self.limits.registrations}[kind],
                           self.limits.window, self._retry_after(now)),
                       extra={"retry_after": self._retry_after(now)})

    def check_blocked(self, keys):
        """Raise Refusal (rate_limited) if this process knows one of ``keys`` is over its
        limit in the current window; no database."""
        if not self._blocked:
            return
        now = self.clock()
        with self._lock:
            for key, _ in keys:
                until = self._blocked.get(key)
                if until is not None:
                    if now < until:
                        raise self._refusal(key, now)
                    del self._blocked[key]

    def count(self, conn, key_lists, now):
        """Count one request for each list of ``(key, limit)`` in ``key_lists`` (inside the
        caller's transaction; keys in sorted order, so that transactions never wait for each
        other's counters in a cycle). Returns, per list, None or the Refusal of the first key
        it took over its limit (in the order of the lists)."""
        window = self._window(now)
        wanted = {}
        for keys in key_lists:
            for key, _ in keys:
                wanted[key] = wanted.get(key, 0) + 1
        totals = {key: conn.execute(_UPSERT[conn.dialect.name],
                                    {"key": key, "window": window, "n": n}).scalar()
                  for key, n in sorted(wanted.items())}
        if self._swept != window:
            conn.execute(_FORGET, {"before": window - 1})
            self._swept = window
        seen = {key: total - wanted[key] for key, total in totals.items()}   # before these
        outcomes = []
        for keys in key_lists:
            refusal = None
            for key, limit in keys:
                seen[key] += 1
                if refusal is None and seen[key] > limit:
                    refusal = self._refusal(key, now)
                    self._block(key, now)
            outcomes.append(refusal)
        return outcomes

    def _block(self, key, now):
        with self._lock:
            if key not in self._blocked:
                log.warning("rate limit: %s over its limit until the window ends in %d s",
                            key.partition(":")[0], self._retry_after(now))
            self._blocked[key] = (self._window(now) + 1) * self.limits.window

    def hit(self, database, keys):
        """Count one request for ``keys`` in a transaction of its own; raise its Refusal
        (rate_limited) if it went over a limit."""
        if not keys:
            return
        self.check_blocked(keys)
        with database.connect() as conn, writing(conn):
            refusal = self.count(conn, [keys], self.clock())[0]
        if refusal is not None:
            raise refusal
