"""Privacy accounting: the epsilon of differentially private mechanisms, computed by Google's
dp-accounting (https://github.com/google/differential-privacy, ``python/dp_accounting``); no
epsilon here comes from a formula of this project.

Mechanisms travel as plain data (JSON) in the shape of dp-accounting's ``DpEvent`` classes,
for example what ``tinybert_core.train.dp_event_of`` returns for DP-SGD in the browser::

    {"type": "self_composed", "count": 20,
     "event": {"type": "poisson_sampled", "sampling_probability": 0.2667,
               "event": {"type": "gaussian", "noise_multiplier": 1.1}}}

Allowed types and their keys (all required, no others): ``gaussian`` {noise_multiplier: number
>= 0}; ``poisson_sampled`` {sampling_probability: number in [0, 1], event};
``self_composed`` {count: whole number >= 0, event}; ``composed`` {events: list of events}.
Anything else is refused with ValueError; a description may come from a client.

Neighbouring datasets differ by adding or removing one record (dp-accounting's default): one
example for the trainer's example-level DP, one client's whole update for client-level
DP-FedAvg. ``accountant``: ``'rdp'`` (Renyi DP, the usual reference numbers) or ``'pld'``
(privacy loss distributions: tighter, slower).
"""
import math
from numbers import Integral, Real

import dp_accounting
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant

ACCOUNTANTS = {"rdp": RdpAccountant, "pld": PLDAccountant}
EVENT_KEYS = {
    "gaussian": ["noise_multiplier"],
    "poisson_sampled": ["sampling_probability", "event"],
    "self_composed": ["count", "event"],
    "composed": ["events"],
}
MAX_DEPTH = 16
MAX_EVENTS = 100_000
MAX_COUNT = 10**9


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}.")
    return float(value)


def dp_event_from(description):
    """The dp-accounting ``DpEvent`` that ``description`` (plain data, see the module notes)
    describes. Raises ValueError, naming what is allowed, for anything else."""
    budget = [MAX_EVENTS]
    return _event(description, 0, budget)


def _event(description, depth, budget):
    if depth >= MAX_DEPTH:
        raise ValueError(f"DP event nested more than {MAX_DEPTH} levels deep.")
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"DP event with more than {MAX_EVENTS} parts.")
    if not isinstance(description, dict):
        raise ValueError(f"A DP event must be an object, got {type(description).__name__}.")
    kind = description.get("type")
    if not isinstance(kind, str) or kind not in EVENT_KEYS:
        raise ValueError(f"Unknown DP event type {kind!r}; allowed: "
                         + ", ".join(sorted(EVENT_KEYS)) + ".")
    expected = {"type", *EVENT_KEYS[kind]}
    if set(description) != expected:
        raise ValueError(f"A {kind!r} DP event has exactly the keys "
                         + ", ".join(sorted(expected)) + "; got "
                         + ", ".join(sorted(map(str, description))) + ".")
    if kind == "gaussian":
        z = _number(description["noise_multiplier"], "noise_multiplier")
        if z < 0:
            raise ValueError(f"noise_multiplier must be at least 0, got {z!r}.")
        return dp_accounting.GaussianDpEvent(z)
    if kind == "poisson_sampled":
        q = _number(description["sampling_probability"], "sampling_probability")
        if not 0 <= q <= 1:
            raise ValueError(f"sampling_probability must be from 0 to 1, got {q!r}.")
        inner = _event(description["event"], depth + 1, budget)
        return dp_accounting.PoissonSampledDpEvent(q, inner)
    if kind == "self_composed":
        count = description["count"]
        if isinstance(count, bool) or not isinstance(count, Integral) \
                or not 0 <= count <= MAX_COUNT:
            raise ValueError(f"count must be a whole number from 0 to {MAX_COUNT}, "
                             f"got {count!r}.")
        inner = _event(description["event"], depth + 1, budget)
        return dp_accounting.SelfComposedDpEvent(inner, int(count))
    events = description["events"]
    if not isinstance(events, list):
        raise ValueError("events of a 'composed' DP event must be a list.")
    return dp_accounting.ComposedDpEvent([_event(e, depth + 1, budget) for e in events])


