"""Federated-learning configuration: defaults, reading it from the environment, resolving it.

Keys (``app.config``; the same names as environment variables for ``python -m fl``):

- ``DATABASE_URL``: ``postgresql://...`` or ``sqlite:///path``; default: SQLite at
  ``DATABASE_PATH`` (default ``<instance folder>/fl.sqlite3``).
- ``MIN_UPDATES`` (3): a round closes once this many updates were accepted...
- ``ROUND_SECONDS`` (300): ...or when this much time passed since it opened.
- ``AGGREGATOR`` (``fedavg``): ``fedavg``, ``median``, ``trimmed_mean`` or ``krum``;
  ``TRIM_RATIO`` (0.1) for trimmed_mean, ``KRUM_BYZANTINE`` (1) and ``KRUM_SELECT`` (1).
- ``CLIP_BOUND`` (30.0): the largest L2 norm of a delta; the server refuses larger ones and
  clips before aggregating.
- ``MAX_CONTENT_LENGTH`` (65536): the largest request body in bytes.
- ``GROUP_COMMIT`` (on): updates that a process's threads store at the same time share one
  transaction (``fl.group_commit``); ``SQLITE_WRITE_LOCK`` (on): SQLite's writers queue on a
  file lock (``fl.write_lock``). Both measured in ``bench/results/fl_load.md``.
- ``FEDERATIONS``: list of ``{name, labels, dim, encoder, hidden_size}`` (and ``mode``),
  created at start if missing; default one federation, ``default``, for the page's encoder
  and labels.
- ``FEDERATION_MODE`` (``secure``): the mode of a federation whose spec names none:
  ``secure`` (secure aggregation, FedAvg: the server only ever learns the sum of the
  cohort's updates; ``fl.secure_rounds``) or ``plain`` (updates in the clear, for the robust
  aggregators). ``SECURE_MIN_COHORT`` (5): the fewest members a secure round starts with
  (it starts at once with ``max(MIN_UPDATES, SECURE_MIN_COHORT)``);
  ``SECURE_WEIGHT_CAP`` (1000): a member's weight (its example count) counts at most this.
- ``PRIVACY`` (``none``): the differential privacy of a federation whose spec names none (a
  spec may give ``privacy``: ``none``, ``client``, ``example`` or a dict with a ``mode`` and
  the keys below); secure federations only (``fl.client_privacy``). Both modes publish the
  private prototype head in round 1 from noisy class sums. ``client``: client-level DP, each
  member counts once and the server adds Gaussian noise of ``DP_NOISE_MULTIPLIER`` x the
  bound to the sum (round 1: sums scaled to norm 1; later rounds: DP-FedAvg of deltas clipped
  to ``CLIP_BOUND``). ``example``: example-level DP, each browser adds the noise to its own
  class sums, one release; ``DP_EXAMPLE_NOISE`` (``distributed``): each member adds its
  share and the sum of a round's survivors carries the full noise, or ``local``: each adds
  all of it. Without a multiplier, the smallest one that spends ``TARGET_EPSILON`` (8) at
  ``TARGET_DELTA`` (1e-5) in ``DP_PLANNED_ROUNDS`` (1; the example mode always 1) rounds.
  Rounds stop once the next one would take epsilon above the target. ``auto`` (what
  ``make run`` sets): ``example`` below ``client_privacy.CLIENT_LEVEL_FROM`` (100) members
  a round, ``client`` from there (``bench/results/dp_accuracy.md``).
- ``ENROLLMENT`` (``open``): the enrollment of a configured federation whose spec names
  none (a spec may give ``enrollment``): ``open``, anyone may register (the page's demo
  federation works without a code), or ``invite``, registering needs an invite code
  (``python -m fl invite create``; ``fl.enrollment``). Federations made with
  ``python -m fl federation create`` are invite-only unless told otherwise.
  ``SECURE_MAX_INVITE_SHARE`` (0.5): a secure round refuses a member whose invite already
  admitted this share of the round's cohort target (one invite handed to many sybils cannot
  surround an honest member); 1 turns it off. Clients of an open federation without a code
  are not counted.
- ``RATE_LIMIT`` (on): rate limits on every write route (``fl.rate_limits``), counted in
  the database so that all workers share them, in windows of ``RATE_LIMIT_WINDOW`` (60)
  seconds: ``RATE_LIMIT_TOKEN`` (600) requests per bearer token, ``RATE_LIMIT_ADDRESS``
  (120000) per client address, ``RATE_LIMIT_REGISTER`` (3000) registrations per address;
  over a limit: 429 with ``Retry-After``. Generous on purpose: a page sends a few requests a
  round, the load benchmark 50 clients' ~45,000 requests a minute from one address and ~100
  per token (``bench/fl_load.py``), and the tests register hundreds of clients from
  127.0.0.1. The address is the TCP peer's: behind a reverse proxy every request comes from
  the proxy, so give it a per-address limit of its own there.
- ``CSP_CONNECT_SRC``: origins (space-separated in the environment) the page may connect to
  besides its own, added to its Content-Security-Policy's ``connect-src`` (``fl.static``).
- ``LOG_LEVEL`` (``INFO``): the level of the ``fl`` logger (one line per closed round and
  per refusal), printed to stderr unless ``TESTING`` (tests read it through pytest's
  logging capture: ``caplog``, ``--log-cli-level``).
"""
import json
import os
import time

