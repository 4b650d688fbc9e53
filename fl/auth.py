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


def authenticated_sender(svc):
    """The client whose bearer token the request carries: id, federation_id, labels, dim.
    Raises Refusal (unauthorized) without a known token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(refusals.UNAUTHORIZED, "send the token from POST /api/register as"
                      " 'Authorization: Bearer <token>'")
    key = token_hash(token.strip())
    sender = svc.senders.get(key)
    if sender is None:
        sender = store.sender_by_token_hash(svc.connection(), key)
        if sender is None:
            raise Refusal(refusals.UNAUTHORIZED, "unknown token: register again with"
                          " POST /api/register")
        svc.senders.put(key, sender)
    return sender
