"""Rounds: accept or refuse client updates, close rounds, store the heads they produce.

Round life: ``open`` (no update yet) -> ``collecting`` -> ``aggregated`` (a new head version)
or ``failed`` (the strategy could not decide; the head is unchanged). A round closes when
``min_updates`` updates arrived or when its deadline passed with at least one update; a round
whose deadline passes without any update gets a new deadline. Closing a round opens the next.
What an update must hold and how a round's updates become the next head is the strategy's
(``fl.strategies``); this module keeps the life-cycle and the bookkeeping.

Every write happens in one transaction (``fl.database.writing``) that holds the federation's
row lock, and commits before the caller answers the client. Every refusal is counted in a
round exactly once, by ``record_refusal`` (in a transaction of its own) or, for the
refusals only the locked checks find (stale round or base, replay), in the transaction that
found them; ``submit_update`` records every refusal it raises. Updates that arrive together
may share one transaction (``store_updates``, fed by ``fl.group_commit``): each is handled as
if alone, in order, and none is answered before the transaction commits.

Logs (logger ``fl.rounds``): one line per closed round and one per recorded refusal.
"""
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fl import client_privacy, enrollment, refusals, secure_rounds, secure_store, store
from fl.aggregators import AggregationError
from fl.database import writing
from fl.refusals import REPLAY, STALE_BASE, STALE_ROUND, Refusal
from fl.strategies import GlobalHead

log = logging.getLogger("fl.rounds")


@dataclass(frozen=True)
class Settings:
    """The round rules: resolved config, fixed for the server's life. ``strategy``: checks
    updates and makes the next head (``fl.strategies``); ``mode``: the mode of federations
    whose spec names none; ``secure_min_cohort`` and ``weight_cap``: secure rounds'
    smallest cohort and largest weight of one member (``fl.secure_rounds``); ``privacy``:
    the privacy of federations whose spec names none (``fl.client_privacy.resolve``);
    ``enrollment``: the enrollment of federations whose spec names none (``fl.enrollment``);
    ``max_invite_share``: the largest share of a secure round's members that one invite
    may have admitted (1.0: no limit)."""
    min_updates: int
    round_seconds: float
    clip_bound: float
    strategy: object
    clock: Callable[[], float]
    mode: str = "secure"
    secure_min_cohort: int = 5
    weight_cap: int = 1000
    privacy: dict = dataclasses.field(default_factory=lambda: {"mode": "none"})
    enrollment: str = "open"
    max_invite_share: float = 1.0


MODES = ("secure", "plain")


def open_next_round(conn, fed, base_version, now, settings):
    """Open the federation's next round, secure or plain as its mode says."""
    round_id = store.open_round(conn, fed["id"], base_version, now, settings.round_seconds)
    if fed["mode"] == "secure":
        secure_rounds.start_round(conn, round_id, settings, now)
    return round_id


def ensure_federation(conn, spec, settings):
    """Create federation ``spec`` (name, labels, dim, encoder, hidden_size, optional mode:
    secure or plain, default ``settings.mode``, privacy and enrollment: open or invite,
    default ``settings.enrollment``) if missing, with a zero head (version 0) and
    an open round. An existing one takes the spec's mode; a live round that holds nothing yet
    becomes a round of that mode at once, one that does keeps its kind until it ends.
    Raises ValueError if one of that name exists with a different shape (a head must never
    be served against the wrong encoder or labels) or the mode is unknown."""
    now = settings.clock()
    mode = spec.get("mode", settings.mode)
    if mode not in MODES:
        raise ValueError("federation %r: unknown mode %r; allowed: %s"
                         % (spec["name"], mode, ", ".join(MODES)))
    privacy = client_privacy.resolve(spec.get("privacy"), settings.privacy)
    if privacy is not None and mode != "secure":
        raise ValueError("federation %r: differential privacy needs the secure mode (the "
                         "noisy class sums are only ever seen summed)" % spec["name"])
    stored_privacy = client_privacy.encode(privacy)
    joining = enrollment.check_enrollment(spec.get("enrollment", settings.enrollment))
    with writing(conn):
        store.insert_federation(conn, dict(spec, mode=mode, privacy=stored_privacy,
                                           enrollment=joining), now)
        fed = store.federation_by_name(conn, spec["name"], lock=True)
        for key in ("labels", "dim", "encoder", "hidden_size"):
            wanted = list(spec[key]) if key == "labels" else spec[key]
            if fed[key] != wanted:
                raise ValueError("federation %r exists with %s=%r, config says %r"
                                 % (spec["name"], key, fed[key], wanted))
        if (fed["mode"], fed["privacy"], fed["enrollment"]) != (mode, stored_privacy, joining):
            store.set_mode(conn, fed["id"], mode, stored_privacy, joining)
            fed["mode"], fed["privacy"], fed["enrollment"] = mode, stored_privacy, joining
        if store.head(conn, fed["id"], 0) is None:
            k, d = len(fed["labels"]), fed["dim"]
            store.insert_head(conn, fed["id"], 0, np.zeros(k * d), np.zeros(k), None, now)
        live = store.live_round(conn, fed["id"])
        if live is not None and live["kind"] != mode and live["status"] == "open" \
                and store.count_updates(conn, live["id"]) == 0 \
                and secure_store.count_members(conn, live["id"]) == 0:
            store.set_round(conn, live["id"], "failed", closed_at=now,
                            detail="closed unused: the federation's mode became " + mode)
            live = None
        if live is None:
            open_next_round(conn, fed, fed["head_version"], now, settings)
    return fed


