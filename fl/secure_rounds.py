"""Secure rounds: the server relays, waits and unmasks, and only ever learns the sum.

After Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine
Learning" (CCS 2017), semi-honest server; the arithmetic is ``tinybert_core.secagg``, the
unmasking ``fl.secagg_unmask``. A secure round is a row of ``rounds`` with kind ``secure``
whose ``phase`` moves on when every expected message arrived or its deadline passed:

- **advertise** (status ``open``): members join with two P-256 public keys until the cohort
  is full (``cohort_target``); at the round's deadline it starts with at least
  ``secure_min_cohort`` members, else waits another ``round_seconds``;
- **share**: each member hands in one sealed share for each neighbour; those that did are U2
  (fewer than the threshold: the round aborts);
- **mask**: each member of U2 collects the shares addressed to it and hands in its masked
  input; those that did are U3 (fewer than a neighbourhood needs: abort);
- **reveal**: each member of U3 hands in its neighbours' seed shares (for U3) or key shares
  (for U2 minus U3); then the sum is unmasked, divided by the sum of the weights, and becomes
  the next head (the prototype head while the head is version 0), or the round aborts.
Phases after advertise last ``round_seconds / 4`` each. When a round ends, everything it held
(keys, sealed shares, masked inputs, reveals) is deleted; the round keeps its counts.

Every write runs under the federation's row lock in one transaction (``fl.database.writing``).
"""
import logging
import secrets

import numpy as np

from fl import client_privacy, first_round, ledger, secure_store, store
from fl import secagg_crypto as crypto
from fl.database import writing
from fl.refusals import Refusal
from fl.secagg_unmask import UnmaskError, unmask_sum
from tinybert_core import secagg

log = logging.getLogger("fl.secure_rounds")

PHASES = ("advertise", "share", "mask", "reveal")
SEALED_BYTES = crypto.NONCE_BYTES + secagg.SHARE_PLAINTEXT + 16   # nonce, text, GCM tag
# Refusal reasons of secure rounds (``fl.http_errors`` gives their statuses).
NOT_SECURE = "secure_only"
PLAIN_ONLY = "plain_only"
WRONG_PHASE = "wrong_phase"
NOT_MEMBER = "not_member"
ALREADY_SENT = "already_sent"
BAD_KEYS = "bad_keys"
BAD_SHARES = "bad_shares"
BAD_INPUT = "bad_input"
BAD_REVEAL = "bad_reveal"
BUDGET_SPENT = "budget_spent"
INVITE_SHARE = "invite_share"
REASONS = (NOT_SECURE, PLAIN_ONLY, WRONG_PHASE, NOT_MEMBER, ALREADY_SENT, BAD_KEYS,
           BAD_SHARES, BAD_INPUT, BAD_REVEAL, BUDGET_SPENT, INVITE_SHARE)


def cohort_target(settings):
    """Members that start a round at once: MIN_UPDATES, at least the minimum cohort."""
    return max(settings.min_updates, settings.secure_min_cohort)


def invite_quota(settings):
    """The most members one invite may hold in a round: ``max_invite_share`` of the cohort
    target (at least 1), or None when the share is 1 (no limit)."""
    if settings.max_invite_share >= 1:
        return None
    return max(1, int(settings.max_invite_share * cohort_target(settings)))


def _check_invite_share(conn, sender, round_id, settings):
    """Refuse a member whose invite already admitted its quota of the round's members: with
    one code handed to many sybils, an attacker could otherwise fill all but one seat of a
    cohort and learn the last member's update from the sum."""
    quota = invite_quota(settings)
    if quota is None or sender.get("invite_id") is None:
        return
    held = secure_store.count_members_by_invite(conn, round_id, sender["invite_id"])
    if held >= quota:
        _refuse(INVITE_SHARE, "round %d already holds %d member%s admitted by the same invite,"
                " the most one invite may hold (SECURE_MAX_INVITE_SHARE); join a later round"
                % (round_id, held, "" if held == 1 else "s"), round_id)


def phase_seconds(settings):
    return settings.round_seconds / 4.0


def privacy_of(fed):
    """The federation's client-level DP settings (``fl.client_privacy``) or None."""
    return client_privacy.decode(fed.get("privacy"))


def weight_cap(fed, settings):
    """The largest weight of one member: 1 under client-level DP (each member counts once, so
    that one member changes the sum by at most the clip bound), else ``settings.weight_cap``."""
    return 1 if privacy_of(fed) is not None else settings.weight_cap


