"""Rounds: accept or refuse client updates, close rounds, aggregate into new head versions.

Round life: ``open`` (no update yet) -> ``collecting`` -> ``aggregated`` (a new head version)
or ``failed`` (the aggregator could not decide; the head is unchanged). A round closes when
``min_updates`` updates arrived or when its deadline passed with at least one update; a round
whose deadline passes without any update gets a new deadline. Closing a round opens the next.

Every write happens in one transaction that holds the federation's row lock, and commits
before the caller answers the client. Refusals are raised as ``Refused`` and recorded by
``record_refusal`` in a transaction of their own, so a refused update never touches a round;
the refusals only the locked checks find (stale round or base, replay) are recorded in the
transaction that found them instead, and their answer names the current round and head.
Updates that arrive together may share one transaction (``store_updates``, fed by
``fl.group_commit``): each is handled as if alone, in order, and none is answered before the
transaction commits.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fl import first_round, store, update_decoder
from fl.aggregators import AggregationError
from fl.errors import ApiError
from tinybert_core import codec

# Codec reasons: the bytes are not an update (400) or an update the head cannot take (422).
_UNPROCESSABLE = {"bad_scheme", "bad_shape", "non_finite", "too_large"}


class Refused(ApiError):
    """An update the server will not take; ``error`` is the reason counted in the round.

    ``round_id``: the round the update named, once it could be read (else None);
    ``recorded``: whether it is already counted in a round."""

    def __init__(self, status, error, detail, round_id=None, extra=None):
        super().__init__(status, error, detail, extra)
        self.round_id = round_id
        self.recorded = False


@dataclass(frozen=True)
class Settings:
    """The round rules: resolved config, fixed for the server's life."""
    min_updates: int
    round_seconds: float
    clip_bound: float
    aggregate: Callable
    clock: Callable[[], float]


def ensure_federation(conn, spec, settings):
    """Create federation ``spec`` (name, labels, dim, encoder, hidden_size) if missing, with a
    zero head (version 0) and an open round. Raises ValueError if one of that name exists with
    a different shape: a head must never be served against the wrong encoder or labels."""
    now = settings.clock()
    with conn.transaction():
        store.insert_federation(conn, spec, now)
        fed = store.federation_by_name(conn, spec["name"], lock=True)
        for key in ("labels", "dim", "encoder", "hidden_size"):
            wanted = list(spec[key]) if key == "labels" else spec[key]
            if fed[key] != wanted:
                raise ValueError("federation %r exists with %s=%r, config says %r"
                                 % (spec["name"], key, fed[key], wanted))
        if store.head(conn, fed["id"], 0) is None:
            k, d = len(fed["labels"]), fed["dim"]
            store.insert_head(conn, fed["id"], 0, np.zeros(k * d), np.zeros(k), None, now)
        if store.live_round(conn, fed["id"]) is None:
            store.open_round(conn, fed["id"], fed["head_version"], now, settings.round_seconds)
    return fed


def close_if_due(conn, federation_id, settings):
    """Close the live round if its deadline passed (checked again under the lock)."""
    now = settings.clock()
    live = store.live_round(conn, federation_id)
    if live is None or live["deadline"] > now:
        return
    with conn.transaction():
        fed = store.federation_by_id(conn, federation_id, lock=True)
        live = store.live_round(conn, federation_id)
        if live is not None and live["deadline"] <= now:
            _close(conn, fed, live, settings, now)


def _flat(update):
    return np.concatenate([np.asarray(update.weights, np.float64),
                           np.asarray(update.bias, np.float64)])


