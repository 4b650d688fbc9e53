"""Every tunable of the page in one place, like transformers.js's ``env``.

Modules import their values from here; none keeps a copy of its own. The only setting the user
changes is the encoder backend, kept in this browser's localStorage (the URL's ``?backend=``
overrides it for one visit), next to the page's own measurement of which backend is faster on
this device; everything else is fixed when the page is built.
"""

# --- where things are fetched from --------------------------------------------------------
MODEL_BASE = "model/"
"""URL prefix (relative to the page) of the model files: manifest, tokenizer, encoder."""

API_BASE = "api/"
"""URL prefix (relative to the page) of the federation server's API."""

# --- the model file on this device ---------------------------------------------------------
MODEL_CACHE_NAME = "tinybert-model"
"""Cache API cache that keeps the checked encoder file between visits."""

DOWNLOAD_YIELD_MS = 8
"""While downloading the model, let other tasks run at least this often (ms)."""

# --- encoder -----------------------------------------------------------------------------------
BACKEND_KEY = "tinybert.backend"
"""localStorage key of the user's backend choice."""

BACKENDS = ["auto", "webgpu", "wasm"]
"""Backend choices: auto (the faster of the two on this device, measured once), WebGPU or
WASM."""

MEASUREMENT_KEY = "tinybert.backend.measured"
"""localStorage key of the last measurement of both backends (see services/backend_choice)."""

PROBE_RUNS = 5
"""Timed runs of each probe file at each probe length, after one untimed run."""

PROBE_BUDGET_MS = 2000
"""A backend whose probe runs take longer than this in all is too slow: it stops there and
loses (a software WebGPU adapter takes seconds a run)."""

MAX_WASM_THREADS = 4
"""WASM threads: one per core, at most this many (one when the page is not cross-origin
isolated, which WASM threads need)."""

EMBEDDING_CACHE_SIZE = 20000
"""Embeddings kept in memory (per text), so that a known text never runs the encoder again."""

# --- classifier --------------------------------------------------------------------------------
DEFAULT_LABELS = ["Dev", "Meeting", "Email"]
"""The labels of a new classifier."""

MAX_LABEL_LENGTH = 60
"""Longest label (and saved model) name, in characters (index.html's inputs agree)."""

BATCH_YIELD_EVERY = 8
"""Batch classification lets the browser paint after this many texts."""

IMPORT_PREVIEW_ROWS = 5
"""Rows of a labelled file shown before it is imported."""

# --- federation --------------------------------------------------------------------------------
DEFAULT_FEDERATION = "default"
"""The federation this page joins."""

RETRIES = 3
"""Tries of a federation request that fails on the network or with a server error (5xx)."""

RETRY_PAUSE_MS = 300
"""Pause before the next try, times the number of tries so far."""

RATE_LIMIT_WAIT_S = 60
"""The longest a request waits out the server's rate limit (429, Retry-After) before trying
again; a longer wait is reported as the server's refusal instead."""

SECURE_POLL_MS = 250
"""How often a page in a secure round asks the server for the round's phase (ms)."""

SECURE_JOIN_WAIT_MS = 600000
"""How long Send Delta waits for a secure round that takes new members (ms)."""


# --- peer-to-peer federation ---------------------------------------------------------------
SIGNAL_PATH = "peers/socket"
"""The server's signalling WebSocket, relative to API_BASE (ws:// or wss:// like the page)."""

ICE_SERVERS = []
"""RTCPeerConnection's iceServers: none, so pages connect by their host candidates (a STUN
or TURN server would be listed here for pages behind different NATs)."""

CONNECT_TIMEOUT_MS = 4000
"""A data channel not open this long after an offer counts as failed and is offered again."""

PEER_RETRIES = 3
"""New offers after a failed or lost connection, per neighbour."""

LOST_DROP_MS = 10000
"""A neighbour whose connection was lost (and is not being retried) is dropped after this."""

