"""The ``/api/`` blueprint: health, registration, federation state, head, updates, rounds.

Requests and answers are checked and shaped by ``fl.schemas``, from which APIFlask generates
``/api/openapi.json``. Every answer is JSON except ``GET /api/head`` (the binary head of
``tinybert_core.codec``); ``POST /api/update`` takes the update's raw bytes
(``application/octet-stream``), described by ``binary_body``. Errors are
``{"error", "detail"}`` (``fl.http_errors``); a refused update is counted in a round, by
``fl.rounds`` or, for the refusals found here (token, content type, size), right here.
"""
import secrets

from apiflask import APIBlueprint
from apiflask.schemas import FileSchema
from flask import current_app, request

from fl import enrollment, refusals, rounds, secure_rounds, store
from fl.api_docs import binary_body, error_answer
from fl.auth import authenticated_sender, rate_keys, token_hash
from fl.http_errors import ApiError
from fl.refusals import Refusal
from fl.schemas import (
    Conflict,
    Federation,
    FederationQuery,
    Health,
    RegisterRequest,
    Registration,
    Round,
    UpdateAccepted,
)
from fl.service import service
from tinybert_core import codec

api = APIBlueprint("api", __name__, tag="federated learning")


@api.get("/health")
@api.output(Health)
def health():
    """Liveness probe: answers while the process serves requests."""
    return {"status": "ok"}


def _federation(conn, name):
    fed = store.federation_by_name(conn, name)
    if fed is None:
        raise ApiError(404, "unknown_federation", "no federation called %r" % (name,))
    return fed


def _federation_up_to_date(name):
    """(service, connection, federation ``name``) after closing its round if due."""
    svc = service()
    conn = svc.connection()
    fed = _federation(conn, name)
    rounds.close_if_due(conn, fed["id"], svc.settings)
    return svc, conn, fed


@api.post("/register")
@api.input(RegisterRequest, location="json")
@api.output(Registration, status_code=201, description="registered")
@api.doc(responses={404: error_answer("no such federation"),
                    429: error_answer("too many registrations from this address"),
                    403: error_answer("an invite federation without a valid invite code"
                                      " (missing, unknown, another federation's, revoked,"
                                      " expired or used up)")})
def register(json_data):
    """Register a client in a federation; returns its id and bearer token.

    The body is JSON, ``{}`` for the default federation; an invite federation needs
    ``{"federation": name, "invite": code}``.
    """
    svc = service()
    svc.ensure_ready()
    svc.limiter.hit(svc.database, rate_keys(svc, registering=True))
    conn = svc.connection()
    fed = _federation(conn, json_data.federation)
    token = secrets.token_urlsafe(32)
    client_id = enrollment.register(conn, fed, token_hash(token), json_data.invite,
                                    svc.settings.clock())
    return {"client_id": int(client_id), "token": token, "federation": fed["name"]}


@api.get("/federation")
@api.input(FederationQuery, location="query")
@api.output(Federation)
@api.doc(responses={404: error_answer("no such federation")})
def federation(query_data):
    """A federation's labels, head shape, encoder, mode, rules and its current round."""
    svc, conn, fed = _federation_up_to_date(query_data.federation)
    live = store.live_round_and_head(conn, fed["id"])   # a round and head that go together
    config = current_app.config
    return {
        "name": fed["name"], "labels": fed["labels"], "dim": fed["dim"],
        "encoder": fed["encoder"], "hidden_size": fed["hidden_size"],
        "head_version": live["head_version"], "clip_bound": svc.settings.clip_bound,
        "min_updates": svc.settings.min_updates, "round_seconds": svc.settings.round_seconds,
        "aggregator": config["AGGREGATOR"], "max_update_bytes": config["MAX_CONTENT_LENGTH"],
        "wire_format": codec.FORMAT_VERSION, "mode": fed["mode"],
        "enrollment": fed["enrollment"],
        "secure": secure_rounds.rules(svc.settings, fed) if fed["mode"] == "secure" else None,
        "privacy": secure_rounds.privacy_state(conn, fed, svc.settings),
        "round": {"id": live["id"], "status": live["status"], "kind": live["kind"],
                  "phase": live["phase"],
                  "base_version": live["base_version"], "opened_at": live["opened_at"],
                  "deadline": live["deadline"], "accepted": int(live["accepted"])},
    }


