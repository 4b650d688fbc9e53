"""What the server does with a secure round's data: rebuild the secrets it is allowed to
rebuild and turn the survivors' masked inputs into their sum (numpy, no I/O).

Inputs of ``unmask_sum`` (ids are client ids; ``graph`` maps ``str(id)`` to the member and
its neighbours, as ``tinybert_core.secagg.neighbourhoods`` gives it):

- ``masked``: ``{id: uint32 array}``, the masked inputs of the survivors (U3);
- ``shared``: the ids that handed in their shares (U2); those of U2 not in ``masked``
  dropped after sharing, and their pair masks must be removed from the survivors' inputs;
- ``mask_keys``: ``{id: 65-byte public mask key}`` of the cohort;
- ``reveals``: ``{revealer id: {"seed": {owner id: share}, "key": {owner id: share}}}``, a
  survivor's share of each surviving neighbour's self-mask seed and of each dropped
  neighbour's mask private key (never both for one owner: which follows from U3 alone).

The server never sees an individual update: a masked input is uniformly random on its own,
and the sum is all that the removed masks reveal.
"""
import numpy as np

from fl import gf256
from fl import secagg_crypto as crypto
from tinybert_core import secagg


class UnmaskError(ValueError):
    """The round cannot be unmasked (too few shares, or shares that do not fit)."""


def _rebuild(owner, kind, reveals, graph):
    """The secret of ``owner`` (``kind`` "seed" or "key") from its neighbours' shares."""
    near = graph[str(owner)]
    points, shares = [], []
    for revealer, revealed in reveals.items():
        share = revealed[kind].get(owner)
        if share is not None:
            points.append(secagg.share_point(near, revealer))
            shares.append(bytes(share))
    needed = secagg.threshold(len(near))
    if len(shares) < needed:
        raise UnmaskError("member %d: %d shares revealed, %d needed" % (owner, len(shares),
                                                                         needed))
    return gf256.reconstruct(points[:needed], shares[:needed])


def unmask_sum(masked, shared, mask_keys, reveals, graph, round_id, length):
    """The sum of the survivors' inputs (uint32 array of ``length`` words).

    Raises UnmaskError when a secret cannot be rebuilt (fewer than its threshold of shares)
    or a rebuilt mask key is not a valid key.
    """
    survivors = sorted(masked)
    dropped = sorted(set(shared) - set(masked))
    total = np.zeros(length, dtype=np.uint32)
    for u in survivors:
        total += np.asarray(masked[u], dtype=np.uint32)
    for u in survivors:
        seed = _rebuild(u, "seed", reveals, graph)
        total -= crypto.mask_words(crypto.derive_key(seed, "self-mask", round_id, u, u), length)
    alive = set(survivors)
    for d in dropped:
        try:
            private = crypto.private_key_from_scalar(_rebuild(d, "key", reveals, graph))
        except crypto.CryptoError as exc:
            raise UnmaskError("member %d: the rebuilt mask key is not a key" % d) from exc
        for v in graph[str(d)]:
            if v == d or v not in alive:
                continue
            key = crypto.derive_key(crypto.shared_secret(private, mask_keys[v]), "pair-mask",
                                    round_id, d, v)
            words = crypto.mask_words(key, length)
            # v added sign(v, d) * mask: take exactly that away.
            if secagg.mask_sign(v, d) > 0:
                total -= words
            else:
                total += words
    return total
