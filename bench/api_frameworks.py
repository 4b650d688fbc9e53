"""Schema-first API libraries for the FL server: what each adds to a request, and how each
takes the binary update body. ``python -m bench api_frameworks``.

Question: which of APIFlask, flask-smorest and spectree costs least per request over plain
Flask, while the update body stays raw bytes (``application/octet-stream``) that the
OpenAPI document still describes?

Protocol: four small apps with the same three routes, shaped like the server's own:
``GET /api/federation?federation=NAME`` (query parameter checked, a 15-field JSON answer),
``POST /api/register`` (JSON body ``{"federation": NAME}`` checked, JSON answer 201) and
``POST /api/update`` (1,163 raw bytes read, JSON answer 202). Plain Flask checks by hand;
each library checks with its schemas (APIFlask with marshmallow and with pydantic,
flask-smorest with marshmallow, spectree with pydantic) and serialises the answer through
its response schema where that is the library's way (APIFlask ``output``, flask-smorest
``response``; spectree validates the answer). Every call goes through Flask's test client
in this process; CALLS calls per route and app after WARMUP, interleaved app by app so that
machine load hits all alike; the median per call is reported, and the overhead is the
median minus plain Flask's. Also checked: the binary body reaches the view untouched and
the document names ``application/octet-stream`` for it (how each library was made to).

Writes ``bench/results/api_frameworks.{json,md}``.
"""
import argparse
import platform
import statistics
import time

from bench import save_results

CALLS = 3000
WARMUP = 200
UPDATE_BYTES = bytes(range(256)) * 4 + bytes(139)   # the size of a 3 x 384 update

FEDERATION = {"name": "default", "labels": ["Dev", "Meeting", "Email"], "dim": 384,
              "encoder": "sentence-transformers/all-MiniLM-L6-v2", "hidden_size": 384,
              "head_version": 3, "clip_bound": 30.0, "min_updates": 3,
              "round_seconds": 300.0, "aggregator": "fedavg", "max_update_bytes": 65536,
              "wire_format": 1, "round": {"id": 4, "status": "open", "base_version": 3,
                                          "opened_at": 1.0, "deadline": 301.0,
                                          "accepted": 0}}
BINARY_BODY = {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}


def _answer_update(data):
    return {"accepted": len(data) == len(UPDATE_BYTES), "round": 4, "accepted_in_round": 1,
            "round_closed": False, "head_version": 3, "current_round": 4}


def plain_flask():
    from flask import Flask, abort, jsonify, request
    app = Flask("plain")

    @app.get("/api/federation")
    def federation():
        name = request.args.get("federation", "default")
        if len(name) > 200:
            abort(400)
        return jsonify(FEDERATION)

    @app.post("/api/register")
    def register():
        body = request.get_json(silent=True)
        if body is not None and not (isinstance(body, dict)
                                     and isinstance(body.get("federation", ""), str)):
            abort(400)
        return jsonify({"client_id": 1, "token": "t", "federation": "default"}), 201

    @app.post("/api/update")
    def update():
        return jsonify(_answer_update(request.get_data(cache=False))), 202

    return app, None


def _marshmallow_schemas():
    from marshmallow import Schema, fields

    class Query(Schema):
        federation = fields.String(load_default="default")

    class RegisterIn(Schema):
        federation = fields.String(load_default="default")

    class Registration(Schema):
        client_id = fields.Integer()
        token = fields.String()
        federation = fields.String()

    class LiveRound(Schema):
        id = fields.Integer()
        status = fields.String()
        base_version = fields.Integer()
        opened_at = fields.Float()
        deadline = fields.Float()
        accepted = fields.Integer()

    class Federation(Schema):
        name = fields.String()
        labels = fields.List(fields.String())
        dim = fields.Integer()
        encoder = fields.String()
        hidden_size = fields.Integer()
        head_version = fields.Integer()
        clip_bound = fields.Float()
        min_updates = fields.Integer()
        round_seconds = fields.Float()
        aggregator = fields.String()
        max_update_bytes = fields.Integer()
        wire_format = fields.Integer()
        round = fields.Nested(LiveRound)

    class UpdateAccepted(Schema):
        accepted = fields.Boolean()
        round = fields.Integer()
        accepted_in_round = fields.Integer()
        round_closed = fields.Boolean()
        head_version = fields.Integer()
        current_round = fields.Integer()

    return Query, RegisterIn, Registration, Federation, UpdateAccepted


