"""Probe models: small files that run exactly as long as the encoder, so that the page can time
WASM against WebGPU before it downloads an encoder (it then downloads only the one it keeps).

A probe is the encoder with every layer sharing the first layer's weights and a word-embedding
table cut to PROBE_VOCAB rows, built by the same recipe as the shipped file of its backend
(export, fusion, INT8 or float16): the same operators on the same shapes in the same order, so
the same work per run, from 1/6 of the weights (the shared ones are stored once). Reading one
layer's weights six times instead of six layers' once makes a probe slightly kinder to caches
than the encoder; the choice it feeds compares backends, which it affects alike.
"""

from __future__ import annotations

from pathlib import Path

PROBE_VOCAB = 1024
"""Rows of the probe's word-embedding table; the page times token ids below this."""

WASM_PROBE = "probe.wasm.onnx"
"""The WASM encoder's probe (the WebGPU ones are named in model_webgpu.VARIANTS)."""

PROBE_LENGTHS = [32, 128]
"""Token counts the page times each backend at (a short and a long text, [CLS]/[SEP]
included); the backend with the smaller total wins."""


def shared_layer_module(model):
    """A copy of ``model`` (from model_export.load_torch_model) whose layers are all its first
    layer (one set of weights) and whose vocabulary is its first PROBE_VOCAB tokens."""
    import copy

    import torch

    probe = copy.deepcopy(model)
    bert = probe.inner
    layers = bert.encoder.layer
    bert.encoder.layer = torch.nn.ModuleList([layers[0]] * len(layers))
    table = bert.embeddings.word_embeddings.weight.detach()[:PROBE_VOCAB].clone()
    bert.embeddings.word_embeddings = torch.nn.Embedding.from_pretrained(table, freeze=True)
    bert.config.vocab_size = PROBE_VOCAB
    return probe.eval()


def build_probes(model, work: Path, staging: Path, facts: dict, int8_recipe, webgpu_variants):
    """Write the probe of every shipped encoder into ``staging``.

    Inputs: the torch module; a work folder; the staging folder; the model facts;
        int8_recipe(src_fused_or_not, dst) quantises like the WASM file;
        webgpu_variants: model_webgpu.VARIANTS.
    Returns: {probe file name: {"bytes": n}}.
    """
    from tools import model_export

    probe = shared_layer_module(model)
    made = {}
    # WASM: the masked export, fused and quantised like encoder.onnx.
    exported = work / "probe.fp32.onnx"
    model_export.export_fp32(probe, exported, PROBE_VOCAB)
    fused = work / "probe.fused.fp32.onnx"
    stats = model_export.fuse(exported, fused, facts["num_heads"], facts["hidden_size"])
    model_export.dedupe_initializers(fused)
    wasm = staging / WASM_PROBE
    int8_recipe(fused if stats else exported, wasm, bool(stats))
    model_export.dedupe_initializers(wasm)
    made[wasm.name] = wasm.stat().st_size
    # WebGPU: the ids-only export fused without EmbedLayerNormalization, then each variant.
    exported = work / "probe.ids.fp32.onnx"
    model_export.export_fp32(model_export.ids_only(probe), exported, PROBE_VOCAB, ["input_ids"])
    fused = work / "probe.ids.fused.fp32.onnx"
    model_export.fuse(exported, fused, facts["num_heads"], facts["hidden_size"],
                      embed_layer_norm=False)
    model_export.dedupe_initializers(fused)
    for variant in webgpu_variants:
        dst = staging / variant["probe"]
        variant["convert"](fused, dst)
        model_export.dedupe_initializers(dst)
        made[dst.name] = dst.stat().st_size
    return made
