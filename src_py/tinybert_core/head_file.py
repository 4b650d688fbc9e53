# __pragma__ ('ecom')
"""A trained head as a file that Python users load with standard tools: safetensors.

Layout (the safetensors format): 8-byte little-endian header length, a JSON header, then the
raw little-endian float32 tensors ``weight`` [labels x hidden] and ``bias`` [labels]. The
header's ``__metadata__`` (strings only, as the format requires) carries what is needed to
use the head correctly: its labels, the encoder it was trained on, the pooling, and the
training settings and metrics as JSON text. ``safetensors.numpy.load_file`` reads the
tensors; ``safe_open(...).metadata()`` the metadata.
"""
from tinybert_core.binary import (
    as_bytes,
    frozen,
    get_f32,
    get_u64,
    json_dumps,
    json_loads,
    new_bytes,
    put_f32,
    put_u64,
    utf8_decode,
    utf8_encode,
)

FORMAT = "tinybert-head"
FORMAT_VERSION = "1"
MAX_HEADER = 1000000
METADATA_KEYS = ["format", "format_version", "labels", "encoder_id", "encoder_sha256",
                 "hidden_size", "pooling", "name", "version", "created", "training", "metrics"]


class HeadFileError(ValueError):
    """The bytes are not a head file this product can use; the message says why."""


def _field(obj, key):
    """``obj[key]`` when ``obj`` is a JSON object holding ``key``, else None."""
    is_object = False
    # __pragma__ ('skip')
    is_object = isinstance(obj, dict)
    # __pragma__ ('noskip')
    #?is_object = obj is not None and typeof (obj) == "object" and not Array.isArray (obj)
    if not is_object or key not in obj:
        return None
    return obj[key]


def encode_head_file(labels, weights, bias, info):
    """Return the safetensors bytes of a head.

    labels: list of k names; weights: k*d floats (row-major); bias: k floats.
    info: dict with "encoder_id", "encoder_sha256", "hidden_size", "pooling", "name",
    "version", "created" (strings or numbers) and "training", "metrics" (plain data, stored
    as JSON text). Values are written as float32.
    """
    k = len(labels)
    if k == 0 or len(bias) != k or len(weights) % k != 0:
        raise HeadFileError("A head needs k labels, k x d weights and k biases.")
    d = len(weights) // k
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "labels": json_dumps(labels),
        "encoder_id": str(info["encoder_id"]),
        "encoder_sha256": str(info["encoder_sha256"]),
        "hidden_size": str(info["hidden_size"]),
        "pooling": str(info["pooling"]),
        "name": str(info["name"]),
        "version": str(info["version"]),
        "created": str(info["created"]),
        "training": json_dumps(info["training"]),
        "metrics": json_dumps(info["metrics"]),
    }
    header = {
        "__metadata__": metadata,
        "bias": {"dtype": "F32", "shape": [k], "data_offsets": [0, 4 * k]},
        "weight": {"dtype": "F32", "shape": [k, d], "data_offsets": [4 * k, 4 * k + 4 * k * d]},
    }
    text = utf8_encode(json_dumps(header))
    padded = len(text) + (8 - len(text) % 8) % 8   # align the tensors to 8 bytes
    out = new_bytes(8 + padded + 4 * k + 4 * k * d)
    put_u64(out, 0, padded)
    for i in range(len(text)):
        out[8 + i] = text[i]
    for i in range(len(text), padded):
        out[8 + i] = 32
    pos = 8 + padded
    for i in range(k):
        put_f32(out, pos + 4 * i, bias[i])
    pos += 4 * k
    for i in range(k * d):
        put_f32(out, pos + 4 * i, weights[i])
    return frozen(out)


