"""The OpenAPI 3 description of ``/api/`` (a test keeps it equal to the registered routes)."""

_ERROR = {"description": "error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
_FEDERATION_PARAM = {"name": "federation", "in": "query", "required": False,
                     "description": "federation name (default: default)",
                     "schema": {"type": "string"}}


def _json(schema_ref, description="OK"):
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/" + schema_ref}}}}


_SCHEMAS = {
    "Error": {"type": "object", "required": ["error", "detail"], "properties": {
        "error": {"type": "string", "description": "machine-readable code; for a refused"
                  " update, the reason counted in the round"},
        "detail": {"type": "string"}}},
    "Conflict": {"type": "object", "required": ["error", "detail", "current_round",
                                                "head_version"], "properties": {
        "error": {"type": "string", "enum": ["stale_round", "stale_base", "replay"],
                  "description": "the reason counted in the round"},
        "detail": {"type": "string"},
        "current_round": {"type": "integer", "description": "the live round when refused"},
        "head_version": {"type": "integer", "description": "the global head version then"}}},
    "Health": {"type": "object", "required": ["status"],
               "properties": {"status": {"type": "string", "enum": ["ok"]}}},
    "RegisterRequest": {"type": "object", "properties": {"federation": {"type": "string"}}},
    "Registration": {"type": "object", "required": ["client_id", "token", "federation"],
                     "properties": {"client_id": {"type": "integer"},
                                    "token": {"type": "string"},
                                    "federation": {"type": "string"}}},
    "LiveRound": {"type": "object", "required": ["id", "status", "base_version", "deadline"],
                  "properties": {"id": {"type": "integer"},
                                 "status": {"type": "string", "enum": ["open", "collecting"]},
                                 "base_version": {"type": "integer"},
                                 "opened_at": {"type": "number"},
                                 "deadline": {"type": "number"},
                                 "accepted": {"type": "integer"}}},
    "Federation": {"type": "object", "required": [
        "name", "labels", "dim", "encoder", "hidden_size", "head_version", "clip_bound",
        "min_updates", "round_seconds", "aggregator", "max_update_bytes", "wire_format",
        "round"], "properties": {
        "name": {"type": "string"}, "labels": {"type": "array", "items": {"type": "string"}},
        "dim": {"type": "integer"}, "encoder": {"type": "string"},
        "hidden_size": {"type": "integer"}, "head_version": {"type": "integer"},
        "clip_bound": {"type": "number"}, "min_updates": {"type": "integer"},
        "round_seconds": {"type": "number"}, "aggregator": {"type": "string"},
        "max_update_bytes": {"type": "integer"}, "wire_format": {"type": "integer"},
        "round": {"$ref": "#/components/schemas/LiveRound"}}},
    "UpdateAccepted": {"type": "object", "required": [
        "accepted", "round", "accepted_in_round", "round_closed", "head_version",
        "current_round"], "properties": {
        "accepted": {"type": "boolean"}, "round": {"type": "integer"},
        "accepted_in_round": {"type": "integer"}, "round_closed": {"type": "boolean"},
        "head_version": {"type": "integer"}, "current_round": {"type": "integer"}}},
    "Round": {"type": "object", "required": [
        "id", "federation", "status", "base_version", "accepted", "refused", "refusals"],
        "properties": {
            "id": {"type": "integer"}, "federation": {"type": "string"},
            "status": {"type": "string",
                       "enum": ["open", "collecting", "aggregated", "failed"]},
            "base_version": {"type": "integer"},
            "result_version": {"type": ["integer", "null"]},
            "opened_at": {"type": "number"}, "deadline": {"type": "number"},
            "closed_at": {"type": ["number", "null"]}, "min_updates": {"type": "integer"},
            "accepted": {"type": "integer"}, "refused": {"type": "integer"},
            "refusals": {"type": "object", "additionalProperties": {"type": "integer"}},
            "detail": {"type": ["string", "null"]}}},
}

_PATHS = {
    "/health": {"get": {"summary": "Liveness probe", "operationId": "health",
                        "responses": {"200": _json("Health")}}},
    "/openapi.json": {"get": {"summary": "This description", "operationId": "openapi",
                              "responses": {"200": {"description": "OpenAPI 3 document",
                                                    "content": {"application/json": {
                                                        "schema": {"type": "object"}}}}}}},
    "/register": {"post": {
        "summary": "Register a client; returns its id and bearer token",
        "operationId": "register",
        "requestBody": {"required": False, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/RegisterRequest"}}}},
        "responses": {"201": _json("Registration", "registered"), "400": _ERROR,
                      "404": _ERROR}}},
    "/federation": {"get": {
        "summary": "Labels, head shape, encoder, rules and current round",
        "operationId": "federation", "parameters": [_FEDERATION_PARAM],
        "responses": {"200": _json("Federation"), "404": _ERROR}}},
    "/head": {"get": {
        "summary": "The current global head (binary, see tinybert_core/codec.py: encode_head)",
        "operationId": "head", "parameters": [_FEDERATION_PARAM],
        "responses": {"200": {"description": "encoded head; X-Head-Version header",
                              "headers": {"X-Head-Version": {"schema": {"type": "integer"}}},
                              "content": {"application/octet-stream": {
                                  "schema": {"type": "string", "format": "binary"}}}},
                      "404": _ERROR}}},
    "/update": {"post": {
        "summary": "Submit one encoded update (tinybert_core/codec.py: encode_update)",
        "operationId": "update", "parameters": [_FEDERATION_PARAM],
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}},
        "responses": {"202": _json("UpdateAccepted", "stored and committed"),
                      "400": _ERROR, "401": _ERROR, "403": _ERROR,
                      "409": _json("Conflict", "stale round or base (train again from the"
                                   " current head) or a second update in one round"),
                      "413": _ERROR, "415": _ERROR, "422": _ERROR}}},
    "/rounds/{round_id}": {"get": {
        "summary": "A round's status with accepted and refused counts",
        "operationId": "round",
        "parameters": [{"name": "round_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 0}}],
        "responses": {"200": _json("Round"), "404": _ERROR}}},
}


def openapi_document():
    """The OpenAPI 3.1 document for the routes under ``/api``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "TinyBERT FL", "version": "1",
                 "description": "Federated learning of a text-classification head. Updates"
                                " and heads use the binary format of src_py/tinybert_tinybert_core/codec.py."},
        "servers": [{"url": "/api"}],
        "paths": _PATHS,
        "components": {"schemas": _SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }
