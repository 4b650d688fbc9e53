"""Choosing the encoder's backend: the transpiled module against CPython on the same inputs."""
from tests.core.test_backend_pick import ENCODERS
from tests.support.parity import run_js_many, run_py_many


def test_parity():
    module = "tinybert_core.backend_pick"
    for target, cases in [
        ("encoder_entry", [[ENCODERS, "webgpu", ["shader-f16"]], [ENCODERS, "webgpu", []],
                           [ENCODERS[:2], "webgpu", []]]),
        ("probe_ids", [[1024, 32], [1024, 128]]),
        ("per_text_ms", [[[[5, 1, 3], [10, 30, 20]], 3], [[[5, 1, 3], [10]], 3], [[], 3],
                         [[[1.5, 0.25], [2.0, 4.0]], 2]]),
        ("pick", [[{"wasm": 37.0, "webgpu": 12.0}], [{"wasm": 37.0, "webgpu": None}],
                  [{"wasm": None, "webgpu": 900.0}], [{"wasm": 3.0, "webgpu": 3.0}]]),
    ]:
        assert run_js_many(module, target, cases) == run_py_many(module, target, cases), target
