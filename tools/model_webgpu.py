"""The encoder files for WebGPU: float graphs that onnxruntime's WebGPU execution provider runs
whole, made from the ids-only export (``model_export.ids_only``) fused without
EmbedLayerNormalization.

Why not the INT8 file: its DynamicQuantizeLinear and MatMulInteger nodes have no WebGPU kernel,
so 54 of its 180 nodes (every matrix product) run on the CPU between GPU nodes, and on a real GPU
it is slower than the WASM build. Why no fused Attention: the WebGPU Attention kernel takes no
mask (with one, the whole operator goes to the CPU), and without a mask it differs from the CPU
result beyond 24 tokens (cosine of the hidden states 0.995 at 40 tokens, seen on the SwiftShader
adapter with onnxruntime 1.30), while the unfused MatMul/Softmax attention matches the CPU to
1e-5. SkipLayerNormalization, BiasGelu and LayerNormalization are fused: the WebGPU EP has them.

Two files, the same graph:
- fp16: every float tensor in float16 (inputs and output stay int64/float32); needs the
  adapter's ``shader-f16`` feature.
- fp32: float32 arithmetic for adapters without ``shader-f16``, its weights stored as float16
  and cast to float32 when the session is created (onnxruntime folds the Casts), so the
  download is the fp16 file's size, not twice it.
"""

from __future__ import annotations

from pathlib import Path

# Float initializers smaller than this stay float32 in the fp32 file (norm scales, biases,
# shape constants): the saving would be nil and the Casts many.
FP16_STORAGE_MIN_ELEMENTS = 1024


def to_fp16(src: Path, dst: Path) -> None:
    """Float16 arithmetic throughout (onnxruntime's converter, int64 inputs and float32 output
    kept). Inputs: fused fp32 ONNX path; destination."""
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = OnnxModel(onnx.load(str(src)))
    model.convert_float_to_float16(keep_io_types=True)
    model.save_model_to_file(str(dst))


def fp16_storage(src: Path, dst: Path) -> int:
    """Float32 arithmetic, float16 storage: each float32 initializer of at least
    FP16_STORAGE_MIN_ELEMENTS values is stored as float16 with a Cast back to float32 in front
    of its users. Inputs: fused fp32 ONNX path; destination. Returns the number of weights
    stored as float16."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    kept, casts = [], []
    for init in graph.initializer:
        big = int(np.prod(init.dims)) >= FP16_STORAGE_MIN_ELEMENTS
        if init.data_type == TensorProto.FLOAT and big:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16),
                                           init.name + "_fp16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name],
                                          name=init.name + "_to_fp32", to=TensorProto.FLOAT))
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return len(casts)


# The WebGPU files, best first: the page takes the first whose features the adapter has.
VARIANTS = [
    {"name": "fp16", "file": "encoder.webgpu-fp16.onnx", "probe": "probe.webgpu-fp16.onnx",
     "requires": ["shader-f16"], "convert": to_fp16,
     "precision": "float16 weights and arithmetic"},
    {"name": "fp32", "file": "encoder.webgpu-fp32.onnx", "probe": "probe.webgpu-fp32.onnx",
     "requires": [], "convert": fp16_storage,
     "precision": "float32 arithmetic, weights stored as float16"},
]