def close_if_due(conn, federation_id, settings):
    """Close the live round if its deadline passed (checked again under the lock); a secure
    round moves on to its next phase if that one's deadline passed."""
    now = settings.clock()
    live = store.live_round(conn, federation_id)
    if live is not None and live["kind"] == "secure":
        secure_rounds.advance_if_due(conn, federation_id, settings)
        return
    if live is None or live["deadline"] > now:
        return
    with writing(conn):
        fed = store.federation_by_id(conn, federation_id, lock=True)
        live = store.live_round(conn, federation_id)
        if live is not None and live["deadline"] <= now:
            _close(conn, fed, live, settings, now)


def _close(conn, fed, live, settings, now):
    """Close ``live`` (under the federation's lock): the next head, or a failed round, and
    the next round opened."""
    stored = store.updates_of(conn, live["id"])
    if not stored:
        store.set_round(conn, live["id"], "open", deadline=now + settings.round_seconds)
        return
    weights, bias = store.head(conn, fed["id"], fed["head_version"])
    try:
        new = settings.strategy.next_head(GlobalHead(fed["head_version"], weights, bias),
                                          stored)
    except AggregationError as exc:
        store.set_round(conn, live["id"], "failed", closed_at=now, detail=str(exc))
        open_next_round(conn, fed, fed["head_version"], now, settings)
        log.warning("federation %s round %d failed with %d updates: %s",
                    fed["name"], live["id"], len(stored), exc)
        return
    version = fed["head_version"] + 1
    split = len(weights)
    store.insert_head(conn, fed["id"], version, new[:split], new[split:], live["id"], now)
    store.set_head_version(conn, fed["id"], version)
    store.set_round(conn, live["id"], "aggregated", closed_at=now, result_version=version)
    open_next_round(conn, fed, version, now, settings)
    log.info("federation %s round %d aggregated %d updates into head version %d",
             fed["name"], live["id"], len(stored), version)


def submit_update(database, sender, payload, settings, group=None, limiter=None, keys=()):
    """Check and store one update; close the round if it is the last one needed.

    database: the ``fl.database.Database`` to write to; sender: the client whose token came
    with the update (``store.sender_by_token_hash``: id, federation_id, labels, dim);
    payload: the request body; group: a ``fl.group_commit.GroupCommit`` to share a
    transaction with the updates other threads store at the same time (None: a transaction
    of its own); limiter and keys: the ``fl.rate_limits.RateLimiter`` and the request's
    ``(key, limit)`` pairs, counted in the same transaction.
    Returns a dict for the answer, once committed. Raises Refusal (no update stored), always
    already counted in a round, except a rate_limited one (never counted in a round).
    """
    try:
        contribution = settings.strategy.check(payload, sender)
    except Refusal as refusal:
        with database.connect() as conn:
            limited = record_refusal(conn, sender["federation_id"], sender["id"], refusal,
                                     settings, limiter, keys)
        if limited is not None:
            raise limited from None
        raise

    def store(items):
        with database.connect() as conn:
            return store_updates(conn, items, settings, limiter)

    item = (sender, contribution, tuple(keys))
    outcome = store([item])[0] if group is None else group.run(item, store)
    if isinstance(outcome, Refusal):   # recorded by the transaction that found it
        raise outcome
    return outcome


