"""How the API's routes describe themselves in ``/api/openapi.json`` beyond their schemas."""


def error_answer(description, schema=None):
    """An error answer for ``@api.doc(responses=...)``: the error format, or ``schema`` (a
    pydantic model) for one that adds fields."""
    schema = {"$ref": "#/components/schemas/HTTPError"} if schema is None else \
        schema.model_json_schema()
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def binary_body(description):
    """Describe the view's request body as raw bytes (``application/octet-stream``): the
    view reads them itself; ``fl.openapi_document`` writes the description into the document."""
    def mark(view):
        view.binary_body = {"required": True, "description": description, "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
        return view
    return mark
