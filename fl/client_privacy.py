"""Client-level differential privacy of a secure federation: DP-FedAvg (McMahan et al.,
"Learning Differentially Private Recurrent Language Models", ICLR 2018) on top of secure
aggregation.

Each member's update is clipped to L2 norm C (``CLIP_BOUND``) in its browser and counts with
weight 1; after unmasking the sum, the server adds Gaussian noise N(0, (zC)^2) to every
coordinate once, from a generator seeded by the operating system's CSPRNG, and divides by the
number of members. Neighbouring federations differ by one member's whole update; the number of
members of a round is public. Every published round is a line of the federation's ledger
(``privacy_ledger``: round, noise multiplier z, C, members), and epsilon at ``delta`` is what
dp-accounting makes of the ledger's Gaussian releases (``fl.privacy``). A round that would take
epsilon above the federation's target is not started, or not published.

A federation's privacy is a dict ``{"mode": "client", "target_epsilon", "delta",
"noise_multiplier", "planned_rounds"}`` or None (no DP); stored as JSON on the federation.
"""
import functools
import json
import secrets

import numpy as np

from fl import privacy

MODES = ("none", "client")


@functools.lru_cache(maxsize=64)
def _calibrated(target_epsilon, delta, rounds):
    return privacy.noise_for_epsilon(target_epsilon, delta, 1.0, rounds)


def resolve(spec, defaults):
    """The privacy of a federation from its spec's ``privacy`` (None, ``"none"``, ``"client"``
    or a dict with ``mode`` and any of ``target_epsilon``, ``delta``, ``noise_multiplier``,
    ``planned_rounds``) over ``defaults`` (the config's). Without a noise multiplier, z is the
    smallest one that spends ``target_epsilon`` in ``planned_rounds`` rounds.

    Returns None (no DP) or the dict the federation stores. Raises ValueError on a bad value.
    """
    if spec is None:
        spec = defaults.get("mode", "none")
    if isinstance(spec, str):
        spec = {"mode": spec}
    if not isinstance(spec, dict) or spec.get("mode", "none") not in MODES:
        raise ValueError("privacy must be one of %s or a dict with a mode, not %r"
                         % (", ".join(MODES), spec))
    if spec.get("mode", "none") == "none":
        return None
    out = {"mode": "client"}
    for key in ("target_epsilon", "delta", "planned_rounds"):
        out[key] = spec.get(key, defaults.get(key))
    out["target_epsilon"] = float(out["target_epsilon"])
    out["delta"] = float(out["delta"])
    out["planned_rounds"] = int(out["planned_rounds"])
    if not out["target_epsilon"] > 0 or not 0 < out["delta"] < 1 or out["planned_rounds"] < 1:
        raise ValueError("client-level privacy needs target_epsilon > 0, 0 < delta < 1 and "
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
    """Whether one more release keeps epsilon within the target."""
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


def describe(settings, multipliers, clip):
    """What ``GET /api/federation`` says about a federation's privacy."""
    if settings is None:
        return {"mode": "none", "epsilon": None, "delta": None, "noise_multiplier": None,
                "clip": clip, "target_epsilon": None, "rounds": 0, "exhausted": False}
    return {"mode": "client", "epsilon": spent(multipliers, settings["delta"]),
            "delta": settings["delta"], "noise_multiplier": settings["noise_multiplier"],
            "clip": clip, "target_epsilon": settings["target_epsilon"],
            "rounds": len(multipliers), "exhausted": not allows_another(settings, multipliers)}