def _pydantic_models():
    from pydantic import BaseModel

    class Query(BaseModel):
        federation: str = "default"

    class RegisterIn(BaseModel):
        federation: str = "default"

    class Registration(BaseModel):
        client_id: int
        token: str
        federation: str

    class LiveRound(BaseModel):
        id: int
        status: str
        base_version: int
        opened_at: float
        deadline: float
        accepted: int

    class Federation(BaseModel):
        name: str
        labels: list[str]
        dim: int
        encoder: str
        hidden_size: int
        head_version: int
        clip_bound: float
        min_updates: int
        round_seconds: float
        aggregator: str
        max_update_bytes: int
        wire_format: int
        round: LiveRound

    class UpdateAccepted(BaseModel):
        accepted: bool
        round: int
        accepted_in_round: int
        round_closed: bool
        head_version: int
        current_round: int

    return Query, RegisterIn, Registration, Federation, UpdateAccepted


def _apiflask(schemas, label):
    from apiflask import APIFlask
    from flask import request
    query, register_in, registration, federation_out, update_out = schemas
    app = APIFlask(label, spec_path="/api/openapi.json", docs_path=None)

    @app.get("/api/federation")
    @app.input(query, location="query")
    @app.output(federation_out)
    def federation(query_data):
        return FEDERATION

    @app.post("/api/register")
    @app.input(register_in, location="json")
    @app.output(registration, status_code=201)
    def register(json_data):
        return {"client_id": 1, "token": "t", "federation": "default"}

    @app.post("/api/update")
    @app.output(update_out, status_code=202)
    def update():
        return _answer_update(request.get_data(cache=False))

    @app.spec_processor   # APIFlask has no raw-body input: the body is described here
    def binary_body(spec):
        spec["paths"]["/api/update"]["post"]["requestBody"] = BINARY_BODY
        return spec

    return app, "/api/openapi.json"


def apiflask_marshmallow():
    return _apiflask(_marshmallow_schemas(), "apiflask-marshmallow")


def apiflask_pydantic():
    return _apiflask(_pydantic_models(), "apiflask-pydantic")


def flask_smorest():
    from flask import Flask, request
    from flask_smorest import Api, Blueprint
    query, register_in, registration, federation_out, update_out = _marshmallow_schemas()
    app = Flask("smorest")
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX="/api", OPENAPI_JSON_PATH="openapi.json")
    api = Api(app)
    blp = Blueprint("api", "api", url_prefix="/api")

    @blp.route("/federation", methods=["GET"])
    @blp.arguments(query, location="query", as_kwargs=True)
    @blp.response(200, federation_out)
    def federation(**query_data):
        return FEDERATION

    @blp.route("/register", methods=["POST"])
    @blp.arguments(register_in, location="json", required=False, as_kwargs=True)
    @blp.response(201, registration)
    def register(**json_data):
        return {"client_id": 1, "token": "t", "federation": "default"}

    @blp.route("/update", methods=["POST"])
    @blp.doc(requestBody=BINARY_BODY)   # copied into the operation as it is
    @blp.response(202, update_out)
    def update():
        return _answer_update(request.get_data(cache=False))

    api.register_blueprint(blp)
    return app, "/api/openapi.json"


def spectree():
    from flask import Flask, request
    from spectree import Response, SpecTree
    query, register_in, registration, federation_out, update_out = _pydantic_models()
    app = Flask("spectree")
    spec = SpecTree("flask", path="api/doc")

    @app.get("/api/federation")
    @spec.validate(query=query, resp=Response(HTTP_200=federation_out))
    def federation():
        return federation_out(**FEDERATION)

    @app.post("/api/register")
    @spec.validate(json=register_in, resp=Response(HTTP_201=registration))
    def register():
        return registration(client_id=1, token="t", federation="default"), 201

    @app.post("/api/update")
    @spec.validate(resp=Response(HTTP_202=update_out))   # no raw-body model: documented apart
    def update():
        return update_out(**_answer_update(request.get_data(cache=False))), 202

    spec.register(app)
    return app, "/api/doc/openapi.json"


FRAMEWORKS = {"flask (plain)": plain_flask, "apiflask + marshmallow": apiflask_marshmallow,
              "apiflask + pydantic": apiflask_pydantic, "flask-smorest": flask_smorest,
              "spectree": spectree}
