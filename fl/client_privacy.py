"""Differential privacy of a secure federation, in one of two modes.

The first round of a private federation publishes the private prototype head
(``tinybert_core.private_prototype``): every member sends its class sums, the server learns
only their total (secure aggregation) and makes each label's row the direction of its noisy
sum. Measured (``bench/dp_accuracy.py``), one such release costs far less accuracy at a given
epsilon than DP-FedAvg over ten rounds of trained deltas.

- ``client``: client-level DP (McMahan et al., "Learning Differentially Private Recurrent
  Language Models", ICLR 2018). Every member counts with weight 1 and sends its class sums
  scaled to L2 norm 1 in round 1, later its trained delta clipped to C (``CLIP_BOUND``); after
  unmasking the sum, the server adds Gaussian noise N(0, (zC)^2) to every coordinate once (C = 1
  in round 1), from a generator seeded by the operating system's CSPRNG. Neighbouring
  federations differ by one member's whole contribution; the number of members is public.
- ``example``: example-level DP for small cohorts. Every browser adds Gaussian noise to its
  own class sums of unit-length embeddings before masking (sensitivity 1 per example); the
  server adds nothing. ``noise``: ``distributed`` (the default), each of a round's n members
  adds N(0, z^2 / t), t = ``secagg.threshold(n)``, and the unmasked sum of at least t members
  carries noise of at least z (``private_prototype.member_noise_std``); or ``local``, each
  adds N(0, z^2), so that what leaves the page is private on its own, at the cost of
  sqrt(n) times the noise in the sum. There is one release: later rounds would train on the
  examples again, which this mode does not cover, so the federation's head stays the private
  prototype head.

Every published round is a line of the federation's ledger (``privacy_ledger``: round, noise
multiplier z, C, members), and epsilon at ``delta`` is what dp-accounting makes of the
ledger's Gaussian releases (``fl.privacy``). A round that would take epsilon above the
federation's target is not started, or not published.

A federation's privacy is a dict ``{"mode": "client" or "example", "target_epsilon",
"delta", "noise_multiplier", "planned_rounds"}`` or None (no DP); stored as JSON on the
federation.
"""
import functools
import json
import math
import secrets

import numpy as np

from fl import privacy
from tinybert_core import secagg

MODES = ("none", "client", "example")
EXAMPLE_NOISE = ("distributed", "local")
# PRIVACY=auto: the mode for a federation whose rounds start with this many members or more is
# "client", below it "example" (distributed noise). Measured at epsilon 8
# (bench/results/dp_accuracy.md): with 10 and with 100 members the example level costs less
# accuracy; the client level protects more (a member's whole data set, not one example), and
# its noise on the mean falls as 1/N (its cost on TREC-6: 40.3 points with 10 members, 10.8
# with 100; on the sentence set 1.0 with 100), which buys that stronger guarantee.
CLIENT_LEVEL_FROM = 100
# Round 1's class sums: scaled to this L2 norm by each member (client level), or clipped to it
# after the browser's noise (example level: post-processing, so no privacy is lost; a browser
# with more examples than this rarely reaches it, and the head uses only each row's direction).
MEMBER_SUMS_BOUND = 1.0
EXAMPLE_SUMS_BOUND = 1000.0


@functools.lru_cache(maxsize=64)
def _calibrated(target_epsilon, delta, rounds):
    return privacy.noise_for_epsilon(target_epsilon, delta, 1.0, rounds)


def recommended_mode(cohort_target):
    """The privacy mode for a federation whose rounds start with ``cohort_target`` members."""
    return "client" if cohort_target >= CLIENT_LEVEL_FROM else "example"


def resolve(spec, defaults):
    """The privacy of a federation from its spec's ``privacy`` (None, ``"none"``, ``"client"``,
    ``"example"`` or a dict with ``mode`` and any of ``target_epsilon``, ``delta``,
    ``noise_multiplier``, ``planned_rounds``) over ``defaults`` (the config's). Without a noise
    multiplier, z is the smallest one that spends ``target_epsilon`` in ``planned_rounds``
    rounds; the example mode has one round.

    Returns None (no DP) or the dict the federation stores. Raises ValueError on a bad value.
    """
    if spec is None:
        spec = defaults.get("mode", "none")
    if isinstance(spec, str):
        spec = {"mode": spec}
    if isinstance(spec, dict) and "mode" not in spec:
        raise ValueError("privacy given as a dict needs a mode (%s), got %r"
                         % (", ".join(MODES), spec))
    if not isinstance(spec, dict) or spec.get("mode", "none") not in MODES:
        raise ValueError("privacy must be one of %s or a dict with a mode, not %r"
                         % (", ".join(MODES), spec))
    if spec.get("mode", "none") == "none":
        return None
    out = {"mode": spec["mode"]}
    for key in ("target_epsilon", "delta", "planned_rounds"):
        out[key] = spec.get(key, defaults.get(key))
    if out["mode"] == "example":
        out["planned_rounds"] = 1
        out["noise"] = spec.get("noise", defaults.get("noise")) or "distributed"
        if out["noise"] not in EXAMPLE_NOISE:
            raise ValueError("the example mode's noise must be one of %s, not %r"
                             % (", ".join(EXAMPLE_NOISE), out["noise"]))
    out["target_epsilon"] = float(out["target_epsilon"])
    out["delta"] = float(out["delta"])
    out["planned_rounds"] = int(out["planned_rounds"])
    if not out["target_epsilon"] > 0 or not 0 < out["delta"] < 1 or out["planned_rounds"] < 1:
        raise ValueError("differential privacy needs target_epsilon > 0, 0 < delta < 1 and "
                         "planned_rounds >= 1, got %r" % (out,))
    z = spec.get("noise_multiplier", defaults.get("noise_multiplier"))
    if z is None:
        z = _calibrated(out["target_epsilon"], out["delta"], out["planned_rounds"])
    out["noise_multiplier"] = float(z)
    if not out["noise_multiplier"] > 0:
        raise ValueError("noise_multiplier must be above 0, got %r" % (z,))
    return out


