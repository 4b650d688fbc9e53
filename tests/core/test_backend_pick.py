"""Choosing the encoder's backend from measured probe times."""
from tinybert_core.backend_pick import encoder_entry, per_text_ms, pick, probe_ids

ENCODERS = [
    {"backend": "wasm", "name": "int8", "file": "encoder.onnx", "requires": []},
    {"backend": "webgpu", "name": "fp16", "file": "encoder.webgpu-fp16.onnx",
     "requires": ["shader-f16"]},
    {"backend": "webgpu", "name": "fp32", "file": "encoder.webgpu-fp32.onnx", "requires": []},
]


def test_the_best_file_the_adapter_can_run_is_taken():
    assert encoder_entry(ENCODERS, "webgpu", ["shader-f16"])["name"] == "fp16"
    assert encoder_entry(ENCODERS, "webgpu", [])["name"] == "fp32"
    assert encoder_entry(ENCODERS, "wasm", [])["file"] == "encoder.onnx"
    assert encoder_entry(ENCODERS[:2], "webgpu", []) is None
    assert encoder_entry(ENCODERS, "webnn", []) is None


def test_probe_ids_stay_below_the_probe_vocabulary():
    ids = probe_ids(1024, 128)
    assert len(ids) == 128 and ids[0] == 101 and ids[-1] == 102
    assert all(0 < i < 1024 for i in ids[1:-1])


def test_time_per_text_is_the_mean_of_the_medians_and_none_when_a_length_is_unfinished():
    assert per_text_ms([[5, 1, 3], [10, 30, 20]], 3) == (3 + 20) / 2
    assert per_text_ms([[5, 1, 3], [10]], 3) is None
    assert per_text_ms([], 3) is None


def test_the_faster_backend_wins_and_an_unfinished_one_loses():
    assert pick({"wasm": 37.0, "webgpu": 12.0}) == "webgpu"
    assert pick({"wasm": 37.0, "webgpu": 40.0}) == "wasm"
    assert pick({"wasm": 37.0, "webgpu": None}) == "wasm"
    assert pick({"wasm": None, "webgpu": 900.0}) == "webgpu"
    assert pick({"wasm": 37.0, "webgpu": 37.0}) == "wasm"
