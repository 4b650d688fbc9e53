"""Head files: written and read by the core's ``head_file`` (the page's own safetensors
encoder and decoder), so a head trained here imports into the page unchanged and back."""
from datetime import UTC, datetime
from pathlib import Path

from tinybert.errors import InputError
from tinybert_core.head import head_with_weights
from tinybert_core.head_file import (
    HeadFileError,
    check_compatible,
    decode_head_file,
    encode_head_file,
)


def _now():
    """The time as the page writes it (JavaScript's toISOString)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def write_head(path, head, model, options, history, name):
    """Write ``head`` (a LinearHead) as the page's Export does: the model's encoder fields,
    ``training`` = the resolved training options, ``metrics`` = the per-epoch history.
    Raises InputError when the file cannot be written."""
    info = model.info()
    info.update({"name": name, "version": 0, "created": _now(), "training": options,
                 "metrics": history})
    data = encode_head_file(head.labels, head.weights, head.bias, info)
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise InputError(f"Cannot write {path}: {error.strerror}.") from None
    return len(data)


def read_head(path, model):
    """``(head, info)`` from a head file, refused unless it fits ``model``.

    Raises InputError for a missing file, a file that is not a head file (the core's reason
    quoted), or a head for another encoder or hidden size.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such head file: {path}")
    try:
        head = decode_head_file(path.read_bytes())
    except HeadFileError as error:
        raise InputError(f"{path} cannot be used: {error}") from None
    info = head["info"]
    try:
        check_compatible(info, model.model_id, model.hidden_size)
    except HeadFileError:
        raise InputError(f"{path} was trained for the encoder {info['encoder_id']} (hidden "
                         f"size {info['hidden_size']}), but the model in {model.folder} is "
                         f"{model.model_id} (hidden size {model.hidden_size}). Pass --model "
                         "with that encoder's folder, or train a new head with this one.") \
            from None
    return head_with_weights(head["labels"], head["hidden_size"], head["weights"],
                             head["bias"]), info
