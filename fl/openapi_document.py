"""What the OpenAPI document needs beyond what APIFlask generates from the schemas.

``finish(app, document)`` (APIFlask's spec processor) adds the raw request bodies that
``fl.api_docs.binary_body`` marks (APIFlask only describes bodies it parses) and states the
routes relative to the API's base, ``servers: [{"url": "/api"}]``, as clients use them.
"""
import re

BASE = "/api"


def _openapi_path(rule):
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


def finish(app, document):
    """``document`` (a dict) with the binary bodies added and paths relative to BASE."""
    paths = document.get("paths", {})
    for rule in app.url_map.iter_rules():
        body = getattr(app.view_functions[rule.endpoint], "binary_body", None)
        operations = paths.get(_openapi_path(rule.rule))
        if body is None or operations is None:
            continue
        for method in rule.methods:
            if method.lower() in operations:
                operations[method.lower()]["requestBody"] = body
    document["paths"] = {path[len(BASE):] if path.startswith(BASE + "/") else path: ops
                         for path, ops in paths.items()}
    document["servers"] = [{"url": BASE}]
    return document