def store_updates(conn, items, settings, limiter=None):
    """Store checked updates in order, in one transaction under their federations' locks.

    items: ``(sender, contribution, rate-limit keys)``. Returns, per item, the answer dict
    of an accepted update or the Refusal (recorded, not raised) of a stale or replayed one,
    or (not recorded) of one over a rate limit; handled in order, each sees the rounds the
    ones before it closed. A live round whose deadline passed is closed first, with what it
    held. The rate-limit counters are taken before the federations' locks, in every
    transaction, so that no two wait for each other.
    """
    now = settings.clock()
    with writing(conn):
        limited = [None] * len(items)
        if limiter is not None and any(keys for _, _, keys in items):
            limited = limiter.count(conn, [keys for _, _, keys in items], now)
        # Locked in id order, so that two batches never wait for each other's locks.
        locked = {federation_id: _Locked(conn, federation_id) for federation_id
                  in sorted({sender["federation_id"] for sender, _, _ in items})}
        return [limit or _store(conn, item, settings, now, locked)
                for item, limit in zip(items, limited)]


class _Locked:
    """A federation read under its row lock: the row, its live round and how many updates
    that round holds (kept up to date by this transaction, the only writer). The round is
    read by a statement after the lock was granted: on PostgreSQL that statement sees what
    the previous holder committed."""

    def __init__(self, conn, federation_id):
        self.fed, self.live = store.locked_state(conn, federation_id)
        self.accepted = int(self.live.pop("accepted"))


def _store(conn, item, settings, now, locked):
    sender, contribution, _ = item
    federation_id = sender["federation_id"]
    state = locked[federation_id]
    if state.live["kind"] == "secure":
        refusal = Refusal(secure_rounds.NOT_SECURE, "this federation aggregates securely: the"
                          " server takes masked inputs in secure rounds (/api/secure/...),"
                          " never an update in the clear", contribution.round_id)
        _record(conn, federation_id, sender["id"], refusal, now)
        return refusal
    if state.live["deadline"] <= now:   # its time is up: closed with what it holds
        _close(conn, state.fed, state.live, settings, now)
        state = locked[federation_id] = _Locked(conn, federation_id)
    fed, live = state.fed, state.live
    refusal = _conflict(contribution, fed, live)
    if refusal is None and not store.insert_update(
            conn, live["id"], sender["id"], contribution.num_examples, contribution.norm,
            contribution.payload, now):
        if store.is_revoked(conn, sender["id"]):
            refusal = Refusal(refusals.UNAUTHORIZED, "this token was revoked by the"
                              " federation's operator", contribution.round_id)
        else:
            refusal = Refusal(REPLAY, "client %d already sent an update in round %d"
                              % (sender["id"], live["id"]), contribution.round_id,
                              _where_now(fed, live))
    if refusal is not None:
        _record(conn, federation_id, sender["id"], refusal, now)
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


def _conflict(contribution, fed, live):
    """A Refusal if the update is for another round or head version, else None."""
    if contribution.round_id != live["id"]:
        return Refusal(STALE_ROUND, "round %d is not open; the current round is %d"
                       % (contribution.round_id, live["id"]), contribution.round_id,
                       _where_now(fed, live))
    if contribution.base_version != fed["head_version"]:
        return Refusal(STALE_BASE, "the update was trained from head version %d; the current"
                       " version is %d" % (contribution.base_version, fed["head_version"]),
                       contribution.round_id, _where_now(fed, live))
    return None


def record_refusal(conn, federation_id, client_id, refusal, settings, limiter=None, keys=()):
    """Count ``refusal`` in the round the update named if that is one of the federation's,
    else in its live round, in a transaction of its own. client_id: None when the sender
    could not be identified; limiter and keys: the request's rate-limit counters, counted
    in the same transaction. Returns None, or the rate_limited Refusal that the request
    gets instead when it went over a limit (then ``refusal`` is not counted: no round counts
    what is over a rate limit)."""
    now = settings.clock()
    with writing(conn):
        if limiter is not None and keys:
            limited = limiter.count(conn, [keys], now)[0]
            if limited is not None:
                return limited
        _record(conn, federation_id, client_id, refusal, now)
    return None


def _record(conn, federation_id, client_id, refusal, now):
    """Insert the refusal row, in the round it named if that is the federation's."""
    round_id = store.insert_refusal(conn, federation_id, refusal.round_id, client_id,
                                    refusal.reason, refusal.detail, now)
    log.info("refused %s: round %d, client %s", refusal.reason, round_id,
             "unknown" if client_id is None else client_id)


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
            "kind": found["kind"], "phase": found["phase"], "cohort": found["cohort"],
            "shared": found["shared"], "survivors": found["survivors"],
            "accepted": store.count_updates(conn, round_id),
            "refused": sum(refusals.values()), "refusals": refusals,
            "detail": found["detail"]}
