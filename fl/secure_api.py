"""The ``/api/secure/`` routes: a secure round's messages (``fl.secure_rounds``).

Every route needs the member's bearer token. Keys, sealed shares and revealed shares travel
as standard base64 in JSON; a masked input as raw little-endian words
(``application/octet-stream``). A refused message is counted in its round like a refused
update, and answered ``{"error", "detail"}`` with the status ``fl.http_errors`` gives it.
"""
import base64
import binascii

from apiflask import APIBlueprint
from flask import current_app, request

from fl import rounds, secure_rounds
from fl.api_docs import binary_body, error_answer
from fl.auth import authenticated_sender, rate_keys
from fl.refusals import Refusal
from fl.schemas import (
    SecureAccepted,
    SecureInbox,
    SecureJoin,
    SecureJoined,
    SecureReveal,
    SecureRoundQuery,
    SecureShares,
    SecureState,
    SecureStateQuery,
)
from fl.service import service

secure_api = APIBlueprint("secure", __name__, tag="secure aggregation")

REFUSED = {401: error_answer("no valid token"), 403: error_answer("not a member of this round"),
           409: error_answer("another phase, a message sent twice, or a plain federation"),
           422: error_answer("keys, shares or input of the wrong form"),
           429: error_answer("too many requests for this token or address (Retry-After)")}


def _bytes(text, reason, what):
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal(reason, "%s is not base64" % what) from None


def _ids(mapping, reason, what):
    out = {}
    for key, text in mapping.items():
        if not key.isdigit():
            raise Refusal(reason, "%s are keyed by member id, not %r" % (what, key))
        out[int(key)] = _bytes(text, reason, what)
    return out


def _counted(work, write=True):
    """Run ``work(svc, conn, sender)``; count a refusal in the sender's round, re-raise it.
    write: a message that writes, counted against the rate limits first."""
    svc = service()
    if write:
        svc.ensure_ready()
        svc.limiter.hit(svc.database, rate_keys(svc))
    conn = svc.connection()
    sender = None
    try:
        sender = authenticated_sender(svc)
        return work(svc, conn, sender)
    except Refusal as refusal:
        if sender is not None:
            rounds.record_refusal(conn, sender["federation_id"], sender["id"], refusal,
                                  svc.settings)
        raise


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


@secure_api.get("/state")
@secure_api.input(SecureStateQuery, location="query")
@secure_api.output(SecureState)
@secure_api.doc(security="bearer", responses=REFUSED)
def state(query_data):
    """A secure round's phase and what its members need for the next step (the live round,
    or ``round``: its outcome once it ended)."""
    def work(svc, conn, sender):
        out = secure_rounds.state_for(conn, sender, query_data.round, svc.settings)
        for member in out.get("members") or []:
            member["encryption_key"] = _b64(member["encryption_key"])
            member["mask_key"] = _b64(member["mask_key"])
        return out
    return _counted(work, write=False)


@secure_api.post("/join")
@secure_api.input(SecureJoin, location="json")
@secure_api.output(SecureJoined)
@secure_api.doc(security="bearer", responses=REFUSED)
def join(json_data):
    """Join the round that is taking members, with two P-256 public keys (65-byte points)."""
    def work(svc, conn, sender):
        keys = [_bytes(json_data.encryption_key, secure_rounds.BAD_KEYS, "a key"),
                _bytes(json_data.mask_key, secure_rounds.BAD_KEYS, "a key")]
        return secure_rounds.join(conn, sender, json_data.round, keys[0], keys[1],
                                  svc.settings)
    return _counted(work)


@secure_api.post("/shares")
@secure_api.input(SecureShares, location="json")
@secure_api.output(SecureAccepted)
@secure_api.doc(security="bearer", responses=REFUSED)
def post_shares(json_data):
    """One sealed share for each neighbour (AES-GCM, relayed unread)."""
    def work(svc, conn, sender):
        sealed = _ids(json_data.shares, secure_rounds.BAD_SHARES, "shares")
        return secure_rounds.post_shares(conn, sender, json_data.round, sealed, svc.settings)
    return _counted(work)


@secure_api.get("/shares")
@secure_api.input(SecureRoundQuery, location="query")
@secure_api.output(SecureInbox)
@secure_api.doc(security="bearer", responses=REFUSED)
def get_shares(query_data):
    """The sealed shares addressed to the member."""
    def work(svc, conn, sender):
        found = secure_rounds.shares_for(conn, sender, query_data.round)
        return {"round": query_data.round,
                "shares": {str(k): _b64(v) for k, v in found.items()}}
    return _counted(work, write=False)


@secure_api.post("/masked")
@binary_body("the masked input: 4 * length bytes, little-endian words mod 2^32")
@secure_api.input(SecureRoundQuery, location="query")
@secure_api.output(SecureAccepted)
@secure_api.doc(security="bearer", responses={
    **REFUSED, 413: error_answer("body too large"),
    415: error_answer("not application/octet-stream")})
def post_masked(query_data):
    """The member's masked input."""
    def work(svc, conn, sender):
        if request.mimetype != "application/octet-stream":
            raise Refusal("wrong_content_type", "send the masked input as"
                          " application/octet-stream", query_data.round)
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is None or request.content_length > limit:
            raise Refusal("too_large", "a masked input is at most %d bytes" % limit,
                          query_data.round)
        return secure_rounds.post_masked(conn, sender, query_data.round,
                                         request.get_data(cache=False), svc.settings)
    return _counted(work)


@secure_api.post("/reveal")
@secure_api.input(SecureReveal, location="json")
@secure_api.output(SecureAccepted)
@secure_api.doc(security="bearer", responses=REFUSED)
def reveal(json_data):
    """Shares that unmask the sum: surviving neighbours' seeds, dropped neighbours' keys."""
    def work(svc, conn, sender):
        seeds = _ids(json_data.seed, secure_rounds.BAD_REVEAL, "seed shares")
        keys = _ids(json_data.key, secure_rounds.BAD_REVEAL, "key shares")
        return secure_rounds.post_reveal(conn, sender, json_data.round, seeds, keys,
                                         svc.settings)
    return _counted(work)