@api.get("/head")
@api.input(FederationQuery, location="query")
@api.output(FileSchema(), content_type="application/octet-stream",
            description="the head encoded by tinybert_core.codec.encode_head; its version"
                        " also in the X-Head-Version header")
@api.doc(responses={404: error_answer("no such federation")})
def head(query_data):
    """The federation's current global head (binary)."""
    _, conn, fed = _federation_up_to_date(query_data.federation)
    fed = store.federation_by_id(conn, fed["id"])
    version = fed["head_version"]
    weights, bias = store.head(conn, fed["id"], version)
    data = codec.encode_head(codec.Head(version, len(fed["labels"]), fed["dim"],
                                        weights.tolist(), bias.tolist()))
    response = current_app.response_class(data, mimetype="application/octet-stream")
    response.headers["X-Head-Version"] = str(version)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _check_body():
    """Raise Refusal unless the body is raw bytes of an allowed size."""
    if request.mimetype != "application/octet-stream":
        raise Refusal(refusals.WRONG_CONTENT_TYPE,
                      "send the encoded update as application/octet-stream")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None or request.content_length > limit:
        raise Refusal(refusals.TOO_LARGE, "an update is at most %d bytes with a"
                      " Content-Length" % limit)


@api.post("/update")
@binary_body("one update encoded by tinybert_core.codec.encode_update")
@api.input(FederationQuery, location="query")
@api.output(UpdateAccepted, status_code=202, description="stored and committed")
@api.doc(security="bearer", responses={
    400: error_answer("not an update (the codec's reason)"), 401: error_answer("no valid token"),
    403: error_answer("the update names another client"),
    409: error_answer("stale round or base (train again from the current head) or a second"
                " update in one round", Conflict),
    413: error_answer("body too large or without Content-Length"),
    415: error_answer("not application/octet-stream"),
    422: error_answer("an update the head cannot take (shape, values, norm)"),
    429: error_answer("too many requests for this token or address (Retry-After)")})
def update(query_data):
    """Submit one update; answered once it is committed."""
    svc = service()
    svc.ensure_ready()
    keys = rate_keys(svc)   # counted with the update or its refusal, in one transaction
    svc.limiter.check_blocked(keys)
    sender = None
    try:
        sender = authenticated_sender(svc, cached=True)
        _check_body()
    except Refusal as refusal:   # counted here; the rounds count the refusals they find
        conn = svc.connection()
        limited = None
        if sender is not None:
            limited = rounds.record_refusal(conn, sender["federation_id"], sender["id"],
                                            refusal, svc.settings, svc.limiter, keys)
        else:   # without a known token: the federation the query names
            fed = store.federation_by_name(conn, query_data.federation)
            if fed is not None:
                limited = rounds.record_refusal(conn, fed["id"], None, refusal, svc.settings,
                                                svc.limiter, keys)
        if limited is not None:
            raise limited from None
        raise
    return rounds.submit_update(svc.database, sender, request.get_data(cache=False),
                                svc.settings, svc.group, svc.limiter, keys)


@api.get("/rounds/<int(signed=True):round_id>")   # a negative id is a 404 like any unknown
@api.output(Round)
@api.doc(responses={404: error_answer("no such round")})
def round_status(round_id):
    """A round's status with accepted and refused counts (refusals by reason)."""
    svc = service()
    report = None
    if 0 <= round_id < codec.U32_LIMIT:   # round ids are u32 on the wire; others never exist
        report = rounds.round_report(svc.connection(), round_id, svc.settings)
    if report is None:
        raise ApiError(404, "unknown_round", "no round %d" % round_id)
    return report