ROUTES = {
    "GET /federation": lambda c: c.get("/api/federation?federation=default"),
    "POST /register": lambda c: c.post("/api/register", json={"federation": "default"}),
    "POST /update": lambda c: c.post("/api/update", data=UPDATE_BYTES,
                                     content_type="application/octet-stream"),
}
EXPECTED = {"GET /federation": 200, "POST /register": 201, "POST /update": 202}


def _documents_binary(client, spec_path):
    if spec_path is None:
        return None
    spec = client.get(spec_path).get_json()
    paths = spec.get("paths", {})
    update = paths.get("/api/update") or paths.get("/update") or {}
    body = update.get("post", {}).get("requestBody", {})
    return "application/octet-stream" in body.get("content", {})


def _bad_request_status(client):
    return client.post("/api/register", json={"federation": 5}).status_code


def measure(calls=CALLS, warmup=WARMUP):
    """Median microseconds per call of each route of each app, and the fit checks."""
    clients, fit = {}, {}
    for name, build in FRAMEWORKS.items():
        app, spec_path = build()
        client = app.test_client()
        for route, call in ROUTES.items():
            answer = call(client)
            assert answer.status_code == EXPECTED[route], (name, route, answer.data[:300])
        assert client.post("/api/update", data=UPDATE_BYTES,
                           content_type="application/octet-stream").get_json()["accepted"]
        clients[name] = client
        fit[name] = {"binary_body_documented": _documents_binary(client, spec_path),
                     "invalid_json_status": _bad_request_status(client)}
    samples = {name: {route: [] for route in ROUTES} for name in FRAMEWORKS}
    for i in range(warmup + calls):
        for route, call in ROUTES.items():
            for name, client in clients.items():
                start = time.perf_counter()
                call(client)
                elapsed = time.perf_counter() - start
                if i >= warmup:
                    samples[name][route].append(elapsed)
    medians = {name: {route: 1e6 * statistics.median(values)
                      for route, values in routes.items()}
               for name, routes in samples.items()}
    return medians, fit


def markdown(results):
    medians, fit = results["median_us"], results["fit"]
    base = medians["flask (plain)"]
    lines = ["# Schema-first API libraries: overhead per request", "",
             "Flask test client in one process, %d calls per route and library (after %d "
             "warm-up), interleaved; median microseconds per call, and in brackets the "
             "overhead over plain Flask. %s; Python %s; load average before/after %s."
             % (results["calls"], results["warmup"], results["versions_text"],
                results["python"], results["load_average"]), "",
             "| library | " + " | ".join(ROUTES) + " | binary body in the document | "
             "invalid JSON answered with |",
             "|---|" + "---:|" * len(ROUTES) + "---|---:|"]
    for name, routes in medians.items():
        cells = []
        for route in ROUTES:
            extra = "" if name == "flask (plain)" else " (+%.0f)" % (routes[route] - base[route])
            cells.append("%.0f%s" % (routes[route], extra))
        documented = fit[name]["binary_body_documented"]
        lines.append("| %s | %s | %s | %d |" % (
            name, " | ".join(cells), "n/a" if documented is None else
            ("yes" if documented else "no"), fit[name]["invalid_json_status"]))
    lines += ["", "How the binary body was documented: APIFlask has no raw-body input, so a "
              "`spec_processor` writes the operation's `requestBody`; flask-smorest copies "
              "`@blp.doc(requestBody=...)` into the operation; spectree has neither (its "
              "request models are JSON, form, query, headers or cookies), so the document "
              "would need patching after generation. In all three the view reads "
              "`request.get_data()` untouched."]
    return "\n".join(lines) + "\n"


def run(argv=None):
    """Measure and write ``bench/results/api_frameworks.{json,md}``."""
    import importlib.metadata
    import os
    parser = argparse.ArgumentParser(prog="bench api_frameworks")
    parser.add_argument("--calls", type=int, default=CALLS)
    args = parser.parse_args(argv or [])
    load = os.getloadavg()
    medians, fit = measure(args.calls)
    versions = {p: importlib.metadata.version(p) for p in
                ("flask", "apiflask", "flask-smorest", "spectree", "marshmallow", "pydantic")}
    results = {"calls": args.calls, "warmup": WARMUP, "median_us": medians, "fit": fit,
               "versions": versions, "python": platform.python_version(),
               "versions_text": ", ".join("%s %s" % kv for kv in versions.items()),
               "load_average": "%.1f / %.1f" % (load[0], os.getloadavg()[0])}
    save_results("api_frameworks", results, markdown(results))
    print(markdown(results))
    return results