def round_clip(fed, base_version, settings):
    """The L2 bound of one member's input to a round that starts from head ``base_version``:
    ``settings.clip_bound``, or in a private federation's first round the bound of its class
    sums (``client_privacy.class_sums_bound``)."""
    dp = privacy_of(fed)
    if client_privacy.sends_class_sums(dp, base_version):
        return client_privacy.class_sums_bound(dp)
    return settings.clip_bound


def rules(settings, fed):
    """A secure federation's rules, as ``GET /api/federation`` shows them."""
    return {"cohort_target": cohort_target(settings),
            "min_cohort": settings.secure_min_cohort, "weight_cap": weight_cap(fed, settings),
            "phase_seconds": phase_seconds(settings)}


def privacy_state(conn, fed, settings):
    """The federation's privacy as ``GET /api/federation`` shows it."""
    return client_privacy.describe(privacy_of(fed), ledger.multipliers(conn, fed["id"]),
                                   settings.clip_bound, cohort_target(settings))


def _budget_left(conn, fed):
    """None when one more published round keeps epsilon within the target, else why not."""
    dp = privacy_of(fed)
    if dp is None:
        return None
    spent = ledger.multipliers(conn, fed["id"])
    if client_privacy.allows_another(dp, spent):
        return None
    if dp["mode"] == "example":
        return ("the federation published its private head (example-level privacy, epsilon "
                "%.2f at delta %g for every member's examples); this mode covers that one "
                "release, so its head stays as it is"
                % (client_privacy.spent(spent, dp["delta"]), dp["delta"]))
    return ("the federation's privacy budget is spent: epsilon %.2f of %.2f (delta %g) after "
            "%d rounds, and one more round would exceed it; its head stays as it is"
            % (client_privacy.spent(spent, dp["delta"]), dp["target_epsilon"], dp["delta"],
               len(spent)))


def start_round(conn, round_id, settings, now):
    """Make the just-opened round ``round_id`` a secure one, taking members."""
    secure_store.set_phase(conn, round_id, kind="secure", phase="advertise",
                           phase_deadline=now + settings.round_seconds)


class _Round:
    """A secure round read under its federation's lock: the federation, the round, its
    members and the sets the protocol needs."""

    def __init__(self, conn, federation_id, round_id=None):
        self.fed = store.federation_by_id(conn, federation_id, lock=True)
        self.live = store.live_round(conn, federation_id)
        if round_id is not None and (self.live is None or self.live["id"] != round_id):
            self.live = None
        self.members = [] if self.live is None else secure_store.members(conn, self.live["id"])
        self.ids = [m["client_id"] for m in self.members]
        self.shared = [m["client_id"] for m in self.members if m["shared_at"] is not None]
        self.masked = [m["client_id"] for m in self.members if m["masked_at"] is not None]
        self.revealed = [m["client_id"] for m in self.members if m["revealed_at"] is not None]

    def graph(self):
        return secagg.neighbourhoods(self.ids, int(self.live["graph_seed"]))

    def length(self):
        return secagg.input_length(len(self.fed["labels"]), self.fed["dim"])


def _refuse(reason, detail, round_id=None):
    raise Refusal(reason, detail, round_id)


def _locked_live(conn, sender, round_id, phase):
    """The sender's federation's live secure round, which must be ``round_id`` in ``phase``."""
    state = _Round(conn, sender["federation_id"])
    live = state.live
    if live is None or live["kind"] != "secure":
        _refuse(PLAIN_ONLY, "this federation takes updates in the clear (plain mode): use"
                " POST /api/update", round_id)
    if live["id"] != round_id or live["phase"] != phase:
        _refuse(WRONG_PHASE, "round %d is in its %s phase, this message belongs to the %s"
                " phase of round %d" % (live["id"], live["phase"], phase, round_id), round_id)
    return state


def _member(state, sender, round_id):
    if sender["id"] not in state.ids:
        _refuse(NOT_MEMBER, "client %d is not a member of round %d" % (sender["id"], round_id),
                round_id)