def _tensor(header, name, shape_len, data, base):
    entry = _field(header, name)
    shape = _field(entry, "shape")
    offsets = _field(entry, "data_offsets")
    if (_field(entry, "dtype") != "F32" or not isinstance(shape, list) or len(shape) != shape_len
            or not isinstance(offsets, list) or len(offsets) != 2):
        raise HeadFileError("The file has no float32 tensor '" + name + "' of rank "
                            + str(shape_len) + ".")
    start = base + entry["data_offsets"][0]
    end = base + entry["data_offsets"][1]
    count = 1
    for n in entry["shape"]:
        count = count * n
    if end > len(data) or end - start != 4 * count:
        raise HeadFileError("Tensor '" + name + "' does not fit in the file (truncated?).")
    values = []
    for i in range(count):
        values.append(get_f32(data, start + 4 * i))
    return {"shape": entry["shape"], "values": values}


def decode_head_file(data):
    """Read a head file. Returns {"labels", "hidden_size", "weights", "bias", "info"}.

    Raises HeadFileError (what is wrong, in words) for anything that is not a complete,
    consistent head file of this format; TypeError if ``data`` is not bytes.
    """
    data = as_bytes(data)
    if len(data) < 16:
        raise HeadFileError("This is not a head file: it is only " + str(len(data)) + " bytes.")
    size = get_u64(data, 0)
    if size > MAX_HEADER or 8 + size > len(data):
        raise HeadFileError("This is not a head file (safetensors header of " + str(size)
                            + " bytes in a " + str(len(data)) + "-byte file).")
    try:
        header = json_loads(utf8_decode(data, 8, 8 + size))
    except ValueError:
        raise HeadFileError("This is not a head file: its header is not JSON.")
    meta = _field(header, "__metadata__")
    if _field(meta, "format") != FORMAT:
        raise HeadFileError("This safetensors file is not a head exported by this product "
                            + "(no '" + FORMAT + "' metadata).")
    if meta["format_version"] != FORMAT_VERSION:
        raise HeadFileError("Head file format version " + str(meta["format_version"])
                            + " is not supported (this page reads version " + FORMAT_VERSION + ").")
    for key in METADATA_KEYS:
        if not isinstance(_field(meta, key), str):
            raise HeadFileError("The head file's metadata lacks '" + key + "'.")
    try:
        labels = json_loads(meta["labels"])
        training = json_loads(meta["training"])
        metrics = json_loads(meta["metrics"])
    except ValueError:
        raise HeadFileError("The head file's metadata is damaged (labels, training or metrics "
                            + "are not JSON).")
    bias = _tensor(header, "bias", 1, data, 8 + size)
    weight = _tensor(header, "weight", 2, data, 8 + size)
    k = len(labels)
    hidden = weight["shape"][1]
    if k == 0 or bias["shape"][0] != k or weight["shape"][0] != k:
        raise HeadFileError("The head file has " + str(k) + " labels but tensors for "
                            + str(weight["shape"][0]) + ".")
    if str(hidden) != meta["hidden_size"]:
        raise HeadFileError("The head file says hidden size " + meta["hidden_size"]
                            + " but its weights have " + str(hidden) + " columns.")
    for value in weight["values"]:
        if value - value != 0:
            raise HeadFileError("The head file holds a weight that is not a finite number.")
    for value in bias["values"]:
        if value - value != 0:
            raise HeadFileError("The head file holds a bias that is not a finite number.")
    info = {"encoder_id": meta["encoder_id"], "encoder_sha256": meta["encoder_sha256"],
            "hidden_size": hidden, "pooling": meta["pooling"], "name": meta["name"],
            "version": meta["version"], "created": meta["created"], "training": training,
            "metrics": metrics}
    return {"labels": labels, "hidden_size": hidden, "weights": weight["values"],
            "bias": bias["values"], "info": info}


def check_compatible(info, encoder_id, hidden_size):
    """Refuse a head trained for another encoder or hidden size (HeadFileError says which)."""
    if info["encoder_id"] != encoder_id or int(info["hidden_size"]) != hidden_size:
        raise HeadFileError("This head was trained for the encoder " + str(info["encoder_id"])
                            + " (hidden size " + str(info["hidden_size"]) + "), but this page "
                            + "runs " + encoder_id + " (hidden size " + str(hidden_size) + "). "
                            + "Load it on a page with that encoder, or train a new head here.")
    return None