MAX_BUFFERED = 65536
"""A neighbour whose channel has more than this many bytes queued is skipped for a message."""

MAX_MESSAGE = 16384
"""The largest message sent on a data channel (every browser's channels take 16 KiB)."""

PEER_RATE_PER_SECOND = 100
"""Messages a neighbour may send per second (after a burst of PEER_RATE_BURST); more are
dropped."""

PEER_RATE_BURST = 200

GOSSIP_START_STEPS = 6
"""Push-sum steps that mix the class statistics before the first round (the simulation's)."""

GOSSIP_STEPS = 3
"""Mixing steps a round, each with GOSSIP_FANOUT random neighbours (the simulation's)."""

GOSSIP_FANOUT = 2

GOSSIP_EPOCHS = 1
"""Local epochs a round (as the page trains for a server federation's round)."""

GOSSIP_STEP_WAIT_MS = 3000
"""A step waits at most this long for its neighbours' messages of the same step; a neighbour
that stays silent that long is no longer waited for until it speaks again."""

GOSSIP_READY_WAIT_MS = 15000
"""At the start, how long to wait for the neighbours to be ready to gossip too."""

GOSSIP_REFRESH_ROUNDS = 5
"""Every this many rounds, ask the server to swap one neighbour (only beyond a full mesh)."""


# --- the backend choice ---------------------------------------------------------------------
def requested_backend():
    """The backend to use: ``?backend=`` in the URL, else the saved setting; None means auto."""
    value = __new__(URLSearchParams(window.location.search)).js_get("backend")
    if value is None:
        value = saved_backend()
    if value == "wasm" or value == "webgpu":
        return value
    return None


def requested_encoder_file():
    """``?encoder=<file>``: run that encoder file of the manifest (with ``?backend=`` naming its
    backend), for checking one file on one browser; None otherwise."""
    return __new__(URLSearchParams(window.location.search)).js_get("encoder")


def verbose_runtime_log():
    """``?ortlog=verbose``: onnxruntime-web logs everything to the console, among it where each
    node of the encoder runs (the placement test reads it)."""
    return __new__(URLSearchParams(window.location.search)).js_get("ortlog") == "verbose"


def saved_backend():
    """The saved backend choice ("auto", "webgpu" or "wasm"); "auto" when none is saved or
    localStorage is unavailable."""
    try:
        value = window.localStorage.getItem(BACKEND_KEY)
    except:  # noqa: E722 - storage can be disabled
        return "auto"
    return value if value in BACKENDS else "auto"


def save_backend(value):
    """Remember the backend choice ("auto", "webgpu" or "wasm") for the next visits. Choosing
    "auto" forgets the last measurement, so the next visit measures again.

    Raises ValueError for any other value."""
    if value not in BACKENDS:
        raise ValueError("Unknown backend " + str(value) + "; choose one of " + ", ".join(BACKENDS))
    window.localStorage.setItem(BACKEND_KEY, value)
    if value == "auto":
        window.localStorage.removeItem(MEASUREMENT_KEY)
    return None


def remembered_measurement(key):
    """The measurement saved for this device (``key``: the adapter, cores and encoder files),
    ``{"choice", "measured", "note", "date"}``; None when there is none for ``key`` or
    localStorage is unavailable."""
    try:
        text = window.localStorage.getItem(MEASUREMENT_KEY)
        record = JSON.parse(text) if text else None
    except:  # noqa: E722 - storage disabled, or a damaged entry
        return None
    if record is None or record["key"] != key:
        return None
    return record


def remember_measurement(record):
    """Save ``record`` (``{"key", "choice", "measured", "note", "date"}``) for the next visits;
    nothing happens when localStorage is unavailable."""
    try:
        window.localStorage.setItem(MEASUREMENT_KEY, JSON.stringify(record))
    except:  # noqa: E722
        console.warn("Could not remember the backend measurement.")
    return None
