"""The wire format, shared with the browser: ``src_py/core/codec.py`` loaded by its path.

The server may import nothing else from ``src_py``, so this loads that one file as the module
``fl.wire.codec`` instead of putting ``src_py`` on ``sys.path``. The codec is self-contained
(it imports only the standard library), which is what makes this possible.
"""
import importlib.util
import sys
from pathlib import Path

CODEC_PATH = Path(__file__).resolve().parent.parent / "src_py" / "core" / "codec.py"


def _load():
    name = "fl._shared_codec"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CODEC_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"the shared codec is missing: {CODEC_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


codec = _load()
