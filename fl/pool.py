"""Open database connections kept for reuse by the requests of one process.

Opening a connection is the dearest part of a small request: SQLite opens the file and sets
its pragmas, PostgreSQL forks a server process for it. ``ConnectionPool(db)`` hands out an
idle connection when there is one (``acquire``) and takes it back after the request
(``release``). It is thread-safe and never blocks: with every kept connection in use it
opens another, and it keeps at most ``keep`` idle ones.

A connection is only kept when it is healthy and outside any transaction. One that sat idle
for ``check_after`` seconds or more is checked (``Connection.alive``) before it is handed
out, so a database restarted while the process was quiet costs no request; one that broke
during a request is closed at release and replaced by a new one at the next ``acquire``.
Connections opened by another process (before a fork) are never handed out.
"""
import os
import threading
import time

KEEP = 16
CHECK_AFTER = 2.0


class ConnectionPool:
    """Idle connections of ``db`` (a ``fl.db.Database``), reused across requests."""

    def __init__(self, db, keep=KEEP, check_after=CHECK_AFTER, clock=time.monotonic):
        self.db = db
        self.keep = keep
        self.check_after = check_after
        self.clock = clock
        self.opened = 0   # connections opened so far (for tests and benchmarks)
        self._idle = []   # (connection, released at), most recently released last
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def acquire(self):
        """A usable connection: an idle one if any passes its checks, else a new one."""
        while True:
            with self._lock:
                self._forget_after_fork()
                item = self._idle.pop() if self._idle else None
                if item is None:
                    self.opened += 1
            if item is None:
                return self.db.connect()
            conn, since = item
            if self.clock() - since < self.check_after or conn.alive():
                return conn
            conn.close_quietly()

    def release(self, conn):
        """Take ``conn`` back after a request; closes it unless it is fit to be reused."""
        if not conn.reusable():
            conn.close_quietly()
            return
        with self._lock:
            self._forget_after_fork()
            if len(self._idle) < self.keep:
                self._idle.append((conn, self.clock()))
                return
        conn.close_quietly()

    def close_all(self):
        """Close every idle connection (those in use are closed when released)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close_quietly()

    def idle_count(self):
        with self._lock:
            return len(self._idle)

    def _forget_after_fork(self):
        # A forked child shares its parent's sockets and files: it must not use them.
        if os.getpid() != self._pid:
            self._idle = []
            self._pid = os.getpid()
