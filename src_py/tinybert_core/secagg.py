# __pragma__ ('ecom')
"""Secure aggregation's arithmetic (pure): what a browser masks and what the server unmasks.

After Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning"
(CCS 2017), with SecAgg+'s sparse graph (Bell et al., CCS 2020) for large cohorts. The
cryptography (ECDH, HKDF, AES-GCM, AES-CTR) lives in the runtimes' own libraries; this module
holds everything else, the same in CPython and in the browser:

- the **input**: a head update ``x`` (weights row-major, then bias; L2 norm at most ``clip``)
  and its weight ``w`` (the browser's example count, at most ``weight_cap``) become
  ``rows * cols + rows + 1`` words mod 2^32: ``w * x`` in fixed point (one scale for the whole
  cohort, stochastic rounding), then ``w`` itself. The sum of the cohort's inputs decodes to
  ``sum w * x`` and ``sum w``: weighted FedAvg, and in the first round the class statistics
  of the union;
- the **masks**: words from a pseudo-random generator (AES-CTR output), added mod 2^32: a
  browser's own self-mask plus, for every neighbour v it shares a key with, the pair mask
  with sign +1 if its id is lower than v's, else -1, so that pair masks cancel in the sum;
- the **graph**: who shares secrets and masks with whom (everyone in cohorts of up to
  ``FULL_GRAPH_MAX``; a random regular graph of even degree above that), and the threshold
  of shares that rebuild a secret;
- the **messages**: the plaintext of a relayed share and the associated data that binds its
  ciphertext to a round, a sender and a receiver.

Words are a ``Uint32Array`` in the browser, where the typed array wraps every store to
[0, 2^32) (never ``%``, whose sign follows the dividend in JavaScript), and a list of ints
kept in [0, 2^32) in CPython.
"""
import math

from tinybert_core.binary import as_bytes, frozen, get_u32, new_bytes, put_u32, utf8_encode
from tinybert_core.checks import is_finite, is_whole
from tinybert_core.rng import Rng

TWO31 = 2147483648
TWO32 = 4294967296
SECRET_BYTES = 32
FULL_GRAPH_MAX = 128
MIN_COHORT = 5
SHARE_PLAINTEXT = 8 + 2 * SECRET_BYTES


class SecAggError(ValueError):
    """Input or protocol data that cannot be used: the message says what and why."""


# --- words mod 2^32 ---------------------------------------------------------------------

def new_words(n):
    """``n`` zero words: a list in CPython, a Uint32Array in the browser."""
    out = None
    # __pragma__ ('skip')
    out = [0] * n
    # __pragma__ ('noskip')
    #?out = __new__ (Uint32Array (n))
    return out


def store_word(words, i, value):
    """Set ``words[i]`` to the integer ``value`` taken mod 2^32 (negative values wrap)."""
    # __pragma__ ('skip')
    value = value & 0xFFFFFFFF
    # __pragma__ ('noskip')
    words[i] = value
    return None


def add_words(acc, words, sign):
    """``acc += sign * words`` mod 2^32, in place (``sign`` +1 or -1)."""
    if len(acc) != len(words):
        raise SecAggError("mask and input lengths differ: " + str(len(words)) + " vs "
                          + str(len(acc)))
    for i in range(len(acc)):
        store_word(acc, i, acc[i] + sign * words[i])
    return None


def words_from_bytes(data, count):
    """The first ``count`` little-endian 32-bit words of ``data`` (e.g. AES-CTR output)."""
    data = as_bytes(data)
    if len(data) < 4 * count:
        raise SecAggError("need " + str(4 * count) + " bytes of mask, got " + str(len(data)))
    out = new_words(count)
    for i in range(count):
        out[i] = get_u32(data, 4 * i)
    return out


def words_to_bytes(words):
    """Little-endian bytes of ``words`` (the body of a masked input)."""
    out = new_bytes(4 * len(words))
    for i in range(len(words)):
        put_u32(out, 4 * i, words[i])
    return frozen(out)


def signed(word):
    """A word read as a two's-complement 32-bit integer."""
    return word - TWO32 if word >= TWO31 else word


# --- the input: fixed point with stochastic rounding ------------------------------------

def input_length(rows, cols):
    """Words of one input: the weights, the bias and the weight."""
    return rows * cols + rows + 1


