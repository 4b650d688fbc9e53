"""A built model folder (``make model``): its manifest, the page's tokenizer built from the
folder's tokenizer.json, and the INT8 encoder file, checked against the manifest."""
import hashlib
import json
from pathlib import Path

from tinybert.errors import SetupError
from tinybert_core.tokenizer import Tokenizer, config_from_tokenizer_json

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "public" / "model"
MANIFEST_FORMATS = (1, 2)   # 2 adds the WebGPU encoders; the INT8 file stays encoder_file
POOLING = {"mode": "mean", "normalize": True}
REBUILD = "Run `make model` (it builds public/model), or pass --model with a folder it built."


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


class Model:
    """What the page loads from a model folder, as it loads it.

    Attributes: folder, manifest (dict), model_id, hidden_size, max_length, pooling (the
    manifest's ``{"mode", "normalize"}``), encoder_path, encoder_sha256, tokenizer (the
    core's Tokenizer with the manifest's max_length, as the page builds it), cache_key (hex
    digest of everything an embedding depends on: encoder and tokenizer bytes, max length,
    pooling).
    """

    def __init__(self, folder, manifest, tokenizer_bytes, encoder_sha256):
        self.folder = folder
        self.manifest = manifest
        self.model_id = manifest["model_id"]
        self.hidden_size = manifest["hidden_size"]
        self.max_length = manifest["max_length"]
        self.pooling = manifest["pooling"]
        self.encoder_path = folder / manifest["encoder_file"]
        self.encoder_sha256 = encoder_sha256
        config = config_from_tokenizer_json(json.loads(tokenizer_bytes.decode("utf-8")),
                                            self.max_length)
        self.tokenizer = Tokenizer(config)
        self.cache_key = _sha256(json.dumps(
            [encoder_sha256, _sha256(tokenizer_bytes), self.max_length, self.pooling],
            sort_keys=True).encode())

    def info(self):
        """The encoder fields of a head file, as the page's ``Classifier.encoder_info``."""
        return {"encoder_id": self.model_id, "encoder_sha256": self.encoder_sha256,
                "hidden_size": self.hidden_size, "pooling": self.pooling["mode"]}


def _read_checked(folder, manifest, name):
    """The bytes of ``folder/name``, refused unless the manifest lists them with that hash."""
    path = folder / name
    if not path.is_file():
        raise SetupError(f"The model folder {folder} has no {name}. {REBUILD}")
    data = path.read_bytes()
    expected = manifest.get("files", {}).get(name, {}).get("sha256")
    if expected != _sha256(data):
        raise SetupError(f"{path} does not match the sha256 in its manifest.json: the build "
                         f"is incomplete or the file was changed. {REBUILD}")
    return data


def load_model(folder=None):
    """The model in ``folder`` (default: the repository's public/model).

    Raises SetupError, saying to run ``make model``, when the folder, its manifest, its
    tokenizer or its encoder is missing, when a file differs from the manifest's sha256, or
    when the manifest describes something this tool does not compute (another manifest
    format, pooling other than mean with L2 normalisation).
    """
    folder = Path(folder) if folder is not None else DEFAULT_DIR
    path = folder / "manifest.json"
    if not path.is_file():
        raise SetupError(f"No built model in {folder} (no manifest.json). {REBUILD}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise SetupError(f"{path} is not JSON. {REBUILD}") from None
    if not isinstance(manifest, dict) or manifest.get("format") not in MANIFEST_FORMATS:
        raise SetupError(f"{path} is not a model manifest of format "
                         f"{' or '.join(map(str, MANIFEST_FORMATS))}. "
                         f"{REBUILD}")
    for key in ("model_id", "hidden_size", "max_length", "pooling", "encoder_file"):
        if key not in manifest:
            raise SetupError(f"{path} lacks '{key}'. {REBUILD}")
    if manifest["pooling"] != POOLING:
        raise SetupError(f"This model pools as {json.dumps(manifest['pooling'])}; the page "
                         f"and this tool compute {json.dumps(POOLING)} only. {REBUILD}")
    tokenizer_bytes = _read_checked(folder, manifest, "tokenizer.json")
    encoder_sha256 = _sha256(_read_checked(folder, manifest, manifest["encoder_file"]))
    return Model(folder, manifest, tokenizer_bytes, encoder_sha256)
