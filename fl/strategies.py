"""Round strategies: what a round does with the updates it takes (as Flower's ``Strategy``).

The round life-cycle (``fl.rounds``: open, collect, close, store the next head) asks its
strategy two things, and nothing else about the content of updates:

- ``check(payload, sender)``: one update's bytes, checked against everything that needs no
  lock; returns a ``Contribution`` or raises ``fl.refusals.Refusal``;
- ``next_head(head, stored)``: the head that follows ``head`` once the round's ``stored``
  updates are combined; raises ``fl.aggregators.AggregationError`` when it cannot decide
  (the round fails and the head stays).

``PrototypeThenDeltas`` is the server's strategy. Others fit the same two calls: a
differential-privacy wrapper would delegate ``check`` and add calibrated noise to the step
in ``next_head``; secure aggregation would check masked updates (shape and round only, their
norm being hidden) and unmask their sum in ``next_head``, with the phases of its protocol
added to the life-cycle as further round statuses.
"""
from dataclasses import dataclass

import numpy as np

from fl import first_round, update_decoder
from fl.aggregators import AggregationError
from fl.refusals import NORM_EXCEEDED, WRONG_CLIENT, Refusal
from tinybert_core import codec

# Relative slack on the clip bound: quantisation may lengthen a clipped delta a little.
NORM_SLACK = 1e-6


@dataclass(frozen=True)
class Contribution:
    """A checked update: the round and head version it was made for, its weight
    (``num_examples``), its L2 ``norm`` and the bytes to store."""
    round_id: int
    base_version: int
    num_examples: int
    norm: float
    payload: bytes


@dataclass(frozen=True)
class GlobalHead:
    """A federation's head: ``version``, ``weights`` (rows x cols, row-major) and ``bias``
    (rows) as float32 arrays."""
    version: int
    weights: np.ndarray
    bias: np.ndarray

    @property
    def flat(self):
        return np.concatenate([self.weights, self.bias]).astype(np.float64)


def flat_update(update):
    """The update's weights then bias as one float64 vector."""
    return np.concatenate([np.asarray(update.weights, np.float64),
                           np.asarray(update.bias, np.float64)])


class PrototypeThenDeltas:
    """The first round (head version 0) builds the class-prototype head from everyone's class
    statistics (``fl.first_round``); every later round adds the aggregated deltas to the head.

    aggregate: an ``fl.aggregators`` rule ``(deltas, counts) -> step`` (clipping included);
    clip_bound: the largest L2 norm an update may have (checked on arrival).
    """

    def __init__(self, aggregate, clip_bound):
        self.aggregate = aggregate
        self.clip_bound = float(clip_bound)

    def check(self, payload, sender):
        """The Contribution in ``payload`` from ``sender`` (a dict with ``id``, ``labels``
        and ``dim``). Raises Refusal: the codec's reasons, wrong_client, bad_shape,
        non_finite, norm_exceeded."""
        try:
            update = update_decoder.decode_update(payload)
        except codec.CodecError as exc:
            raise Refusal(exc.reason, str(exc)) from None
        named = update.round_id
        if update.client_id != sender["id"]:
            raise Refusal(WRONG_CLIENT, "the update names client %d but the token belongs to"
                          " client %d" % (update.client_id, sender["id"]), named)
        rows, cols = len(sender["labels"]), sender["dim"]
        if (update.rows, update.cols) != (rows, cols):
            raise Refusal("bad_shape", "the head is %d x %d, the update %d x %d"
                          % (rows, cols, update.rows, update.cols), named)
        flat = flat_update(update)
        if not np.all(np.isfinite(flat)):
            raise Refusal("non_finite", "the update holds values that are not finite", named)
        norm = float(np.linalg.norm(flat))
        if norm > self.clip_bound * (1 + NORM_SLACK):
            raise Refusal(NORM_EXCEEDED, "the delta's L2 norm %.6g exceeds the clip bound %.6g"
                          % (norm, self.clip_bound), named)
        return Contribution(named, update.base_version, update.num_examples, norm,
                            bytes(payload))

    def next_head(self, head, stored):
        """The flat float32 head (weights then bias) after ``head`` (a GlobalHead), from the
        ``stored`` updates of its round (dicts with ``payload`` and ``num_examples``, at
        least one). Raises AggregationError."""
        deltas = np.stack([flat_update(update_decoder.decode_update(row["payload"]))
                           for row in stored])
        counts = np.array([row["num_examples"] for row in stored], dtype=np.float64)
        step = self.aggregate(deltas, counts)
        if head.version == 0:   # the updates are class statistics
            rows = len(head.bias)
            new = first_round.prototype_head(step, rows, len(head.weights) // rows)
        else:
            new = head.flat + step
        new = new.astype(np.float32)
        if not np.all(np.isfinite(new)):
            raise AggregationError("the aggregated head is not finite")
        return new