def _close(conn, fed, live, settings, now):
    rows = store.updates_of(conn, live["id"])
    if len(rows) == 0:
        store.set_round(conn, live["id"], "open", deadline=now + settings.round_seconds)
        return
    deltas = np.stack([_flat(update_decoder.decode_update(row["payload"])) for row in rows])
    counts = np.array([row["num_examples"] for row in rows], dtype=np.float64)
    weights, bias = store.head(conn, fed["id"], fed["head_version"])
    base = np.concatenate([weights, bias]).astype(np.float64)
    try:
        step = settings.aggregate(deltas, counts)
        if fed["head_version"] == 0:   # the updates are class statistics (fl.first_round)
            new = first_round.prototype_head(step, len(bias), len(weights) // len(bias))
        else:
            new = base + step
        new = new.astype(np.float32)
        if not np.all(np.isfinite(new)):
            raise AggregationError("the aggregated head is not finite")
    except AggregationError as exc:
        store.set_round(conn, live["id"], "failed", closed_at=now, detail=str(exc))
        store.open_round(conn, fed["id"], fed["head_version"], now, settings.round_seconds)
        return
    version = fed["head_version"] + 1
    split = len(weights)
    store.insert_head(conn, fed["id"], version, new[:split], new[split:], live["id"], now)
    store.set_head_version(conn, fed["id"], version)
    store.set_round(conn, live["id"], "aggregated", closed_at=now, result_version=version)
    store.open_round(conn, fed["id"], version, now, settings.round_seconds)


def _decode(payload, client, settings):
    """The update in ``payload``, checked against everything that needs no lock."""
    try:
        update = update_decoder.decode_update(payload)
    except codec.CodecError as exc:
        raise Refused(422 if exc.reason in _UNPROCESSABLE else 400, exc.reason, str(exc))
    if update.client_id != client["id"]:
        raise Refused(403, "wrong_client", "the update names client %d but the token belongs"
                      " to client %d" % (update.client_id, client["id"]))
    rows, cols = len(client["labels"]), client["dim"]
    if (update.rows, update.cols) != (rows, cols):
        raise Refused(422, "bad_shape", "the head is %d x %d, the update %d x %d"
                      % (rows, cols, update.rows, update.cols))
    flat = _flat(update)
    if not np.all(np.isfinite(flat)):
        raise Refused(422, "non_finite", "the update holds values that are not finite")
    norm = float(np.linalg.norm(flat))
    if norm > settings.clip_bound * (1 + 1e-6):
        raise Refused(422, "norm_exceeded", "the delta's L2 norm %.6g exceeds the clip bound"
                      " %.6g" % (norm, settings.clip_bound))
    return update, norm


def submit_update(conn, client, payload, settings, group=None):
    """Check and store one update; close the round if it is the last one needed.

    client: the authenticated client row from ``store.sender_by_token_hash`` (with its
    federation's labels and dim and its live round's deadline); payload: the request body;
    group: a ``fl.group_commit.GroupCommit`` to share a transaction with the updates other
    threads store at the same time (None: a transaction of its own).
    Returns a dict for the answer, once committed. Raises Refused (no update stored) on any
    failed check.
    """
    deadline = client["live_deadline"]
    if deadline is None or deadline <= settings.clock():
        close_if_due(conn, client["federation_id"], settings)
    update = None
    try:
        update, norm = _decode(payload, client, settings)
        item = (client, update, norm, bytes(payload))
        if group is None:
            outcome = store_updates(conn, [item], settings)[0]
        else:
            outcome = group.run(conn, item, lambda c, items: store_updates(c, items, settings))
        if isinstance(outcome, Refused):
            raise outcome
        return outcome
    except Refused as refusal:
        if update is not None:
            refusal.round_id = update.round_id
        raise


def store_updates(conn, items, settings):
    """Store checked updates in order, in one transaction under their federations' locks.

    items: ``(client, update, norm, payload)`` tuples. Returns, per item, the answer dict of
    an accepted update or the (recorded, not raised) Refused of a stale or replayed one;
    handled in order, each sees the rounds the ones before it closed.
    """
    now = settings.clock()
    with conn.transaction():
        # Locked in id order, so that two batches never wait for each other's locks.
        locked = {federation_id: _Locked(conn, federation_id) for federation_id
                  in sorted({item[0]["federation_id"] for item in items})}
        return [_store(conn, item, settings, now, locked) for item in items]


class _Locked:
    """A federation read under its row lock: the row, its live round and how many updates
    that round holds (kept up to date by this transaction, the only writer)."""

    def __init__(self, conn, federation_id):
        self.fed = store.federation_by_id(conn, federation_id, lock=True)
        self.live = store.live_round(conn, federation_id)
        self.accepted = store.count_updates(conn, self.live["id"])


def _store(conn, item, settings, now, locked):
    client, update, norm, payload = item
    federation_id = client["federation_id"]
    state = locked[federation_id]
    fed, live = state.fed, state.live
    refusal = _conflict(update, fed, live)
    if refusal is None and not store.insert_update(
            conn, live["id"], client["id"], update.num_examples, norm, payload, now):
        refusal = _replay(client, fed, live)
    if refusal is not None:   # counted in this transaction; raised once it committed
        refusal.round_id = update.round_id
        _record(conn, federation_id, client["id"], refusal, now, live)
        return refusal
    state.accepted += 1
    accepted = state.accepted
    closed = accepted >= settings.min_updates
    if closed:
        _close(conn, fed, live, settings, now)
        state = locked[federation_id] = _Locked(conn, federation_id)
    elif live["status"] == "open":
        store.set_round(conn, live["id"], "collecting")
        live["status"] = "collecting"
    return {"accepted": True, "round": live["id"], "accepted_in_round": accepted,
            "round_closed": closed, "head_version": state.fed["head_version"],
            "current_round": state.live["id"]}


def _where_now(fed, live):
    return {"current_round": live["id"], "head_version": fed["head_version"]}


def _conflict(update, fed, live):
    """A 409 Refused if the update is for another round or head version, else None."""
    if update.round_id != live["id"]:
        return Refused(409, "stale_round", "round %d is not open; the current round is %d"
                       % (update.round_id, live["id"]), extra=_where_now(fed, live))
    if update.base_version != fed["head_version"]:
        return Refused(409, "stale_base", "the update was trained from head version %d;"
                       " the current version is %d"
                       % (update.base_version, fed["head_version"]), extra=_where_now(fed, live))
    return None


def _replay(client, fed, live):
    return Refused(409, "replay", "client %d already sent an update in round %d"
                   % (client["id"], live["id"]), extra=_where_now(fed, live))


def record_refusal(conn, federation_id, client_id, refusal, settings):
    """Count ``refusal`` in the round the update named if that is one of the federation's,
    else in its live round (in a transaction of its own)."""
    with conn.transaction():
        _record(conn, federation_id, client_id, refusal, settings.clock())


def _record(conn, federation_id, client_id, refusal, now, live=None):
    """Insert the refusal row (``live``: the live round, if the caller already read it)."""
    target = None
    if live is not None and refusal.round_id == live["id"]:
        target = live
    elif refusal.round_id is not None:
        target = store.round_by_id(conn, refusal.round_id)
    if target is None or target["federation_id"] != federation_id:
        target = store.live_round(conn, federation_id)
    store.insert_refusal(conn, target["id"], client_id, refusal.error, refusal.status,
                         refusal.detail, now)
    refusal.recorded = True


def round_report(conn, round_id, settings):
    """Status of round ``round_id`` with accepted and refused counts, or None."""
    found = store.round_by_id(conn, round_id)
    if found is None:
        return None
    close_if_due(conn, found["federation_id"], settings)
    found = store.round_by_id(conn, round_id)
    refusals = store.refusal_counts(conn, round_id)
    fed = store.federation_by_id(conn, found["federation_id"])
    return {"id": found["id"], "federation": fed["name"], "status": found["status"],
            "base_version": found["base_version"], "result_version": found["result_version"],
            "opened_at": found["opened_at"], "deadline": found["deadline"],
            "closed_at": found["closed_at"], "min_updates": settings.min_updates,
            "accepted": store.count_updates(conn, round_id),
            "refused": sum(refusals.values()), "refusals": refusals,
            "detail": found["detail"]}
