"""A secure-aggregation client in Python, step for step what a browser does, from the same
core code (``tinybert_core.secagg``; Shamir through ``fl.gf256``, tested equal to
``tinybert_core.shamir``) with the ``cryptography`` package in place of WebCrypto. Used for
cohorts too large for browsers in tests and benchmarks. Transport-free: each phase takes what
the server handed out and returns what to send back.
"""
import os

import numpy as np

from fl import gf256
from fl import secagg_crypto as crypto
from tinybert_core import secagg


class SecAggClient:
    """One member of one secure round."""

    def __init__(self, client_id, round_id):
        self.id = client_id
        self.round_id = round_id
        self.encryption_key = crypto.new_private_key()
        self.mask_key = crypto.new_private_key()
        self.seed = os.urandom(secagg.SECRET_BYTES)
        self.received = {}    # owner id -> {"seed_share", "key_share"}
        self.shared = None    # U2 as this member was told
        self.neighbours = None
        self._share_keys = {}

    # phase 0
    def advertise(self):
        """``{"encryption_key", "mask_key"}``: the two public keys, 65 bytes each."""
        return {"encryption_key": crypto.public_bytes(self.encryption_key),
                "mask_key": crypto.public_bytes(self.mask_key)}

    # phase 1
    def share(self, keys, graph):
        """Sealed shares for each neighbour: ``{receiver id: nonce || ciphertext}``.

        keys: ``{id: {"encryption_key", "mask_key"}}`` of the cohort; graph as from
        ``secagg.neighbourhoods``. This member's own shares are kept, not sent.
        """
        self.keys = keys
        self.neighbours = graph[str(self.id)]
        points = [secagg.share_point(self.neighbours, v) for v in self.neighbours]
        t = secagg.threshold(len(self.neighbours))
        scalar = crypto.private_scalar(self.mask_key)
        seed_shares = gf256.split(self.seed, points, t, os.urandom(32 * (t - 1)))
        key_shares = gf256.split(scalar, points, t, os.urandom(32 * (t - 1)))
        sealed = {}
        for v, seed_share, key_share in zip(self.neighbours, seed_shares, key_shares):
            if v == self.id:
                self.received[v] = {"seed_share": seed_share, "key_share": key_share}
                continue
            text = secagg.share_plaintext(self.id, v, seed_share, key_share)
            sealed[v] = crypto.seal(self._share_key(v), os.urandom(crypto.NONCE_BYTES), text,
                                    secagg.associated_data(self.round_id, self.id, v))
        return sealed

    def _share_key(self, other):
        if other not in self._share_keys:   # sealing and opening use the same key
            secret = crypto.shared_secret(self.encryption_key,
                                          self.keys[other]["encryption_key"])
            self._share_keys[other] = crypto.derive_key(secret, "share", self.round_id,
                                                        self.id, other)
        return self._share_keys[other]

    # phase 2
    def masked_input(self, sealed_for_me, weights, bias, weight, scale, clip, cap):
        """Open the shares addressed to this member (``{sender: sealed}``: the senders are
        U2) and return the masked input words (uint32 array)."""
        for sender, sealed in sealed_for_me.items():
            text = crypto.open_sealed(self._share_key(sender), sealed,
                                      secagg.associated_data(self.round_id, sender, self.id))
            self.received[sender] = secagg.read_share_plaintext(text, sender, self.id)
        self.shared = set(sealed_for_me) | {self.id}
        n = len(weights) + len(bias)
        words = np.array(secagg.encode_input(weights, bias, weight, scale, clip, cap,
                                             os.urandom(4 * n)), dtype=np.uint32)
        self.encoded = words.copy()   # for tests: what the masks must hide and the sum restore
        length = n + 1
        words += crypto.mask_words(crypto.derive_key(self.seed, "self-mask", self.round_id,
                                                     self.id, self.id), length)
        for v in self.neighbours:
            if v == self.id or v not in self.shared:
                continue
            secret = crypto.shared_secret(self.mask_key, self.keys[v]["mask_key"])
            mask = crypto.mask_words(crypto.derive_key(secret, "pair-mask", self.round_id,
                                                       self.id, v), length)
            if secagg.mask_sign(self.id, v) > 0:
                words += mask
            else:
                words -= mask
        return words

    # phase 3
    def reveal(self, survivors):
        """Shares for the server: ``{"seed": {owner: share}, "key": {owner: share}}``, the
        seed share of each surviving neighbour and the key share of each dropped one, never
        both for one owner. Refuses (ValueError) when fewer than the threshold survived."""
        survivors = set(survivors)
        alive = [v for v in self.neighbours if v in survivors]
        if len(alive) < secagg.threshold(len(self.neighbours)):
            raise ValueError("too few survivors: revealing would not be safe")
        out = {"seed": {}, "key": {}}
        for owner, shares in self.received.items():
            if owner in survivors:
                out["seed"][owner] = shares["seed_share"]
            elif owner in self.shared:
                out["key"][owner] = shares["key_share"]
        return out
