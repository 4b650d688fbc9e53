# __pragma__ ('ecom')
"""Peer-to-peer federation without a server in the middle: gossip frames and push-sum mixing
(pure; the WebRTC transport and the signatures live in the browser's services).

Each peer holds a head ``theta`` and a push-sum mass ``m`` (its example count at the start).
A round is one local epoch of training, then a few mixing steps: the peer keeps
``m / (k + 1)`` of its mass and sends ``(theta, m / (k + 1))`` to each of ``k`` random
neighbours; whatever arrives is mixed in by mass: ``theta = (m theta + sum m_i theta_i) /
(m + sum m_i)``, ``m = m + sum m_i``. Masses only move, so the mass-weighted mean of all heads
is what every peer drifts to: FedAvg weighted by examples, without a server (Kempe, Dobra
and Gehrke, "Gossip-based computation of aggregate information", 2003; gossip learning after
Hegedűs, Danner and Jelasity, DAIS 2019).

A frame (≤ 16 KiB for a few labels: WebRTC data channels of every browser take that)::

    0   4  magic "FLGS"
    4   1  format version (1)
    5   3  reserved, 0
    8   8  f64  push-sum mass sent with the head (> 0, at most MAX_MASS)
    16  4  u32  length n of the head's encoding
    20  n       the head as a ``tinybert_core.codec`` update (client id = sender, round id =
                the gossip round, base version = the mixing step, int8 rows + scales + CRC)
    20+n 64     ECDSA P-256 signature (r || s) of bytes [0, 20 + n) by the sender's key

Received heads are checked (shape, finite values, scale bound, sender, round) and pulled
toward the receiver's own head to within a distance, so one bad peer moves a head by a bounded
step; the page also refuses a head that loses accuracy on its own held-out examples.
"""
import math

from tinybert_core.binary import as_bytes, frozen, get_f64, get_u32, new_bytes, put_f64, put_u32
from tinybert_core.checks import is_finite
from tinybert_core.codec import CodecError, Update, decode_update, encode_update
from tinybert_core.rng import Rng

MAGIC = [70, 76, 71, 83]   # "FLGS"
VERSION = 1
HEADER = 20
SIGNATURE_BYTES = 64
MAX_MASS = 1e9
# The largest L2 norm of a head a frame may carry: prototype heads have rows of length
# ``scale`` (40), so even hundreds of labels stay far below this.
HEAD_NORM_LIMIT = 10000.0
# A received head may be at most this many times as long as the receiver's own (a scaled
# head is refused), and is pulled to within this fraction of the own head's length of it.
# Measured (bench/gossip_simulation.py, TREC-6, 8 peers): honest heads have length ~40, one
# epoch moves a head by ~2 and two peers' heads are ~3 apart, so 0.15 (6 units) lets honest
# heads through unchanged and bounds what a bad one does.
NORM_FACTOR = 2.0
DISTANCE_FRACTION = 0.15
# The page counts a received mass for at most this many times its own example count, so that
# no peer can claim the whole federation's weight (see ``mix``).
MASS_CAP_FACTOR = 4.0


class GossipError(ValueError):
    """A frame or value the protocol refuses. ``reason``: a short code; message: why."""

    def __init__(self, reason, message):
        ValueError.__init__(self, message)
        self.reason = reason


def encode_frame(sender, round_id, step, mass, rows, cols, weights, bias):
    """The unsigned frame carrying this peer's head and mass share (bytes); the transport
    signs ``frame`` and sends ``append_signature(frame, signature)``."""
    if not (is_finite(mass) and mass > 0 and mass <= MAX_MASS):
        raise GossipError("bad_mass", "the mass must be a positive number up to " + "1e9")
    try:
        head = encode_update(Update(sender, round_id, step, 1, rows, cols, weights, bias),
                             HEAD_NORM_LIMIT)
    except CodecError as error:
        raise GossipError(error.reason, str(error))
    out = new_bytes(HEADER + len(head))
    for i in range(4):
        out[i] = MAGIC[i]
    out[4] = VERSION
    put_f64(out, 8, mass)
    put_u32(out, 16, len(head))
    for i in range(len(head)):
        out[HEADER + i] = head[i]
    return frozen(out)


def append_signature(frame, signature):
    """``frame`` followed by its 64-byte signature."""
    frame = as_bytes(frame)
    signature = as_bytes(signature)
    if len(signature) != SIGNATURE_BYTES:
        raise GossipError("bad_signature", "a signature is " + str(SIGNATURE_BYTES) + " bytes")
    out = new_bytes(len(frame) + SIGNATURE_BYTES)
    for i in range(len(frame)):
        out[i] = frame[i]
    for i in range(SIGNATURE_BYTES):
        out[len(frame) + i] = signature[i]
    return frozen(out)


def _slice(data, start, end):
    out = new_bytes(end - start)
    for i in range(start, end):
        out[i - start] = data[i]
    return frozen(out)


