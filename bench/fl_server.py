"""FL server throughput: accepted updates a second and round-closing time per aggregator.

``python -m bench fl_server`` (once registered) or ``run(argv)``. Uses the Flask test client
on a temporary SQLite file (WAL, synchronous=FULL: every acknowledged update is on disk), so
it measures the server's own work without HTTP. Writes ``bench/results/fl_server.json``.

Also the pieces ``bench/fl_load.py`` reports: ``Body`` (update bytes for any client, round and
base version without the pure-Python encoder), ``profile`` (wall time of each piece of the
update request path: decode, SQL, commit, connections, round closing) and ``fsync_ms``.
"""
import argparse
import json
import os
import struct
import tempfile
import time
import zlib

import numpy as np

from bench import RESULTS
from fl import create_app
from tinybert_core import codec


def _round(aggregator, clients, rng, directory):
    app = create_app({"TESTING": True, "FEDERATION_MODE": "plain", "MIN_UPDATES": clients,
                      "AGGREGATOR": aggregator,
                      "DATABASE_PATH": os.path.join(directory, aggregator + ".sqlite3")})
    http = app.test_client()
    people = [http.post("/api/register", json={}).get_json() for _ in range(clients)]
    state = http.get("/api/federation").get_json()
    bodies = []
    for person in people:
        update = codec.Update(person["client_id"], state["round"]["id"], 0, 10, 3, 384,
                              rng.normal(scale=0.01, size=1152).tolist(), [0.0, 0.0, 0.0])
        bodies.append((codec.encode_update(update, 10.0), person["token"]))
    times = []
    for data, token in bodies:
        start = time.perf_counter()
        answer = http.post("/api/update", data=data, content_type="application/octet-stream",
                           headers={"Authorization": "Bearer " + token})
        times.append(time.perf_counter() - start)
        assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["round_closed"]
    return {"clients": clients, "update_ms_median": float(np.median(times[:-1]) * 1e3),
            "closing_update_ms": times[-1] * 1e3,
            "updates_per_second": (len(times) - 1) / sum(times[:-1])}


def run(argv=None):
    """Time one round per aggregator; write and return the results."""
    parser = argparse.ArgumentParser(prog="bench fl_server")
    parser.add_argument("--out", default=os.path.join(RESULTS, "fl_server.json"))
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args(argv or [])
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as directory:
        results = {name: _round(name, args.clients, rng, directory)
                   for name in ("fedavg", "median", "trimmed_mean", "krum")}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    return results


K, D = 3, 384


class Body:
    """Update bytes for any client, round and base version from one encoded delta."""

    def __init__(self, bound):
        rng = np.random.default_rng(0)
        delta = rng.normal(scale=0.02, size=K * D + K)
        self.update = codec.Update(1, 1, 0, 20, K, D, delta[:K * D].tolist(),
                                   delta[K * D:].tolist())
        self.template = bytearray(codec.encode_update(self.update, bound))
        self.bound = bound

    def make(self, client_id, round_id, base_version):
        out = bytearray(self.template)
        struct.pack_into("<III", out, 8, client_id, round_id, base_version)
        struct.pack_into("<I", out, len(out) - 4, zlib.crc32(bytes(out[:-4])))
        return bytes(out)

    def check(self):
        u = self.update
        other = codec.Update(77, 5, 4, u.num_examples, K, D, u.weights, u.bias)
        assert self.make(77, 5, 4) == codec.encode_update(other, self.bound)


