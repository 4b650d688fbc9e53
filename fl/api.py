"""The ``/api/`` blueprint: health, registration, federation state, head, updates, rounds.

Every answer is JSON except ``GET /api/head`` (the binary head of ``tinybert_core.codec``);
errors are ``{"error", "detail"}``. ``openapi.json`` describes every route here.
"""
import hashlib
import secrets

from flask import Blueprint, current_app, jsonify, request

from fl import rounds, store
from fl.errors import ApiError
from fl.openapi import openapi_document
from fl.rounds import Refused
from fl.service import service
from tinybert_core import codec

api = Blueprint("api", __name__)


@api.get("/health")
def health():
    """Liveness probe: answers while the process serves requests."""
    return jsonify({"status": "ok"})


@api.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


def _hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _federation(conn, name=None):
    name = name if name is not None else request.args.get("federation", "default")
    fed = store.federation_by_name(conn, name)
    if fed is None:
        raise ApiError(404, "unknown_federation", "no federation called %r" % (name,))
    return fed


def _federation_up_to_date():
    """(service, connection, federation named in the query) after closing its round if due."""
    svc = service()
    conn = svc.connection()
    fed = _federation(conn)
    rounds.close_if_due(conn, fed["id"], svc.settings)
    return svc, conn, fed


@api.post("/register")
def register():
    """Register a client in a federation: JSON ``{"federation": name}`` (optional).

    Answers 201 with ``client_id`` and a bearer ``token`` for ``POST /api/update``.
    """
    body = request.get_json(silent=True)
    name = "default"
    if body is not None:
        if not isinstance(body, dict) or not isinstance(body.get("federation", ""), str):
            raise ApiError(400, "bad_request", 'the body must be {"federation": "<name>"}')
        name = body.get("federation", "default")
    svc = service()
    conn = svc.connection()
    fed = _federation(conn, name)
    token = secrets.token_urlsafe(32)
    with conn.transaction():
        client_id = store.insert_client(conn, fed["id"], _hash(token), svc.settings.clock())
    return jsonify({"client_id": int(client_id), "token": token, "federation": fed["name"]}), 201


@api.get("/federation")
def federation():
    """A federation's labels, head shape, encoder, rules and its current round."""
    svc, conn, fed = _federation_up_to_date()
    live = store.live_round_and_head(conn, fed["id"])   # a round and head that go together
    config = current_app.config
    return jsonify({
        "name": fed["name"], "labels": fed["labels"], "dim": fed["dim"],
        "encoder": fed["encoder"], "hidden_size": fed["hidden_size"],
        "head_version": live["head_version"], "clip_bound": svc.settings.clip_bound,
        "min_updates": svc.settings.min_updates, "round_seconds": svc.settings.round_seconds,
        "aggregator": config["AGGREGATOR"], "max_update_bytes": config["MAX_CONTENT_LENGTH"],
        "wire_format": codec.FORMAT_VERSION,
        "round": {"id": live["id"], "status": live["status"],
                  "base_version": live["base_version"], "opened_at": live["opened_at"],
                  "deadline": live["deadline"], "accepted": int(live["accepted"])},
    })


@api.get("/head")
def head():
    """The federation's current global head, encoded by ``codec.encode_head``."""
    _, conn, fed = _federation_up_to_date()
    fed = store.federation_by_id(conn, fed["id"])
    version = fed["head_version"]
    weights, bias = store.head(conn, fed["id"], version)
    data = codec.encode_head(codec.Head(version, len(fed["labels"]), fed["dim"],
                                        weights.tolist(), bias.tolist()))
    response = current_app.response_class(data, mimetype="application/octet-stream")
    response.headers["X-Head-Version"] = str(version)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _authenticated(conn):
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    client = None
    if scheme.lower() == "bearer" and token.strip():
        client = store.sender_by_token_hash(conn, _hash(token.strip()))
    if client is None:
        raise Refused(401, "unauthorized",
                      "send the token from POST /api/register as 'Authorization: Bearer <token>'")
    return client


@api.post("/update")
def update():
    """Submit one update (binary body, ``application/octet-stream``); 202 when stored."""
    svc = service()
    conn = svc.connection()
    client = None
    try:
        client = _authenticated(conn)
        if request.mimetype != "application/octet-stream":
            raise Refused(415, "wrong_content_type",
                          "send the encoded update as application/octet-stream")
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is None or request.content_length > limit:
            raise Refused(413, "too_large", "an update is at most %d bytes with a"
                          " Content-Length" % limit)
        answer = rounds.submit_update(conn, client, request.get_data(cache=False), svc.settings,
                                      svc.group)
    except Refused as refusal:
        if refusal.recorded:
            raise
        if client is not None:
            rounds.record_refusal(conn, client["federation_id"], client["id"], refusal,
                                  svc.settings)
        else:   # without a token, the federation the query names (default "default")
            fed = store.federation_by_name(conn, request.args.get("federation", "default"))
            if fed is not None:
                rounds.record_refusal(conn, fed["id"], None, refusal, svc.settings)
        raise
    return jsonify(answer), 202


@api.get("/rounds/<int:round_id>")
def round_status(round_id):
    """A round's status, accepted count and refusals counted by reason."""
    svc = service()
    report = None
    if round_id < codec.U32_LIMIT:   # round ids are u32 on the wire; larger ones never exist
        report = rounds.round_report(svc.connection(), round_id, svc.settings)
    if report is None:
        raise ApiError(404, "unknown_round", "no round %d" % round_id)
    return jsonify(report)