def decode_frame(data):
    """Parse a signed frame: ``{"sender", "round", "step", "mass", "rows", "cols",
    "weights", "bias", "signed", "signature"}`` (``signed``: the bytes the signature covers).

    Raises GossipError (``reason``) for anything malformed, before any value is used; the
    caller still verifies the signature against the sender's registered key.
    """
    data = as_bytes(data)
    if len(data) < HEADER + SIGNATURE_BYTES:
        raise GossipError("truncated", "a gossip frame is at least "
                          + str(HEADER + SIGNATURE_BYTES) + " bytes")
    for i in range(4):
        if data[i] != MAGIC[i]:
            raise GossipError("bad_magic", "not a gossip frame (wrong magic bytes)")
    if data[4] != VERSION or data[5] != 0 or data[6] != 0 or data[7] != 0:
        raise GossipError("bad_version", "unknown gossip frame version " + str(data[4]))
    mass = get_f64(data, 8)
    if not (is_finite(mass) and mass > 0 and mass <= MAX_MASS):
        raise GossipError("bad_mass", "the frame's mass is not a positive number up to 1e9")
    length = get_u32(data, 16)
    if HEADER + length + SIGNATURE_BYTES != len(data):
        raise GossipError("bad_length", "the frame's length does not match its head")
    try:
        head = decode_update(_slice(data, HEADER, HEADER + length))
    except CodecError as error:
        raise GossipError(error.reason, str(error))
    return {"sender": head.client_id, "round": head.round_id, "step": head.base_version,
            "mass": mass, "rows": head.rows, "cols": head.cols, "weights": head.weights,
            "bias": head.bias, "signed": _slice(data, 0, HEADER + length),
            "signature": _slice(data, HEADER + length, len(data))}


def check_frame(frame, rows, cols, sender, max_norm):
    """Refuse (GossipError) a decoded frame of another shape, from another sender than the
    channel's peer, or whose head is longer than ``max_norm`` (None: HEAD_NORM_LIMIT; the
    page passes NORM_FACTOR times its own head's length)."""
    if frame["rows"] != rows or frame["cols"] != cols:
        raise GossipError("bad_shape", "the head is " + str(frame["rows"]) + " x "
                          + str(frame["cols"]) + ", this federation's " + str(rows) + " x "
                          + str(cols))
    if frame["sender"] != sender:
        raise GossipError("wrong_sender", "the frame names another sender than its channel")
    limit = HEAD_NORM_LIMIT if max_norm is None else max_norm
    if _norm(frame["weights"], frame["bias"]) > limit:
        raise GossipError("too_large", "the head is longer than this peer accepts")
    return None


def head_norm(weights, bias):
    """The L2 length of a head (weights and bias as one vector)."""
    return _norm(weights, bias)


def _norm(weights, bias):
    total = 0.0
    for i in range(len(weights)):
        total += weights[i] * weights[i]
    for i in range(len(bias)):
        total += bias[i] * bias[i]
    return math.sqrt(total)


def share_of(mass, fanout):
    """The mass sent to each of ``fanout`` neighbours, and kept: ``mass / (fanout + 1)``."""
    return mass / (fanout + 1)


def pull_toward(own_weights, own_bias, weights, bias, max_distance):
    """``(weights, bias)`` moved toward the own head until their L2 distance from it is at
    most ``max_distance``: a bad head moves this peer by a bounded step."""
    distance = 0.0
    for i in range(len(weights)):
        d = weights[i] - own_weights[i]
        distance += d * d
    for i in range(len(bias)):
        d = bias[i] - own_bias[i]
        distance += d * d
    distance = math.sqrt(distance)
    if distance <= max_distance:
        return {"weights": weights, "bias": bias}
    factor = max_distance / distance
    out_w = []
    out_b = []
    for i in range(len(weights)):
        out_w.append(own_weights[i] + (weights[i] - own_weights[i]) * factor)
    for i in range(len(bias)):
        out_b.append(own_bias[i] + (bias[i] - own_bias[i]) * factor)
    return {"weights": out_w, "bias": out_b}


def mix(own_weights, own_bias, own_mass, received, mass_cap):
    """Push-sum: the mass-weighted mean of the own head and the ``received`` ones (each
    ``{"weights", "bias", "mass"}``), with their masses added. Returns ``{"weights", "bias",
    "mass"}``.

    mass_cap: None, or the most a received mass counts for (the page: MASS_CAP_FACTOR times
    its own example count). Honest shares stay below it, so the mass-weighted mean of all
    heads is kept exactly; an inflated mass is cut to it.
    """
    total = own_mass
    masses = []
    for item in received:
        m = item["mass"]
        if mass_cap is not None and m > mass_cap:
            m = mass_cap
        masses.append(m)
        total += m
    out_w = []
    out_b = []
    for i in range(len(own_weights)):
        value = own_mass * own_weights[i]
        for r in range(len(received)):
            value += masses[r] * received[r]["weights"][i]
        out_w.append(value / total)
    for i in range(len(own_bias)):
        value = own_mass * own_bias[i]
        for r in range(len(received)):
            value += masses[r] * received[r]["bias"][i]
        out_b.append(value / total)
    return {"weights": out_w, "bias": out_b, "mass": total}


def pick_neighbours(candidates, count, seed):
    """Up to ``count`` distinct ids from ``candidates``, drawn by a ``tinybert_core.rng.Rng``
    seeded with ``seed`` (the page draws the seed from ``crypto.getRandomValues``)."""
    pool = [c for c in candidates]
    Rng(seed).shuffle(pool)
    out = []
    for i in range(len(pool)):
        if i < count:
            out.append(pool[i])
    return out