class Timers:
    """Wall time spent in pieces of the request path, split by whether a round was closing."""

    def __init__(self):
        self.totals = {}
        self.closing = False

    def add(self, name, seconds):
        key = ("close: " if self.closing and name != "close round (all)" else "") + name
        self.totals[key] = self.totals.get(key, 0.0) + seconds

    def wrap(self, owner, attr, name_of):
        original = getattr(owner, attr)
        timers = self

        def timed(*args, **kwargs):
            name = name_of(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timers.add(name, time.perf_counter() - start)

        setattr(owner, attr, timed)
        return original


def _time_sql(engine, timers):
    """Time each statement by kind (BEGIN, other SQL) and each COMMIT on ``engine``."""
    from sqlalchemy import event
    started = {}

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        word = statement.strip().split()[0].upper()
        name = "SQL " + ("BEGIN" if word == "BEGIN" else "queries")
        timers.add(name, time.perf_counter() - started.pop(id(cursor), time.perf_counter()))

    dialect = engine.dialect
    timers.wrap(dialect, "do_commit", lambda *a: "SQL COMMIT")


def profile(config, min_updates, updates=300):
    """Wall ms per update of the pieces of the request path (Flask test client, one
    process, ``updates`` updates with min_updates ``min_updates``). SQL is timed through
    SQLAlchemy's cursor events, so "SQL queries" is the driver's time; SQLAlchemy's own
    (building, caching, results) is in "rest"."""
    from fl import auth, database, rounds, strategies, update_decoder
    timers = Timers()
    originals = []
    app = create_app(dict(config, TESTING=True, MIN_UPDATES=min_updates, ROUND_SECONDS=3600,
                          FEDERATION_MODE=config.get("FEDERATION_MODE", "plain")))
    http = app.test_client()
    people = [http.post("/api/register", json={}).get_json() for _ in range(min_updates)]
    state = http.get("/api/federation").get_json()
    body = Body(state["clip_bound"])
    engine = app.extensions["fl"].database.engine
    _time_sql(engine, timers)
    originals.append((codec, "decode_update",
                      timers.wrap(codec, "decode_update", lambda *a: "decode update (codec)")))
    originals.append((update_decoder, "decode_update", timers.wrap(
        update_decoder, "decode_update", lambda *a: "decode update (numpy)")))
    originals.append((strategies.update_decoder, "decode_update",
                      strategies.update_decoder.decode_update))
    originals.append((database.Database, "connect", timers.wrap(
        database.Database, "connect", lambda *a: "connection from the pool (pre-ping)")))
    originals.append((auth, "token_hash", timers.wrap(auth, "token_hash",
                                                      lambda *a: "token hash")))
    close = rounds._close

    def timed_close(*args):
        timers.closing = True
        start = time.perf_counter()
        try:
            return close(*args)
        finally:
            timers.closing = False
            timers.add("close round (all)", time.perf_counter() - start)

    rounds._close = timed_close
    try:
        round_id, version = state["round"]["id"], state["head_version"]
        start = time.perf_counter()
        for i in range(updates):
            who = people[i % min_updates]
            answer = http.post("/api/update", data=body.make(who["client_id"], round_id, version),
                               content_type="application/octet-stream",
                               headers={"Authorization": "Bearer " + who["token"]})
            assert answer.status_code == 202, answer.get_json()
            got = answer.get_json()
            round_id, version = got["current_round"], got["head_version"]
        total = time.perf_counter() - start
        parts = dict(timers.totals)   # the reads below are timed on their own
        start = time.perf_counter()
        for _ in range(updates):
            http.get("/api/health")
        baseline = time.perf_counter() - start
        reads = {}
        for path in ("/api/federation", "/api/head"):   # what a client reads before training
            start = time.perf_counter()
            for _ in range(50):
                assert http.get(path).status_code == 200
            reads["GET " + path] = 1e3 * (time.perf_counter() - start) / 50
    finally:
        rounds._close = close
        for owner, attr, original in originals:
            setattr(owner, attr, original)
        app.extensions["fl"].database.dispose()
    out = {"updates": updates, "rounds_closed": updates // min_updates, "reads_ms": reads,
           "total_ms_per_update": 1e3 * total / updates,
           "parts_ms_per_update": {k: 1e3 * v / updates for k, v in sorted(parts.items())}}
    inside = sum(v for k, v in parts.items() if not k.startswith("close: ")
                 and k != "close round (all)") + parts.get("close round (all)", 0.0)
    rest = 1e3 * (total - inside) / updates
    out["health_request_ms"] = 1e3 * baseline / updates
    out["parts_ms_per_update"]["Flask + test client (as GET /api/health)"] = \
        out["health_request_ms"]
    out["parts_ms_per_update"]["rest (SQLAlchemy, body, checks, numpy, JSON)"] = \
        rest - out["health_request_ms"]
    return out


def fsync_ms(folder, repeats=100):
    """Median time to write 4 KiB and fsync it, in this folder's file system."""
    path = os.path.join(folder, "fsync-probe")
    times = []
    with open(path, "wb") as f:
        for _ in range(repeats):
            f.write(b"\0" * 4096)
            f.flush()
            start = time.perf_counter()
            os.fsync(f.fileno())
            times.append(time.perf_counter() - start)
    os.remove(path)
    return float(np.median(times) * 1e3)