def fixed_point_scale(cohort_size, weight_cap, clip):
    """The largest power of two ``s`` such that the sum of ``cohort_size`` inputs cannot
    overflow: each coordinate of ``w * x`` is at most ``weight_cap * clip`` in size, so
    ``cohort_size * weight_cap * clip * s`` (plus one unit of rounding each) stays below 2^31.
    A power of two keeps the scaled values exact in floating point."""
    if not (is_whole(cohort_size, 1, 100000) and is_whole(weight_cap, 1, 1000000)
            and is_finite(clip) and clip > 0):
        raise SecAggError("cohort size, weight cap and clip must be positive numbers")
    bound = (TWO31 - 1) / cohort_size - 1
    limit = bound / (weight_cap * clip)
    if limit < 1:
        raise SecAggError("a cohort of " + str(cohort_size) + " with weight cap "
                          + str(weight_cap) + " and this clip does not fit in 32-bit words")
    return math.pow(2, math.floor(math.log(limit) / math.log(2)))


def _stochastic_round(value, uniform):
    """floor(value) or floor(value) + 1, the latter with probability frac(value)."""
    low = math.floor(value)
    return low + 1 if uniform < value - low else low


def encode_input(weights, bias, weight, scale, clip, weight_cap, randomness):
    """The input words of one update (see the module docstring).

    weights, bias: the update (floats), its L2 norm at most ``clip`` (clip it first);
    weight: whole number in 1..weight_cap; scale: from ``fixed_point_scale``; randomness:
    ``4 * (len(weights) + len(bias))`` random bytes for the stochastic rounding.
    Raises SecAggError on a non-finite value, a norm above the clip or a bad weight.
    """
    randomness = as_bytes(randomness)
    n = len(weights) + len(bias)
    if len(randomness) < 4 * n:
        raise SecAggError("need " + str(4 * n) + " random bytes, got " + str(len(randomness)))
    if not is_whole(weight, 1, weight_cap):
        raise SecAggError("the weight must be a whole number in 1.." + str(weight_cap))
    norm = 0.0
    words = new_words(n + 1)
    for i in range(n):
        value = weights[i] if i < len(weights) else bias[i - len(weights)]
        if not is_finite(value):
            raise SecAggError("update value " + str(i) + " is not finite")
        norm += value * value
        uniform = get_u32(randomness, 4 * i) / TWO32
        store_word(words, i, _stochastic_round(value * weight * scale, uniform))
    if math.sqrt(norm) > clip * (1 + 1e-9):
        raise SecAggError("the update's L2 norm exceeds the clip; clip it first")
    words[n] = weight
    return words


def decode_sum(words, scale, rows, cols):
    """The cohort's sums from the unmasked sum of inputs: ``{"weights", "bias"}`` = sum of
    ``w * x`` (floats) and ``"weight"`` = sum of ``w``."""
    if len(words) != input_length(rows, cols):
        raise SecAggError("the sum has " + str(len(words)) + " words, expected "
                          + str(input_length(rows, cols)))
    weights = []
    bias = []
    for i in range(rows * cols):
        weights.append(signed(words[i]) / scale)
    for k in range(rows):
        bias.append(signed(words[rows * cols + k]) / scale)
    return {"weights": weights, "bias": bias, "weight": words[rows * cols + rows]}


def mask_sign(own_id, other_id):
    """+1 when this browser's id is the lower of the pair, else -1: pair masks cancel."""
    return 1 if own_id < other_id else -1


# --- the graph and the threshold --------------------------------------------------------

def threshold(size):
    """Shares that rebuild a secret shared among ``size`` members: size - floor(size / 3)."""
    return size - math.floor(size / 3)


def graph_degree(cohort_size):
    """Neighbours of each member besides itself: everyone up to FULL_GRAPH_MAX members;
    above, an even degree of about 6 log2(n), as SecAgg+ suggests for sparse graphs."""
    if cohort_size <= FULL_GRAPH_MAX:
        return cohort_size - 1
    degree = 2 * math.ceil(3 * math.log(cohort_size) / math.log(2))
    return degree if degree < cohort_size - 1 else cohort_size - 1