from fl import client_privacy, enrollment
from fl.aggregators import build_aggregator
from fl.rate_limits import Limits
from fl.rounds import MODES, Settings
from fl.strategies import PrototypeThenDeltas

DEFAULT_FEDERATION = {
    "name": "default",
    "labels": ["Dev", "Meeting", "Email"],
    "dim": 384,
    "encoder": "sentence-transformers/all-MiniLM-L6-v2",
    "hidden_size": 384,
}

DEFAULTS = {
    "DATABASE_URL": None,
    "DATABASE_PATH": None,
    "MIN_UPDATES": 3,
    "ROUND_SECONDS": 300.0,
    "AGGREGATOR": "fedavg",
    "TRIM_RATIO": 0.1,
    "KRUM_BYZANTINE": 1,
    "KRUM_SELECT": 1,
    # A page's first head starts from class prototypes (rows of length 40), so first-round
    # deltas (norm ~130 for 3 labels) are clipped; measured, 30 converges better than 100.
    "CLIP_BOUND": 30.0,
    "MAX_CONTENT_LENGTH": 65536,
    "FEDERATIONS": [DEFAULT_FEDERATION],
    "CLOCK": time.time,
    "LOG_LEVEL": "INFO",
    "GROUP_COMMIT": True,
    "SQLITE_WRITE_LOCK": True,
    "FEDERATION_MODE": "secure",
    "SECURE_MIN_COHORT": 5,
    "SECURE_WEIGHT_CAP": 1000,
    "PRIVACY": "none",
    "TARGET_EPSILON": 8.0,
    "TARGET_DELTA": 1e-5,
    "DP_PLANNED_ROUNDS": 1,
    "DP_NOISE_MULTIPLIER": None,
    "DP_EXAMPLE_NOISE": "distributed",
    "ENROLLMENT": "open",
    "RATE_LIMIT": True,
    "RATE_LIMIT_WINDOW": 60.0,
    "RATE_LIMIT_TOKEN": 600,
    "RATE_LIMIT_ADDRESS": 120_000,
    "RATE_LIMIT_REGISTER": 3_000,
    "SECURE_MAX_INVITE_SHARE": 0.5,
}

def _switch(text):
    if text.strip().lower() in ("1", "true", "on", "yes"):
        return True
    if text.strip().lower() in ("0", "false", "off", "no"):
        return False
    raise ValueError("expected on or off (1/0, true/false)")


_PARSERS = {"MIN_UPDATES": int, "ROUND_SECONDS": float, "TRIM_RATIO": float,
            "KRUM_BYZANTINE": int, "KRUM_SELECT": int, "CLIP_BOUND": float,
            "MAX_CONTENT_LENGTH": int, "FEDERATIONS": json.loads,
            "AGGREGATOR": str, "DATABASE_URL": str, "DATABASE_PATH": str, "DIST_DIR": str,
            "LOG_LEVEL": str.upper, "GROUP_COMMIT": _switch, "SQLITE_WRITE_LOCK": _switch,
            "FEDERATION_MODE": str.lower, "SECURE_MIN_COHORT": int, "SECURE_WEIGHT_CAP": int,
            "PRIVACY": str.lower, "TARGET_EPSILON": float, "TARGET_DELTA": float,
            "DP_PLANNED_ROUNDS": int, "DP_NOISE_MULTIPLIER": float,
            "DP_EXAMPLE_NOISE": str.lower,
            "ENROLLMENT": str.lower, "SECURE_MAX_INVITE_SHARE": float,
            "RATE_LIMIT": _switch, "RATE_LIMIT_WINDOW": float, "RATE_LIMIT_TOKEN": int,
            "RATE_LIMIT_ADDRESS": int, "RATE_LIMIT_REGISTER": int,
            "CSP_CONNECT_SRC": str.split}


