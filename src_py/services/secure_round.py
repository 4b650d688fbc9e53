"""This browser's part in a secure-aggregation round: the server only ever learns the sum.

A round of the federation's ``secure`` mode has phases, each answered by polling the server
(``GET api/secure/state``): **advertise** (the page joins with two fresh P-256 public keys),
**share** (it sends each neighbour, sealed with AES-GCM, a Shamir share of its self-mask seed
and of its mask private key), **mask** (it opens the shares addressed to it and sends its
masked input: the encoded update plus its self-mask plus one pair mask per neighbour that
shared), **reveal** (for each neighbour, the seed share of a survivor or the key share of one
that dropped, never both), then **aggregated** or **aborted**. Closing the page at any point
is a dropout, not an error: the others finish without it while at most a third drop out.

The arithmetic is ``tinybert_core.secagg`` and ``tinybert_core.shamir``; the cryptography is
``services.webcrypto``. The keys, the seed and the shares live in this object only.
"""
from services.api_client import auth_headers, json_request, request, sleep
from services.errors import AppError
from services.webcrypto import (
    derive_key,
    mask_words,
    new_ecdh_key,
    open_sealed,
    private_scalar,
    public_raw,
    random_bytes,
    seal,
    shared_secret,
)
from settings import SECURE_JOIN_WAIT_MS, SECURE_POLL_MS
from tinybert_core import secagg, shamir
from tinybert_core.binary import base64_decode, base64_encode
from tinybert_core.private_prototype import with_member_noise

DONE = ["aggregated", "aborted"]


def _waiting_text(state):
    """How far the cohort is, in words: members joined of those the round starts with."""
    return ("waiting for the cohort: " + str(state.cohort_size) + " of "
            + str(state.cohort_target) + " members have joined (the round starts with "
            + str(state.cohort_target) + ", or with at least " + str(state.min_cohort)
            + " when its time is up)")