def join(conn, sender, round_id, encryption_key, mask_key, settings):
    """Phase advertise: add the sender to the cohort with its two public keys (65 bytes each).
    Returns ``{"round", "members", "cohort_target"}``. Raises Refusal."""
    now = settings.clock()
    with writing(conn):
        state = _locked_live(conn, sender, round_id, "advertise")
        if sender["id"] in state.ids:
            _refuse(ALREADY_SENT, "client %d already joined round %d" % (sender["id"],
                                                                        round_id), round_id)
        spent = _budget_left(conn, state.fed)
        if spent is not None:
            _refuse(BUDGET_SPENT, spent, round_id)
        _check_invite_share(conn, sender, round_id, settings)
        try:
            crypto.check_public_key(encryption_key)
            crypto.check_public_key(mask_key)
        except crypto.CryptoError as exc:
            _refuse(BAD_KEYS, str(exc), round_id)
        secure_store.add_member(conn, round_id, sender["id"], encryption_key, mask_key, now)
        count = len(state.ids) + 1
        if count >= cohort_target(settings):
            _start_sharing(conn, state.fed, state.live, count, settings, now)
    return {"round": round_id, "members": count, "cohort_target": cohort_target(settings)}


def _start_sharing(conn, fed, live, count, settings, now):
    seed = secrets.randbelow(2 ** 32)
    clip = round_clip(fed, live["base_version"], settings)
    secure_store.set_phase(conn, live["id"], phase="share", status="collecting", cohort=count,
                           graph_seed=seed, phase_deadline=now + phase_seconds(settings),
                           scale=secagg.fixed_point_scale(count, weight_cap(fed, settings),
                                                          clip))


def post_shares(conn, sender, round_id, sealed_by_receiver, settings):
    """Phase share: one sealed share (SEALED_BYTES) for each of the sender's neighbours."""
    now = settings.clock()
    with writing(conn):
        state = _locked_live(conn, sender, round_id, "share")
        _member(state, sender, round_id)
        if sender["id"] in state.shared:
            _refuse(ALREADY_SENT, "client %d already sent its shares" % sender["id"], round_id)
        expected = {v for v in state.graph()[str(sender["id"])] if v != sender["id"]}
        if set(sealed_by_receiver) != expected:
            _refuse(BAD_SHARES, "send one share to each of your %d neighbours, none to others"
                    % len(expected), round_id)
        if any(len(sealed) != SEALED_BYTES for sealed in sealed_by_receiver.values()):
            _refuse(BAD_SHARES, "a sealed share is %d bytes" % SEALED_BYTES, round_id)
        secure_store.add_shares(conn, round_id, sender["id"], sealed_by_receiver)
        secure_store.mark(conn, round_id, sender["id"], "shared", now)
        state.shared.append(sender["id"])
        if len(state.shared) == len(state.ids):
            _advance(conn, state, settings, now)
    return {"round": round_id, "accepted": True}


def shares_for(conn, sender, round_id):
    """Phases mask and reveal: ``{sender id: sealed}`` addressed to the requesting member."""
    state = _Round(conn, sender["federation_id"])
    live = state.live
    if live is None or live["id"] != round_id or live["phase"] not in ("mask", "reveal"):
        _refuse(WRONG_PHASE, "the shares of round %d are handed out in its mask phase"
                % round_id, round_id)
    if sender["id"] not in state.shared:
        _refuse(NOT_MEMBER, "client %d did not share in round %d" % (sender["id"], round_id),
                round_id)
    return secure_store.shares_for(conn, round_id, sender["id"])


def post_masked(conn, sender, round_id, words, settings):
    """Phase mask: the sender's masked input (``4 * length`` bytes)."""
    now = settings.clock()
    with writing(conn):
        state = _locked_live(conn, sender, round_id, "mask")
        if sender["id"] not in state.shared:
            _refuse(NOT_MEMBER, "client %d did not share in round %d" % (sender["id"],
                                                                         round_id), round_id)
        if sender["id"] in state.masked:
            _refuse(ALREADY_SENT, "client %d already sent its input" % sender["id"], round_id)
        if len(words) != 4 * state.length():
            _refuse(BAD_INPUT, "a masked input of this federation is %d bytes"
                    % (4 * state.length()), round_id)
        secure_store.add_input(conn, round_id, sender["id"], bytes(words))
        secure_store.mark(conn, round_id, sender["id"], "masked", now)
        state.masked.append(sender["id"])
        if len(state.masked) == len(state.shared):
            _advance(conn, state, settings, now)
    return {"round": round_id, "accepted": True}