def config_from_env(environ=None):
    """The config keys set in ``environ`` (default ``os.environ``), parsed to their types.

    Raises ValueError naming the variable whose value does not parse.
    """
    environ = os.environ if environ is None else environ
    config = {}
    for key, parse in _PARSERS.items():
        if environ.get(key):
            try:
                config[key] = parse(environ[key])
            except ValueError as exc:
                raise ValueError("environment variable %s=%r: %s"
                                 % (key, environ[key], exc)) from None
    return config


def database_location(config, instance_path):
    """Where the data lives: DATABASE_URL, else SQLite at DATABASE_PATH or the instance folder."""
    if config.get("DATABASE_URL"):
        return config["DATABASE_URL"]
    return config.get("DATABASE_PATH") or os.path.join(instance_path, "fl.sqlite3")


def settings_from(config):
    """Round rules from ``config``. Raises ValueError on a bad value (listing allowed names)."""
    if int(config["MIN_UPDATES"]) < 1:
        raise ValueError("MIN_UPDATES must be at least 1")
    if not float(config["ROUND_SECONDS"]) > 0 or not float(config["CLIP_BOUND"]) > 0:
        raise ValueError("ROUND_SECONDS and CLIP_BOUND must be positive")
    if config["FEDERATION_MODE"] not in MODES:
        raise ValueError("FEDERATION_MODE must be one of %s, not %r"
                         % (", ".join(MODES), config["FEDERATION_MODE"]))
    if int(config["SECURE_MIN_COHORT"]) < 3 or int(config["SECURE_WEIGHT_CAP"]) < 1:
        raise ValueError("SECURE_MIN_COHORT must be at least 3 (with 2 members each learns"
                         " the other's update from the sum) and SECURE_WEIGHT_CAP at least 1")
    privacy_mode = config["PRIVACY"]
    if privacy_mode == "auto":
        privacy_mode = client_privacy.recommended_mode(
            max(int(config["MIN_UPDATES"]), int(config["SECURE_MIN_COHORT"])))
    if privacy_mode not in client_privacy.MODES:
        raise ValueError("PRIVACY must be one of %s or auto, not %r"
                         % (", ".join(client_privacy.MODES), privacy_mode))
    if privacy_mode != "none" and config["FEDERATION_MODE"] != "secure":
        raise ValueError("PRIVACY=%s needs the secure mode (FEDERATION_MODE=secure): the "
                         "noisy class sums are only ever seen summed" % privacy_mode)
    enrollment.check_enrollment(config["ENROLLMENT"])
    if not 0 < float(config["SECURE_MAX_INVITE_SHARE"]) <= 1:
        raise ValueError("SECURE_MAX_INVITE_SHARE must be in (0, 1]")
    aggregate = build_aggregator(config["AGGREGATOR"], clip_bound=float(config["CLIP_BOUND"]),
                                 trim=config["TRIM_RATIO"], byzantine=config["KRUM_BYZANTINE"],
                                 select=config["KRUM_SELECT"])
    return Settings(min_updates=int(config["MIN_UPDATES"]),
                    round_seconds=float(config["ROUND_SECONDS"]),
                    clip_bound=float(config["CLIP_BOUND"]),
                    strategy=PrototypeThenDeltas(aggregate, float(config["CLIP_BOUND"])),
                    clock=config["CLOCK"], mode=config["FEDERATION_MODE"],
                    secure_min_cohort=int(config["SECURE_MIN_COHORT"]),
                    weight_cap=int(config["SECURE_WEIGHT_CAP"]),
                    privacy={"mode": privacy_mode,
                             "target_epsilon": float(config["TARGET_EPSILON"]),
                             "delta": float(config["TARGET_DELTA"]),
                             "planned_rounds": int(config["DP_PLANNED_ROUNDS"]),
                             "noise_multiplier": config["DP_NOISE_MULTIPLIER"],
                             "noise": config["DP_EXAMPLE_NOISE"]},
                    enrollment=config["ENROLLMENT"],
                    max_invite_share=float(config["SECURE_MAX_INVITE_SHARE"]))


def limits_from(config):
    """The rate limits of ``config`` (``fl.rate_limits.Limits``). Raises ValueError on a
    window or limit that is not positive."""
    limits = Limits(window=float(config["RATE_LIMIT_WINDOW"]),
                    per_token=int(config["RATE_LIMIT_TOKEN"]),
                    per_address=int(config["RATE_LIMIT_ADDRESS"]),
                    registrations=int(config["RATE_LIMIT_REGISTER"]),
                    enabled=bool(config["RATE_LIMIT"]))
    if not limits.window > 0 or min(limits.per_token, limits.per_address,
                                     limits.registrations) < 1:
        raise ValueError("RATE_LIMIT_WINDOW and the RATE_LIMIT_* limits must be positive")
    return limits
