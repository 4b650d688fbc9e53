"""Refusals: the updates the server will not take, as data the rounds count.

A ``Refusal`` says why (``reason``, one short code), in words (``detail``), which round the
update named if it could be read that far (``round_id``) and what the client needs to act
on it (``extra``, e.g. the current round after a stale one). It carries no HTTP status: the
API reads one from the reason (``fl.http_errors``). A refusal is not changed after it is
made; whether it has been counted in a round is the business of whoever records it
(``fl.rounds.record_refusal``), never a flag on it.
"""

# Reasons found before an update reaches the rounds (the transport's checks).
UNAUTHORIZED = "unauthorized"
WRONG_CONTENT_TYPE = "wrong_content_type"
TOO_LARGE = "too_large"
# Reasons the checks of an update's content find (besides the codec's, tinybert_core.codec).
WRONG_CLIENT = "wrong_client"
NORM_EXCEEDED = "norm_exceeded"
# Reasons only the round, under its lock, can find.
STALE_ROUND = "stale_round"
STALE_BASE = "stale_base"
REPLAY = "replay"
CONFLICTS = (STALE_ROUND, STALE_BASE, REPLAY)
# Too many requests for a token or an address (fl.rate_limits); never counted in a round.
RATE_LIMITED = "rate_limited"


class Refusal(Exception):
    """An update the server will not take.

    reason: short machine-readable code, counted in the round; detail: what is wrong, in
    words a person can act on; round_id: the round the update named (None when unread);
    extra: more fields for the client (e.g. ``current_round`` and ``head_version``).
    """

    def __init__(self, reason, detail, round_id=None, extra=None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.round_id = round_id
        self.extra = dict(extra or {})

    def __repr__(self):
        return "Refusal(%r, %r, round_id=%r)" % (self.reason, self.detail, self.round_id)
