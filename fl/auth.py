"""Who is asking: clients prove themselves with the bearer token that registration gave them.

Tokens are kept only as their sha256 (``token_hash``); a token is never logged. The client
found for a token is kept by the process for a while (``fl.senders``).
"""
import hashlib

from flask import request

from fl import refusals, store
from fl.refusals import Refusal


def token_hash(token):
    """The sha256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(headers):
    """The bearer token of request ``headers``, or None."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def rate_keys(svc, registering=False):
    """The request's rate-limit counters (``fl.rate_limits``): its token's, if it carries
    one (by the token's hash, never the token), and its address's."""
    token = bearer_token(request.headers)
    return svc.limiter.keys(None if token is None else token_hash(token),
                            request.remote_addr or "unknown", registering)


def authenticated_sender(svc, cached=False):
    """The client whose bearer token the request carries: id, federation_id, invite_id,
    labels, dim. Raises Refusal (unauthorized) without a known token or for a revoked one.

    cached: take the client from the process's cache (``svc.senders``), which may hold a
    client revoked less than its TTL ago; only ``POST /api/update`` does, whose INSERT
    refuses a revoked client's update itself (``fl.store.insert_update``)."""
    token = bearer_token(request.headers)
    if token is None:
        raise Refusal(refusals.UNAUTHORIZED, "send the token from POST /api/register as"
                      " 'Authorization: Bearer <token>'")
    key = token_hash(token)
    sender = svc.senders.get(key) if cached else None
    if sender is None:
        sender = store.sender_by_token_hash(svc.connection(), key)
        if sender is None:
            raise Refusal(refusals.UNAUTHORIZED, "unknown token: register again with"
                          " POST /api/register")
        if sender["revoked_at"] is not None:
            raise Refusal(refusals.UNAUTHORIZED, "this token was revoked by the federation's"
                          " operator")
        svc.senders.put(key, sender)
    return sender
