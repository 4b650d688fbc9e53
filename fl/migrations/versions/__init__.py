"""One module a schema revision, applied in order by ``fl.migrate.upgrade``."""