def post_reveal(conn, sender, round_id, seeds, keys, settings):
    """Phase reveal: the sender's share of each surviving neighbour's seed and of each
    dropped neighbour's mask key (32 bytes each), exactly those, never both for one owner."""
    now = settings.clock()
    with writing(conn):
        state = _locked_live(conn, sender, round_id, "reveal")
        if sender["id"] not in state.masked:
            _refuse(NOT_MEMBER, "client %d sent no input in round %d" % (sender["id"],
                                                                         round_id), round_id)
        if sender["id"] in state.revealed:
            _refuse(ALREADY_SENT, "client %d already revealed" % sender["id"], round_id)
        near = set(state.graph()[str(sender["id"])])
        if set(seeds) != near & set(state.masked) or \
                set(keys) != near & (set(state.shared) - set(state.masked)):
            _refuse(BAD_REVEAL, "reveal the seed shares of your surviving neighbours and the"
                    " key shares of those that dropped, no others", round_id)
        if any(len(s) != secagg.SECRET_BYTES for s in list(seeds.values())
               + list(keys.values())):
            _refuse(BAD_REVEAL, "a share is %d bytes" % secagg.SECRET_BYTES, round_id)
        secure_store.add_reveals(conn, round_id, sender["id"], "seed", seeds)
        secure_store.add_reveals(conn, round_id, sender["id"], "key", keys)
        secure_store.mark(conn, round_id, sender["id"], "revealed", now)
        state.revealed.append(sender["id"])
        if len(state.revealed) == len(state.masked):
            _advance(conn, state, settings, now)
    return {"round": round_id, "accepted": True}


def advance_if_due(conn, federation_id, settings):
    """Move the live secure round on if its phase's deadline passed."""
    now = settings.clock()
    live = store.live_round(conn, federation_id)
    if live is None or live["kind"] != "secure" or live["phase_deadline"] > now:
        return
    with writing(conn):
        state = _Round(conn, federation_id)
        if state.live is not None and state.live["kind"] == "secure" and \
                state.live["phase_deadline"] <= now:
            _advance(conn, state, settings, now)


def _advance(conn, state, settings, now):
    """The next phase of ``state``'s round (its phase is complete or its time is up)."""
    live = state.live
    rid = live["id"]
    phase = live["phase"]
    if phase == "advertise":
        if len(state.ids) >= settings.secure_min_cohort:
            _start_sharing(conn, state.fed, live, len(state.ids),
                           settings, now)
        else:
            secure_store.set_phase(conn, rid, phase_deadline=now + settings.round_seconds)
        return
    needed = secagg.threshold(live["cohort"])
    if phase == "share":
        if len(state.shared) < needed:
            return _abort(conn, state, settings, now, "only %d of %d members shared their"
                          " keys (%d needed)" % (len(state.shared), len(state.ids), needed))
        secure_store.set_phase(conn, rid, phase="mask", shared=len(state.shared),
                               phase_deadline=now + phase_seconds(settings))
        return
    if phase == "mask":
        short = _short_neighbourhoods(state, state.masked)
        if short:
            return _abort(conn, state, settings, now, "only %d of %d members sent their"
                          " input: too few to unmask safely" % (len(state.masked),
                                                                len(state.shared)))
        secure_store.set_phase(conn, rid, phase="reveal", survivors=len(state.masked),
                               phase_deadline=now + phase_seconds(settings))
        return
    _finish(conn, state, settings, now)


def _short_neighbourhoods(state, alive):
    """Members of U2 with fewer than their threshold of neighbours in ``alive``."""
    graph = state.graph()
    alive = set(alive)
    return [u for u in state.shared if len(alive & set(graph[str(u)]))
            < secagg.threshold(len(graph[str(u)]))]


