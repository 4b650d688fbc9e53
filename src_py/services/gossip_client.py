"""Peer-to-peer federation in the page: push-sum gossip of signed int8 heads with the
neighbours the server introduced (``services.peers``); the server never sees a head.

What each page does is what ``bench/gossip_simulation.py`` measured (its protocol and
numbers: ``bench/results/gossip_simulation.md``); the pure parts are
``tinybert_core.gossip`` and ``tinybert_core.gossip_round``:

- **join**: check the labels against the federation's, register, make an ECDSA P-256 key
  (``services.webcrypto``), connect to the signalling socket with its public key. A part of
  the examples is held out (``holdout_split``): never trained on, it estimates the head's
  accuracy and refuses received heads that do worse on it.
- **start** (the first call of ``gossip``): once the open neighbours said they are ready,
  the class statistics of the training examples are mixed by push-sum with mass = their
  count for GOSSIP_START_STEPS steps and turned into the class-prototype head. A page whose
  neighbours are past the start already (a late joiner) instead mixes with almost no mass
  and takes the heads it receives as they are until frames of two peers reached it in one
  step, then trains and counts its examples like the others.
- **a round**: GOSSIP_EPOCHS local epoch(s) from the current head
  (``tinybert_core.fl_local.local_update``, as the page trains for a server round), then
  GOSSIP_STEPS steps: send ``(head, mass / (k + 1))`` signed to k = GOSSIP_FANOUT random
  ready neighbours (a share that could not be sent stays), a small text marker to the other
  neighbours, wait until every ready neighbour was heard from in this step (at most
  GOSSIP_STEP_WAIT_MS: a slow or gone neighbour stalls nobody), then check every frame that
  arrived (signature against the sender's key from the server, shape, length, held-out
  accuracy), pull it toward the own head and mix by mass (``tinybert_core.gossip.mix``).
"""
from services.api_client import headers, json_request, sleep
from services.errors import AppError
from services.peers import PeerNetwork, socket_url
from services.webcrypto import new_signing_key, random_bytes, sign, signing_public_raw, verify
from settings import (
    API_BASE,
    GOSSIP_EPOCHS,
    GOSSIP_FANOUT,
    GOSSIP_READY_WAIT_MS,
    GOSSIP_REFRESH_ROUNDS,
    GOSSIP_START_STEPS,
    GOSSIP_STEP_WAIT_MS,
    GOSSIP_STEPS,
)
from tinybert_core import gossip
from tinybert_core.binary import base64_encode
from tinybert_core.fl_local import class_statistics, local_update
from tinybert_core.gossip_round import (
    HOLDOUT_FRACTION,
    HOLDOUT_SEED,
    PROTOTYPE_SCALE,
    accuracy,
    holdout_split,
    prototype_from_statistics,
    screen,
    worse_on_held_out,
)

CATCH_UP_MASS = 1e-9
STEPS_A_ROUND = 1000   # (round, step) as one number: round * STEPS_A_ROUND + step


def _position(round_id, step):
    return round_id * STEPS_A_ROUND + step


def _u32(data):
    return ((data[0] * 256 + data[1]) * 256 + data[2]) * 256 + data[3]


