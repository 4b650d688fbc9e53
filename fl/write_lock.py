"""A queue for SQLite's writers: an exclusive ``flock`` held around each write transaction.

SQLite lets one writer at a time into the database; the others find it busy and retry after
sleeps that grow to 100 ms, so under load a writer often sleeps long after the lock was freed.
Writers that first take ``WriteLock`` (one open file each, next to the database:
``<database>-writer``) wait in the kernel instead and are woken as soon as the previous
writer releases it, in whichever process or thread they run. SQLite's own locking is
unchanged underneath: a writer that does not take this lock is still kept out by SQLite.
Where ``fcntl`` is missing (Windows) the lock does nothing and SQLite's retries remain.
"""
import os

try:
    import fcntl
except ImportError:   # not POSIX
    fcntl = None


class WriteLock:
    """One holder's handle on the writers' lock of the SQLite database at ``db_path``."""

    def __init__(self, db_path):
        self.fd = None
        if fcntl is not None:
            self.fd = os.open(str(db_path) + "-writer", os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self):
        """Wait until no other handle holds the lock, then hold it."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