class SecureRound:
    """One membership of one secure round.

    federation: its name; identity: ``{client_id, token}`` from registration; on_progress:
    None or a function called with ``{"round", "phase", "members", "detail"}`` at each step.
    """

    def __init__(self, federation, identity, on_progress):
        self.federation = federation
        self.id = identity["client_id"]
        self.token = identity["token"]
        self.on_progress = on_progress
        self.round = None
        self.received = {}

    def _progress(self, phase, members, detail):
        if self.on_progress is not None:
            self.on_progress({"round": self.round, "phase": phase, "members": members,
                              "detail": detail})
        return None

    def _query(self):
        return "?federation=" + encodeURIComponent(self.federation)

    async def _state(self):
        """The live round's state, or, once this page joined one, that round's (so that its
        outcome is read even after the server opened the next)."""
        query = self._query()
        if self.round is not None:
            query += "&round=" + str(self.round)
        return await json_request("secure/state" + query,
                                  {"headers": auth_headers(self.token, None)})

    async def _post(self, path, body):
        return await json_request(path + self._query(), {
            "method": "POST", "body": JSON.stringify(body),
            "headers": auth_headers(self.token, "application/json")})

    async def _until(self, phases):
        """Poll until this round's phase is one of ``phases`` or the round ended; while the
        round takes members, say how many joined whenever that changes."""
        joined = -1
        while True:
            state = await self._state()
            if state.phase in phases or state.phase in DONE:
                return state
            if state.phase == "advertise" and state.cohort_size != joined:
                joined = state.cohort_size
                self._progress("advertise", joined, _waiting_text(state))
            await sleep(SECURE_POLL_MS)

    async def _advertised_round(self):
        """Wait for a round that is taking members (the current one, or the next)."""
        started = performance.now()
        told = False
        while True:
            state = await self._state()
            if state.phase == "advertise":
                return state
            if not told:
                self._progress("waiting", state.cohort_size, "round " + str(state.round)
                               + " is in its " + state.phase + " phase; joining the next")
                told = True
            if performance.now() - started > SECURE_JOIN_WAIT_MS:
                raise AppError("No secure round took new members in time; try again later.")
            await sleep(SECURE_POLL_MS)

    async def run(self, prepare):
        """Take part in one round. ``prepare(state)``: async, returns this page's input for
        the round's base head, ``{"weights", "bias", "weight"}`` (clipped to ``state.clip``).
        Returns ``{"round", "outcome": "aggregated" | "aborted", "version", "detail",
        "bytes"}``. Raises AppError / ServerRefusal when this page cannot join."""
        state = await self._advertised_round()
        self.round = state.round
        update = await prepare(state)
        self.encryption = await new_ecdh_key()
        self.masking = await new_ecdh_key()
        self.seed = random_bytes(secagg.SECRET_BYTES)
        sent = 0
        joined = await self._post("secure/join", {
            "round": self.round,
            "encryption_key": base64_encode(await public_raw(self.encryption)),
            "mask_key": base64_encode(await public_raw(self.masking))})
        state.cohort_size = joined.members
        self._progress("advertise", joined.members, "joined; " + _waiting_text(state))
        state = await self._until(["share"])
        if state.phase in DONE:
            return self._outcome(state, sent)
        sent += await self._share(state)
        self._progress("share", len(state.members), "shares sent")
        state = await self._until(["mask"])
        if state.phase in DONE:
            return self._outcome(state, sent)
        sent += await self._masked_input(state, update)
        self._progress("mask", len(state.shared), "masked input sent")
        state = await self._until(["reveal"])
        if state.phase in DONE:
            return self._outcome(state, sent)
        sent += await self._reveal(state)
        self._progress("reveal", len(state.survivors), "unmasking shares sent")
        return self._outcome(await self._until([]), sent)

    def _outcome(self, state, sent):
        self._progress(state.phase, None, state.detail)
        return {"round": self.round, "outcome": state.phase,
                "version": state.result_version, "detail": state.detail, "bytes": sent}

    def _keys_of(self, state):
        keys = {}
        for member in state.members:
            keys[str(member.id)] = member
        return keys

    async def _share_key(self, keys, other):
        secret = await shared_secret(self.encryption,
                                     base64_decode(keys[str(other)].encryption_key))
        return await derive_key(secret, secagg.key_info("share", self.round, self.id, other))

    async def _share(self, state):
        """Phase 1: seal a share of the seed and of the mask key for each neighbour."""
        keys = self._keys_of(state)
        ids = [member.id for member in state.members]
        self.neighbours = secagg.neighbourhoods(ids, state.graph_seed)[str(self.id)]
        points = [secagg.share_point(self.neighbours, v) for v in self.neighbours]
        t = secagg.threshold(len(self.neighbours))
        scalar = await private_scalar(self.masking)
        seeds = shamir.split(self.seed, points, t, random_bytes(32 * (t - 1)))
        scalars = shamir.split(scalar, points, t, random_bytes(32 * (t - 1)))
        sealed = {}
        for i in range(len(self.neighbours)):
            v = self.neighbours[i]
            if v == self.id:
                self.received[str(v)] = {"seed_share": seeds[i], "key_share": scalars[i]}
                continue
            text = secagg.share_plaintext(self.id, v, seeds[i], scalars[i])
            key = await self._share_key(keys, v)
            box = await seal(key, random_bytes(12), text,
                             secagg.associated_data(self.round, self.id, v))
            sealed[str(v)] = base64_encode(box)
        body = {"round": self.round, "shares": sealed}
        await self._post("secure/shares", body)
        return len(JSON.stringify(body))

    async def _masked_input(self, state, update):
        """Phase 2: open the shares addressed to this page, send the masked input."""
        keys = self._keys_of(state)
        inbox = await json_request("secure/shares" + self._query() + "&round="
                                   + str(self.round),
                                   {"headers": auth_headers(self.token, None)})
        for sender in __pragma__("js", "{}", "Object.keys(inbox.shares)"):
            owner = int(sender)
            key = await self._share_key(keys, owner)
            text = await open_sealed(key, base64_decode(inbox.shares[sender]),
                                     secagg.associated_data(self.round, owner, self.id))
            self.received[sender] = secagg.read_share_plaintext(text, owner, self.id)
        self.shared = {}
        for member in state.shared:
            self.shared[str(member)] = True
        expected = secagg.fixed_point_scale(len(state.members), state.weight_cap, state.clip)
        if state.scale != expected:
            raise AppError("The server announced a fixed-point scale that does not fit the "
                           + "cohort; nothing was sent.")
        if "distributed_noise" in update:
            update = with_member_noise(update, update["distributed_noise"], len(state.members),
                                       state.clip)
        n = len(update["weights"]) + len(update["bias"])
        words = secagg.encode_input(update["weights"], update["bias"], update["weight"],
                                    state.scale, state.clip, state.weight_cap,
                                    random_bytes(4 * n))
        self_key = await derive_key(self.seed, secagg.key_info("self-mask", self.round,
                                                               self.id, self.id))
        secagg.add_words(words, await mask_words(self_key, n + 1), 1)
        for v in self.neighbours:
            if v == self.id or str(v) not in self.shared:
                continue
            secret = await shared_secret(self.masking, base64_decode(keys[str(v)].mask_key))
            key = await derive_key(secret, secagg.key_info("pair-mask", self.round, self.id, v))
            secagg.add_words(words, await mask_words(key, n + 1), secagg.mask_sign(self.id, v))
        data = secagg.words_to_bytes(words)
        await request("secure/masked" + self._query() + "&round=" + str(self.round), {
            "method": "POST", "body": data,
            "headers": auth_headers(self.token, "application/octet-stream")})
        return len(data)

    async def _reveal(self, state):
        """Phase 3: the seed share of each surviving neighbour, the key share of each
        dropped one; nothing when too few survived (revealing would not be safe)."""
        alive = {}
        for member in state.survivors:
            alive[str(member)] = True
        count = 0
        for v in self.neighbours:
            if str(v) in alive:
                count += 1
        if count < secagg.threshold(len(self.neighbours)):
            raise AppError("Too few members survived this round to unmask it safely; this "
                           + "page revealed nothing.")
        seeds = {}
        masks = {}
        for owner in __pragma__("js", "{}", "Object.keys(self.received)"):
            if owner in alive:
                seeds[owner] = base64_encode(self.received[owner]["seed_share"])
            elif owner in self.shared:
                masks[owner] = base64_encode(self.received[owner]["key_share"])
        body = {"round": self.round, "seed": seeds, "key": masks}
        await self._post("secure/reveal", body)
        return len(JSON.stringify(body))