def neighbourhoods(members, seed):
    """Who shares with whom: ``{str(id): [ids]}`` for each id in ``members``, each list
    holding the member itself and its neighbours, in increasing id order.

    Up to FULL_GRAPH_MAX members everyone is everyone's neighbour. Above, the members are put
    on a ring in an order shuffled by ``seed`` (the server's, public) and each one is joined
    to the ``graph_degree / 2`` nearest on either side (a Harary graph): a regular graph in
    which a member's neighbours do not depend on its id.
    """
    ids = sorted([m for m in members])
    n = len(ids)
    out = {}
    degree = graph_degree(n)
    if degree == n - 1:
        for u in ids:
            out[str(u)] = [v for v in ids]
        return out
    ring = [u for u in ids]
    Rng(seed).shuffle(ring)
    half = degree // 2
    for pos in range(n):
        near = [ring[pos]]
        for step in range(1, half + 1):
            near.append(ring[(pos + step) % n])
            near.append(ring[(pos - step + n) % n])
        out[str(ring[pos])] = sorted(near)
    return out


def share_point(neighbours, member):
    """The Shamir point (1..255) of ``member`` among a browser's ``neighbours``."""
    for i in range(len(neighbours)):
        if neighbours[i] == member:
            return i + 1
    raise SecAggError("member " + str(member) + " is not a neighbour")


# --- key derivation labels and relayed shares ------------------------------------------

KEY_PURPOSES = ["pair-mask", "self-mask", "share"]


def key_info(purpose, round_id, a, b):
    """HKDF-SHA256's ``info`` for a key of ``purpose`` (one of KEY_PURPOSES) in a round,
    between members ``a`` and ``b`` (lower id first; both the member itself for its
    self-mask): ``"tinybert-secagg/<purpose>"`` in UTF-8, then the round and both ids as
    little-endian u32. Every runtime derives its keys with exactly these bytes."""
    if purpose not in KEY_PURPOSES:
        raise SecAggError("unknown key purpose " + str(purpose) + "; one of "
                          + ", ".join(KEY_PURPOSES))
    label = utf8_encode("tinybert-secagg/" + purpose)
    low = a if a < b else b
    high = b if a < b else a
    out = new_bytes(len(label) + 12)
    for i in range(len(label)):
        out[i] = label[i]
    put_u32(out, len(label), round_id)
    put_u32(out, len(label) + 4, low)
    put_u32(out, len(label) + 8, high)
    return frozen(out)


def associated_data(round_id, sender, receiver):
    """The 12 bytes that bind a share's ciphertext to its round, sender and receiver."""
    out = new_bytes(12)
    put_u32(out, 0, round_id)
    put_u32(out, 4, sender)
    put_u32(out, 8, receiver)
    return frozen(out)


def share_plaintext(sender, receiver, seed_share, key_share):
    """What ``sender`` sends ``receiver`` (encrypted): both ids, then its share of the
    self-mask seed and its share of the mask private key (32 bytes each)."""
    seed_share = as_bytes(seed_share)
    key_share = as_bytes(key_share)
    if len(seed_share) != SECRET_BYTES or len(key_share) != SECRET_BYTES:
        raise SecAggError("shares must be " + str(SECRET_BYTES) + " bytes each")
    out = new_bytes(SHARE_PLAINTEXT)
    put_u32(out, 0, sender)
    put_u32(out, 4, receiver)
    for i in range(SECRET_BYTES):
        out[8 + i] = seed_share[i]
        out[8 + SECRET_BYTES + i] = key_share[i]
    return frozen(out)


def read_share_plaintext(data, sender, receiver):
    """``{"seed_share", "key_share"}`` from a decrypted share; raises SecAggError when it is
    malformed or names another sender or receiver than the one it came from."""
    data = as_bytes(data)
    if len(data) != SHARE_PLAINTEXT:
        raise SecAggError("a share is " + str(SHARE_PLAINTEXT) + " bytes, got "
                          + str(len(data)))
    if get_u32(data, 0) != sender or get_u32(data, 4) != receiver:
        raise SecAggError("a share names another sender or receiver than its envelope")
    seed_share = new_bytes(SECRET_BYTES)
    key_share = new_bytes(SECRET_BYTES)
    for i in range(SECRET_BYTES):
        seed_share[i] = data[8 + i]
        key_share[i] = data[8 + SECRET_BYTES + i]
    return {"seed_share": frozen(seed_share), "key_share": frozen(key_share)}


def mask_sum(acc, words, sign):
    """A copy of ``acc`` (a list of words) plus ``sign * words`` mod 2^32: ``add_words`` on
    fresh words, for callers that hold plain lists (and for tests)."""
    out = new_words(len(acc))
    for i in range(len(acc)):
        out[i] = acc[i]
    add_words(out, words, sign)
    return out
