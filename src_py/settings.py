"""Small user settings kept in this browser (localStorage), with the URL able to override."""

BACKEND_KEY = "tinybert.backend"
BACKENDS = ["auto", "webgpu", "wasm"]


def requested_backend():
    """The backend to use: ``?backend=`` in the URL, else the saved setting; None means auto."""
    value = __new__(URLSearchParams(window.location.search)).js_get("backend")
    if value is None:
        value = saved_backend()
    if value == "wasm" or value == "webgpu":
        return value
    return None


def saved_backend():
    try:
        value = window.localStorage.getItem(BACKEND_KEY)
    except:  # noqa: E722 - storage can be disabled
        return "auto"
    return value if value in BACKENDS else "auto"


def save_backend(value):
    """Remember the backend choice ("auto", "webgpu" or "wasm") for the next visits."""
    if value not in BACKENDS:
        raise ValueError("Unknown backend " + str(value) + "; choose one of " + ", ".join(BACKENDS))
    window.localStorage.setItem(BACKEND_KEY, value)
    return None