def _accountant(name):
    if name not in ACCOUNTANTS:
        raise ValueError(f"Unknown accountant {name!r}; allowed: "
                         + ", ".join(ACCOUNTANTS) + ".")
    return ACCOUNTANTS[name]


def _delta(delta):
    delta = _number(delta, "delta")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be above 0 and below 1, got {delta!r}.")
    return delta


def epsilon(event, delta, accountant="rdp"):
    """Epsilon of ``event`` (a description, see the module notes, or a dp-accounting DpEvent)
    at ``delta``, from dp-accounting's ``accountant`` ('rdp' or 'pld').

    Returns a float; ``inf`` when the mechanism gives no guarantee (noise_multiplier 0).
    Raises ValueError for an invalid description, delta or accountant name.
    """
    make = _accountant(accountant)
    delta = _delta(delta)
    if not isinstance(event, dp_accounting.DpEvent):
        event = dp_event_from(event)
    books = make()
    books.compose(event)
    return float(books.get_epsilon(delta))


def noise_for_epsilon(target_epsilon, delta, sampling_probability, steps, accountant="rdp"):
    """The smallest noise multiplier z for which ``steps`` Poisson-sampled Gaussian releases
    (probability ``sampling_probability``; 1 = everyone every time) stay within
    ``target_epsilon`` at ``delta``: dp-accounting's ``calibrate_dp_mechanism`` (to 1e-6).

    Raises ValueError for a target that is not above 0, q outside (0, 1], steps not a whole
    number of at least 1, or an invalid delta or accountant name.
    """
    make = _accountant(accountant)
    delta = _delta(delta)
    target = _number(target_epsilon, "target_epsilon")
    if target <= 0:
        raise ValueError(f"target_epsilon must be above 0, got {target!r}.")
    q = _number(sampling_probability, "sampling_probability")
    if not 0 < q <= 1:
        raise ValueError(f"sampling_probability must be above 0 and at most 1, got {q!r}.")
    if isinstance(steps, bool) or not isinstance(steps, Integral) \
            or not 1 <= steps <= MAX_COUNT:
        raise ValueError(f"steps must be a whole number from 1 to {MAX_COUNT}, got {steps!r}.")

    def event_for(z):
        return dp_event_from(_repeated(z, q, int(steps)))

    return float(dp_accounting.calibrate_dp_mechanism(make, event_for, target, delta))


def _repeated(z, q, count):
    release = {"type": "gaussian", "noise_multiplier": z}
    if q != 1:
        release = {"type": "poisson_sampled", "sampling_probability": q, "event": release}
    return {"type": "self_composed", "count": count, "event": release}


def rounds_event(rounds):
    """The description of client-level DP-FedAvg over ``rounds``, each a pair
    ``(noise_multiplier, sampling_probability)`` (1.0: every client takes part every round):
    the rounds composed, runs of equal rounds as one self_composed event, a probability of 1 as
    the plain Gaussian mechanism. For a ledger of rounds; ``epsilon`` reads it.

    Raises ValueError for a round that is not such a pair.
    """
    events = []
    for i, pair in enumerate(rounds):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"Round {i} must be a pair (noise_multiplier, "
                             f"sampling_probability), got {pair!r}.")
        z = _number(pair[0], "noise_multiplier")
        q = _number(pair[1], "sampling_probability")
        last = events[-1] if events else None
        if last is not None and last["z"] == z and last["q"] == q:
            last["count"] += 1
        else:
            events.append({"z": z, "q": q, "count": 1})
    description = {"type": "composed",
                   "events": [_repeated(e["z"], e["q"], e["count"]) for e in events]}
    dp_event_from(description)            # the same checks as for a description from outside
    return description


def epsilon_after_rounds(rounds, delta, accountant="rdp"):
    """Epsilon after the client-level DP-FedAvg ``rounds`` (see rounds_event) at ``delta``.

    Returns 0.0 for no rounds. Raises ValueError like rounds_event and epsilon.
    """
    return epsilon(rounds_event(rounds), delta, accountant)