def encode(settings):
    return None if settings is None else json.dumps(settings, sort_keys=True)


def decode(text):
    return None if not text else json.loads(text)


@functools.lru_cache(maxsize=256)
def _spent(multipliers, delta):
    return privacy.epsilon_after_rounds([(z, 1.0) for z in multipliers], delta)


def spent(multipliers, delta):
    """Epsilon at ``delta`` after releases with the noise ``multipliers`` (a sequence)."""
    return _spent(tuple(float(z) for z in multipliers), float(delta))


def allows_another(settings, multipliers):
    """Whether one more release keeps epsilon within the target (the example mode has one)."""
    if settings["mode"] == "example" and len(multipliers) > 0:
        return False
    return spent(list(multipliers) + [settings["noise_multiplier"]],
                 settings["delta"]) <= settings["target_epsilon"] + 1e-9


def noised(total, noise_multiplier, clip, random_bits=None):
    """``total`` (a float64 vector: the unmasked sum of clipped updates) plus N(0, (zC)^2) on
    every coordinate. The generator is seeded with 128 bits from ``secrets`` (the operating
    system's CSPRNG); ``random_bits`` (an int) only for tests that must repeat a draw."""
    seed = secrets.randbits(128) if random_bits is None else random_bits
    generator = np.random.Generator(np.random.PCG64(seed))
    total = np.asarray(total, dtype=np.float64)
    return total + generator.normal(0.0, noise_multiplier * clip, size=total.shape)


def sends_class_sums(settings, head_version):
    """Whether members send class sums (not trained deltas) in a round that starts from head
    ``head_version``: a private federation's first round, and every round of the example mode
    (whose only release replaces even a head trained before privacy was turned on)."""
    return settings is not None and (head_version == 0 or settings["mode"] == "example")


def class_sums_bound(settings):
    """The L2 bound of the class sums a round takes under ``settings`` (see
    MEMBER_SUMS_BOUND)."""
    return MEMBER_SUMS_BOUND if settings["mode"] == "client" else EXAMPLE_SUMS_BOUND


def server_adds_noise(settings):
    """Whether the server adds the noise to a round's sum: not in the example mode, whose
    browsers add their own."""
    return noise_of(settings) == "server"


def noise_of(settings):
    """Who adds the noise: ``server``, ``distributed`` or ``local`` (None without DP)."""
    if settings is None:
        return None
    return "server" if settings["mode"] == "client" else settings.get("noise", "distributed")


def member_noise_multiplier(settings, cohort):
    """The noise multiplier of what one member of a round of ``cohort`` sends, on its own:
    z for local noise, z / sqrt(threshold(cohort)) for distributed noise; None when the
    server adds the noise (what a member sends then carries none)."""
    noise = noise_of(settings)
    if noise == "local":
        return settings["noise_multiplier"]
    if noise == "distributed":
        return settings["noise_multiplier"] / math.sqrt(secagg.threshold(cohort))
    return None


def describe(settings, multipliers, clip, cohort):
    """What ``GET /api/federation`` says about a federation's privacy; ``cohort``: the members
    a round starts with (for what one member's input carries on its own)."""
    if settings is None:
        return {"mode": "none", "noise": None, "epsilon": None, "delta": None,
                "noise_multiplier": None, "clip": clip, "target_epsilon": None, "rounds": 0,
                "exhausted": False, "member_noise_multiplier": None, "member_epsilon": None}
    member = member_noise_multiplier(settings, cohort)
    return {"mode": settings["mode"], "noise": noise_of(settings),
            "epsilon": spent(multipliers, settings["delta"]),
            "delta": settings["delta"], "noise_multiplier": settings["noise_multiplier"],
            "clip": clip, "target_epsilon": settings["target_epsilon"],
            "rounds": len(multipliers), "exhausted": not allows_another(settings, multipliers),
            "member_noise_multiplier": member,
            "member_epsilon": None if member is None else spent([member], settings["delta"])}