class GossipClient:
    """This page's membership of one peer-to-peer federation; ``classifier`` gives the
    examples and takes the head after each round."""

    def __init__(self, classifier):
        self.classifier = classifier
        self.network = None
        self.running = False
        self._reset(None)

    def _reset(self, federation):
        self.federation = federation
        self.me = None
        self.key = None
        self.round = None
        self.weights = None
        self.bias = None
        self.mass = 0.0
        self.count = 0
        self.can_train = False
        self.catching_up = False
        self.inbox = []
        self.heard = {}      # peer id -> the latest (round, step) position heard from it
        self.ready = {}      # peer id -> whether it gossips (is waited for)
        self.greeted = {}
        self.seen_round = 0
        self.history = []
        self.sent_bytes = 0
        self.refused = {}
        self.estimate = None
        return None

    # --- joining ----------------------------------------------------------------------------
    async def join(self, federation):
        """Join ``federation``'s peers. Returns ``{id, federation, neighbours, held_out}``.
        Raises AppError (labels differ, no examples, the server refuses)."""
        if self.network is not None:
            raise AppError("This page already takes part in " + self.federation
                           + " peer to peer; leave first.")
        state = await json_request("federation?federation=" + encodeURIComponent(federation), {})
        labels = self.classifier.labels()
        if ", ".join(state["labels"]) != ", ".join(labels):
            raise AppError("This federation classifies " + ", ".join(state["labels"])
                           + "; your labels are " + ", ".join(labels) + ". Set your labels to "
                           + "the federation's (same names, same order) to take part.")
        data = await self.classifier.training_set()
        if len(data["xs"]) == 0:
            raise AppError("There are no examples to learn from yet: label some texts first.")
        self._reset(federation)
        self.labels = labels
        self.dim = len(data["xs"][0])
        split = holdout_split(data["ys"], len(labels), HOLDOUT_FRACTION, HOLDOUT_SEED)
        self.train_xs = [data["xs"][i] for i in split["train"]]
        self.train_ys = [data["ys"][i] for i in split["train"]]
        self.held_xs = [data["xs"][i] for i in split["held"]]
        self.held_ys = [data["ys"][i] for i in split["held"]]
        self.count = len(self.train_xs)
        seen = {}
        for y in self.train_ys:
            seen[str(y)] = True
        self.can_train = len(seen.keys()) >= 2
        identity = await json_request("register", {
            "method": "POST", "body": JSON.stringify({"federation": federation}),
            "headers": headers([["Content-Type", "application/json"]])})
        self.key = await new_signing_key()
        public_key = base64_encode(await signing_public_raw(self.key))
        network = PeerNetwork(socket_url(API_BASE, federation),
                              {"token": identity["token"], "key": public_key},
                              self._on_message, self._on_change)
        self.network = network
        try:
            self.me = await network.open()
        except:
            self.network = None
            network.close()
            raise
        return {"id": self.me, "federation": federation, "neighbours": len(network.ids),
                "held_out": len(self.held_xs), "training": self.count}

    def leave(self):
        """Say bye to the server and close every connection; the page keeps its head."""
        if self.network is not None:
            self.network.close()
        self.network = None
        federation = self.federation
        self._reset(None)
        return {"left": federation}

    # --- what arrives ------------------------------------------------------------------------
    def _hear(self, peer_id, round_id, step):
        key = str(peer_id)
        position = _position(round_id, step)
        if key not in self.heard or self.heard[key] < position:
            self.heard[key] = position
        if round_id > self.seen_round:
            self.seen_round = round_id
        return None

    def _on_message(self, peer_id, data):
        if typeof(data) == "string":
            try:
                note = JSON.parse(data)
            except:  # noqa: E722 - not JSON: ignored
                return None
            if note["kind"] == "done":
                self.ready[str(peer_id)] = False
            elif note["round"] >= 0 and note["step"] >= -1:
                self._hear(peer_id, note["round"], note["step"])
                if note["kind"] != "state":
                    self.ready[str(peer_id)] = True
            return None
        try:
            frame = gossip.decode_frame(__new__(Uint8Array(data)))
        except gossip.GossipError as error:
            self._refuse(error.reason)
            return None
        self._hear(peer_id, frame["round"], frame["step"])
        self.ready[str(peer_id)] = True
        self.inbox.append({"from": peer_id, "frame": frame})
        return None

    def _on_change(self):
        """Tell each newly open neighbour where this page stands."""
        if self.network is None:
            return None
        for peer_id in self.network.open_ids():
            if str(peer_id) not in self.greeted:
                self.greeted[str(peer_id)] = True
                self._note(peer_id, "ready" if self.running else "state")
        return None

    def _note(self, peer_id, kind):
        """Tell a neighbour this page's state (``kind``: ready, state, done) and the round it
        runs next: 0 before the start, as frames carry the round in progress; so a page
        that joins late learns it from either (``seen_round``)."""
        upcoming = 0 if self.round is None else self.round + 1
        self.network.send(peer_id, JSON.stringify({"kind": kind, "round": upcoming,
                                                   "step": -1}))
        return None

    def _refuse(self, reason):
        self.refused[reason] = (self.refused[reason] if reason in self.refused else 0) + 1
        return None

    async def _wait(self, done, limit_ms):
        started = performance.now()
        while not done():
            if performance.now() - started > limit_ms:
                return False
            await sleep(10)
        return True

    def _ready_ids(self):
        return [i for i in self.network.open_ids()
                if str(i) in self.ready and self.ready[str(i)]]

    # --- the protocol ------------------------------------------------------------------------
    async def gossip(self, rounds, keep_heads):
        """Run ``rounds`` rounds (the start first, on the first call). Returns one entry a
        round: ``{round, accuracy, peers, sent_bytes, refused, catching_up}`` (with
        ``weights`` and ``bias`` when ``keep_heads``)."""
        if self.network is None:
            raise AppError("Join the peers first (peer-to-peer federation).")
        if self.running:
            raise AppError("Gossip is already running on this page.")
        self.running = True
        entries = []
        try:
            await self._ready_barrier(GOSSIP_READY_WAIT_MS if self.round is None
                                      else GOSSIP_STEP_WAIT_MS)
            if self.round is None:
                await self._start()
            for i in range(rounds):
                entries.append(await self._round(self.round + 1, keep_heads))
        finally:
            self.running = False
            if self.network is not None:
                for peer_id in self.network.open_ids():
                    self._note(peer_id, "done")
        return entries

    async def _ready_barrier(self, limit_ms):
        """Tell every open neighbour this page gossips, and wait (at most ``limit_ms``) until
        each of them said the same: pages started a few seconds apart begin together."""
        await self._wait(lambda: len(self.network.open_ids()) > 0, limit_ms)
        for peer_id in self.network.open_ids():
            self.greeted[str(peer_id)] = True
            self._note(peer_id, "ready")
        await self._wait(lambda: len(self._ready_ids()) >= len(self.network.open_ids()),
                         limit_ms)
        return None

    async def _start(self):
        rows = len(self.labels)
        stats = class_statistics(self.train_xs, self.train_ys, rows, self.dim)
        if self.seen_round >= 1:   # a late joiner: take the neighbours' heads first
            head = prototype_from_statistics(stats["weights"], stats["bias"], rows, self.dim,
                                             PROTOTYPE_SCALE)
            self.weights, self.bias = head["weights"], head["bias"]
            self.mass = CATCH_UP_MASS
            self.catching_up = True
            self.round = self.seen_round - 1
            return None
        self.weights, self.bias, self.mass = stats["weights"], stats["bias"], self.count
        for step in range(GOSSIP_START_STEPS):
            await self._step(0, step, True)
        head = prototype_from_statistics(self.weights, self.bias, rows, self.dim,
                                         PROTOTYPE_SCALE)
        self.weights, self.bias = head["weights"], head["bias"]
        self.round = 0
        return None

    async def _round(self, round_id, keep_heads):
        if self.can_train and not self.catching_up:
            local = local_update(self.labels, self.dim, self.train_xs, self.train_ys,
                                 self.weights, self.bias, 1, {"epochs": GOSSIP_EPOCHS})
            self.weights, self.bias = local["weights"], local["bias"]
        for step in range(GOSSIP_STEPS):
            await self._step(round_id, step, False)
        self.round = round_id
        self.estimate = accuracy(self.weights, self.bias, len(self.labels), self.dim,
                                 self.held_xs, self.held_ys)
        await self.classifier.use_global_head(self.labels, self.weights, self.bias,
                                              "peer-to-peer round " + str(round_id))
        if round_id % GOSSIP_REFRESH_ROUNDS == 0 and len(self.network.ids) > 0:
            ids = self.network.ids
            self.network.refresh(ids[_u32(random_bytes(4)) % len(ids)])
        total = 0
        for reason in self.refused.keys():
            total += self.refused[reason]
        entry = {"round": round_id, "accuracy": self.estimate,
                 "peers": len(self.network.open_ids()), "sent_bytes": self.sent_bytes,
                 "refused": total, "catching_up": self.catching_up}
        if keep_heads:
            entry["weights"] = [v for v in self.weights]
            entry["bias"] = [v for v in self.bias]
        self.history.append(entry)
        return entry

    def _send(self, round_id, step, frame):
        """Send ``frame`` to up to GOSSIP_FANOUT ready neighbours and a marker to the rest;
        returns how many took the frame."""
        ready = self._ready_ids()
        targets = gossip.pick_neighbours(ready, GOSSIP_FANOUT, _u32(random_bytes(4)))
        took = 0
        for peer_id in targets:
            if self.network.send(peer_id, frame):
                took += 1
                self.sent_bytes += len(frame)
        marker = JSON.stringify({"kind": "step", "round": round_id, "step": step})
        for peer_id in self.network.open_ids():
            if peer_id not in targets:
                self.network.send(peer_id, marker)
        return took

    async def _step(self, round_id, step, statistics):
        rows = len(self.labels)
        fanout = min(GOSSIP_FANOUT, len(self._ready_ids()))
        share = gossip.share_of(self.mass, fanout)
        took = 0
        if fanout > 0:
            frame = gossip.encode_frame(self.me, round_id, step, share, rows, self.dim,
                                        self.weights, self.bias)
            signed = gossip.append_signature(frame, await sign(self.key, frame))
            took = self._send(round_id, step, signed)
        self.mass = share * (1 + fanout - took) if fanout > 0 else self.mass
        here = _position(round_id, step)
        await self._wait(lambda: self._heard_all(here), GOSSIP_STEP_WAIT_MS)
        for peer_id in self._ready_ids():   # silent this long: no longer waited for
            if self.heard[str(peer_id)] < here:
                self.ready[str(peer_id)] = False
        received = await self._checked(here, statistics)
        mixed = gossip.mix(self.weights, self.bias, self.mass, received,
                           gossip.MASS_CAP_FACTOR * max(self.count, 1))
        self.weights, self.bias, self.mass = mixed["weights"], mixed["bias"], mixed["mass"]
        if self.catching_up and len(received) >= 2:
            self.catching_up = False
            self.mass += self.count
        return None

    def _heard_all(self, here):
        for peer_id in self._ready_ids():
            if self.heard[str(peer_id)] < here:
                return False
        return True

    async def _checked(self, here, statistics):
        """The frames that arrived up to position ``here``, checked and pulled."""
        due = [item for item in self.inbox
               if _position(item["frame"]["round"], item["frame"]["step"]) <= here]
        self.inbox = [item for item in self.inbox
                      if _position(item["frame"]["round"], item["frame"]["step"]) > here]
        rows = len(self.labels)
        own = None
        if not statistics and not self.catching_up:
            own = accuracy(self.weights, self.bias, rows, self.dim, self.held_xs, self.held_ys)
        received = []
        for item in due:
            frame = item["frame"]
            key = self.network.key_of(item["from"]) if self.network is not None else None
            if key is None:
                self._refuse("unknown_sender")
                continue
            if not await verify(key, frame["signature"], frame["signed"]):
                self._refuse("bad_signature")
                continue
            if statistics != (frame["round"] == 0):
                self._refuse("wrong_phase")
                continue
            try:
                head = screen(self.weights, self.bias, frame, rows, self.dim, item["from"],
                              statistics, self.catching_up)
            except gossip.GossipError as error:
                self._refuse(error.reason)
                continue
            if own is not None and worse_on_held_out(
                    own, accuracy(head["weights"], head["bias"], rows, self.dim,
                                  self.held_xs, self.held_ys), len(self.held_xs)):
                self._refuse("worse_on_held_out")
                continue
            received.append({"weights": head["weights"], "bias": head["bias"],
                             "mass": frame["mass"]})
        return received

    # --- what the page shows --------------------------------------------------------------------
    def status(self):
        """``{federation, me, round, accuracy, catching_up, mass, sent_bytes, refused,
        peers: [{id, state, connect_ms, attempts, last_exchange, ready}]}``."""
        peers = []
        if self.network is not None:
            for info in self.network.infos():
                key = str(info["id"])
                info["ready"] = key in self.ready and self.ready[key]
                peers.append(info)
        return {"federation": self.federation, "me": self.me, "round": self.round,
                "accuracy": self.estimate, "catching_up": self.catching_up,
                "mass": self.mass, "sent_bytes": self.sent_bytes, "refused": self.refused,
                "held_out": len(self.held_xs) if self.network is not None else 0,
                "running": self.running, "peers": peers}