def _finish(conn, state, settings, now):
    """Unmask the sum, make the next head from it, forget the round's data."""
    live, fed = state.live, state.fed
    rid = live["id"]
    length = state.length()
    masked = {cid: np.frombuffer(words, dtype="<u4").astype(np.uint32)
              for cid, words in secure_store.inputs(conn, rid).items()}
    keys = {m["client_id"]: bytes(m["mask_key"]) for m in state.members}
    try:
        total = unmask_sum(masked, state.shared, keys, secure_store.reveals(conn, rid),
                           state.graph(), rid, length)
    except UnmaskError as exc:
        return _abort(conn, state, settings, now, "the sum could not be unmasked: %s" % exc)
    rows, cols = len(fed["labels"]), fed["dim"]
    sums = secagg.decode_sum(total.tolist(), live["scale"], rows, cols)
    summed = np.concatenate([sums["weights"], sums["bias"]])
    dp = privacy_of(fed)
    if dp is not None:
        spent = _budget_left(conn, fed)
        if spent is not None:
            return _abort(conn, state, settings, now, spent)
        # The noise's scale: z times the round's bound when the server adds it; the example
        # mode's browsers added N(0, z^2) to sums of sensitivity 1 each.
        clip = 1.0
        if client_privacy.server_adds_noise(dp):
            clip = round_clip(fed, fed["head_version"], settings)
            summed = client_privacy.noised(summed, dp["noise_multiplier"], clip)
        ledger.record(conn, fed["id"], rid, dp["noise_multiplier"], clip, len(state.masked),
                      now)
    step = summed / float(sums["weight"])
    weights, bias = store.head(conn, fed["id"], fed["head_version"])
    if client_privacy.sends_class_sums(dp, fed["head_version"]):   # private class sums
        new = first_round.direction_head(summed, rows, cols)
    elif fed["head_version"] == 0:   # the inputs were class statistics
        new = first_round.prototype_head(step, rows, cols)
    else:
        new = np.concatenate([weights, bias]).astype(np.float64) + step
    new = new.astype(np.float32)
    if not np.all(np.isfinite(new)):
        return _abort(conn, state, settings, now, "the unmasked sum is not finite")
    version = fed["head_version"] + 1
    store.insert_head(conn, fed["id"], version, new[:rows * cols], new[rows * cols:], rid, now)
    store.set_head_version(conn, fed["id"], version)
    _close(conn, state, settings, now, "aggregated", result_version=version)
    log.info("federation %s secure round %d aggregated %d of %d members into head version %d",
             fed["name"], rid, len(state.masked), len(state.ids), version)


def _abort(conn, state, settings, now, why):
    _close(conn, state, settings, now, "aborted", detail="aborted: " + why)
    log.warning("federation %s secure round %d aborted: %s", state.fed["name"],
                state.live["id"], why)


def _close(conn, state, settings, now, status, **fields):
    rid = state.live["id"]
    secure_store.forget(conn, rid)
    store.set_round(conn, rid, status, closed_at=now, phase=None, phase_deadline=None,
                    shared=len(state.shared), survivors=len(state.masked),
                    revealed=len(state.revealed), **fields)
    fed = state.fed
    next_id = store.open_round(conn, fed["id"], store.federation_by_id(conn, fed["id"])
                               ["head_version"], now, settings.round_seconds)
    if fed["mode"] == "secure":
        start_round(conn, next_id, settings, now)


def state_for(conn, sender, round_id, settings):
    """What a member needs to act: the round's phase and, as the phases unlock them, the
    cohort's public keys, the graph seed, the scale, U2 and U3; for a round that ended, its
    outcome (``phase`` aggregated or aborted, ``result_version``, ``detail``)."""
    federation_id = sender["federation_id"]
    advance_if_due(conn, federation_id, settings)
    fed = store.federation_by_id(conn, federation_id)
    live = store.live_round(conn, federation_id)
    found = live if round_id is None or round_id == live["id"] else \
        store.round_by_id(conn, round_id)
    if found is None or found["federation_id"] != federation_id:
        _refuse(NOT_MEMBER, "no round %s in this federation" % round_id, round_id)
    out = {"round": found["id"], "mode": fed["mode"], "base_version": found["base_version"],
           "cohort_target": cohort_target(settings), "min_cohort": settings.secure_min_cohort,
           "clip": round_clip(fed, found["base_version"], settings),
           "weight_cap": weight_cap(fed, settings),
           "input": "class_sums" if client_privacy.sends_class_sums(
               privacy_of(fed), found["base_version"]) else "delta",
           "length": secagg.input_length(len(fed["labels"]), fed["dim"]),
           "deadline": found["phase_deadline"], "result_version": found["result_version"],
           "detail": found["detail"]}
    if found["id"] != live["id"] or found["kind"] != "secure":
        out["phase"] = "aggregated" if found["status"] == "aggregated" else "aborted"
        if found["kind"] != "secure":
            out["detail"] = "this federation's rounds are plain"
        return out
    out["phase"] = found["phase"]
    members = secure_store.members(conn, found["id"])
    out["cohort_size"] = len(members)
    if found["phase"] != "advertise":
        out.update(graph_seed=int(found["graph_seed"]), scale=found["scale"],
                   members=[{"id": m["client_id"], "encryption_key": bytes(m["encryption_key"]),
                             "mask_key": bytes(m["mask_key"])} for m in members])
    if found["phase"] in ("mask", "reveal"):
        out["shared"] = [m["client_id"] for m in members if m["shared_at"] is not None]
    if found["phase"] == "reveal":
        out["survivors"] = [m["client_id"] for m in members if m["masked_at"] is not None]
    return out
