"""The page's side of federated learning: register, fetch the global head, send a quantised
delta of the locally trained head, apply the aggregate. Only head deltas leave the page.

A federation in ``secure`` mode never sees a page's delta: the page takes part in a
secure-aggregation round (``services.secure_round``) whose server learns only the sum of its
members' updates; the round ends when every member has answered (at least five pages).

Requests go through ``services.api_client`` (retries, the server's refusals in its own words).
Nothing local (examples, saved heads) is touched by a failure.
"""
from services.api_client import ServerRefusal, headers, json_request, request
from services.errors import AppError
from services.secure_round import SecureRound
from tinybert_core.codec import Update, decode_head, encode_update
from tinybert_core.delta import clip_delta, delta_norm, delta_of

IDENTITY_KEY = "fl_identity"


class FederationClient:
    """One browser's membership of a federation, remembered in ``storage`` (may be None)."""

    def __init__(self, storage, federation):
        self.storage = storage
        self.federation = federation
        self.identity = None
        self.last = {"sent": None, "applied": None, "state": None, "secure": None}
        self.listener = None   # called with each step of a secure round (the page's panel)

    def _query(self):
        return "?federation=" + encodeURIComponent(self.federation)

    async def _identity(self, fresh):
        if self.identity is not None and not fresh:
            return self.identity
        if self.storage is not None and not fresh:
            saved = await self.storage.setting(IDENTITY_KEY + ":" + self.federation, None)
            if saved:
                self.identity = saved
                return saved
        body = JSON.stringify({"federation": self.federation})
        self.identity = await json_request("register", {
            "method": "POST", "body": body,
            "headers": headers([["Content-Type", "application/json"]])})
        if self.storage is not None:
            await self.storage.set_setting(IDENTITY_KEY + ":" + self.federation, self.identity)
        return self.identity

    async def state(self):
        """The federation's labels, head version, clip bound and current round."""
        self.last["state"] = await json_request("federation" + self._query(), {})
        return self.last["state"]

    async def global_head(self):
        response = await request("head" + self._query(), {"cache": "no-store"})
        return decode_head(__new__(Uint8Array(await response.arrayBuffer())))

    def _check_labels(self, state, labels):
        same = len(state.labels) == len(labels)
        for i in range(len(labels)):
            same = same and state.labels[i] == labels[i]
        if not same:
            raise AppError("This federation classifies " + ", ".join(state.labels) + "; your "
                           + "labels are " + ", ".join(labels) + ". Set your labels to the "
                           + "federation's (same names, same order) to take part; nothing was "
                           + "sent.")
        return None

    async def send_delta(self, classifier, options):
        """Train locally from the global head and send the clipped, quantised delta (while the
        global head is untrained, the class statistics: ``tinybert_core.fl_local``).

        Returns what was sent: ``{bytes, norm, clipped, round, examples, base_version,
        accepted_in_round, round_closed}``. Raises AppError (nothing is lost locally).
        """
        identity = await self._identity(False)
        state = await self.state()
        self._check_labels(state, classifier.labels())
        if state.mode == "secure":
            return await self._send_secure(classifier, options, identity, state.privacy)
        for attempt in range(2):
            if attempt > 0:   # a round closed meanwhile: its state again
                state = await self.state()
                self._check_labels(state, classifier.labels())
            head = await self.global_head()
            local = await classifier.train_local(head.weights, head.bias, head.version, options)
            delta = delta_of(local["weights"], local["bias"], head.weights, head.bias)
            norm = delta_norm(delta)
            clipped = clip_delta(delta, state.clip_bound)
            data = encode_update(Update(identity.client_id, state.round.id, head.version,
                                        local["examples"], head.rows, head.cols,
                                        clipped["weights"], clipped["bias"]), state.clip_bound)
            try:
                answer = await json_request("update", {
                    "method": "POST", "body": data,
                    "headers": headers([["Content-Type", "application/octet-stream"],
                                         ["Authorization", "Bearer " + identity.token]])})
            except ServerRefusal as refusal:
                if refusal.code == "unauthorized" and attempt == 0:
                    identity = await self._identity(True)   # the server forgot us: register again
                    continue
                if (refusal.code == "stale_round" or refusal.code == "stale_base") and attempt == 0:
                    continue   # a round closed meanwhile: train again from the new head
                if refusal.code == "replay":
                    raise AppError("You already sent an update in round " + str(state.round.id)
                                   + ". Wait for the round to close, then Apply Aggregate.")
                raise refusal
            self.last["sent"] = {"mode": "plain", "bytes": len(data), "norm": norm,
                                 "clipped": norm > state.clip_bound, "round": state.round.id,
                                 "examples": local["examples"], "base_version": head.version,
                                 "accepted_in_round": answer.accepted_in_round,
                                 "round_closed": answer.round_closed,
                                 "time": __new__(Date()).toISOString()}
            return self.last["sent"]
        raise AppError("The federation kept changing while sending; try again.")

    def _secure_progress(self, progress):
        self.last["secure"] = progress
        if self.listener is not None:
            self.listener(progress)
        return None

    async def _send_secure(self, classifier, options, identity, privacy):
        """One secure round: train locally on the round's base head (in a private federation's
        first round: the class sums of ``tinybert_core.private_prototype``, noised here in the
        example mode), then join, share, mask and reveal (``SecureRound``). Returns what
        ``send_delta`` returns, plus ``mode``, ``outcome`` (aggregated / aborted), ``version``
        (the head it made), ``detail`` and ``contribution`` (what was sent: ``delta``,
        ``client_sums`` or ``example_sums``)."""
        sent = {}

        async def prepare(round_state):
            head = await self.global_head()
            if head.version != round_state.base_version:
                raise AppError("The federation's head changed while joining round "
                               + str(round_state.round) + "; try again.")
            noise = None
            # The server says what the round takes (fl.client_privacy.sends_class_sums).
            if round_state.input == "class_sums":
                # Class sums are sent as they are, whatever the head was; distributed noise is
                # added when the cohort is known (SecureRound), local noise here.
                local = await classifier.private_sums(
                    privacy.mode, privacy.noise_multiplier if privacy.noise == "local" else 0.0)
                delta = {"weights": local["weights"], "bias": local["bias"]}
                sent["contribution"] = privacy.mode + "_sums"
                if privacy.noise == "distributed":
                    noise = privacy.noise_multiplier
            else:
                local = await classifier.train_local(head.weights, head.bias, head.version,
                                                     options)
                delta = delta_of(local["weights"], local["bias"], head.weights, head.bias)
                sent["contribution"] = "delta"
            norm = delta_norm(delta)
            clipped = clip_delta(delta, round_state.clip)
            sent["norm"] = norm
            sent["clipped"] = norm > round_state.clip
            sent["examples"] = local["examples"]
            sent["base_version"] = head.version
            # The weight is the example count, at most the round's cap (1 under client-level
            # differential privacy: every member counts once).
            weight = local["examples"]
            if weight > round_state.weight_cap:
                weight = round_state.weight_cap
            update = {"weights": clipped["weights"], "bias": clipped["bias"], "weight": weight}
            if noise is not None:
                update["distributed_noise"] = noise
            return update

        try:
            result = await SecureRound(self.federation, identity,
                                       self._secure_progress).run(prepare)
        except ServerRefusal as refusal:
            if refusal.code != "unauthorized":
                raise refusal
            identity = await self._identity(True)   # the server forgot us: register again
            result = await SecureRound(self.federation, identity,
                                       self._secure_progress).run(prepare)
        self.last["sent"] = {"mode": "secure", "bytes": result["bytes"], "norm": sent["norm"],
                             "clipped": sent["clipped"], "round": result["round"],
                             "examples": sent["examples"], "base_version": sent["base_version"],
                             "outcome": result["outcome"], "version": result["version"],
                             "detail": result["detail"], "contribution": sent["contribution"],
                             "accepted_in_round": None,
                             "round_closed": True, "time": __new__(Date()).toISOString()}
        return self.last["sent"]

    async def apply_aggregate(self, classifier):
        """Fetch the global head and make it this page's head. Returns ``{version, labels}``."""
        state = await self.state()
        self._check_labels(state, classifier.labels())
        head = await self.global_head()
        if head.version == 0:
            raise AppError("The federation has no aggregate yet (round " + str(state.round.id)
                           + " has " + str(state.round.accepted) + " of "
                           + str(state.min_updates) + " updates). Try again after it closes.")
        await classifier.use_global_head(state.labels, head.weights, head.bias, head.version)
        self.last["applied"] = {"version": head.version, "time": __new__(Date()).toISOString()}
        return {"version": head.version, "labels": classifier.labels()}

    async def status(self):
        """Server, round, head version and last sync, for the page's federation panel."""
        state = await self.state()
        return {"federation": state.js_name, "labels": state.labels, "mode": state.mode,
                "secure": state.secure, "privacy": state.privacy,
                "head_version": state.head_version,
                "round": state.round, "min_updates": state.min_updates,
                "last_sent": self.last["sent"], "last_applied": self.last["applied"],
                "secure_progress": self.last["secure"]}
