"""The messages of peer-to-peer signalling (``fl.signalling``), checked before anything is done
with them (pure: no I/O).

A client sends JSON text messages of at most MAX_MESSAGE_BYTES on its WebSocket:

- ``{"type": "hello", "token": <from POST /api/register>, "key": <base64 of its 65-byte
  ECDSA P-256 public key>}`` first, once;
- ``{"type": "offer" | "answer", "to": <client id>, "sdp": <text>, "attempt": <int>}`` and
  ``{"type": "candidate", "to": <client id>, "candidate": {candidate, sdpMid, sdpMLineIndex,
  usernameFragment} | null, "attempt": <int>}``, relayed to that peer with ``from``
  instead of ``to``;
- ``{"type": "peers", "have": [<ids>], "drop": <id>}``: ask for one new neighbour in place of
  ``drop`` (the server answers only where the federation is larger than a full mesh);
- ``{"type": "bye"}``: leaving (closing the socket says the same).

The server sends ``peers`` (``{"type": "peers", "you": <id>, "add": [{"id", "key"}],
"drop": [<ids>], "online": <n>}``), the relayed ``offer``/``answer``/``candidate`` and
``{"type": "bye", "from": <id>}`` when a peer left. Nothing else is relayed; the server
reads these fields and no others.
"""
import base64
import json

MAX_MESSAGE_BYTES = 8192
CLIENT_TYPES = ("hello", "offer", "answer", "candidate", "peers", "bye")
RELAYED = ("offer", "answer", "candidate")
PUBLIC_KEY_BYTES = 65   # uncompressed P-256 point: 0x04 || x || y
MAX_ID = 2 ** 63 - 1
MAX_ATTEMPT = 1000
MAX_HAVE = 64
CANDIDATE_FIELDS = {"candidate": str, "sdpMid": str, "sdpMLineIndex": int,
                    "usernameFragment": str}


class SignalError(ValueError):
    """A message the server refuses; ``code`` is the WebSocket close code it closes with."""

    def __init__(self, code, message):
        ValueError.__init__(self, message)
        self.code = code


BAD_MESSAGE = 4400
UNAUTHORIZED = 4401
WRONG_FEDERATION = 4403
UNKNOWN_FEDERATION = 4404
NO_HELLO = 4408
TOO_MANY = 4429


def _int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def public_key(text):
    """The 65 bytes of a base64 public key; raises SignalError unless it is a P-256 point in
    uncompressed form (the curve check is the peers' own, when they import it)."""
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != PUBLIC_KEY_BYTES or raw[0] != 4:
        raise SignalError(BAD_MESSAGE, "key: the base64 of a 65-byte uncompressed P-256 point")
    return raw


def _candidate(value):
    if value is None:
        return None   # the end of candidates
    if not isinstance(value, dict) or not set(value) <= set(CANDIDATE_FIELDS):
        raise SignalError(BAD_MESSAGE, "candidate: an object with " + ", ".join(CANDIDATE_FIELDS))
    for key, kind in CANDIDATE_FIELDS.items():
        item = value.get(key)
        if item is not None and (not isinstance(item, kind) or isinstance(item, bool)):
            raise SignalError(BAD_MESSAGE, "candidate.%s has the wrong type" % key)
    return {key: value[key] for key in CANDIDATE_FIELDS if key in value}


def parse(text):
    """The checked message in ``text`` (a WebSocket message) as a dict holding only the
    fields of its type. Raises SignalError (BAD_MESSAGE) for anything else."""
    if not isinstance(text, str):
        raise SignalError(BAD_MESSAGE, "send JSON text messages, not binary ones")
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise SignalError(BAD_MESSAGE, "a message is at most %d bytes" % MAX_MESSAGE_BYTES)
    try:
        message = json.loads(text)
    except ValueError:
        raise SignalError(BAD_MESSAGE, "not JSON") from None
    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in CLIENT_TYPES:
        raise SignalError(BAD_MESSAGE, "type must be one of " + ", ".join(CLIENT_TYPES))
    out = {"type": kind}
    if kind == "hello":
        token = message.get("token")
        if not isinstance(token, str) or not 0 < len(token) <= 200:
            raise SignalError(BAD_MESSAGE, "hello needs the token from POST /api/register")
        out["token"] = token
        out["key"] = public_key(message.get("key"))
    elif kind in RELAYED:
        if not _int(message.get("to"), 1, MAX_ID):
            raise SignalError(BAD_MESSAGE, kind + " needs to: a client id")
        out["to"] = message["to"]
        attempt = message.get("attempt", 0)
        if not _int(attempt, 0, MAX_ATTEMPT):
            raise SignalError(BAD_MESSAGE, "attempt: a number from 0 to %d" % MAX_ATTEMPT)
        out["attempt"] = attempt
        if kind == "candidate":
            out["candidate"] = _candidate(message.get("candidate"))
        else:
            if not isinstance(message.get("sdp"), str):
                raise SignalError(BAD_MESSAGE, kind + " needs sdp: a session description")
            out["sdp"] = message["sdp"]
    elif kind == "peers":
        have = message.get("have", [])
        if not isinstance(have, list) or len(have) > MAX_HAVE \
                or not all(_int(i, 1, MAX_ID) for i in have):
            raise SignalError(BAD_MESSAGE, "have: a list of at most %d client ids" % MAX_HAVE)
        out["have"] = have
        drop = message.get("drop")
        if drop is not None and not _int(drop, 1, MAX_ID):
            raise SignalError(BAD_MESSAGE, "drop: a client id")
        out["drop"] = drop
    return out


def relayed(message, sender):
    """What the receiver of a relayed message gets: ``from`` instead of ``to``."""
    out = {key: value for key, value in message.items() if key != "to"}
    out["from"] = sender
    return out


def encode_key(raw):
    return base64.b64encode(bytes(raw)).decode("ascii")
