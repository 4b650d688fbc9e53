"""The page's own error type, and the one place that turns any thrown value into words."""


class AppError(Exception):
    """A failure the page reports to its user: ``str(error)`` says what is wrong and what to do."""

    def __init__(self, message):
        Exception.__init__(self, message)
        self.text = message


def describe(thrown):
    """Return a readable message for anything thrown: a Python exception or a JS ``Error``.

    JS errors (from fetch, onnxruntime-web, the DOM) are not Python exceptions in the
    transpiled code, so ``except Exception`` does not catch them; boundary code catches
    everything and passes the value here.
    """
    if thrown is None or typeof(thrown) == "undefined":
        return "unknown error"
    if thrown.text:
        return thrown.text
    if thrown.message:
        return thrown.message
    return str(thrown)
