"""Group commit: the writes that threads of one process hand in at the same time share one
transaction, so they share its commit (one fsync) and one hold of the database's write lock.

``GroupCommit.run(item, work)`` queues ``item`` and returns its outcome once the
transaction that handled it has committed. The first thread to arrive while no batch is
being written leads: it takes every queued item (at most ``limit``) and calls
``work(items)``, which takes a connection, handles them in order in one transaction and
returns one outcome per item (the other threads of the batch need no connection at all).
Threads that arrive while a batch is being written wait for it to end; then one of those
whose items are still queued leads the next.
Nothing waits on purpose: a batch holds what arrived during the previous commit, so a lone
request is written alone and at once, exactly as without batching.

If ``work`` raises, nothing of its batch was committed: the leader gets the exception and
the other threads of the batch get ``BatchFailed`` (from it).
"""
import threading

LIMIT = 64


class BatchFailed(RuntimeError):
    """The transaction that held this item failed; nothing of it was committed."""


class _Entry:
    def __init__(self, item):
        self.item = item
        self.done = False
        self.outcome = None
        self.error = None


class GroupCommit:
    """One queue of items per process (thread-safe); ``run`` blocks until the item's batch
    has committed."""

    def __init__(self, limit=LIMIT):
        self.limit = limit
        self.batches = 0   # batches written so far (for tests and benchmarks)
        self.items = 0
        self._queue = []
        self._leading = False
        self._cond = threading.Condition()

    def run(self, item, work):
        """The outcome ``work`` returned for ``item``, after its transaction committed."""
        entry = _Entry(item)
        with self._cond:
            self._queue.append(entry)
        while True:
            with self._cond:
                while self._leading and not entry.done:
                    self._cond.wait()
                if entry.done:
                    break
                self._leading = True
                batch, self._queue = self._queue[:self.limit], self._queue[self.limit:]
            self._lead(batch, work, entry)
        if entry.error is not None:
            raise entry.error
        return entry.outcome

    def _lead(self, batch, work, own):
        try:
            outcomes = work([e.item for e in batch])
        except BaseException as exc:
            for e in batch:
                if e is own:
                    e.error = exc
                else:
                    e.error = BatchFailed("the transaction of this batch failed: %r" % (exc,))
                    e.error.__cause__ = exc
        else:
            for e, outcome in zip(batch, outcomes):
                e.outcome = outcome
        finally:
            with self._cond:
                for e in batch:
                    e.done = True
                self.batches += 1
                self.items += len(batch)
                self._leading = False
                self._cond.notify_all()
